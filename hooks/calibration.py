"""Calibration statistics of one evaluation, accumulated batch by batch.

Equal-width bins on [0, 1] (``B`` bins, a probability ``p`` in bin
``min(floor(p * B), B - 1)``, so 1.0 falls in the last), three sets of them:

- per true class ``c`` (``bins``, the older per-class definition, kept for
  the top-label ECE of the whole set, their sum over ``c``): the number of
  examples by top-1 confidence, the sum of that confidence, the number
  predicted correctly;
- per predicted class ``k`` (``by_predicted``): the same of the examples
  predicted ``k``, "when the model says k with confidence c, how often is it
  right";
- classwise (Kull et al., 2019), per class ``k`` over all examples: the
  number whose ``p_k`` (softmax probability of ``k``) is in the bin, the sum
  of their ``p_k`` and how many are labelled ``k``. This needs every
  probability: one ``scatter_add_`` of counts and one of ``p_k`` over the
  batch's ``N * C`` values, on their device. Rows with
  a non-finite probability (an infinite logit) are left out of it, as out of
  the loss.

Per (true, predicted) cell: the number of predictions and the sum of their
confidence (for the cell's mean confidence). Per true class: the sum and count
of the cross-entropy loss of its examples whose logits are all finite (a row
with an infinite logit has an infinite or undefined loss).

Memory is ``8 * (9 * C * B + 2 * C * C + 2 * C)`` bytes on the outputs'
device, whatever the number of examples (17 MB for 1,000 classes, 15 bins). Everything
is a sum, so ranks combine by adding (:meth:`CalibrationAccumulator.flat`,
:meth:`CalibrationResult.from_flat`). ECE and per-bin accuracy are computed
from these sums by :mod:`tb_fmnist_plugin.metrics`, the one definition the
hooks and the plugin share.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Tuple

import numpy as np
import torch

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.format.diagnostics_metadata import BIN_FIELDS, CLASSWISE_FIELDS

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
    cell), ``loss`` ``[C, 2]`` (loss sum, count of finite rows per true class),
    ``by_predicted`` ``[C, B, 3]`` (as ``bins``, per predicted class),
    ``classwise`` ``[C, B, 3]`` (count, ``p_k`` sum, labelled ``k`` per class
    ``k`` and bin of ``p_k``).
    """

    bins: np.ndarray
    cells: np.ndarray
    loss: np.ndarray
    by_predicted: np.ndarray
    classwise: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(self.bins.shape[0])

    def _parts(self) -> tuple:
        return (self.bins, self.cells, self.loss, self.by_predicted, self.classwise)

    def __add__(self, other: "CalibrationResult") -> "CalibrationResult":
        return CalibrationResult(*(a + b for a, b in zip(self._parts(), other._parts())))

    def ece(self) -> float:
        """Top-label expected calibration error of the whole set (NaN if empty)."""
        return float(metrics.expected_calibration_error(self.bins.sum(axis=0)))

    def class_ece(self) -> np.ndarray:
        """``[C]`` classwise ECE of each class (NaN without examples)."""
        return metrics.classwise_calibration_error(self.classwise)

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
    def shapes(num_classes: int, bins: int) -> List[Tuple[int, ...]]:
        """Shapes of the parts, in field (and flat vector) order."""
        c, b = num_classes, bins
        return [(c, b, 3), (c, c, 2), (c, 2), (c, b, 3), (c, b, 3)]

    @classmethod
    def size(cls, num_classes: int, bins: int) -> int:
        """Length of the flat vector that :meth:`from_flat` reads."""
        return sum(int(np.prod(shape)) for shape in cls.shapes(num_classes, bins))

    @classmethod
    def from_flat(cls, flat: np.ndarray, num_classes: int, bins: int) -> "CalibrationResult":
        """Read the vector of :meth:`CalibrationAccumulator.flat` (e.g. after
        an ``all_reduce`` sum)."""
        flat = np.asarray(flat, dtype=np.float64).reshape(-1)
        c, b = num_classes, bins
        if flat.size != cls.size(c, b):
            raise ValueError(f"calibration vector has {flat.size} values, expected {cls.size(c, b)}")
        parts, start = [], 0
        for shape in cls.shapes(c, b):
            end = start + int(np.prod(shape))
            parts.append(flat[start:end].reshape(shape))
            start = end
        return cls(*parts)


@dataclass
class _Staged:
    """One batch's contributions, computed before anything is committed."""

    bin_index: torch.Tensor  # [n] true * B + bin
    bin_values: torch.Tensor  # [n, 3]
    cell_index: torch.Tensor  # [n] true * C + predicted
    cell_values: torch.Tensor  # [n, 2]
    loss_index: torch.Tensor  # [n] true class
    loss_values: torch.Tensor  # [n, 2]
    predicted_index: torch.Tensor  # [n] predicted * B + bin
    classwise_index: torch.Tensor  # [n * C] class * B + bin of p_class (C * B: row left out)
    classwise_values: torch.Tensor  # [n * C] p_class
    positive_index: torch.Tensor  # [n] label * B + bin of p_label (C * B: row left out)
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
        self._by_predicted: Optional[torch.Tensor] = None
        self._classwise: Optional[torch.Tensor] = None
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
        probabilities: Optional[torch.Tensor] = None,
    ) -> _Staged:
        """A batch's contributions: ``labels``/``predicted`` ``[n]`` classes,
        ``confidence`` ``[n]`` top-1 probability, ``loss`` ``[n]``
        cross-entropy (non-finite values are left out of the loss sums),
        ``keep`` ``[n]`` bool (rows outside the matrix, e.g. NaN logits, are
        ``False`` and count nowhere), ``probabilities`` ``[n, C]`` softmax
        (rows with a non-finite one are left out of the classwise bins; None:
        from ``loss`` alone, every row left out). No device synchronization."""
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
        classwise_index, classwise_values, positive_index = self._classwise_parts(labels, kept, probabilities, int(num_classes), dtype)
        return _Staged(
            bin_index=labels * self.bins + bin_of,
            bin_values=torch.stack([fields[name] for name in BIN_FIELDS], dim=1),
            cell_index=labels * num_classes + predicted,
            cell_values=torch.stack([weight, conf], dim=1),
            loss_index=labels,
            loss_values=torch.stack([loss_value, loss_weight], dim=1),
            predicted_index=predicted * self.bins + bin_of,
            classwise_index=classwise_index,
            classwise_values=classwise_values,
            positive_index=positive_index,
            num_classes=int(num_classes),
        )

    def _classwise_parts(
        self, labels: torch.Tensor, kept: torch.Tensor, probabilities: Optional[torch.Tensor], c: int, dtype: torch.dtype
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(index [n * C], p_k [n * C], own [n])``: the slot ``k * B + bin``
        of every (row, class) in the classwise sums, the probability to add
        there, and the slot of the row's own label (``positives``); rows
        left out go to the spare slot ``C * B``, which is never read. Few
        passes over the ``n * C`` values: they dominate at many classes."""
        b, spare = self.bins, c * self.bins
        if probabilities is None:
            return (torch.full((0,), spare, dtype=torch.long, device=labels.device), torch.zeros(0, dtype=dtype, device=labels.device),
                    torch.full_like(labels, spare))
        p = probabilities.float()  # float32, as the bin edges are compared
        used = kept & torch.isfinite(p.sum(dim=1))  # probabilities: a row's sum is finite unless one is NaN
        # truncation is floor on [0, 1]; a NaN's garbage bin is clamped, and its row is not used
        slot = (p * b).long().clamp_(0, b - 1).add_(torch.arange(c, device=p.device) * b)  # [n, C]
        own = torch.where(used, slot.gather(1, labels.clamp(0, c - 1)[:, None])[:, 0], spare)
        index = slot.masked_fill_(~used[:, None], spare).reshape(-1)
        return index, p.reshape(-1).to(dtype), own

    @torch.no_grad()
    def commit(self, staged: _Staged) -> None:
        """Add a staged batch."""
        c = staged.num_classes
        if self._bins is None:
            device, dtype = staged.bin_values.device, staged.bin_values.dtype
            self._bins = torch.zeros(c * self.bins, 3, dtype=dtype, device=device)
            self._cells = torch.zeros(c * c, 2, dtype=dtype, device=device)
            self._loss = torch.zeros(c, 2, dtype=dtype, device=device)
            self._by_predicted = torch.zeros(c * self.bins, 3, dtype=dtype, device=device)
            # one row per CLASSWISE_FIELDS entry, one column per (class, bin) and a spare one for rows left out
            self._classwise = torch.zeros(len(CLASSWISE_FIELDS), c * self.bins + 1, dtype=dtype, device=device)
            self.num_classes = c
        self._bins.index_put_((staged.bin_index,), staged.bin_values, accumulate=True)
        self._by_predicted.index_put_((staged.predicted_index,), staged.bin_values, accumulate=True)
        field = {name: self._classwise[i] for i, name in enumerate(CLASSWISE_FIELDS)}
        one = torch.ones(1, dtype=self._classwise.dtype, device=self._classwise.device)
        field["count"].scatter_add_(0, staged.classwise_index, one.expand(staged.classwise_index.numel()))
        field["probability_sum"].scatter_add_(0, staged.classwise_index, staged.classwise_values)
        field["positives"].scatter_add_(0, staged.positive_index, one.expand(staged.positive_index.numel()))
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
        classwise = self._classwise[:, :-1].T  # [C * B, 3] in CLASSWISE_FIELDS order
        parts = [t.reshape(-1) for t in (self._bins, self._cells, self._loss, self._by_predicted, classwise)]
        return torch.cat(parts).to(device=device or self._bins.device, dtype=torch.float64)

    def result(self) -> Optional[CalibrationResult]:
        """This process's sums, or None if nothing was recorded."""
        if self._bins is None:
            return None
        return CalibrationResult.from_flat(self.flat(self.num_classes).cpu().numpy(), self.num_classes, self.bins)

