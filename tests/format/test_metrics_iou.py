"""The segmentation metrics of ``tb_fmnist_plugin.metrics`` (issue 21)
against independent computations: sklearn's ``jaccard_score`` and
torchmetrics' ``MulticlassJaccardIndex`` on the flattened label arrays, and
the definitions written out class by class."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import confusion_matrix, jaccard_score
from torchmetrics.classification import MulticlassJaccardIndex

from tb_fmnist_plugin import metrics


def _labels(seed, c=6, n=5000):
    rng = np.random.default_rng(seed)
    true = rng.integers(0, c - 1, n)  # class c - 1 never occurs as a label
    predicted = np.where(rng.random(n) < 0.7, true, rng.integers(0, c - 1, n))
    predicted[:3] = c - 2
    return true, predicted, c


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_iou_equals_sklearn_and_torchmetrics(seed):
    true, predicted, c = _labels(seed)
    matrix = confusion_matrix(true, predicted, labels=np.arange(c))
    iou = metrics.iou(matrix)
    defined = np.arange(c) < c - 1
    reference = jaccard_score(true, predicted, labels=np.arange(c - 1), average=None)
    assert np.allclose(iou[defined], reference, rtol=1e-12)
    assert np.isnan(iou[c - 1])  # neither present nor predicted
    tm = MulticlassJaccardIndex(num_classes=c, average=None)(torch.from_numpy(predicted), torch.from_numpy(true)).numpy()
    assert np.allclose(iou[defined], tm[defined], rtol=1e-6)
    assert metrics.mean_iou(matrix) == pytest.approx(reference.mean(), rel=1e-12)


def test_frequency_weighted_iou_and_pixel_accuracy_by_their_definitions():
    true, predicted, c = _labels(3)
    matrix = confusion_matrix(true, predicted, labels=np.arange(c))
    total = len(true)
    weighted = 0.0
    for k in range(c):
        intersection = np.sum((true == k) & (predicted == k))
        union = np.sum((true == k) | (predicted == k))
        if union:
            weighted += np.sum(true == k) / total * intersection / union
    assert metrics.frequency_weighted_iou(matrix) == pytest.approx(weighted, rel=1e-12)
    assert metrics.pixel_accuracy(matrix) == pytest.approx(np.mean(true == predicted), rel=1e-12)


def test_marginals_leading_dimensions_and_empty_matrices():
    matrices = np.stack([confusion_matrix(*_labels(seed)[:2], labels=np.arange(6)) for seed in range(3)] + [np.zeros((6, 6), int)])
    stacked = metrics.iou_metrics(matrices)
    for i, matrix in enumerate(matrices[:3]):
        one = metrics.iou_metrics(matrix)
        for key, value in one.items():
            assert np.allclose(stacked[key][i], value, equal_nan=True), key
    cells = [(np.flatnonzero(m), m.reshape(-1)[np.flatnonzero(m)]) for m in matrices]  # the server's sparse cells
    correct, support, predicted = metrics.cell_marginals(cells, 6)
    from_marginals = metrics.iou_metrics_from_marginals(correct, support, predicted)
    assert np.allclose(from_marginals["iou"], stacked["iou"], equal_nan=True)
    empty = {key: value[3] for key, value in stacked.items()}
    assert np.isnan(empty["iou"]).all() and np.isnan(empty["mean_iou"])
    assert np.isnan(empty["frequency_weighted_iou"]) and np.isnan(empty["pixel_accuracy"])


def test_counts_past_two_to_the_53_keep_the_formula():
    matrix = np.array([[2**60, 3], [5, 2**40]], dtype=np.int64)
    iou = metrics.iou(matrix)
    assert iou[0] == pytest.approx(2**60 / (2**60 + 8), rel=1e-15)
    assert iou[1] == pytest.approx(2**40 / (2**40 + 8), rel=1e-15)
