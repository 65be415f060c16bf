"""A log directory for the browser tests of the diagnoses (calibration, the
train-versus-test gap, suspected label errors), written through a real
``SummaryWriter`` with :mod:`tb_fmnist_plugin.summary` and
:mod:`tb_fmnist_plugin.format.diagnostics_writers`.

Every value is known here, so the tests compute what the tab must show
(reliability bins, ECE, B - A per cell, recall gaps, suspects per cell)
from these arrays, not from the server's answers. Run ``RUN``'s calibration
comes from made-up softmax probabilities and labels (:func:`evaluation_of`),
its bins of all three kinds summed from them here; the other runs have only
the older per-true-class bins (:func:`bins_of`), as files from before.
"""
from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from tests.ui import ui_data as ud

TEST_TAG = "confusion/test"
TRAIN_TAG = "confusion/train"
#: A run with train and test matrices and every diagnosis of the test set.
RUN = "diag"
#: A run as older files are: a test matrix, no diagnoses.
PLAIN_RUN = "plain"
#: A run whose class names are markup, with every diagnosis.
XSS_RUN = "hostile"
#: A run as files before classwise calibration are: only the per-true-class bins.
OLD_RUN = "older"
#: A run of many classes (drawn on the canvas) with mean confidences.
MANY_RUN = "many"
MANY_CLASSES = 45
NAMES = ["T-shirt/top", "Shirt", "Pullover", "Coat"]
XSS_NAMES = ["cat", ud.XSS_CLASS, "dog"]
STEPS = (0, 1)
NUM_BINS = 5
EDGES = np.linspace(0.0, 1.0, NUM_BINS + 1)

#: The test and train matrices per step (rows true, columns predicted; 20 examples a class).
TEST = {
    0: np.array([[14, 4, 2, 0], [6, 10, 3, 1], [2, 3, 13, 2], [1, 1, 4, 14]]),
    1: np.array([[16, 3, 1, 0], [5, 12, 2, 1], [1, 2, 15, 2], [0, 1, 3, 16]]),
}
TRAIN = {
    0: np.array([[17, 2, 1, 0], [3, 15, 2, 0], [1, 1, 17, 1], [0, 1, 2, 17]]),
    1: np.array([[19, 1, 0, 0], [2, 17, 1, 0], [0, 1, 19, 0], [0, 0, 1, 19]]),
}
#: Mean loss per true class at each step.
CLASS_LOSS = {0: np.array([0.6, 1.2, 0.7, 0.5]), 1: np.array([0.3, 0.9, 0.5, 0.4])}
#: Suspects per (given, suggested) cell at each step; their total is the suspects found.
SUSPECT_COUNTS = {
    step: np.array([[0, 1, 0, 0], [3, 0, 0, 0], [0, 0, 0, 2], [0, 0, 0, 0]]) for step in STEPS
}
#: The suspects listed with each step (fewer than found): (given, suggested, self-confidence, dataset index).
LISTED = [(1, 0, 0.02, 501), (1, 0, 0.05, 502), (2, 3, 0.08, 503), (0, 1, 0.11, 504)]


def bins_of(m: np.ndarray, step: int) -> np.ndarray:
    """``[C, B, 3]`` reliability bins of matrix ``m``: each class's examples
    spread over the bins, its correct ones in the most confident bins."""
    c = m.shape[0]
    out = np.zeros((c, NUM_BINS, 3))
    for t in range(c):
        counts = np.array([0, 2, 4, 6, 8]) if t % 2 == 0 else np.array([1, 3, 4, 5, 7])
        left = int(m[t, t])
        for b in range(NUM_BINS - 1, -1, -1):
            correct = min(int(counts[b]), left)
            left -= correct
            # mean confidence a little inside the bin, different per class and step
            mean = EDGES[b] + 0.05 + 0.02 * (t % 4) + 0.03 * step
            out[t, b] = (counts[b], counts[b] * mean, correct)
    return out


def evaluation_of(m: np.ndarray, step: int) -> Tuple[np.ndarray, np.ndarray]:
    """``(labels [N], softmax probabilities [N, C])`` of an evaluation whose
    confusion matrix is ``m``: each example's largest probability is its
    cell's predicted class, how much larger made up (seeded by ``step``)."""
    rng = np.random.default_rng(100 + step)
    c = m.shape[0]
    labels, rows = [], []
    for t in range(c):
        for p in range(c):
            for _ in range(int(m[t, p])):
                logits = rng.normal(0.0, 1.0, c)
                logits[p] = logits.max() + rng.uniform(0.05, 3.0)
                rows.append(np.exp(logits) / np.exp(logits).sum())
                labels.append(t)
    return np.array(labels), np.array(rows)


def calibration_of(labels: np.ndarray, probs: np.ndarray) -> Dict[str, np.ndarray]:
    """The three kinds of ``[C, B, 3]`` bins of an evaluation, by loops over
    the examples: ``by_true`` / ``by_predicted`` (count, top-1 confidence sum,
    correct) and ``classwise`` (count, ``p_k`` sum, labelled ``k``)."""
    n, c = probs.shape
    out = {kind: np.zeros((c, NUM_BINS, 3)) for kind in ("by_true", "by_predicted", "classwise")}

    def bin_of(p: float) -> int:
        return min(int(np.floor(p * NUM_BINS)), NUM_BINS - 1)

    for i in range(n):
        predicted, confidence = int(np.argmax(probs[i])), float(probs[i].max())
        hit = float(predicted == labels[i])
        out["by_true"][labels[i], bin_of(confidence)] += (1, confidence, hit)
        out["by_predicted"][predicted, bin_of(confidence)] += (1, confidence, hit)
        for k in range(c):
            out["classwise"][k, bin_of(probs[i, k])] += (1, probs[i, k], float(labels[i] == k))
    return out


def cell_confidence_of(m: np.ndarray, step: int) -> np.ndarray:
    """Mean confidence per cell: 0 (no predictions) where the cell is empty."""
    c = m.shape[0]
    t, p = np.meshgrid(np.arange(c), np.arange(c), indexing="ij")
    values = np.where(t == p, 0.9 - 0.05 * t, 0.35 + 0.1 * ((t + p) % 4)) + 0.01 * step
    return np.where(m > 0, np.round(values, 4), 0.0)


def _images(count: int) -> np.ndarray:
    images = np.zeros((count, 1, 28, 28), dtype=np.float32)
    for i in range(count):
        images[i, 0, 4 + 4 * i: 9 + 4 * i, 3:25] = 0.9
    return images


def _write_diagnostics(writer, names: List[str], m: np.ndarray, step: int, suspect_counts: np.ndarray, listed,
                       *, classwise: bool = False) -> None:
    """Every diagnosis of matrix ``m``; ``classwise``: the calibration of
    :func:`evaluation_of` with all three kinds of bins, else the older
    per-true-class bins of :func:`bins_of` only."""
    from tb_fmnist_plugin.format import diagnostics_writers as ds

    c = len(names)
    bins = calibration_of(*evaluation_of(m, step)) if classwise else {"by_true": bins_of(m, step)}
    ds.write_calibration(writer, TEST_TAG, bins["by_true"], step, cell_confidence=cell_confidence_of(m, step),
                         class_loss=CLASS_LOSS[step][:c], class_names=names)
    if classwise:
        ds.write_class_calibration(writer, TEST_TAG, bins["classwise"], step, by_predicted=bins["by_predicted"],
                                   class_names=names)
    ds.write_label_issues(writer, TEST_TAG, m + suspect_counts.T, step, suspect_counts=suspect_counts,
                          class_names=names)
    given = np.array([g for g, _, _, _ in listed])
    suggested = np.array([s for _, s, _, _ in listed])
    self_conf = np.array([x for _, _, x, _ in listed])
    ds.write_suspects(writer, TEST_TAG, _images(len(listed)), step, given=given, suggested=suggested,
                      self_confidence=self_conf, confidence=1 - self_conf,
                      dataset_indices=np.array([i for _, _, _, i in listed]), class_names=names,
                      total=int(suspect_counts.sum()), thresholds=np.full(c, 0.5))


def many_confidence(n: int = MANY_CLASSES) -> np.ndarray:
    """Mean confidences of the many-class run: its diagonal alternates 0.95 and 0.35."""
    out = np.zeros((n, n))
    out[np.arange(n), np.arange(n)] = np.where(np.arange(n) % 2 == 0, 0.95, 0.35)
    return out


def write_diagnostics_logdir(logdir: str) -> Dict[str, Dict[int, np.ndarray]]:
    """The runs above; returns ``{tag: {step: matrix}}`` of run ``RUN``."""
    from tb_fmnist_plugin import summary

    writer = ud._writer(logdir, RUN)
    for step in STEPS:
        summary.write_confusion_matrix(writer, TRAIN_TAG, TRAIN[step], step, class_names=NAMES)
        summary.write_confusion_matrix(writer, TEST_TAG, TEST[step], step, class_names=NAMES)
        _write_diagnostics(writer, NAMES, TEST[step], step, SUSPECT_COUNTS[step], LISTED, classwise=True)
    writer.close()

    writer = ud._writer(logdir, OLD_RUN)
    for step in STEPS:
        summary.write_confusion_matrix(writer, TEST_TAG, TEST[step], step, class_names=NAMES)
        _write_diagnostics(writer, NAMES, TEST[step], step, SUSPECT_COUNTS[step], LISTED)
    writer.close()

    writer = ud._writer(logdir, PLAIN_RUN)
    for step in STEPS:
        summary.write_confusion_matrix(writer, TEST_TAG, TEST[step], step, class_names=NAMES)
    writer.close()

    writer = ud._writer(logdir, XSS_RUN)
    m = np.array([[5, 1, 0], [2, 7, 1], [0, 3, 9]])
    suspects = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]])
    summary.write_confusion_matrix(writer, TEST_TAG, m, 0, class_names=XSS_NAMES)
    summary.write_confusion_matrix(writer, TRAIN_TAG, m, 0, class_names=XSS_NAMES)
    _write_diagnostics(writer, XSS_NAMES, m, 0, suspects, [(1, 0, 0.03, 7), (2, 1, 0.04, 8)])
    writer.close()

    from tb_fmnist_plugin.format import diagnostics_writers as ds

    n = MANY_CLASSES
    names = [f"class {i:02d}" for i in range(n)]
    writer = ud._writer(logdir, MANY_RUN)
    diagonal = np.eye(n, dtype=np.int64) * 10
    summary.write_confusion_matrix(writer, TEST_TAG, diagonal, 0, class_names=names)
    ds.write_calibration(writer, TEST_TAG, bins_of(diagonal, 0), 0, cell_confidence=many_confidence(),
                         class_loss=np.full(n, 0.5), class_names=names)
    writer.close()
    return {TEST_TAG: TEST, TRAIN_TAG: TRAIN}
