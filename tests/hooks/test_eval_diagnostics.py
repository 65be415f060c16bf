"""Calibration and label-issue accumulators against direct computations:
numpy for the reliability bins and ECE, torch's cross_entropy for the loss,
cleanlab 2.x for confident learning; merging ranks' parts equals one pass."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.nn import functional

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.hooks.calibration import CalibrationAccumulator, CalibrationResult
from tb_fmnist_plugin.hooks.evaluation import classify
from tb_fmnist_plugin.hooks.label_issues import LabelIssueAccumulator


def _logits(n: int, classes: int, seed: int, sharpness: float = 2.0, noise: float = 0.1):
    """Model-like logits (the true class boosted) and noisy given labels."""
    g = torch.Generator().manual_seed(seed)
    true = torch.randint(0, classes, (n,), generator=g)
    logits = torch.randn(n, classes, generator=g)
    logits[torch.arange(n), true] += sharpness * (1 + torch.rand(n, generator=g))
    flip = torch.rand(n, generator=g) < noise
    given = torch.where(flip, torch.randint(0, classes, (n,), generator=g), true)
    return logits, given


def _batches(n: int, size: int):
    return [slice(start, min(n, start + size)) for start in range(0, n, size)]


# --- Calibration -------------------------------------------------------------------------


def _calibration(logits, labels, bins=15, keep=None, parts=None):
    acc = CalibrationAccumulator(bins)
    for part in parts or _batches(len(labels), 64):
        predicted, confidence, _ = classify(logits[part])
        loss = functional.cross_entropy(logits[part], labels[part], reduction="none")
        acc.add(labels[part], predicted, confidence, loss, logits.shape[1], None if keep is None else keep[part],
                torch.softmax(logits[part], dim=1))
    return acc


@pytest.mark.parametrize("classes", [10, 100])
def test_reliability_bins_ece_and_cell_confidence_equal_numpy(classes):
    logits, labels = _logits(3000, classes, seed=classes, sharpness=1.5)
    logits[0, labels[0]] = 200.0  # confidence exactly 1.0: the last bin
    result = _calibration(logits, labels).result()

    predicted, confidence, _ = classify(logits)
    conf = confidence.numpy()  # float32, as the accumulator sees it
    true, pred = labels.numpy(), predicted.numpy()
    assert conf[0] == 1.0
    bin_of = np.minimum(np.floor(conf * np.float32(15)), 14).astype(int)
    expected = np.zeros((classes, 15, 3))
    for c in range(classes):
        for b in range(15):
            rows = (true == c) & (bin_of == b)
            expected[c, b] = rows.sum(), conf[rows].astype(np.float64).sum(), (pred[rows] == c).sum()
    np.testing.assert_allclose(result.bins, expected, rtol=1e-12, atol=1e-9)
    assert result.bins[labels[0], 14, 0] >= 1

    def direct_ece(rows):
        total = 0.0
        for b in range(15):
            members = rows & (bin_of == b)
            if members.any():
                accuracy = (pred[members] == true[members]).mean()
                total += members.sum() / rows.sum() * abs(accuracy - conf[members].astype(np.float64).mean())
        return total

    assert result.ece() == pytest.approx(direct_ece(np.ones_like(true, dtype=bool)), rel=1e-9)
    # the older per-true-class ECE, still computable from the true-class bins
    np.testing.assert_allclose(metrics.expected_calibration_error(result.bins),
                               [direct_ece(true == c) for c in range(classes)], rtol=1e-9)
    # the top-label bins by predicted class sum to the whole set's, as the true-class ones do
    np.testing.assert_allclose(result.by_predicted.sum(axis=0), result.bins.sum(axis=0), rtol=1e-12, atol=1e-9)

    rel = metrics.reliability(result.bins.sum(axis=0))
    for b in range(15):
        members = bin_of == b
        if members.any():
            assert rel["accuracy"][b] == pytest.approx((pred[members] == true[members]).mean())
            assert rel["confidence"][b] == pytest.approx(conf[members].astype(np.float64).mean())
        else:
            assert rel["count"][b] == 0 and np.isnan(rel["accuracy"][b])

    cell_mean = result.cell_confidence()
    for t, p in {(int(a), int(b)) for a, b in zip(true[:200], pred[:200])}:
        rows = (true == t) & (pred == p)
        assert cell_mean[t, p] == pytest.approx(conf[rows].astype(np.float64).mean(), rel=1e-9)
    assert (cell_mean[result.cells[..., 0] == 0] == 0).all()


def test_class_loss_equals_torch_cross_entropy_and_skips_excluded_rows():
    logits, labels = _logits(1000, 10, seed=3)
    keep = torch.ones(1000, dtype=torch.bool)
    keep[::7] = False  # rows left out of the matrix (e.g. NaN logits) count nowhere
    logits[::7] = float("nan")
    logits[5, 2] = float("inf")  # a kept row with an infinite loss stays out of the loss only
    result = _calibration(logits, labels, keep=keep).result()
    finite = keep & torch.isfinite(logits).all(dim=1)
    for c in range(10):
        rows = finite & (labels == c)
        expected = functional.cross_entropy(logits[rows], labels[rows]).item()
        assert result.class_loss()[c] == pytest.approx(expected, rel=1e-5)
    assert result.bins[..., 0].sum() == keep.sum().item()
    assert result.cells[..., 0].sum() == keep.sum().item()
    assert result.loss[:, 1].sum() == finite.sum().item()
    # classwise bins: every class counts every row with finite probabilities (the infinite logit's row is out)
    assert (result.classwise[..., 0].sum(axis=1) == finite.sum().item()).all()


def test_calibration_of_a_class_without_examples():
    logits, labels = _logits(200, 5, seed=1)
    labels[labels == 4] = 3
    result = _calibration(logits, labels, bins=10).result()
    assert np.isnan(result.class_loss()[4])
    # classwise: every example counts for class 4, none is labelled 4, so ECE_4 is the mean p_4
    assert result.class_ece()[4] == pytest.approx(torch.softmax(logits, dim=1)[:, 4].double().mean().item(), rel=1e-6)
    assert np.isfinite(result.class_ece()).all()
    assert np.isnan(metrics.expected_calibration_error(result.bins)[4])  # the older per-true-class ECE: undefined


def test_calibration_parts_sum_to_the_whole():
    logits, labels = _logits(900, 12, seed=5)
    whole = _calibration(logits, labels).result()
    first = _calibration(logits, labels, parts=[slice(0, 64), slice(64, 500)])
    second = _calibration(logits, labels, parts=[slice(500, 900)])
    flat = first.flat(12) + second.flat(12)  # what an all_reduce sum does
    merged = CalibrationResult.from_flat(flat.numpy(), 12, 15)
    np.testing.assert_allclose(merged.bins, whole.bins, rtol=1e-12)
    np.testing.assert_allclose(merged.cells, whole.cells, rtol=1e-12)
    np.testing.assert_allclose(merged.loss, whole.loss, rtol=1e-12)
    np.testing.assert_allclose(merged.by_predicted, whole.by_predicted, rtol=1e-12)
    np.testing.assert_allclose(merged.classwise, whole.classwise, rtol=1e-12)
    assert merged.ece() == pytest.approx(whole.ece(), rel=1e-12)
    empty = CalibrationAccumulator().flat(12)
    assert empty.shape == (CalibrationResult.size(12, 15),) and not empty.any()


def test_calibration_memory_does_not_grow_with_examples():
    acc = CalibrationAccumulator(15)
    logits, labels = _logits(2048, 10, seed=2)
    acc.add(labels[:64], *classify(logits[:64])[:2], torch.zeros(64), 10)
    size = acc.flat(10).numel()
    acc.add(labels, *classify(logits)[:2], torch.zeros(2048), 10)
    assert acc.flat(10).numel() == size == 9 * 10 * 15 + 2 * 100 + 2 * 10


# --- Label issues vs cleanlab ------------------------------------------------------------


def _label_issues(logits, labels, topk=5, max_suspects=64, parts=None, indices=None):
    acc = LabelIssueAccumulator(topk=topk, max_suspects=max_suspects)
    indices = torch.arange(len(labels)) + 1000 if indices is None else indices
    for part in parts or _batches(len(labels), 100):
        acc.add(torch.log_softmax(logits[part].float(), dim=1), labels[part], indices[part],
                lambda rows, part=part: {"marker": indices[part][rows] * 2})
    return acc


def _cleanlab(logits, labels):
    from cleanlab.count import compute_confident_joint, num_label_issues
    from cleanlab.filter import find_label_issues

    probs = torch.log_softmax(logits.float(), dim=1).exp().double().numpy()  # what the accumulator keeps
    given = labels.numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        joint = compute_confident_joint(given, probs, calibrate=False)
        ranked = find_label_issues(given, probs, filter_by="confident_learning", return_indices_ranked_by="self_confidence")
        count = num_label_issues(given, probs, estimation_method="off_diagonal")
    return joint, ranked, count


@pytest.mark.parametrize("classes,sharpness", [(10, 2.0), (100, 7.0)])
def test_confident_joint_and_suspects_equal_cleanlab(classes, sharpness):
    logits, labels = _logits(4000, classes, seed=classes, sharpness=sharpness)
    result = _label_issues(logits, labels).result(classes)
    joint, ranked, count = _cleanlab(logits, labels)

    assert result.inexact_rows == 0  # top-5 per example holds every class that matters here
    # Intended difference: cleanlab floors its diagonal at 1; the logged joint is the raw count.
    ours = result.confident_joint.copy()
    np.fill_diagonal(ours, np.maximum(np.diagonal(ours), 1))
    np.testing.assert_array_equal(ours, joint)
    assert result.total == count == result.class_counts().sum() > 0
    assert result.suspects["row"].tolist() == ranked.tolist()  # same suspects, same order
    assert result.suspects["index"].tolist() == (ranked + 1000).tolist()
    probs = torch.softmax(logits.float(), 1).numpy()
    np.testing.assert_allclose(result.suspects["self_confidence"], probs[ranked, labels.numpy()[ranked]], rtol=1e-5)
    given, suggested = result.suspects["given"], result.suspects["suggested"]
    np.testing.assert_array_equal(given, labels.numpy()[ranked])
    assert (suggested != given).all()
    np.testing.assert_array_equal(result.suspect_counts, np.bincount(given * classes + suggested, minlength=classes**2).reshape(classes, classes))
    counts = np.bincount(labels.numpy(), minlength=classes)
    sums = np.bincount(labels.numpy(), weights=probs[np.arange(len(labels)), labels.numpy()], minlength=classes)
    np.testing.assert_allclose(result.thresholds, np.where(counts > 0, sums / np.maximum(counts, 1), 2.0), rtol=1e-5)


def test_all_classes_kept_is_exact_where_a_short_top_k_reports_inexact_rows():
    # An unsure model over 100 classes: thresholds are low, classes outside a top-5 can reach them.
    logits, labels = _logits(3000, 100, seed=9, sharpness=1.0)
    joint, ranked, _ = _cleanlab(logits, labels)
    full = _label_issues(logits, labels, topk=100).result(100)
    assert full.inexact_rows == 0
    ours = full.confident_joint.copy()
    np.fill_diagonal(ours, np.maximum(np.diagonal(ours), 1))
    np.testing.assert_array_equal(ours, joint)
    assert sorted(full.suspects["row"].tolist()) == sorted(ranked.tolist())
    assert _label_issues(logits, labels, topk=5).result(100).inexact_rows > 0


def test_listed_suspects_are_the_first_ranked_with_their_payload():
    logits, labels = _logits(2000, 10, seed=4, sharpness=2.0, noise=0.15)
    result = _label_issues(logits, labels, max_suspects=20).result(10)
    listed = result.listed
    k = listed["given"].size
    assert 0 < k <= 20 and result.total > k
    assert listed["row"].tolist() == result.suspects["row"][:k].tolist()
    np.testing.assert_array_equal(listed["marker"], 2 * listed["index"])
    assert _label_issues(logits, labels, max_suspects=0).result(10).listed == {}


def test_rank_states_merge_to_the_single_process_result():
    logits, labels = _logits(1500, 10, seed=6, noise=0.2)
    whole = _label_issues(logits, labels, max_suspects=30).result(10)
    # Rank r holds every other batch, as a sharded sampler gives it.
    parts = _batches(1500, 100)
    order = torch.cat([torch.arange(1500)[p] for p in parts[0::2] + parts[1::2]])
    states = []
    for rank_parts in (parts[0::2], parts[1::2]):
        acc = LabelIssueAccumulator(max_suspects=30)
        for part in rank_parts:
            index = torch.arange(1500)[part] + 1000
            acc.add(torch.log_softmax(logits[part], 1), labels[part], index, lambda rows, index=index: {"marker": index[rows] * 2})
        states.append(acc.state())
    merged = LabelIssueAccumulator.from_states(states, 5, 30).result(10)
    np.testing.assert_array_equal(merged.confident_joint, whole.confident_joint)
    np.testing.assert_array_equal(merged.suspect_counts, whole.suspect_counts)
    np.testing.assert_allclose(merged.thresholds, whole.thresholds, rtol=1e-12)
    assert merged.suspects["index"].tolist() == whole.suspects["index"].tolist()
    assert order[merged.suspects["row"]].tolist() == whole.suspects["row"].tolist()
    assert merged.listed["index"].tolist() == whole.listed["index"].tolist()
    np.testing.assert_array_equal(merged.listed["marker"], whole.listed["marker"])


def test_label_issue_memory_is_bounded_per_example():
    logits, labels = _logits(3000, 100, seed=8, sharpness=7.0)
    acc = _label_issues(logits, labels, topk=5, max_suspects=16)
    rows = acc.state()["rows"]
    per_example = sum(t.element_size() * t[0].numel() for t in rows.values())
    assert per_example <= 20 + 8 * 5 + 1  # + the validity flag
    assert len(acc._store) <= 16


def test_rows_with_non_finite_logits_are_left_out():
    logits, labels = _logits(500, 10, seed=7, noise=0.2)
    clean = _label_issues(logits[50:], labels[50:], indices=torch.arange(50, 500) + 1000).result(10)
    logits[:25] = float("nan")
    logits[25:50, 3] = float("inf")
    dirty = _label_issues(logits, labels).result(10)
    np.testing.assert_array_equal(dirty.confident_joint, clean.confident_joint)
    assert dirty.suspects["index"].tolist() == clean.suspects["index"].tolist()
    assert (dirty.suspects["row"] >= 50).all()
