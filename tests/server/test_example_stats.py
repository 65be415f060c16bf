"""``tb_fmnist_plugin.example_stats`` against a direct computation: plain
Python loops over a random record with ties, left-out rows and a never
evaluated example, written from the definitions (not from the module)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from tb_fmnist_plugin import example_stats as stats

C, E, N = 4, 7, 300


@pytest.fixture(scope="module")
def record():
    """``label [N]``, ``predicted [E, N]`` (-1 left out), ``p_given``,
    ``confidence`` (top-1) ``[E, N]``: values on a coarse grid, so many tie."""
    rng = np.random.default_rng(19)
    label = rng.integers(0, C, N)
    predicted = np.where(rng.random((E, N)) < 0.6, label, rng.integers(0, C, (E, N)))
    predicted[rng.random((E, N)) < 0.05] = stats.LEFT_OUT
    predicted[:, 7] = stats.LEFT_OUT  # never evaluated
    p_given = np.round(rng.random((E, N)) * 8) / 8
    confidence = np.where(predicted == label, p_given, np.round(rng.random((E, N)) * 8) / 8)
    p_given[predicted == stats.LEFT_OUT] = np.nan
    confidence[predicted == stats.LEFT_OUT] = np.nan
    return label, predicted, p_given, confidence


def test_members_of_every_cell_equal_a_loop(record):
    label, predicted, _, _ = record
    for e in range(E):
        for t in range(C):
            for p in range(C):
                expected = [r for r in range(N) if label[r] == t and predicted[e, r] == p]
                assert stats.cell_members(label, predicted[e], t, p).tolist() == expected
    every = sum(len(stats.cell_members(label, predicted[0], t, p)) for t in range(C) for p in range(C))
    assert every == sum(1 for r in range(N) if predicted[0, r] != stats.LEFT_OUT)  # left-out rows: no cell


@pytest.mark.parametrize("descending", [False, True])
def test_sorted_pages_break_ties_by_row_and_put_nan_last(record, descending):
    label, predicted, p_given, confidence = record
    values = confidence[2].copy()
    values[[3, 11, 40]] = np.nan  # (no member is NaN in a real record; the order must still be total)
    rows = np.arange(N)
    finite = sorted((r for r in range(N) if not math.isnan(values[r])),
                    key=lambda r: (-values[r] if descending else values[r], r))
    expected = finite + [r for r in range(N) if math.isnan(values[r])]
    assert stats.order_rows(rows, values, descending).tolist() == expected
    assert stats.sorted_page(rows, values, descending, 50, 25).tolist() == expected[50:75]
    assert stats.sorted_page(rows, values, descending, N - 3, 100).tolist() == expected[N - 3:]
    assert len(set(values[~np.isnan(values)].tolist())) < N / 10  # ties are exercised


def test_entered_and_left_equal_a_loop(record):
    label, predicted, _, _ = record
    for a, b in [(0, 1), (3, 6), (5, 2)]:
        for t in range(C):
            for p in range(C):
                member_a = {r for r in range(N) if label[r] == t and predicted[a, r] == p}
                member_b = {r for r in range(N) if label[r] == t and predicted[b, r] == p}
                entered, left = stats.cell_changes(label, predicted[a], label, predicted[b], t, p)
                assert entered.tolist() == sorted(member_b - member_a)
                assert left.tolist() == sorted(member_a - member_b)


def _direct_forgetting(label, predicted):
    """Events per example, learned per example, from the definitions."""
    events, learned = [], []
    for r in range(N):
        count, ever = 0, False
        for j in range(E):
            is_correct = predicted[j, r] != stats.LEFT_OUT and predicted[j, r] == label[r]
            ever = ever or is_correct
            if j > 0:
                was_correct = predicted[j - 1, r] != stats.LEFT_OUT and predicted[j - 1, r] == label[r]
                is_wrong = predicted[j, r] != stats.LEFT_OUT and predicted[j, r] != label[r]
                count += was_correct and is_wrong
        events.append(count)
        learned.append(ever)
    return events, learned


def test_forgetting_counts_equal_a_loop(record):
    label, predicted, _, _ = record
    events, learned = _direct_forgetting(label, predicted)
    is_correct = stats.correct(label, predicted)
    got = stats.forgetting_events(is_correct, stats.evaluated(predicted))
    assert got.tolist() == events
    assert max(events) >= 2 and events[7] == 0 and not learned[7]
    per_class = stats.forgetting_per_class(label, is_correct, got, C)
    for c in range(C):
        rows = [r for r in range(N) if label[r] == c]
        assert per_class["examples"][c] == len(rows)
        assert per_class["forgetting_events"][c] == sum(events[r] for r in rows)
        assert per_class["forgotten_examples"][c] == sum(1 for r in rows if events[r] > 0)
        assert per_class["never_learned"][c] == sum(1 for r in rows if not learned[r])
        assert per_class["unforgettable"][c] == sum(1 for r in rows if learned[r] and events[r] == 0)
        assert (per_class["forgotten_examples"][c] + per_class["never_learned"][c] + per_class["unforgettable"][c]
                == len(rows))
    top = stats.most_forgotten(got, 20).tolist()
    assert top == sorted((r for r in range(N) if events[r] > 0), key=lambda r: (-events[r], r))[:20]


def test_a_left_out_evaluation_breaks_a_forgetting_event():
    label = np.array([0])
    predicted = np.array([[0], [stats.LEFT_OUT], [1], [0], [1]])
    events = stats.forgetting_events(stats.correct(label, predicted), stats.evaluated(predicted))
    assert events.tolist() == [1]  # 0 -> left out -> 1 is no event; 0 -> 1 at the end is
    assert stats.forgetting_events(np.ones((1, 3), bool), np.ones((1, 3), bool)).tolist() == [0, 0, 0]


def test_data_map_equals_a_loop(record):
    label, predicted, p_given, _ = record
    got = stats.data_map(p_given, stats.correct(label, predicted), stats.evaluated(predicted))
    variabilities = []
    for r in range(N):
        seen = [j for j in range(E) if predicted[j, r] != stats.LEFT_OUT]
        if not seen:
            for key in ("confidence", "variability", "correctness"):
                assert math.isnan(got[key][r])
            assert got["evaluations"][r] == 0
            continue
        mean = sum(float(p_given[j, r]) for j in seen) / len(seen)
        std = math.sqrt(sum((float(p_given[j, r]) - mean) ** 2 for j in seen) / len(seen))
        right = sum(1 for j in seen if predicted[j, r] == label[r]) / len(seen)
        assert got["confidence"][r] == pytest.approx(mean, abs=1e-12)
        assert got["variability"][r] == pytest.approx(std, abs=1e-12)
        assert got["correctness"][r] == pytest.approx(right, abs=1e-12)
        assert got["evaluations"][r] == len(seen)
        variabilities.append(std)
    region, thresholds = stats.data_map_regions(got["confidence"], got["variability"])
    ordered = sorted(variabilities)
    position = (len(ordered) - 1) * 2 / 3  # numpy's default (linear) quantile
    low = int(math.floor(position))
    cut = ordered[low] + (ordered[min(low + 1, len(ordered) - 1)] - ordered[low]) * (position - low)
    assert thresholds["variability"] == pytest.approx(cut, abs=1e-12)
    assert thresholds["confidence"] == 0.5
    for r in range(N):
        if math.isnan(got["confidence"][r]):
            expected = stats.NO_REGION
        elif got["variability"][r] >= thresholds["variability"] and got["variability"][r] > 0:
            expected = stats.AMBIGUOUS
        else:
            expected = stats.EASY if got["confidence"][r] >= 0.5 else stats.HARD
        assert region[r] == expected, r
    assert {stats.EASY, stats.AMBIGUOUS, stats.HARD} <= set(region.tolist())
    assert stats.REGIONS[stats.AMBIGUOUS] == "ambiguous"


def test_one_evaluation_has_no_ambiguous_examples():
    p_given = np.array([[0.9, 0.2, 0.5]])
    got = stats.data_map(p_given, np.array([[True, False, True]]), np.ones((1, 3), bool))
    region, thresholds = stats.data_map_regions(got["confidence"], got["variability"])
    assert thresholds["variability"] == 0.0
    assert region.tolist() == [stats.EASY, stats.HARD, stats.EASY]


def test_no_evaluated_example_has_no_threshold():
    region, thresholds = stats.data_map_regions(np.array([np.nan]), np.array([np.nan]))
    assert region.tolist() == [stats.NO_REGION] and math.isnan(thresholds["variability"])
