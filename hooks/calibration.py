"""Calibration statistics of one evaluation, accumulated batch by batch.

Per true class ``c`` and equal-width confidence bin ``b`` (``B`` bins on
[0, 1], bin ``min(floor(confidence * B), B - 1)``, so 1.0 falls in the last):
the number of examples, the sum of their top-1 confidence and the number
predicted correctly. The whole set's bins are the sum over true classes. Per
(true, predicted) cell: the number of predictions and the sum of their
confidence (for the cell's mean confidence). Per true class: the sum and count
of the cross-entropy loss of its examples whose logits are all finite (a row
with an infinite logit has an infinite or undefined loss).

Memory is ``8 * (3 * C * B + 2 * C * C + 2 * C)`` bytes on the outputs'
device, whatever the number of examples (16 MB for 1,000 classes). Everything
is a sum, so ranks combine by adding (:meth:`CalibrationAccumulator.flat`,
:meth:`CalibrationResult.from_flat`). ECE and per-bin accuracy are computed
from these sums by :mod:`tb_fmnist_plugin.metrics`, the one definition the
hooks and the plugin share.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.format.diagnostics_metadata import BIN_FIELDS

#: Default number of equal-width confidence bins.
DEFAULT_CALIBRATION_BINS = 15


def _sum_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (MPS has not)."""
    return torch.float32 if device.type == "mps" else torch.float64


@dataclass
class CalibrationResult:
    """One evaluation's calibration sums as numpy ``float64`` arrays.

    ``bins`` ``[C, B, 3]`` (count, confidence sum, correct per true class and
    bin), ``cells`` ``[C, C, 2]`` (count, confidence sum per true/predicted
    cell), ``loss`` ``[C, 2]`` (loss sum, count of finite rows per true class).
    """

    bins: np.ndarray
    cells: np.ndarray
    loss: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.bins.shape[0])

    def __add__(self, other: "CalibrationResult") -> "CalibrationResult":
        return CalibrationResult(self.bins + other.bins, self.cells + other.cells, self.loss + other.loss)

    def ece(self) -> float:
        """Top-label expected calibration error of the whole set (NaN if empty)."""
        return float(metrics.expected_calibration_error(self.bins.sum(axis=0)))

    def class_ece(self) -> np.ndarray:
        """``[C]`` ECE of the examples of each true class (NaN where none)."""
        return metrics.expected_calibration_error(self.bins)

    def class_loss(self) -> np.ndarray:
        """``[C]`` mean cross-entropy per true class (NaN where no finite rows)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.loss[:, 1] > 0, self.loss[:, 0] / self.loss[:, 1], np.nan)

    def cell_confidence(self) -> np.ndarray:
        """``[C, C]`` mean top-1 confidence of each cell's predictions (0 where none)."""
        count, total = self.cells[..., 0], self.cells[..., 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(count > 0, total / count, 0.0)

    @staticmethod
    def size(num_classes: int, bins: int) -> int:
        """Length of the flat vector that :meth:`from_flat` reads."""
        return 3 * num_classes * bins + 2 * num_classes * num_classes + 2 * num_classes

    @classmethod
    def from_flat(cls, flat: np.ndarray, num_classes: int, bins: int) -> "CalibrationResult":
        """Read the vector of :meth:`CalibrationAccumulator.flat` (e.g. after
        an ``all_reduce`` sum)."""
        flat = np.asarray(flat, dtype=np.float64).reshape(-1)
        c, b = num_classes, bins
        if flat.size != cls.size(c, b):
            raise ValueError(f"calibration vector has {flat.size} values, expected {cls.size(c, b)}")
        first, second = 3 * c * b, 3 * c * b + 2 * c * c
        return cls(flat[:first].reshape(c, b, 3), flat[first:second].reshape(c, c, 2), flat[second:].reshape(c, 2))


@dataclass
class _Staged:
    """One batch's contributions, computed before anything is committed."""

    bin_index: torch.Tensor  # [n] true * B + bin
    bin_values: torch.Tensor  # [n, 3]
    cell_index: torch.Tensor  # [n] true * C + predicted
    cell_values: torch.Tensor  # [n, 2]
    loss_index: torch.Tensor  # [n] true class
    loss_values: torch.Tensor  # [n, 2]
    num_classes: int


class CalibrationAccumulator:
    """Sums of :class:`CalibrationResult` over the batches of an evaluation.

    :meth:`stage` computes a batch's contributions without changing anything
    and :meth:`commit` adds them (nothing there can fail half-way), so the
    monitor can stage every accumulator before committing any.
    """

    def __init__(self, bins: int = DEFAULT_CALIBRATION_BINS) -> None:
        if bins < 1:
            raise ValueError("bins must be positive")
        self.bins = int(bins)
        self.reset()

    def reset(self) -> None:
        """Drop every held tensor."""
        self._bins: Optional[torch.Tensor] = None
        self._cells: Optional[torch.Tensor] = None
        self._loss: Optional[torch.Tensor] = None
        self.num_classes: Optional[int] = None

    @torch.no_grad()
    def stage(
        self,
        labels: torch.Tensor,
        predicted: torch.Tensor,
        confidence: torch.Tensor,
        loss: torch.Tensor,
        num_classes: int,
        keep: Optional[torch.Tensor] = None,
    ) -> _Staged:
        """A batch's contributions: ``labels``/``predicted`` ``[n]`` classes,
        ``confidence`` ``[n]`` top-1 probability, ``loss`` ``[n]``
        cross-entropy (non-finite values are left out of the loss sums),
        ``keep`` ``[n]`` bool (rows outside the matrix, e.g. NaN logits, are
        ``False`` and count nowhere). No device synchronization."""
        device = confidence.device
        dtype = _sum_dtype(device)
        labels = labels.to(device=device, dtype=torch.long)
        predicted = predicted.to(device=device, dtype=torch.long)
        kept = torch.ones_like(labels, dtype=torch.bool) if keep is None else keep.to(device)
        confidence = torch.where(kept, confidence.float(), 0.0)  # float32, as the bin edges are compared
        weight = kept.to(dtype)
        bin_of = torch.clamp(torch.floor(confidence * self.bins), 0, self.bins - 1).long()
        correct = ((predicted == labels) & kept).to(dtype)
        conf = confidence.to(dtype)
        finite_loss = kept & torch.isfinite(loss)
        loss_weight = finite_loss.to(dtype)
        loss_value = torch.where(finite_loss, loss, 0.0).to(dtype)
        fields = {"count": weight, "confidence_sum": conf, "correct": correct}  # a bin's, stored in BIN_FIELDS order
        return _Staged(
            bin_index=labels * self.bins + bin_of,
            bin_values=torch.stack([fields[name] for name in BIN_FIELDS], dim=1),
            cell_index=labels * num_classes + predicted,
            cell_values=torch.stack([weight, conf], dim=1),
            loss_index=labels,
            loss_values=torch.stack([loss_value, loss_weight], dim=1),
            num_classes=int(num_classes),
        )

    @torch.no_grad()
    def commit(self, staged: _Staged) -> None:
        """Add a staged batch."""
        c = staged.num_classes
        if self._bins is None:
            device, dtype = staged.bin_values.device, staged.bin_values.dtype
            self._bins = torch.zeros(c * self.bins, 3, dtype=dtype, device=device)
            self._cells = torch.zeros(c * c, 2, dtype=dtype, device=device)
            self._loss = torch.zeros(c, 2, dtype=dtype, device=device)
            self.num_classes = c
        self._bins.index_put_((staged.bin_index,), staged.bin_values, accumulate=True)
        self._cells.index_put_((staged.cell_index,), staged.cell_values, accumulate=True)
        self._loss.index_put_((staged.loss_index,), staged.loss_values, accumulate=True)

    def add(self, *args, **kwargs) -> None:
        """:meth:`stage` then :meth:`commit`."""
        self.commit(self.stage(*args, **kwargs))

    def flat(self, num_classes: int, device: Optional[torch.device] = None) -> torch.Tensor:
        """Every sum as one ``float64`` vector (zeros if nothing was
        recorded), for an ``all_reduce``; read back with
        :meth:`CalibrationResult.from_flat`."""
        if self._bins is None:
            return torch.zeros(CalibrationResult.size(num_classes, self.bins), dtype=torch.float64, device=device)
        parts = [self._bins.reshape(-1), self._cells.reshape(-1), self._loss.reshape(-1)]
        return torch.cat(parts).to(device=device or self._bins.device, dtype=torch.float64)

    def result(self) -> Optional[CalibrationResult]:
        """This process's sums, or None if nothing was recorded."""
        if self._bins is None:
            return None
        return CalibrationResult.from_flat(self.flat(self.num_classes).cpu().numpy(), self.num_classes, self.bins)

