"""The values in ``data/logdir-v0.1``: event files written by release 0.1 of
this package (commit 2aaf69d, before the format/ and server/ folders) with
``write_v0_1_logdir.py``. Plain numpy, so the writer can run on 0.1's code and
the test on today's."""
from __future__ import annotations

from typing import Any, Dict

import numpy as np

RUN = "run"
TAG = "confusion/test"
NAMES = ["cat", "dog", "bird", "Ünïcode & <b>"]
STEPS = (0, 1)
DIAGNOSTICS_STEP = 1
BINS = 5


def matrix_at(step: int) -> np.ndarray:
    matrix = np.random.default_rng(step).integers(0, 4, size=(4, 4))
    matrix[np.arange(4), np.arange(4)] += 10 + step
    return matrix


def examples() -> Dict[str, Any]:
    rng = np.random.default_rng(11)
    return {
        "images": rng.integers(0, 256, size=(6, 1, 8, 8), dtype=np.uint8),
        "true_labels": np.array([0, 0, 1, 2, 3, 3]),
        "predicted_labels": np.array([0, 1, 1, 0, 3, 2]),
        "confidences": np.array([0.9, 0.6, 0.8, 0.55, 0.95, 0.5]),
        "dataset_indices": np.array([10, 11, 12, 13, 14, 15]),
    }


def calibration() -> Dict[str, Any]:
    counts = np.array([[2, 1, 0, 3, 4], [0, 2, 2, 1, 5], [1, 1, 1, 1, 1], [0, 0, 3, 3, 6]], dtype=np.float64)
    confidence_sum = counts * np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    correct = np.floor(counts * np.array([0.0, 0.5, 0.5, 0.6, 0.9]))
    cells = np.full((4, 4), 0.5)
    np.fill_diagonal(cells, 0.8)
    return {
        "bins": np.stack([counts, confidence_sum, correct], axis=-1),
        "cell_confidence": cells,
        "class_loss": np.array([0.2, 0.4, np.nan, 0.3]),
    }


def label_issues() -> Dict[str, Any]:
    joint = matrix_at(1) // 2
    suspects = np.zeros((4, 4), dtype=np.int64)
    suspects[0, 1] = suspects[2, 0] = 1
    return {"confident_joint": joint, "suspect_counts": suspects}


def suspects() -> Dict[str, Any]:
    rng = np.random.default_rng(12)
    return {
        "images": rng.integers(0, 256, size=(2, 1, 8, 8), dtype=np.uint8),
        "given": np.array([0, 2]),
        "suggested": np.array([1, 0]),
        "self_confidence": np.array([0.05, 0.1]),
        "confidence": np.array([0.9, 0.8]),
        "dataset_indices": np.array([11, 13]),
        "total": 2,
        "thresholds": np.array([0.5, 0.6, 0.4, 0.7]),
    }
