"""Per-class metrics of a confusion matrix and calibration metrics of
reliability bins (top-label, classwise, by predicted class): the one
definition of these numbers.

Every per-class number shown anywhere is defined here: the scalars the hooks
log at ``end_eval`` (Scalars dashboard), the plugin's ``metrics``,
``metrics_series`` and ``top_confusions`` routes, and the Confusion tab, which
shows what those routes answer instead of computing its own. So the numbers
always agree. A ratio whose denominator is zero is NaN here (``null`` in JSON).
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np


def per_class_metrics(matrix: np.ndarray) -> Dict[str, np.ndarray]:
    """Support, predicted count, precision, recall, F1 per class, and accuracy.

    ``matrix`` is ``[n, n]`` counts, rows = true class, columns = predicted.
    Accepts ``[..., n, n]`` too (e.g. every step at once); results then carry
    the leading dimensions.
    """
    counts = np.asarray(matrix, dtype=np.int64)  # sums exact: the format bounds a matrix's total
    return metrics_from_marginals(np.diagonal(counts, axis1=-2, axis2=-1), counts.sum(axis=-1), counts.sum(axis=-2))


def cell_marginals(cells: Sequence[Tuple[np.ndarray, np.ndarray]], n: int) -> Tuple[np.ndarray, ...]:
    """``(correct, support, predicted)``, ``[len(cells), n]`` int64, of
    matrices given as cells (each ``(flat index row * n + col, counts)``):
    what :func:`metrics_from_marginals` needs, without dense matrices."""
    index = np.concatenate([np.asarray(i, dtype=np.int64) for i, _ in cells] or [np.zeros(0, np.int64)])
    counts = np.concatenate([np.asarray(c, dtype=np.int64) for _, c in cells] or [np.zeros(0, np.int64)])
    which = np.repeat(np.arange(len(cells)), [len(i) for i, _ in cells]) * n
    rows, cols = np.divmod(index, n)
    diagonal = rows == cols
    size = len(cells) * n
    exact_in_float = float(counts.sum(dtype=np.float64)) < 2.0**52  # then every float partial sum is exact
    sums = [_sum_by(which[diagonal] + rows[diagonal], counts[diagonal], size, exact_in_float),
            _sum_by(which + rows, counts, size, exact_in_float), _sum_by(which + cols, counts, size, exact_in_float)]
    return tuple(total.reshape(len(cells), n) for total in sums)


def _sum_by(keys: np.ndarray, counts: np.ndarray, size: int, exact_in_float: bool) -> np.ndarray:
    """Exact int64 sums of ``counts`` per key in ``[0, size)``."""
    if exact_in_float:
        return np.rint(np.bincount(keys, weights=counts, minlength=size)).astype(np.int64)
    out = np.zeros(size, dtype=np.int64)
    np.add.at(out, keys, counts)
    return out


def metrics_from_marginals(correct: np.ndarray, support: np.ndarray, predicted: np.ndarray) -> Dict[str, np.ndarray]:
    """:func:`per_class_metrics` from per-class correct, support (row sums)
    and predicted (column sums) counts, ``[..., n]`` int64 each."""
    total = support.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, correct / predicted, np.nan)
        recall = np.where(support > 0, correct / support, np.nan)
        denominator = precision + recall
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, np.where(np.isnan(denominator), np.nan, 0.0))
        accuracy = np.where(total > 0, correct.sum(axis=-1) / total, np.nan)
    return {
        "support": support,
        "predicted": predicted,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": accuracy,
    }


def most_confused_with(matrix: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """For each true class, the predicted class it is most often mistaken for
    and that count; index -1 where a class has no mistakes."""
    counts = np.array(matrix, dtype=np.int64, copy=True)
    np.fill_diagonal(counts, -1)
    index = counts.argmax(axis=1)
    count = counts[np.arange(counts.shape[0]), index]
    index = np.where(count > 0, index, -1)
    return index, np.maximum(count, 0)


def iou_metrics_from_marginals(correct: np.ndarray, support: np.ndarray, predicted: np.ndarray) -> Dict[str, np.ndarray]:
    """Segmentation metrics (Long, Shelhamer and Darrell, "Fully Convolutional
    Networks for Semantic Segmentation", CVPR 2015, section 5) from per-class
    correct ``N_cc``, support (row sums) and predicted (column sums) counts,
    ``[..., n]`` int64 each:

    - ``iou`` ``[..., n]``: ``N_cc / (row_c + col_c - N_cc)``, NaN where that
      denominator is 0 (a class neither present nor predicted);
    - ``mean_iou``: the mean of the defined IoUs (NaN if none is);
    - ``frequency_weighted_iou``: ``sum_c (row_c / total) * IoU_c`` over the
      classes with a defined IoU (NaN for an empty matrix);
    - ``pixel_accuracy``: ``trace / total`` (NaN for an empty matrix).
    """
    correct = np.asarray(correct, dtype=np.int64)
    support = np.asarray(support, dtype=np.int64)
    union = support + np.asarray(predicted, dtype=np.int64) - correct
    total = support.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou = np.where(union > 0, correct / union, np.nan)
        defined = ~np.isnan(iou)
        count = defined.sum(axis=-1)
        mean = np.where(count > 0, np.where(defined, iou, 0.0).sum(axis=-1) / count, np.nan)
        weighted = np.where(defined, support * np.where(defined, iou, 0.0), 0.0).sum(axis=-1)
        frequency_weighted = np.where(total > 0, weighted / total, np.nan)
        accuracy = np.where(total > 0, correct.sum(axis=-1) / total, np.nan)
    return {"iou": iou, "mean_iou": mean, "frequency_weighted_iou": frequency_weighted, "pixel_accuracy": accuracy}


def iou_metrics(matrix: np.ndarray) -> Dict[str, np.ndarray]:
    """:func:`iou_metrics_from_marginals` of ``[..., n, n]`` counts (rows true)."""
    counts = np.asarray(matrix, dtype=np.int64)
    return iou_metrics_from_marginals(np.diagonal(counts, axis1=-2, axis2=-1), counts.sum(axis=-1), counts.sum(axis=-2))


def iou(matrix: np.ndarray) -> np.ndarray:
    """``[..., n]`` per-class intersection over union (see :func:`iou_metrics_from_marginals`)."""
    return iou_metrics(matrix)["iou"]


def mean_iou(matrix: np.ndarray) -> np.ndarray:
    """Mean IoU over the classes with a defined IoU (a float for one matrix)."""
    return iou_metrics(matrix)["mean_iou"]


def frequency_weighted_iou(matrix: np.ndarray) -> np.ndarray:
    """IoU averaged with each class weighted by its share of the true positions."""
    return iou_metrics(matrix)["frequency_weighted_iou"]


def pixel_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Fraction of the counted positions predicted correctly (``trace / total``)."""
    return iou_metrics(matrix)["pixel_accuracy"]


def top_confusions(matrix: np.ndarray, n: int = 10) -> List[Tuple[int, int, int]]:
    """The ``n`` largest off-diagonal cells as ``(true, predicted, count)``,
    largest first, ties broken by (true, predicted); zero cells are left out."""
    counts = np.asarray(matrix, dtype=np.int64)
    size = counts.shape[0]
    flat = counts.reshape(-1).copy()
    flat[:: size + 1] = 0
    nonzero = np.flatnonzero(flat)
    if nonzero.size > n:
        # Cheap pre-selection before the exact ordering of the candidates.
        threshold = np.partition(flat[nonzero], nonzero.size - n)[nonzero.size - n]
        nonzero = nonzero[flat[nonzero] >= threshold]
    order = np.lexsort((nonzero, -flat[nonzero]))[:n]
    return [(int(i // size), int(i % size), int(flat[i])) for i in nonzero[order]]


def reliability(bins: np.ndarray) -> Dict[str, np.ndarray]:
    """Accuracy and mean confidence per confidence bin.

    ``bins`` is ``[..., B, 3]``: per bin the number of examples, the sum of
    their top-1 confidence and the number predicted correctly (as the hooks
    log them; sum over true classes for the whole set). Returns ``count``,
    ``accuracy`` and ``confidence`` ``[..., B]``, NaN in empty bins.
    """
    values = np.asarray(bins, dtype=np.float64)
    count = values[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        accuracy = np.where(count > 0, values[..., 2] / count, np.nan)
        confidence = np.where(count > 0, values[..., 1] / count, np.nan)
    return {"count": count, "accuracy": accuracy, "confidence": confidence}


def expected_calibration_error(bins: np.ndarray) -> np.ndarray:
    """Top-label expected calibration error from reliability bins ``[..., B, 3]``.

    ``sum_b (n_b / n) * |accuracy_b - confidence_b|``, which is
    ``sum_b |correct_b - confidence_sum_b| / n``; NaN where ``n`` is 0.
    Per class: the bins of that true class; overall: the bins summed over classes.
    """
    values = np.asarray(bins, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # sums of untrusted values may overflow: NaN
        total = values[..., 0].sum(axis=-1)
        gap = np.abs(values[..., 2] - values[..., 1]).sum(axis=-1)
        return np.where(total > 0, gap / total, np.nan)


def classwise_calibration_error(classwise: np.ndarray) -> np.ndarray:
    """Classwise ECE (Kull et al., NeurIPS 2019) per class from classwise
    bins ``[..., C, B, 3]`` (per class ``k`` and bin of ``p_k`` over all
    examples: count, sum of ``p_k``, examples labelled ``k``).

    ``ECE_k = sum_b (n_kb / N) |acc_kb - conf_kb|`` with ``acc_kb`` the share
    of the bin's examples labelled ``k`` and ``conf_kb`` their mean ``p_k``,
    which is ``sum_b |positives_kb - probability_sum_kb| / N``: the
    top-label formula of :func:`expected_calibration_error` applied to each
    class's bins (``N``, every example, is each class's count total). NaN
    where there are no examples.
    """
    return expected_calibration_error(classwise)


def predicted_class_reliability(by_predicted: np.ndarray) -> Dict[str, np.ndarray]:
    """Per predicted class ``k``: :func:`reliability` of the examples
    predicted ``k`` (bins ``[..., C, B, 3]`` of top-1 confidence: count,
    confidence sum, correct), i.e. "when the model says ``k`` with
    confidence ``c``, how often it is right", plus ``ece`` ``[..., C]``, the
    top-label ECE of those examples, and ``predicted`` ``[..., C]``, their number."""
    values = np.asarray(by_predicted, dtype=np.float64)
    out = reliability(values)
    with np.errstate(over="ignore"):
        out["predicted"] = values[..., 0].sum(axis=-1)
    out["ece"] = expected_calibration_error(values)
    return out


def bin_edges(bins: int) -> np.ndarray:
    """The ``bins + 1`` edges of ``bins`` equal-width confidence bins on [0, 1]."""
    return np.linspace(0.0, 1.0, int(bins) + 1)


def mean_loss(class_loss: np.ndarray, support: np.ndarray) -> float:
    """Mean loss over all examples from the per-class mean losses ``[C]``,
    weighted by each class's ``support`` ``[C]``; NaN when no class has
    examples, or one that has examples has no finite loss."""
    weight = np.asarray(support, dtype=np.float64)
    used = weight > 0
    loss = np.asarray(class_loss, dtype=np.float64)[used]
    if not used.any() or not np.isfinite(loss).all():
        return float("nan")
    with np.errstate(over="ignore", invalid="ignore"):
        return float((loss * weight[used]).sum() / weight[used].sum())


def label_issues_per_class(suspects: np.ndarray) -> np.ndarray:
    """Suspected label errors per given class: the row sums of the
    ``[C, C]`` counts per (given, suggested) cell (int64)."""
    return np.asarray(suspects, dtype=np.int64).sum(axis=1)
