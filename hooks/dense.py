"""Dense evaluation outputs: one prediction per pixel or token.

``record(outputs, labels)`` with outputs of more than two dimensions (the
class dimension at the ``class_dim`` option, PyTorch's ``(N, C, *)`` by
default; ``-1`` for ``(N, ..., C)``) and labels of the outputs' shape
without it: segmentation ``(N, C, H, W)`` with ``(N, H, W)``, sequences
``(N, C, L)`` or ``(N, L, C)`` with ``(N, L)``. Every position whose label is
not ``ignore_index`` is one count of the evaluation's matrix.

Per batch, on the outputs' device: the argmax over the class dimension (one
pass over the logits, NaN positions found from the same maximum) and one
``bincount`` of ``true * C + predicted`` into ``int64`` counts (and spare
counts: ignored positions as a row ``C``, positions with NaN logits), so 10^8 positions
are counted exactly; the counts reach the CPU once, at ``end_eval``.
Calibration is over positions too, but over a deterministic subsample of each
batch (every ``k``-th position in row-major order, ``k`` the smallest
integer leaving at most :data:`CALIBRATION_POSITIONS`; all of them in a
smaller batch), as the classwise bins take ``C`` values per position; the
matrix and every metric from it use every position. Per-cell examples (with
``images`` of 2-D label maps) are the images with the largest share of their
positions in each (true, predicted) pair, drawn as overlays
(:mod:`~tb_fmnist_plugin.hooks.overlays`). The per-image parts (label-error
suspects, the per-example record, the misclassified grid) are off.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np
import torch

from tb_fmnist_plugin import metrics

from .diagnostics import EvalDiagnostics
from .evaluation import EvalResult, _as_tensor, check_images_and_indices, classify, logits_of
from .grid import Number
from .overlays import cell_payload
from .thumbnails import DEFAULT_THUMBNAIL_SIZE
from .topk import TopKPerGroup

#: Positions of one ``record`` call that enter the calibration, at most.
CALIBRATION_POSITIONS = 8192
#: Calibration rows kept before they are added as one batch.
CALIBRATION_PENDING = 1 << 16


def class_axis(shape: Tuple[int, ...], class_dim: int) -> int:
    """The non-negative index of the class dimension of outputs of ``shape``;
    raises naming ``class_dim`` when it is out of range or the batch dimension."""
    ndim = len(shape)
    axis = class_dim + ndim if class_dim < 0 else class_dim
    if not 1 <= axis < ndim:
        raise ValueError(
            f"class_dim={class_dim} does not name a class dimension of outputs of shape {tuple(shape)} "
            "(dimension 0 is the batch): set the class_dim option to 1 for (N, C, ...) outputs or -1 for (N, ..., C)"
        )
    return axis


def label_shape_error(outputs: Tuple[int, ...], labels: Tuple[int, ...], class_dim: int) -> ValueError:
    """The error for labels whose shape is not the outputs' without the class dimension."""
    axis = class_axis(outputs, class_dim)
    expected = tuple(outputs[:axis]) + tuple(outputs[axis + 1:])
    return ValueError(
        f"labels have shape {tuple(labels)}, but outputs of shape {tuple(outputs)} with class_dim={class_dim} need "
        f"labels of shape {expected} (the outputs' shape without the class dimension); set the class_dim option "
        "to where the outputs' class dimension is (1: (N, C, ...), PyTorch's convention; -1: (N, ..., C), e.g. "
        "Hugging Face token classification)"
    )


def dense_scalars(matrix: np.ndarray, names: Any, name: str, tag_part: Callable[[str], str]) -> Dict[str, float]:
    """The IoU scalars of a dense evaluation's ``[C, C]`` matrix (NaN left out)."""
    values = metrics.iou_metrics(matrix)
    out = {f"iou/{name}/{tag_part(class_name)}": float(v) for class_name, v in zip(names, values["iou"])}
    for key in ("mean_iou", "frequency_weighted_iou", "pixel_accuracy"):
        out[f"{key}/{name}"] = float(values[key])
    return {tag: value for tag, value in out.items() if not math.isnan(value)}


def mixed_outputs_error(dense_first: bool) -> ValueError:
    """The error for an evaluation given both classification and dense outputs."""
    first, then = ("dense outputs (one prediction per position)", "(N, C) classification outputs") if dense_first else (
        "(N, C) classification outputs", "dense outputs")
    return ValueError(f"this evaluation recorded {first}; record {then} in another evaluation (call end_eval between them)")


def warn_per_image_parts_off(options: Any, stacklevel: int) -> bool:
    """Say (once per monitor: the caller keeps track) which per-image parts a
    dense evaluation leaves out, if any of them is on; returns True.
    ``stacklevel`` is the caller's (2: the caller's caller)."""
    parts = [label for on, label in ((options.log_label_issues, "label-error suspects (log_label_issues)"),
                                      (options.example_record, "the per-example record (example_record)"),
                                      (options.max_misclassified > 0, "the misclassified grid (max_misclassified)")) if on]
    if parts:
        warnings.warn(
            f"tb_fmnist_plugin.hooks: record() got dense outputs (one prediction per pixel or token): "
            f"{', '.join(parts)} are defined per image and are not logged for them; the matrix, the IoU "
            "scalars, the calibration and the per-cell examples are. Not repeated for this monitor.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
    return True


@dataclass
class _Staged:
    classes: int
    counts: torch.Tensor
    cells: Optional[TopKPerGroup]
    commit_calibration: Callable[[], None]
    unit: str
    image_shape: Optional[Tuple[int, ...]]
    positions: int


class DenseEval:
    """One evaluation's dense counts, overlay examples and (through
    ``diagnostics``) position calibration. Has what
    :func:`~tb_fmnist_plugin.hooks.distributed.reduce_eval` reads
    (``num_classes``, ``counts``, ``candidates()``, ``examples_per_cell``,
    ``max_misclassified``), so ranks combine as for classification."""

    max_misclassified = 0  # the misclassified grid is per image: off

    def __init__(
        self,
        diagnostics: EvalDiagnostics,
        num_classes: Optional[int],
        examples_per_cell: int,
        *,
        class_dim: int = 1,
        ignore_index: Optional[int] = -100,
        thumbnail_size: int = DEFAULT_THUMBNAIL_SIZE,
        image_mean: Number = 0.5,
        image_std: Number = 0.5,
    ) -> None:
        self.diagnostics = diagnostics
        self.num_classes = num_classes
        self.examples_per_cell = examples_per_cell
        self.class_dim, self.ignore_index = class_dim, ignore_index
        self.thumbnail_size, self.image_mean, self.image_std = thumbnail_size, image_mean, image_std
        self.reset(num_classes)

    def reset(self, num_classes: Optional[int]) -> None:
        """Drop every held tensor; the next evaluation has ``num_classes``
        (None: from its first batch)."""
        self._counts: Optional[torch.Tensor] = None  # [C * (C + 1) + 1]: cells, ignored row, NaN positions
        self._cells: Optional[TopKPerGroup] = None
        self._pending: list = []  # calibration rows not added yet: (logits [m, C], labels [m])
        self._pending_rows = 0
        self.unit: Optional[str] = None
        self.image_shape: Optional[Tuple[int, ...]] = None
        self.recorded = 0
        self.num_classes = num_classes

    @property
    def active(self) -> bool:
        """Whether this evaluation recorded a dense batch."""
        return self._counts is not None

    @property
    def counts(self) -> Optional[torch.Tensor]:
        """``[C * C + 1]`` int64: the cells, then the positions with NaN logits."""
        if self._counts is None:
            return None
        return torch.cat([self._counts[:self.num_classes ** 2], self._counts[-1:]])

    @property
    def ignored(self) -> Optional[torch.Tensor]:
        """``[1]`` int64: positions left out for their ``ignore_index`` label."""
        c = self.num_classes
        return None if self._counts is None else self._counts[c * c:-1].sum().reshape(1)

    def validate(self, outputs: Any, labels: Any, images: Any = None, indices: Any = None) -> Dict[str, Any]:
        """Check one batch; returns ``logits`` as ``(N, C, *positions)`` (a
        view), ``labels``, ``images`` ``(N, c, H, W)`` or None and ``indices``."""
        raw = logits_of(outputs)
        if not (raw.is_floating_point() or raw.is_complex()):
            raise TypeError(f"outputs must be floating-point logits, got dtype {raw.dtype}")
        logits = raw.movedim(class_axis(raw.shape, self.class_dim), 1)
        count, classes = logits.shape[:2]
        if classes < 1:
            raise ValueError(f"outputs must have at least one class, got shape {tuple(raw.shape)}")
        if self.num_classes is not None and classes != self.num_classes:
            raise ValueError(f"outputs have {classes} classes but the monitor has {self.num_classes} "
                             "(from class_names or the first record() call)")
        labels_t = _as_tensor(labels, "labels")
        if tuple(labels_t.shape) != (count,) + tuple(logits.shape[2:]):
            raise label_shape_error(tuple(raw.shape), tuple(labels_t.shape), self.class_dim)
        if labels_t.is_floating_point() or labels_t.is_complex() or labels_t.dtype == torch.bool:
            raise TypeError(f"labels must be integer class indices, got dtype {labels_t.dtype}")
        images_t, indices_t = check_images_and_indices(images, indices, count, self.image_shape, started=self.active)
        return {"logits": logits, "labels": labels_t, "images": images_t, "indices": indices_t, "ndim": raw.dim()}

    @torch.no_grad()
    def add(self, batch: Dict[str, Any]) -> torch.Tensor:
        """Add a batch from :meth:`validate`, all or nothing. Returns the
        calibration subsample's ``[m, C]`` logits (for the probabilities check)."""
        staged, sample = self._stage(batch)
        self._counts, self._cells = staged.counts, staged.cells  # nothing from here on can fail half-way
        staged.commit_calibration()
        self.num_classes, self.unit = staged.classes, self.unit or staged.unit
        self.recorded += staged.positions
        if staged.image_shape is not None:
            self.image_shape = staged.image_shape
        return sample

    def flush(self) -> None:
        """Add the pending calibration rows now (before the calibration is read)."""
        if self._pending:
            self._calibrate(self._pending, self.num_classes)()
            self._pending, self._pending_rows = [], 0

    def _stage(self, batch: Dict[str, Any]) -> Tuple[_Staged, torch.Tensor]:
        logits = batch["logits"].detach()
        logits = logits.real if logits.is_complex() else logits
        device = logits.device
        count, classes = logits.shape[:2]
        values, predicted = logits.flatten(2).max(dim=1)  # [N, P]; a NaN wins the maximum: its positions show in values
        labels = batch["labels"].to(device=device, dtype=torch.long).reshape(count, -1)
        checks = torch.stack([*torch.aminmax(labels), values.sum(dtype=torch.float64)]) if labels.numel() else None  # float64: exact labels
        low, high, total = checks.tolist() if checks is not None else (0, 0, 0.0)
        ignored = None
        if (low < 0 or high >= classes) and self.ignore_index is not None:
            ignored = labels == self.ignore_index
            labels = labels.masked_fill(ignored, classes)  # a spare row of ignored positions
            low, high = [int(v) for v in torch.aminmax(labels)]
        if low < 0 or high > (classes if ignored is not None else classes - 1):
            self._raise_label_range(batch["labels"], classes)
        size = classes * (classes + 1) + 1  # the cells, the spare row, positions with NaN logits
        cell = torch.add(predicted, labels, alpha=classes)
        if math.isnan(total):  # only then is there a NaN to look for (a sum of +inf and -inf is NaN too)
            cell.masked_fill_(torch.isnan(values) & (labels < classes), size - 1)
        cell = cell.reshape((count,) + tuple(logits.shape[2:]))
        images = batch["images"]
        overlays = images is not None and self.examples_per_cell > 0 and logits.dim() == 4 and count > 0
        if overlays:
            per_image = torch.bincount((cell.reshape(count, -1) + torch.arange(count, device=device)[:, None] * size).reshape(-1),
                                       minlength=count * size).reshape(count, size)
            batch_counts = per_image.sum(dim=0)
        else:
            batch_counts = torch.bincount(cell.reshape(-1), minlength=size)
        if ignored is not None and high == classes and int(batch_counts[classes * classes:-1].sum()) != int(ignored.sum()):
            self._raise_label_range(batch["labels"], classes)  # a label equal to the class count, not ignore_index
        counts = batch_counts if self._counts is None else self._counts + batch_counts
        cells = self._cells
        if overlays:
            cells = self._merge_examples(per_image[:, :classes * classes], cell, images, batch["indices"], classes)
        sample, commit = self._stage_calibration(logits, labels, classes)
        unit = "pixels" if images is not None or batch["ndim"] >= 4 else "tokens"
        image_shape = tuple(images.shape[1:]) if images is not None else None
        return _Staged(classes, counts, cells, commit, unit, image_shape, int(labels.numel())), sample

    def _merge_examples(self, per_image: torch.Tensor, cell: torch.Tensor, images: torch.Tensor,
                        indices: Optional[torch.Tensor], classes: int) -> TopKPerGroup:
        """The per-cell store with this batch's (image, pair) entries, scored
        by the pair's share of the image's positions."""
        count = per_image.shape[0]
        rows, pairs = torch.nonzero(per_image, as_tuple=True)
        score = per_image[rows, pairs].float() / max(1, cell[0].numel())
        indices = torch.full((count,), -1, dtype=torch.long, device=cell.device) if indices is None else indices.to(cell.device, torch.long)
        store = self._cells if self._cells is not None else TopKPerGroup(classes * classes, self.examples_per_cell)
        return store.merged(pairs, score, lambda chosen: cell_payload(
            images.detach(), cell, rows[chosen], pairs[chosen], indices, classes,
            self.thumbnail_size, self.image_mean, self.image_std))

    def _raise_label_range(self, labels: torch.Tensor, classes: int) -> None:
        """The error for labels out of ``[0, classes)`` that are not ``ignore_index``."""
        values = labels.reshape(-1).long()
        if self.ignore_index is not None:
            values = values[values != self.ignore_index]
        low, high = [int(v) for v in torch.aminmax(values)]
        allowed = "" if self.ignore_index is None else f" or ignore_index={self.ignore_index}"
        raise ValueError(f"labels must be in [0, {classes}){allowed}, got values from {low} to {high}")

    def _stage_calibration(self, logits: torch.Tensor, labels: torch.Tensor,
                           classes: int) -> Tuple[torch.Tensor, Callable[[], None]]:
        """The subsample's ``[m, C]`` logits and the commit that keeps them
        pending (``labels`` ``[N, P]``, ``classes`` where ignored); the
        pending rows are added every :data:`CALIBRATION_PENDING` rows, as
        each add costs a few hundred small operations whatever its size."""
        flat = logits.flatten(2)  # (N, C, P), a view for the layouts the class dimension leaves
        positions = flat.shape[2]
        total = flat.shape[0] * positions
        stride = max(1, -(-total // CALIBRATION_POSITIONS))
        chosen = torch.arange(0, total, stride, device=logits.device)
        chosen = chosen[labels.reshape(-1)[chosen] < classes]
        rows = flat[chosen // positions, :, chosen % positions]  # (m, C), a copy
        if self.diagnostics.calibration is None or rows.shape[0] == 0:
            return rows, lambda: None
        entry = (rows, labels.reshape(-1)[chosen])
        same = not self._pending or (self._pending[0][0].dtype, self._pending[0][0].device) == (rows.dtype, rows.device)
        if not same:
            self.flush()  # one dtype and device per add
        pending = self._pending + [entry]
        if self._pending_rows + rows.shape[0] < CALIBRATION_PENDING:
            def keep() -> None:
                self._pending, self._pending_rows = pending, self._pending_rows + rows.shape[0]
            return rows, keep
        add = self._calibrate(pending, classes)  # raises before anything changed

        def commit() -> None:
            add()
            self._pending, self._pending_rows = [], 0
        return rows, commit

    def _calibrate(self, pending: list, classes: int) -> Callable[[], None]:
        """Stage the calibration of ``pending`` ``(rows, labels)`` as one batch; returns its commit."""
        rows = torch.cat([r for r, _ in pending]) if len(pending) > 1 else pending[0][0]
        labels = torch.cat([lab for _, lab in pending]) if len(pending) > 1 else pending[0][1]
        predicted, confidence, nan_rows = classify(rows)
        return self.diagnostics.stage(rows, labels, predicted, confidence, ~nan_rows, label_issues=False)

    def candidates(self) -> Dict[str, Dict[str, torch.Tensor]]:
        """Stored overlay examples on the CPU (``{"cells": {...}, "mistakes": {}}``)."""
        return {"cells": self._cells.valid() if self._cells is not None else {}, "mistakes": {}}

    def result(self) -> Tuple[EvalResult, int]:
        """This process's evaluation and ignored positions (one transfer)."""
        if self._counts is None:
            return EvalResult(None), 0
        host = self._counts.cpu()
        c = self.num_classes
        return EvalResult(host[:c * c].reshape(c, c), int(host[-1]), self.candidates()), int(host[c * c:-1].sum())
