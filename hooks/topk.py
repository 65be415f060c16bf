"""Fixed-size, on-device buffers of the highest-scoring entries per group.

Used at evaluation time to keep the K most confident examples of every
(true, predicted) cell, and the most confident mistakes overall, without
growing with the dataset and without synchronizing with the device.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch


class TopKPerGroup:
    """Keeps, for each of ``groups`` groups, the ``k`` entries of highest score.

    Every group owns ``k`` slots of fixed device buffers; empty slots hold
    score ``-inf``. :meth:`update` merges a batch by sorting buffer and batch
    together (score descending, then group, both stable) and scattering each
    group's first ``k`` back into its slots. Ties keep the earlier entry.
    """

    def __init__(self, groups: int, k: int) -> None:
        if groups < 1 or k < 1:
            raise ValueError("groups and k must be positive")
        self.groups = int(groups)
        self.k = int(k)
        self.score: Optional[torch.Tensor] = None
        self.payload: Dict[str, torch.Tensor] = {}

    @property
    def slots(self) -> int:
        return self.groups * self.k

    @torch.no_grad()
    def update(self, group: torch.Tensor, score: torch.Tensor, **payload: torch.Tensor) -> None:
        """Merge a batch: ``group`` ``[n]`` int, ``score`` ``[n]`` float, payload ``[n, ...]``."""
        device = score.device
        slots = self.slots
        if self.score is None:
            self.score = torch.full((slots,), -float("inf"), dtype=torch.float32, device=device)
            for name, value in payload.items():
                self.payload[name] = torch.zeros((slots,) + tuple(value.shape[1:]), dtype=value.dtype, device=device)
        elif set(payload) != set(self.payload):
            raise ValueError(f"payload fields changed from {sorted(self.payload)} to {sorted(payload)}")
        own_group = torch.arange(slots, device=device) // self.k
        all_group = torch.cat([own_group, group.to(device=device, dtype=torch.long)])
        all_score = torch.cat([self.score, score.to(device=device, dtype=torch.float32)])
        by_score = torch.argsort(all_score, descending=True, stable=True)
        by_group = torch.argsort(all_group[by_score], stable=True)
        order = by_score[by_group]
        sorted_group = all_group[order]
        rank = torch.arange(order.numel(), device=device) - torch.searchsorted(sorted_group, sorted_group)
        # Entries past a group's k-th go to a dump slot that is cut off.
        target = torch.where(rank < self.k, sorted_group * self.k + rank, torch.full_like(rank, slots))
        new_score = torch.empty(slots + 1, dtype=torch.float32, device=device)
        new_score[target] = all_score[order]
        self.score = new_score[:slots]
        for name, buffer in self.payload.items():
            value = payload[name].to(device=device, dtype=buffer.dtype)
            merged = torch.cat([buffer, value])
            new = torch.empty((slots + 1,) + tuple(buffer.shape[1:]), dtype=buffer.dtype, device=device)
            new[target] = merged[order]
            self.payload[name] = new[:slots]

    def valid(self) -> Dict[str, torch.Tensor]:
        """The filled slots as CPU tensors: ``score``, ``group`` and every
        payload field, each group's entries best first."""
        if self.score is None:
            return {}
        score = self.score.cpu()
        keep = score > -float("inf")
        out = {"score": score[keep], "group": (torch.arange(self.slots) // self.k)[keep]}
        for name, buffer in self.payload.items():
            out[name] = buffer.cpu()[keep]
        return out
