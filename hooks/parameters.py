"""Weight, gradient and update statistics of the trainable parameters.

Parameters are looked up by name at each logging step (FSDP2 swaps
parameter objects). Rank 0 computes the statistics ("here"); other ranks
return at once, unless a parameter is sharded (an FSDP2 ``DTensor``): then
every rank gathers it (:mod:`.sharded`) at the same point, in the same order,
and only rank 0 summarizes the full tensor. What is gathered depends only on
the options and the step, never on a rank's own state, so the ranks' collectives
always match.
"""
from __future__ import annotations

from typing import Callable, Dict, Iterable, List, Optional, Tuple

import torch
from torch import nn

from . import sharded, stats
from .rows import Row, RowKind

Named = List[Tuple[str, torch.Tensor]]


class ParameterStats:
    """Statistics rows of ``root``'s trainable parameters.

    ``enabled`` is the monitor's switch per part (``"weights"``, ...);
    ``fail(part, error)`` reports an error, which switches that part off here
    (never the gathering: the other ranks still expect it).
    """

    def __init__(
        self,
        root: nn.Module,
        bins: int,
        sample: int,
        enabled: Dict[str, bool],
        fail: Callable[[str, BaseException], None],
    ) -> None:
        self.root = root
        self.bins = bins
        self.sample = sample
        self.enabled = enabled
        self.fail = fail
        self.snapshot: Dict[str, torch.Tensor] = {}

    def trainable(self) -> Named:
        return [(n, p) for n, p in self.root.named_parameters() if p.requires_grad]

    def lockstep(self) -> bool:
        """Whether a trainable parameter is sharded: every rank takes part."""
        return sharded.any_sharded(p for _, p in self.trainable())

    def _rows(self, kind: RowKind, part: str, pairs: Iterable[Tuple[str, torch.Tensor]], here: bool,
              scale: Optional[torch.Tensor] = None) -> List[Row]:
        rows = []
        for name, tensor in pairs:
            if sharded.is_sharded(tensor):
                tensor = sharded.full(tensor)  # every rank, in this order
            elif not here:
                continue
            if not (here and self.enabled[part]):
                continue
            try:
                tensor = stats.stored_values(tensor)  # a sparse gradient: the values it stores
                values = stats.summarize(tensor, self.bins, self.sample)
                if scale is not None:
                    values = stats.unscale(values, scale)
                rows.append(Row(kind, name, tensor.numel(), values))
            except Exception as error:
                self.fail(part, error)
        return rows

    def weights(self, here: bool) -> List[Row]:
        """Rows of the weights now."""
        return self._rows(RowKind.WEIGHT, "weights", self.trainable(), here)

    def gradients(self, here: bool, scale: Optional[torch.Tensor] = None) -> List[Row]:
        """Rows of the gradients now, divided by ``scale`` (a loss scale) if given."""
        pairs = [(n, p.grad) for n, p in self.trainable() if p.grad is not None]
        return self._rows(RowKind.GRADIENT, "gradients", pairs, here, scale)

    def gradient(self, name: str, grad: torch.Tensor, scale: Optional[torch.Tensor] = None) -> List[Row]:
        """The row of one (unsharded) gradient, on rank 0 as it is accumulated."""
        return self._rows(RowKind.GRADIENT, "gradients", [(name, grad)], True, scale)

    def take_snapshot(self, here: bool, all_trainable: bool) -> None:
        """Copy the weights (with a gradient, or all) for :meth:`updates`."""
        self.snapshot = {
            n: p.detach().clone()
            for n, p in self.trainable()
            if (all_trainable or p.grad is not None) and (here or sharded.is_sharded(p))
        }

    def updates(self, here: bool) -> List[Row]:
        """Rows of ``||w_now - w_snapshot||^2`` and ``||w_snapshot||^2``; drops the snapshot."""
        snapshot, self.snapshot = self.snapshot, {}
        params = dict(self.root.named_parameters())
        rows = []
        for name, old in snapshot.items():
            new = params.get(name)
            if new is None or new.shape != old.shape:
                continue
            try:
                if sharded.is_sharded(new) and sharded.is_sharded(old):
                    local = stats.update_squares(sharded.local(new), sharded.local(old))
                    squares = sharded.sum_over_shards(local, like=new)  # every rank, in this order
                elif here:
                    squares = stats.update_squares(new, old)
                else:
                    continue
                if here and self.enabled["updates"]:
                    rows.append(Row(RowKind.UPDATE, name, old.numel(), squares))
            except Exception as error:
                self.fail("updates", error)
        return rows

    def clear(self) -> None:
        self.snapshot = {}
