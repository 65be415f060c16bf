"""Deferred adding of evaluation batches, so ``record()`` stays off the
intra-op thread pool.

Adding a batch (:meth:`EvalAccumulator.stage` and the diagnostics) takes a
few hundred small tensor operations, and some of them (softmax, ``exp``,
indexing whole images) hand their work to the intra-op threads whatever
their size; on a loaded machine each hand-off waits for a thread to be
scheduled. So ``record()`` only keeps the batch (its logits, labels and
dataset indices) and the thumbnails of the rows that could still enter a
store, and the pending batches are added as one batch every
:data:`MAX_PENDING_ROWS` rows (fewer with many classes:
:data:`MAX_PENDING_VALUES` logits), or :data:`MAX_PENDING_BYTES` of
thumbnails, and before anything reads the evaluation. The result is the same as adding
every batch at once: counts and sums are added in the same order, each row's
softmax does not depend on the other rows, and the top-k stores keep the
best entries with ties to the earlier one whatever the grouping.

Which rows need a thumbnail is decided with an estimate of their score
(``exp2`` in float64, whose error is far below :data:`_MARGIN`) against the
worst entry of each full store as of the last add: scores only rise between
adds, so a row that fails could not enter. Rows with non-finite logits pass.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional

import torch

from .diagnostics import EvalDiagnostics
from .evaluation import EvalAccumulator
from .example_record import ExampleRecord
from .thumbnails import make_thumbnails

#: Rows held before the pending batches are added.
MAX_PENDING_ROWS = 8192
#: Logit values held before the pending batches are added (2 MB of float32:
#: 512 rows at 1,000 classes; adding them takes a few copies of that).
MAX_PENDING_VALUES = 1 << 19
#: Thumbnail bytes held before the pending batches are added.
MAX_PENDING_BYTES = 1 << 20
#: Margin of the score estimate (scores are probabilities, exact to ~1e-6).
_MARGIN = 1e-5


class _Premade:
    """Thumbnails made at ``record`` time, asked for by row of the added batch."""

    def __init__(self, slot: torch.Tensor, made: torch.Tensor) -> None:
        self.slot, self.made = slot, made

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        slots = self.slot[rows]
        if bool((slots < 0).any()):  # the estimate is conservative: never happens
            raise RuntimeError("tb_fmnist_plugin.hooks: a row entering a store has no thumbnail")
        return self.made.index_select(0, slots)


def _floor_of(store: Any, groups: int) -> Optional[torch.Tensor]:
    """``[groups]`` worst score of each full group of a top-k store, ``-inf``
    where a group has room (None: no store yet)."""
    if store is None or store.score is None:
        return None
    floor = torch.full((groups,), -math.inf, dtype=torch.float32, device=store.score.device)
    full = torch.bincount(store.group, minlength=groups)[store.group] >= store.k
    return floor.scatter_reduce_(0, store.group[full], store.score[full], "amin", include_self=False)


class DeferredRecord:
    """Pending batches of an :class:`EvalAccumulator` and its
    :class:`EvalDiagnostics`; :meth:`add` takes a batch from
    :meth:`EvalAccumulator.validate`, :meth:`flush` adds what is pending."""

    def __init__(self, acc: EvalAccumulator, diagnostics: EvalDiagnostics, record: Optional[ExampleRecord] = None) -> None:
        self.acc, self.diagnostics, self.record = acc, diagnostics, record
        acc.before_read = self.flush
        self.reset()

    def reset(self) -> None:
        """Drop what is pending and every held tensor."""
        self._pending: List[Dict[str, Any]] = []
        self._rows = self._bytes = 0
        self._floors: Dict[str, Optional[torch.Tensor]] = {}
        self.acc.reset()
        self.diagnostics.reset()
        if self.record is not None:
            self.record.reset()

    @torch.no_grad()
    def add(self, batch: Dict[str, Optional[torch.Tensor]]) -> None:
        """Keep a batch (all or nothing): its thumbnails are made now. The
        logits, labels and indices are copied (the caller may reuse them)."""
        logits = batch["logits"].detach().clone()
        count = logits.shape[0]
        labels = batch["labels"].to(device=logits.device, dtype=torch.long, copy=True)
        indices = batch["indices"]
        indices = torch.full_like(labels, -1) if indices is None else indices.to(device=logits.device, dtype=torch.long, copy=True)
        entry: Dict[str, Any] = {"logits": logits, "labels": labels, "indices": indices, "rows": None, "made": None,
                                 "given_indices": batch["indices"] is not None, "tiles": None}
        images = batch["images"]
        if images is not None and self.record is not None:
            # the per-example record's once-per-run thumbnails, of rows not seen at earlier evaluations
            entry["tiles"] = self.record.tiles_of(images, batch["labels"], batch["indices"], self._rows)
        if images is not None and count:
            rows = torch.nonzero(self._may_enter(logits, labels))[:, 0]
            entry["rows"] = rows
            entry["made"] = make_thumbnails(
                images.detach(), self.acc.thumbnail_size, self.acc.image_mean, self.acc.image_std, rows
            ).to(logits.device)
        if self._pending and (logits.dtype, logits.device) != (self._pending[0]["logits"].dtype, self._pending[0]["logits"].device):
            self.flush()  # one dtype and device per add, as record() would compute them
        pending = self._pending + [entry]
        size = 0 if entry["made"] is None else entry["made"].numel()
        held = self._rows + count
        if held >= MAX_PENDING_ROWS or held * logits.shape[1] >= MAX_PENDING_VALUES or self._bytes + size >= MAX_PENDING_BYTES:
            self._add(pending)  # raises before anything changed
            self._pending, self._rows, self._bytes = [], 0, 0
        else:
            self._pending, self._rows, self._bytes = pending, held, self._bytes + size
        self.acc.pending_rows = self._rows
        self.acc.num_classes = logits.shape[1]
        if images is not None and count:
            self.acc.image_shape = tuple(images.shape[1:])

    def flush(self) -> None:
        """Add the pending batches now."""
        if self._pending:
            self._add(self._pending)  # raises before anything changed: still pending
            self._pending, self._rows, self._bytes = [], 0, 0
            self.acc.pending_rows = 0

    def _add(self, pending: List[Dict[str, Any]]) -> None:
        """The pending batches as one: staged, then committed."""
        def cat(name: str) -> torch.Tensor:
            parts = [p[name] for p in pending]
            return torch.cat(parts) if len(parts) > 1 else parts[0]

        logits, labels, indices = cat("logits"), cat("labels"), cat("indices")
        thumbnails: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
        made = [p["made"] for p in pending if p["made"] is not None]
        if made:  # every batch but empty ones has images, or none has (validate)
            slot = torch.full_like(labels, -1)
            offset, kept = 0, 0
            for p in pending:
                rows = p["rows"]
                if rows is not None:
                    slot[rows + offset] = torch.arange(kept, kept + rows.numel(), device=slot.device)
                    kept += rows.numel()
                offset += p["labels"].numel()
            thumbnails = _Premade(slot, torch.cat(made) if len(made) > 1 else made[0])
        batch = {"logits": logits, "labels": labels, "images": None, "indices": indices}
        staged = self.acc.stage(batch, thumbnails)
        commit = self.diagnostics.stage(
            logits, labels, staged.predicted, staged.confidence, staged.keep, staged.indices, thumbnails
        )
        self.acc.commit(staged)  # nothing from here on can fail half-way
        commit()
        if self.record is not None:
            self.record.add(labels, staged.predicted, staged.keep, staged.p_given, staged.confidence, staged.indices,
                            [p["tiles"] for p in pending], [p["given_indices"] for p in pending])
        classes = logits.shape[1]
        self._floors = {
            "cells": _floor_of(self.acc.stores()[0], classes * classes),
            "mistakes": _floor_of(self.acc.stores()[1], 1),
            "suspects": _floor_of(self.diagnostics.suspect_store(), 1),
        }

    def _may_enter(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``[n]`` bool: rows whose score may beat a full store's worst entry
        (serial float64 ops; rows with non-finite logits pass)."""
        values = logits.real if logits.is_complex() else logits
        x = values.double()
        top = x.amax(dim=1, keepdim=True)
        exp = torch.exp2((x - top) * (1 / math.log(2)))
        total = exp.sum(dim=1)
        confidence = 1.0 / total
        need = torch.zeros_like(labels, dtype=torch.bool)
        floors = self._floors
        if self.acc.examples_per_cell > 0 or self.acc.max_misclassified > 0:
            predicted = torch.argmax(values, dim=1)
            if self.acc.examples_per_cell > 0:
                floor = floors.get("cells")
                cell_floor = floor[labels * x.shape[1] + predicted] if floor is not None else -math.inf
                need |= ~(confidence < cell_floor - _MARGIN)
            if self.acc.max_misclassified > 0:
                floor = floors.get("mistakes")
                need |= (predicted != labels) & ~(confidence < (floor if floor is not None else -math.inf) - _MARGIN)
        if self.diagnostics.suspect_store_size() > 0:
            given = labels[:, None]
            rival = (x >= x.gather(1, given)).sum(dim=1) > 1  # the label is not the only largest
            floor = floors.get("suspects")
            self_confidence = exp.gather(1, given)[:, 0] / total
            need |= rival & ~(-self_confidence < (floor if floor is not None else -math.inf) - _MARGIN)
        return need
