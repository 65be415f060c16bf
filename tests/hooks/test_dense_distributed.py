"""Segmentation through ``HookMonitor.record`` directly: the logged pixel
matrix and the dense scalars equal torchmetrics, sklearn and numpy; a
2-process gloo run equals one process."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tb_fmnist_plugin.format import metadata
from tests.hooks.dense_reference_worker import IGNORE, NAMES, dense_batches, record_all
from tests.support.events import free_port, read_examples_index, read_matrix
from tests.support.hooks_helpers import load, scalars

torchmetrics = pytest.importorskip("torchmetrics", reason="the reference: pip install -e '.[test]'")
sklearn_metrics = pytest.importorskip("sklearn.metrics", reason="the reference (comes with cleanlab): pip install -e '.[test]'")

C = len(NAMES)
#: The dense scalars besides the per-class IoU.
SUMMARY = ("mean_iou", "frequency_weighted_iou", "pixel_accuracy", "ignored_labels", "accuracy")


def _flat(data):
    predicted = torch.cat([logits.argmax(1).flatten() for logits, _, _ in data])
    labels = torch.cat([labels.flatten() for _, labels, _ in data])
    return predicted, labels


def _dense_scalars(acc, name: str = "test") -> dict:
    values = {key: scalars(acc, f"{key}/{name}")[1] for key in SUMMARY}
    values.update({f"iou/{n}": scalars(acc, f"iou/{name}/{n}")[1] for n in NAMES})  # the names are tag-safe
    return values


def test_record_matrix_and_scalars_equal_the_references(tmp_path):
    data = dense_batches()
    record_all(str(tmp_path), data)
    acc = load(str(tmp_path))
    logged = read_matrix(acc, "confusion/test", C)
    predicted, labels = _flat(data)
    kept = labels != IGNORE
    reference = torchmetrics.classification.MulticlassConfusionMatrix(num_classes=C, ignore_index=IGNORE)(predicted, labels).numpy()
    np.testing.assert_array_equal(logged, reference)
    np.testing.assert_array_equal(logged, sklearn_metrics.confusion_matrix(labels[kept].numpy(), predicted[kept].numpy(), labels=range(C)))
    content = metadata.parse_plugin_content(acc.PluginTagToContent(metadata.PLUGIN_NAME)["confusion/test"])
    assert content.get("unit") == "pixels"

    iou = torchmetrics.classification.MulticlassJaccardIndex(num_classes=C, average=None, ignore_index=IGNORE)(predicted, labels).numpy()
    m = reference.astype(np.float64)
    rows, cols, diagonal = m.sum(1), m.sum(0), np.diag(m)
    by_hand = diagonal / (rows + cols - diagonal)  # Long et al. 2015: n_ii / (t_i + sum_j n_ji - n_ii)
    np.testing.assert_allclose(by_hand, iou, atol=1e-6)
    values = _dense_scalars(acc)
    for i, name in enumerate(NAMES):
        assert values[f"iou/{name}"] == pytest.approx(iou[i], abs=1e-6), name
    assert values["mean_iou"] == pytest.approx(by_hand.mean(), abs=1e-6)
    assert values["frequency_weighted_iou"] == pytest.approx((rows / m.sum() * by_hand).sum(), abs=1e-6)
    assert values["pixel_accuracy"] == pytest.approx(diagonal.sum() / m.sum(), abs=1e-6)
    assert values["ignored_labels"] == int((~kept).sum()) > 0


@pytest.mark.subprocess
def test_two_process_gloo_dense_run_equals_one_process(tmp_path):
    import torch.multiprocessing as mp

    from tests.hooks.dense_reference_worker import worker

    mp.spawn(worker, args=(2, free_port(), str(tmp_path / "dist")), nprocs=2, join=True)
    record_all(str(tmp_path / "single"), dense_batches())
    dist_acc, single_acc = load(str(tmp_path / "dist")), load(str(tmp_path / "single"))
    dist_matrix = read_matrix(dist_acc, "confusion/test", C)
    assert dist_matrix.dtype == np.int64 and dist_matrix.sum() == int((_flat(dense_batches())[1] != IGNORE).sum())
    np.testing.assert_array_equal(dist_matrix, read_matrix(single_acc, "confusion/test", C))
    dist_values, single_values = _dense_scalars(dist_acc), _dense_scalars(single_acc)
    assert dist_values == pytest.approx(single_values, abs=1e-6)
    for acc in (dist_acc, single_acc):  # the overlay examples are written by rank 0 from every rank's candidates
        assert len(read_examples_index(acc, "confusion/test/examples")["true"]) > 0
