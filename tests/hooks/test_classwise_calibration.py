"""Per-class calibration by the standard definitions (issue 18): record() on
known logits through a real ``SummaryWriter``, read back through
TensorBoard's data provider and the plugin's calibration views, against
numpy computed straight from the softmax probabilities and labels: the
classwise ECE of every class (Kull et al., NeurIPS 2019) and the reliability
bins of the examples predicted as each class. Files written before (release
0.1's logdir, a file with only the per-true-class ``M/reliability``) still
read, their per-class numbers labelled ``true_class``."""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import metrics, summary
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.hooks import attach_hooks
from tb_fmnist_plugin.server.diagnostics_reader import DiagnosticsReader
from tb_fmnist_plugin.server.diagnostics_views import DiagnosticsViews
from tb_fmnist_plugin.server.reader import ConfusionReader
from tests.format import v0_1_data
from tests.support.calibration_reference import numpy_classwise_ece
from tests.support.plugin_app import CTX, EID, load_provider

C, B, TAG = 12, 15, "confusion/test"
NAMES = [f"class {i}" for i in range(C)]
#: Batches of different sizes; together more than record()'s 2,048 pending rows.
SIZES = (300, 700, 1100)


def _evaluation(seed: int = 0):
    """``(logits [N, C] float32, labels [N], probabilities [N, C] float64)``,
    no probability within 1e-5 of a bin edge (so float32 and float64 bin alike)."""
    rng = np.random.default_rng(seed)
    n = sum(SIZES)
    labels = rng.integers(0, C, n)
    logits = rng.normal(0, 1.5, (n, C))
    logits[np.arange(n), labels] += rng.uniform(0, 5, n)
    labels = np.where(rng.random(n) < 0.2, rng.integers(0, C, n), labels)  # wrong or noisy labels

    def probabilities(x):
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    for _ in range(100):
        probs = probabilities(logits.astype(np.float32).astype(np.float64))
        near = (np.abs(probs * B - np.round(probs * B)) < 1e-5 * B).any(axis=1)
        if not near.any():
            break
        logits[near] += rng.normal(0, 0.01, (int(near.sum()), C))
    assert not near.any()
    return logits.astype(np.float32), labels, probs


def _log(logdir: str, logits, labels) -> None:
    writer = SummaryWriter(os.path.join(logdir, "run"))
    monitor = attach_hooks(FashionMNISTCNN(C), writer, class_names=NAMES, log_graph=False, calibration_bins=B)
    start = 0
    for size in SIZES:
        part = slice(start, start + size)
        monitor.record(torch.from_numpy(logits[part]), torch.from_numpy(labels[part]))
        start += size
    monitor.end_eval(step=4)
    monitor.remove()
    writer.close()


def _views(logdir: str) -> DiagnosticsViews:
    return DiagnosticsViews(DiagnosticsReader(ConfusionReader(load_provider(logdir))))


def numpy_predicted_bins(labels, probs, k):
    """``[B, 3]`` of the examples predicted ``k`` by bin of top-1 confidence: count, confidence sum, correct."""
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    bin_of = np.minimum(np.floor(confidence * B), B - 1)
    out = np.zeros((B, 3))
    for b in range(B):
        rows = (predicted == k) & (bin_of == b)
        out[b] = rows.sum(), confidence[rows].sum(), (labels[rows] == k).sum()
    return out


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("classwise"))
    logits, labels, probs = _evaluation()
    _log(logdir, logits, labels)
    return _views(logdir), labels, probs


def test_classwise_ece_per_class_equals_numpy(written):
    views, labels, probs = written
    body = views.calibration_impl(CTX, EID, "run", TAG, 4)
    assert (body["per_class_kind"], body["class_ece_kind"]) == ("predicted_class", "classwise")
    expected = [numpy_classwise_ece(labels, probs, k, B) for k in range(C)]
    assert [entry["ece"] for entry in body["classes"]] == pytest.approx(expected, abs=6e-7)  # answers keep 6 decimals
    assert [entry["support"] for entry in body["classes"]] == np.bincount(labels, minlength=C).tolist()
    # the stored classwise bins themselves, every class counting every example
    found = views._reader_or_none.read(CTX, EID, views._reader_or_none.matrix_series(CTX, EID, "run", TAG),
                                       ("classwise_bins",), 4)
    stored = found["classwise_bins"].at(4)
    assert (stored[..., 0].sum(axis=1) == len(labels)).all()
    np.testing.assert_allclose(metrics.classwise_calibration_error(stored), expected, rtol=1e-6)


def test_predicted_class_bins_equal_numpy_exactly(written):
    views, labels, probs = written
    body = views.calibration_impl(CTX, EID, "run", TAG, 4)
    for k, entry in enumerate(body["classes"]):
        bins = numpy_predicted_bins(labels, probs, k)
        count = bins[:, 0]
        assert entry["count"] == count.astype(int).tolist()
        assert entry["predicted"] == int((probs.argmax(axis=1) == k).sum())
        with np.errstate(invalid="ignore", divide="ignore"):
            accuracy, confidence = bins[:, 2] / count, bins[:, 1] / count
        for b in range(B):
            if count[b] == 0:
                assert entry["accuracy"][b] is None and entry["confidence"][b] is None
            else:
                assert entry["accuracy"][b] == round(accuracy[b], 6)  # a ratio of counts: exact to 6 decimals
                assert entry["confidence"][b] == pytest.approx(confidence[b], abs=6e-7)
        top_label = np.abs(bins[:, 2] - bins[:, 1]).sum() / count.sum()
        assert entry["predicted_ece"] == pytest.approx(top_label, abs=6e-7)
    # the whole set's top-label ECE is as before: the same from either kind of bins
    all_bins = sum(numpy_predicted_bins(labels, probs, k) for k in range(C))
    assert body["overall"]["ece"] == pytest.approx(np.abs(all_bins[:, 2] - all_bins[:, 1]).sum() / len(labels), abs=6e-7)
    series = views.calibration_series_impl(CTX, EID, "run", TAG)
    assert series["steps"] == [4]
    np.testing.assert_allclose(series["class_ece"][0], [numpy_classwise_ece(labels, probs, k, B) for k in range(C)], rtol=1e-6)
    assert series["true_class_ece"] == [[None] * C]


def test_release_0_1_logdir_reads_as_the_older_per_true_class_definition():
    logdir = os.path.join(os.path.dirname(os.path.abspath(v0_1_data.__file__)), "data", "logdir-v0.1")
    views = _views(logdir)
    body = views.calibration_impl(CTX, EID, v0_1_data.RUN, v0_1_data.TAG, v0_1_data.DIAGNOSTICS_STEP)
    bins = v0_1_data.calibration()["bins"]
    assert (body["per_class_kind"], body["class_ece_kind"]) == ("true_class", "true_class")
    for entry, ece in zip(body["classes"], metrics.expected_calibration_error(bins)):
        assert entry["ece"] == (None if np.isnan(ece) else pytest.approx(ece, abs=6e-7))
    for entry, class_bins in zip(body["classes"], bins):
        assert entry["count"] == class_bins[:, 0].astype(int).tolist()
        assert "predicted" not in entry and "predicted_ece" not in entry


def test_a_file_with_only_the_older_kind_reads_labelled_true_class(tmp_path):
    rng = np.random.default_rng(3)
    bins = np.zeros((3, 4, 3))
    bins[..., 0] = rng.integers(1, 9, (3, 4))
    bins[..., 2] = np.floor(bins[..., 0] * rng.random((3, 4)))
    bins[..., 1] = bins[..., 0] * (np.arange(4) + 0.5) / 4
    writer = SummaryWriter(str(tmp_path / "run"))
    summary.write_confusion_matrix(writer, TAG, np.eye(3, dtype=int) * 5, 2, class_names=["a", "b", "c"])
    summary.write_calibration(writer, TAG, bins, 2, cell_confidence=np.eye(3) * 0.5, class_loss=np.ones(3),
                              class_names=["a", "b", "c"])
    writer.close()
    views = _views(str(tmp_path))
    body = views.calibration_impl(CTX, EID, "run", TAG, 2)
    assert (body["per_class_kind"], body["class_ece_kind"]) == ("true_class", "true_class")
    true_class = metrics.expected_calibration_error(bins)
    assert [entry["ece"] for entry in body["classes"]] == pytest.approx(true_class, abs=6e-7)
    series = views.calibration_series_impl(CTX, EID, "run", TAG)
    assert series["true_class_ece"][0] == pytest.approx(true_class, abs=6e-7)
    assert np.isnan(series["class_ece"]).all()  # never shown as classwise


def test_the_writer_and_the_reader_refuse_inconsistent_classwise_bins():
    classwise = np.zeros((3, 4, 3))
    classwise[:, 1] = (5, 1.5, 2)
    by_predicted = np.zeros((3, 4, 3))
    summary.class_calibration_pb(TAG, classwise, by_predicted=by_predicted, class_names=["a", "b", "c"])
    uneven = classwise.copy()
    uneven[2, 1, 0] = 4
    with pytest.raises(ValueError, match="same examples"):
        summary.class_calibration_pb(TAG, uneven, by_predicted=by_predicted, class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="by_predicted must have shape"):
        summary.class_calibration_pb(TAG, classwise, by_predicted=np.zeros((3, 5, 3)), class_names=["a", "b", "c"])
    with pytest.raises(ValueError, match="different numbers of examples"):
        dm.decode_classwise(uneven, 3, 4)
