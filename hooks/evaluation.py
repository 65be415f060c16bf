"""Evaluation-time accumulation: confusion counts and example candidates.

Everything stays on the outputs' device. Counts are ``C * C + 1`` integers
(cell ``true * C + predicted``, plus one for rows whose logits hold NaN,
which belong to no cell). Example candidates are sparse top-K stores
(:class:`~tb_fmnist_plugin.hooks.topk.TopKPerGroup`) of ``uint8`` thumbnails
(:mod:`~tb_fmnist_plugin.hooks.thumbnails`), so memory follows the cells that
occur, not ``C * C``, and never the number of recorded batches.

Adding a batch is atomic: :meth:`EvalAccumulator.stage` builds every new
part without changing anything and :meth:`EvalAccumulator.commit` swaps them
in, so a ``record()`` that raises leaves the evaluation as it was.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Dict, Optional, Sequence, Tuple

import torch

from tb_fmnist_plugin.format import sprites

from .grid import Number
from .thumbnails import DEFAULT_THUMBNAIL_SIZE, BatchThumbnails
from .topk import TopKPerGroup


def _as_tensor(value: Any, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f"{what} must be a tensor or array-like, got {type(value).__name__}: {error}") from None


def logits_of(outputs: Any) -> torch.Tensor:
    """The logits tensor in a model's output (a tensor, first tensor of a
    tuple/list, or ``'logits'``/``'out'``/single value of a dict)."""
    if isinstance(outputs, torch.Tensor):
        return outputs
    if isinstance(outputs, dict):
        for key in ("logits", "out", "output"):
            if isinstance(outputs.get(key), torch.Tensor):
                return outputs[key]
        tensors = [v for v in outputs.values() if isinstance(v, torch.Tensor)]
        if len(tensors) == 1:
            return tensors[0]
        raise TypeError("outputs is a dict without a 'logits' tensor; pass the logits tensor to record()")
    if isinstance(outputs, (tuple, list)) and outputs and isinstance(outputs[0], torch.Tensor):
        return outputs[0]
    raise TypeError(f"outputs must be a logits tensor [N, num_classes], got {type(outputs).__name__}")


def without_autocast(device: torch.device) -> ContextManager[Any]:
    """Autocast off on ``device`` (a no-op context when it is off already,
    which is cheaper to enter on every batch)."""
    if torch.is_autocast_enabled(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


#: How far from 1 a row of probabilities may sum (softmax in half precision
#: is off by about 1e-3); logits are almost never all non-negative and this close.
PROBABILITY_SUM_TOLERANCE = 1e-2


@torch.no_grad()
def looks_like_probabilities(logits: torch.Tensor) -> bool:
    """Whether ``[N, C]`` outputs (``C >= 2``, ``N >= 1``) are probabilities,
    not logits: every row non-negative and summing to 1. One device sync."""
    if logits.is_complex() or logits.shape[0] == 0 or logits.shape[1] < 2:
        return False
    x = logits.float()
    return bool(((x >= 0).all() & ((x.sum(dim=1) - 1).abs() <= PROBABILITY_SUM_TOLERANCE).all()).item())


@dataclass
class EvalResult:
    """One evaluation, ready to write: ``matrix`` ``[C, C]`` int64 on the CPU
    (None if nothing was recorded), ``nan_rows`` (rows left out of it because
    their logits held NaN) and the example ``candidates`` (``{"cells": {...},
    "mistakes": {...}}``, CPU tensors; empty on ranks other than 0)."""

    matrix: Optional[torch.Tensor]
    nan_rows: int = 0
    candidates: Dict[str, Dict[str, torch.Tensor]] = field(default_factory=dict)


@torch.no_grad()
def classify(logits: torch.Tensor, labels: Optional[torch.Tensor] = None) -> Tuple[torch.Tensor, ...]:
    """``(predicted, confidence, nan_rows)`` of ``[N, C]`` logits.

    ``predicted`` is ``torch.argmax`` of the logits (a ``+inf`` logit wins).
    ``confidence`` is the softmax probability of that class, taken in the
    limit for infinite logits: a row with ``+inf`` logits splits the
    probability among them, a row of all ``-inf`` is uniform. ``nan_rows``
    marks rows holding NaN, which have no meaningful prediction. With
    ``labels``, a fourth tensor: the probability of each row's label from
    the same softmax (the per-example record's ``p_given``).
    """
    values = logits.real if logits.is_complex() else logits
    predicted = torch.argmax(values, dim=1)
    nan_rows = torch.isnan(values).any(dim=1)
    with without_autocast(values.device):
        x = values.double() if values.dtype == torch.float64 else values.float()
        positive = torch.isposinf(x)
        x = torch.where(positive.any(dim=1, keepdim=True), torch.where(positive, 0.0, -float("inf")), x)
        x = torch.where(torch.isneginf(x).all(dim=1, keepdim=True), 0.0, x)
        probabilities = torch.softmax(x, dim=1)
        confidence = probabilities.gather(1, predicted[:, None])[:, 0].float()
        if labels is not None:
            return predicted, confidence, nan_rows, probabilities.gather(1, labels[:, None])[:, 0].float()
    return predicted, confidence, nan_rows


def check_images_and_indices(
    images: Any, indices: Any, count: int, image_shape: Optional[Tuple[int, ...]], *, started: bool
) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """``images`` as ``(N, c, H, W)`` and ``indices`` as ``[N]`` (each None
    when not given) for a batch of ``count`` rows, or raise naming the problem:
    images of another shape than the evaluation's ``image_shape``, images in
    some calls of an evaluation (``started``: rows were recorded) and not in
    others, indices of the wrong size or type. Shared by the classification
    and dense accumulators."""
    images_t = None
    if images is not None:
        images_t = _as_tensor(images, "images")
        images_t = images_t.reshape(sprites.image_batch_shape(images_t.shape, count))
        if image_shape is not None and tuple(images_t.shape[1:]) != tuple(image_shape):
            raise ValueError(f"images changed shape from {tuple(image_shape)} to {tuple(images_t.shape[1:])} within one evaluation")
        if started and image_shape is None:
            raise ValueError("pass images to every record() call of an evaluation, or to none")
    elif image_shape is not None:
        raise ValueError("pass images to every record() call of an evaluation, or to none")
    indices_t = None
    if indices is not None:
        indices_t = _as_tensor(indices, "indices").reshape(-1)
        if indices_t.numel() != count or indices_t.is_floating_point():
            raise ValueError(f"indices must be {count} integer dataset indices, got shape {tuple(indices_t.shape)}")
    return images_t, indices_t


@dataclass
class StagedBatch:
    """One batch computed by :meth:`EvalAccumulator.stage`, not yet added.

    ``predicted``, ``confidence`` (:func:`classify`), ``keep`` (rows in the
    matrix: no NaN logit), ``indices`` (-1 unknown) and ``thumbnails`` (makes
    the batch rows' thumbnails once; None without images) are ``[N]`` tensors
    other accumulators of the same batch may use; the rest is what
    :meth:`EvalAccumulator.commit` adds.
    """

    classes: int
    rows: int
    predicted: torch.Tensor
    confidence: torch.Tensor
    keep: torch.Tensor
    indices: torch.Tensor
    cell: torch.Tensor
    counts: torch.Tensor
    cells: Optional[TopKPerGroup]
    mistakes: Optional[TopKPerGroup]
    thumbnails: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    image_shape: Optional[Tuple[int, ...]] = None
    #: ``[N]`` probability of each row's label (same softmax as ``confidence``).
    p_given: Optional[torch.Tensor] = None


class EvalAccumulator:
    """Confusion counts plus per-cell and most-confident-mistake candidates.

    Bound: the per-cell store holds at most ``examples_per_cell`` entries per
    cell that occurs (and never more than the rows recorded), the mistakes
    store at most ``max_misclassified``; an entry is a ``uint8`` thumbnail
    (longer side at most ``thumbnail_size``) and 28 bytes of labels, index
    and score. Counts take ``8 * (C * C + 1)`` bytes.
    """

    def __init__(
        self,
        num_classes: Optional[int],
        examples_per_cell: int,
        max_misclassified: int,
        *,
        thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE,
        image_mean: Number = 0.5,
        image_std: Number = 0.5,
        ignore_index: Optional[int] = None,
    ) -> None:
        self.num_classes = num_classes
        #: Label of rows left out of everything (None: none is).
        self.ignore_index = ignore_index
        self.examples_per_cell = examples_per_cell
        self.max_misclassified = max_misclassified
        self.thumbnail_size = thumbnail_size
        self.image_mean = image_mean
        self.image_std = image_std
        self.reset()

    def reset(self) -> None:
        """Drop every held tensor."""
        self._counts: Optional[torch.Tensor] = None
        self._cells: Optional[TopKPerGroup] = None
        self._mistakes: Optional[TopKPerGroup] = None
        self.image_shape: Optional[Sequence[int]] = None
        self.recorded = 0
        #: Rows kept but not added yet (:class:`~tb_fmnist_plugin.hooks.deferred.DeferredRecord`).
        self.pending_rows = 0

    #: Called before the counts or stores are read (adds pending batches).
    before_read: Optional[Callable[[], None]] = None

    def _read(self) -> None:
        if self.before_read is not None:
            self.before_read()

    @property
    def counts(self) -> Optional[torch.Tensor]:
        self._read()
        return self._counts

    @property
    def cells(self) -> Optional[TopKPerGroup]:
        self._read()
        return self._cells

    @property
    def mistakes(self) -> Optional[TopKPerGroup]:
        self._read()
        return self._mistakes

    def stores(self) -> Tuple[Optional[TopKPerGroup], Optional[TopKPerGroup]]:
        """The per-cell and mistakes stores as added so far (nothing pending is added)."""
        return self._cells, self._mistakes

    def validate(
        self, outputs: Any, labels: Any, images: Any = None, indices: Any = None, class_dim: int = 1
    ) -> Dict[str, Any]:
        """Check one batch and return its tensors; raises naming the problem
        (``class_dim``: the option, which must name dimension 1 here)."""
        logits = logits_of(outputs)
        if logits.dim() != 2:
            raise ValueError(f"outputs must be [N, num_classes] logits, got shape {tuple(logits.shape)}")
        if class_dim not in (1, -1):
            raise ValueError(f"class_dim={class_dim} does not name the class dimension of outputs of shape "
                             f"{tuple(logits.shape)}: set the class_dim option to 1 or -1")
        if not (logits.is_floating_point() or logits.is_complex()):
            raise TypeError(f"outputs must be floating-point logits, got dtype {logits.dtype}")
        count, classes = logits.shape
        if classes < 1:
            raise ValueError("outputs must have at least one class column, got shape (N, 0)")
        if self.num_classes is not None and classes != self.num_classes:
            raise ValueError(
                f"outputs have {classes} columns but the monitor has {self.num_classes} classes "
                "(from class_names or the first record() call)"
            )
        labels_t = _as_tensor(labels, "labels")
        if labels_t.dim() == 2 and labels_t.shape[1] == 1:
            labels_t = labels_t[:, 0]
        if labels_t.dim() != 1 or labels_t.shape[0] != count:
            raise ValueError(
                f"labels must be a 1-D tensor of {count} class indices (one per output row), got shape {tuple(labels_t.shape)} "
                f"for outputs of shape {tuple(logits.shape)} (the class_dim option says which dimension holds the classes)"
            )
        if labels_t.is_floating_point() or labels_t.is_complex() or labels_t.dtype == torch.bool:
            raise TypeError(f"labels must be integer class indices, got dtype {labels_t.dtype}")
        ignored, skip = 0, None
        if count:
            if self.ignore_index is not None:  # one device sync, as without it
                skip = labels_t == self.ignore_index
                kept = labels_t.masked_fill(skip, 0)
                low, high, ignored = torch.stack([kept.min().long(), kept.max().long(), skip.sum()]).tolist()
            else:
                low, high = torch.stack([labels_t.min(), labels_t.max()]).tolist()
            if low < 0 or high >= classes:
                allowed = "" if self.ignore_index is None else f" or ignore_index={self.ignore_index}"
                raise ValueError(f"labels must be in [0, {classes}){allowed}, got values from {low} to {high}")
        images_t, indices_t = check_images_and_indices(
            images, indices, count, self.image_shape, started=bool(self.recorded or self.pending_rows))
        if ignored:  # rows labelled ignore_index count nowhere
            keep = ~skip
            logits, labels_t = logits[keep.to(logits.device)], labels_t[keep]
            images_t = images_t[keep.to(images_t.device)] if images_t is not None else None
            indices_t = indices_t[keep.to(indices_t.device)] if indices_t is not None else None
        return {"logits": logits, "labels": labels_t, "images": images_t, "indices": indices_t, "ignored": ignored}

    @torch.no_grad()
    def stage(
        self, batch: Dict[str, Optional[torch.Tensor]], thumbnails: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
    ) -> StagedBatch:
        """Compute a batch returned by :meth:`validate` without changing
        anything: :meth:`commit` adds it. A monitor can so stage every
        accumulator of a batch before committing any, and a ``record()``
        that raises leaves the evaluation as it was. ``thumbnails`` makes the
        thumbnails of the batch rows asked for, in place of ``images``."""
        logits = batch["logits"].detach()
        device = logits.device
        count, classes = logits.shape
        labels = batch["labels"].to(device=device, dtype=torch.long)
        predicted, confidence, nan_rows, p_given = classify(logits, labels)
        # NaN rows go to the extra last count, outside the matrix.
        cell = torch.where(nan_rows, classes * classes, labels * classes + predicted)
        counts = self._counts if self._counts is not None else torch.zeros(classes * classes + 1, dtype=torch.long, device=device)
        indices = batch["indices"]
        indices = torch.full_like(labels, -1) if indices is None else indices.to(device=device, dtype=torch.long)
        staged = StagedBatch(classes, count, predicted, confidence, ~nan_rows, indices, cell, counts, self._cells, self._mistakes,
                             p_given=p_given)
        images = batch["images"]
        if (images is None and thumbnails is None) or count == 0:
            return staged
        if images is not None:
            staged.image_shape = tuple(images.shape[1:])
            thumbnails = BatchThumbnails(images.detach(), self.thumbnail_size, self.image_mean, self.image_std)
        staged.thumbnails = thumbnails

        def payload_of(rows: torch.Tensor) -> Dict[str, torch.Tensor]:
            return {"images": thumbnails(rows), "true": labels[rows], "predicted": predicted[rows], "index": indices[rows]}

        unusable = torch.full_like(confidence, -float("inf"))
        if self.examples_per_cell > 0:
            store = self._cells if self._cells is not None else TopKPerGroup(classes * classes, self.examples_per_cell)
            staged.cells = store.merged(cell, torch.where(nan_rows, unusable, confidence), payload_of)
        if self.max_misclassified > 0:
            wrong = (predicted != labels) & ~nan_rows
            store = self._mistakes if self._mistakes is not None else TopKPerGroup(1, self.max_misclassified)
            staged.mistakes = store.merged(torch.zeros_like(labels), torch.where(wrong, confidence, unusable), payload_of)
        return staged

    def commit(self, staged: StagedBatch) -> None:
        """Add a batch from :meth:`stage` (nothing here can fail half-way)."""
        staged.counts.index_put_((staged.cell,), torch.ones_like(staged.cell), accumulate=True)
        self._counts, self._cells, self._mistakes = staged.counts, staged.cells, staged.mistakes
        self.num_classes = staged.classes
        self.recorded += staged.rows
        if staged.image_shape is not None:
            self.image_shape = staged.image_shape

    def add(self, batch: Dict[str, Optional[torch.Tensor]]) -> None:
        """:meth:`stage` then :meth:`commit`: all or nothing."""
        self.commit(self.stage(batch))

    def candidates(self) -> Dict[str, Dict[str, torch.Tensor]]:
        """Stored examples on the CPU: ``{"cells": {...}, "mistakes": {...}}``."""
        return {
            "cells": self.cells.valid() if self.cells is not None else {},
            "mistakes": self.mistakes.valid() if self.mistakes is not None else {},
        }

    def matrix(self) -> Optional[torch.Tensor]:
        """``[C, C]`` counts on the CPU (rows true, columns predicted), or None."""
        if self.counts is None:
            return None
        return self.counts[:-1].reshape(self.num_classes, self.num_classes).cpu()

    def nan_rows(self) -> int:
        """Rows recorded whose logits held NaN (not in :meth:`matrix`)."""
        return 0 if self.counts is None else int(self.counts[-1])

    def result(self) -> EvalResult:
        """This process's evaluation (see :func:`.distributed.reduce_eval` for all ranks')."""
        return EvalResult(self.matrix(), self.nan_rows(), self.candidates())
