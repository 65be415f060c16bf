"""Per-class metrics of a confusion matrix: the one definition of these numbers.

Every per-class number shown anywhere is defined here: the scalars the hooks
log at ``end_eval`` (Scalars dashboard), the plugin's ``metrics``,
``metrics_series`` and ``top_confusions`` routes, and the Confusion tab, which
shows what those routes answer instead of computing its own. So the numbers
always agree. A ratio whose denominator is zero is NaN here (``null`` in JSON).
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np


def per_class_metrics(matrix: np.ndarray) -> Dict[str, np.ndarray]:
    """Support, predicted count, precision, recall, F1 per class, and accuracy.

    ``matrix`` is ``[n, n]`` counts, rows = true class, columns = predicted.
    Accepts ``[..., n, n]`` too (e.g. every step at once); results then carry
    the leading dimensions.
    """
    counts = np.asarray(matrix, dtype=np.float64)
    correct = np.diagonal(counts, axis1=-2, axis2=-1)
    support = counts.sum(axis=-1)
    predicted = counts.sum(axis=-2)
    total = support.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, correct / predicted, np.nan)
        recall = np.where(support > 0, correct / support, np.nan)
        denominator = precision + recall
        f1 = np.where(denominator > 0, 2 * precision * recall / denominator, np.where(np.isnan(denominator), np.nan, 0.0))
        accuracy = np.where(total > 0, correct.sum(axis=-1) / total, np.nan)
    return {
        "support": support.astype(np.int64),
        "predicted": predicted.astype(np.int64),
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
