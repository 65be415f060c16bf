"""Calibration computed straight from softmax probabilities and labels with
numpy, the reference the hooks tests and the browser tests compare the
plugin's numbers against."""
from __future__ import annotations

import numpy as np


def numpy_classwise_ece(labels: np.ndarray, probs: np.ndarray, k: int, bins: int) -> float:
    """Classwise ECE of class ``k`` (Kull et al. 2019): ECE_k = sum_b (n_kb / N) |acc_kb - conf_kb|
    over all N examples, ``bins`` equal bins of p_k, outcome [label == k]."""
    p = probs[:, k]
    bin_of = np.minimum(np.floor(p * bins), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = bin_of == b
        if rows.any():
            total += rows.sum() / len(labels) * abs((labels[rows] == k).mean() - p[rows].mean())
    return total
