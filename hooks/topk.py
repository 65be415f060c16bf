"""Sparse, on-device stores of the highest-scoring entries per group.

Used at evaluation time to keep the K most confident examples of every
(true, predicted) cell that occurs, and the most confident mistakes overall.
Memory is proportional to what is stored, never to the number of possible
groups: a 1,000-class matrix has a million cells, of which an evaluation
fills a few thousand at most.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional

import torch

#: Makes the payload of the batch rows a merge keeps (``rows`` ``[m]`` long):
#: ``{field: [m, ...]}``. Called only for those rows, so a caller can make
#: thumbnails of the few images that enter a store instead of the whole batch.
PayloadOf = Callable[[torch.Tensor], Dict[str, torch.Tensor]]


def _rank_in_group(sorted_group: torch.Tensor) -> torch.Tensor:
    """Position of each entry within its run of equal values of the sorted
    ``sorted_group``: a serial scan (``searchsorted`` would split a few
    hundred entries across the intra-op threads, which costs more than it
    saves)."""
    position = torch.arange(sorted_group.numel(), device=sorted_group.device)
    first = torch.ones_like(sorted_group, dtype=torch.bool)
    first[1:] = sorted_group[1:] != sorted_group[:-1]
    return position - torch.where(first, position, 0).cummax(0).values


class TopKPerGroup:
    """Keeps, for each group that occurs, the ``k`` entries of highest score.

    The store holds ``n`` entries (``group``, ``score`` and payload fields,
    all ``[n, ...]``), ordered by group, then score descending; ``n`` is at
    most ``k`` times the number of groups seen and at most the number of
    entries offered. Entries scored ``-inf`` are never stored (they mark rows
    that are not candidates). Ties keep the earlier entry.

    :meth:`merged` returns a new store (or this one, when a full
    single-group store gains nothing) and leaves this one unchanged, so a
    caller can build several before committing any (an atomic update);
    :meth:`update` merges in place.
    """

    def __init__(self, groups: Optional[int], k: int) -> None:
        if (groups is not None and groups < 1) or k < 1:
            raise ValueError("groups and k must be positive")
        self.groups = None if groups is None else int(groups)
        self.k = int(k)
        self.group: Optional[torch.Tensor] = None
        self.score: Optional[torch.Tensor] = None
        self.payload: Dict[str, torch.Tensor] = {}

    def __len__(self) -> int:
        return 0 if self.score is None else int(self.score.numel())

    @torch.no_grad()
    def merged(self, group: torch.Tensor, score: torch.Tensor, payload_of: PayloadOf) -> "TopKPerGroup":
        """This store plus a batch (``group`` ``[b]`` int, ``score`` ``[b]``
        float) as a new store; ``payload_of`` is asked for the kept rows only."""
        device = self.score.device if self.score is not None else score.device
        group = group.to(device=device, dtype=torch.long)
        score = score.to(device=device, dtype=torch.float32)
        stored = len(self)
        if self.groups == 1 and stored == self.k and not bool((score > self.score[-1]).any()):
            return self  # full, and no row beats the last (ties keep the earlier): unchanged
        all_group = group if self.group is None else torch.cat([self.group, group])
        all_score = score if self.score is None else torch.cat([self.score, score])
        by_score = torch.argsort(all_score, descending=True, stable=True)
        if self.groups == 1:  # one group: the first k by score
            order = by_score[:self.k]
            kept = order[all_score[order] > -float("inf")]  # one device sync
        else:
            order = by_score[torch.argsort(all_group[by_score], stable=True)]
            kept = order[(_rank_in_group(all_group[order]) < self.k) & (all_score[order] > -float("inf"))]
        from_batch = kept >= stored
        rows = kept[from_batch] - stored
        new = TopKPerGroup(self.groups, self.k)
        if kept.numel() == 0:
            return new
        new.group, new.score = all_group[kept], all_score[kept]
        added = payload_of(rows) if rows.numel() else {}
        if stored and rows.numel() and set(added) != set(self.payload):
            raise ValueError(f"payload fields changed from {sorted(self.payload)} to {sorted(added)}")
        # Position of each kept entry in cat(stored payload, added rows).
        position = torch.where(from_batch, stored + torch.cumsum(from_batch, 0) - 1, kept)
        for name in self.payload or added:
            parts = [p for p in (self.payload.get(name), added.get(name)) if p is not None]
            value = torch.cat([p.to(device) for p in parts]) if len(parts) > 1 else parts[0].to(device)
            new.payload[name] = value[position]
        return new

    def update(self, group: torch.Tensor, score: torch.Tensor, **payload: torch.Tensor) -> None:
        """Merge a batch with payload ``[b, ...]`` per field, in place."""
        new = self.merged(group, score, lambda rows: {name: value[rows.to(value.device)] for name, value in payload.items()})
        self.group, self.score, self.payload = new.group, new.score, new.payload

    def valid(self) -> Dict[str, torch.Tensor]:
        """The stored entries as CPU tensors: ``score``, ``group`` and every
        payload field, each group's entries best first."""
        if self.score is None:
            return {}
        out = {"score": self.score.cpu(), "group": self.group.cpu()}
        for name, value in self.payload.items():
            out[name] = value.cpu()
        return out
