"""Statistics of the per-example record: the one definition of the numbers
the plugin answers about individual examples (``docs/http_api.md``, *The
per-example record*), in plain numpy so they are checked without a server.

Inputs are the decoded columns of the record (``docs/format.md``): per
evaluation, each row's given ``label`` and ``predicted`` class, where a
predicted class of :data:`LEFT_OUT` (-1) marks a row left out of the
matrix (non-finite logits: a member of no cell, neither correct nor wrong),
and its probability of the given label ``p_given`` (NaN when left out).
Several evaluations stack as ``[E, N]`` arrays, evaluations in step order.

Definitions:

* **Members of cell** ``(t, p)``: the rows with ``label == t`` and
  ``predicted == p``. Listed sorted by a value (top-1 confidence or
  ``p_given``), ascending or descending, ties (and equal values) by row
  ascending, NaN values last; then paged (``offset``, ``limit``).
* **Entered / left** a cell between evaluations A and B of the same rows
  (two steps, or two runs matched by index): entered = members at B that
  are not members at A; left = members at A that are not members at B.
* **Forgetting events** (Toneva et al., ICLR 2019, "An Empirical Study of
  Example Forgetting during Deep Neural Network Learning"): an example has
  one at evaluation ``j`` when it was correct at evaluation ``j - 1`` and
  wrong at ``j`` (an evaluation where it was left out is neither, so no
  event is counted into or out of it). *Never learned*: never correct.
  *Unforgettable*: correct at least once and never forgotten. *Forgotten*:
  at least one event. Every example is exactly one of the three.
* **Data map** (Swayamdipta et al., EMNLP 2020, "Dataset Cartography"), per
  example over the evaluations where it was not left out: ``confidence``
  = mean of ``p_given``, ``variability`` = their population standard
  deviation (divided by the count, not count - 1), ``correctness`` = the
  fraction of those evaluations it was correct. Examples never evaluated
  have NaN coordinates and no region. Regions: **ambiguous** = variability
  at or above the 2/3 quantile of the set's variabilities (numpy's linear
  interpolation) and above 0 (an example whose probability never moved is
  not ambiguous, e.g. after one evaluation); of the others, **easy** =
  confidence >= 0.5, **hard** = confidence < 0.5.
"""
from __future__ import annotations

from typing import Dict, Tuple

import numpy as np

#: The predicted class of a row left out of the matrix.
LEFT_OUT = -1
#: Region codes of :func:`data_map_regions`, indices into :data:`REGIONS`.
EASY, AMBIGUOUS, HARD, NO_REGION = 0, 1, 2, -1
REGIONS = ("easy", "ambiguous", "hard")
#: The quantile of variability from which an example is ambiguous.
AMBIGUOUS_QUANTILE = 2.0 / 3.0
#: The confidence from which a non-ambiguous example is easy to learn.
EASY_CONFIDENCE = 0.5


def cell_mask(label: np.ndarray, predicted: np.ndarray, true: int, pred: int) -> np.ndarray:
    """Which rows are members of cell ``(true, pred)`` (bool, shape of the inputs)."""
    return (np.asarray(label) == true) & (np.asarray(predicted) == pred)


def cell_members(label: np.ndarray, predicted: np.ndarray, true: int, pred: int) -> np.ndarray:
    """The rows (int64, ascending) that are members of cell ``(true, pred)``."""
    return np.flatnonzero(cell_mask(label, predicted, true, pred)).astype(np.int64)


def order_rows(rows: np.ndarray, values: np.ndarray, descending: bool) -> np.ndarray:
    """``rows`` ordered by ``values[rows]`` (ascending or descending), equal
    values by row ascending, NaN values last."""
    rows = np.asarray(rows, dtype=np.int64)
    keys = np.asarray(values, dtype=np.float64)[rows]
    missing = np.isnan(keys)
    keys = np.where(missing, 0.0, -keys if descending else keys)
    return rows[np.lexsort((rows, keys, missing))]


def sorted_page(rows: np.ndarray, values: np.ndarray, descending: bool, offset: int, limit: int) -> np.ndarray:
    """The page ``[offset, offset + limit)`` of :func:`order_rows`."""
    return order_rows(rows, values, descending)[offset:offset + limit]


def cell_changes(
    label_a: np.ndarray, predicted_a: np.ndarray, label_b: np.ndarray, predicted_b: np.ndarray, true: int, pred: int
) -> Tuple[np.ndarray, np.ndarray]:
    """``(entered, left)`` rows (int64, ascending) of cell ``(true, pred)``
    between evaluation A and evaluation B of the same rows."""
    at_a = cell_mask(label_a, predicted_a, true, pred)
    at_b = cell_mask(label_b, predicted_b, true, pred)
    return np.flatnonzero(at_b & ~at_a).astype(np.int64), np.flatnonzero(at_a & ~at_b).astype(np.int64)


def evaluated(predicted: np.ndarray) -> np.ndarray:
    """Which entries were evaluated (not :data:`LEFT_OUT`)."""
    return np.asarray(predicted) != LEFT_OUT


def correct(label: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Which entries were predicted as their label (left-out ones: False);
    ``label`` ``[N]`` or ``[E, N]``, ``predicted`` ``[E, N]``."""
    return np.asarray(predicted) == np.asarray(label)


def forgetting_events(is_correct: np.ndarray, was_evaluated: np.ndarray) -> np.ndarray:
    """Forgetting events per example (int64 ``[N]``) over ``[E, N]``
    evaluations in step order: correct at ``j - 1``, wrong at ``j``."""
    is_correct = np.asarray(is_correct, dtype=bool)
    wrong = np.asarray(was_evaluated, dtype=bool) & ~is_correct
    if is_correct.shape[0] < 2:
        return np.zeros(is_correct.shape[1:], dtype=np.int64)
    return (is_correct[:-1] & wrong[1:]).sum(axis=0, dtype=np.int64)


def forgetting_per_class(
    label: np.ndarray, is_correct: np.ndarray, events: np.ndarray, num_classes: int
) -> Dict[str, np.ndarray]:
    """Per given class (int64 ``[C]``): ``forgetting_events`` (their sum),
    ``forgotten_examples`` (examples with at least one), ``never_learned``,
    ``unforgettable`` and ``examples``; ``label`` ``[N]`` (each example's
    label), ``is_correct`` ``[E, N]``, ``events`` from :func:`forgetting_events`."""
    label = np.asarray(label, dtype=np.int64)
    learned = np.asarray(is_correct, dtype=bool).any(axis=0)
    events = np.asarray(events, dtype=np.int64)

    def per_class(weights: np.ndarray) -> np.ndarray:
        return np.bincount(label, weights=weights, minlength=num_classes).astype(np.int64)

    return {
        "forgetting_events": per_class(events),
        "forgotten_examples": per_class(events > 0),
        "never_learned": per_class(~learned),
        "unforgettable": per_class(learned & (events == 0)),
        "examples": np.bincount(label, minlength=num_classes).astype(np.int64),
    }


def most_forgotten(events: np.ndarray, limit: int) -> np.ndarray:
    """The rows of the ``limit`` examples with the most forgetting events
    (at least one), most first, ties by row ascending."""
    events = np.asarray(events, dtype=np.int64)
    rows = np.flatnonzero(events > 0)
    return rows[np.lexsort((rows, -events[rows]))][:limit].astype(np.int64)


def data_map(p_given: np.ndarray, is_correct: np.ndarray, was_evaluated: np.ndarray) -> Dict[str, np.ndarray]:
    """Per example (float64 ``[N]``, NaN where never evaluated): mean
    ``confidence`` and population-std ``variability`` of ``p_given``, and
    ``correctness``, over the evaluations where it was evaluated; and
    ``evaluations`` (int64, how many)."""
    mask = np.asarray(was_evaluated, dtype=bool)
    values = np.where(mask, np.asarray(p_given, dtype=np.float64), 0.0)
    count = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = values.sum(axis=0) / count
        spread = np.where(mask, values - confidence, 0.0)
        variability = np.sqrt((spread * spread).sum(axis=0) / count)
        correctness = (np.asarray(is_correct, dtype=bool) & mask).sum(axis=0) / count
    return {"confidence": confidence, "variability": variability, "correctness": correctness,
            "evaluations": count.astype(np.int64)}


def data_map_regions(confidence: np.ndarray, variability: np.ndarray) -> Tuple[np.ndarray, Dict[str, float]]:
    """Region per example (int8: :data:`EASY`, :data:`AMBIGUOUS`,
    :data:`HARD`; :data:`NO_REGION` where never evaluated) and the
    thresholds used (``variability``: the set's 2/3 quantile, or NaN for an
    empty set; ``confidence``: 0.5)."""
    confidence = np.asarray(confidence, dtype=np.float64)
    variability = np.asarray(variability, dtype=np.float64)
    known = ~np.isnan(confidence)
    cut = float(np.quantile(variability[known], AMBIGUOUS_QUANTILE)) if known.any() else float("nan")
    region = np.full(confidence.shape, NO_REGION, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        ambiguous = known & (variability >= cut) & (variability > 0)
        region[known & ~ambiguous & (confidence >= EASY_CONFIDENCE)] = EASY
        region[known & ~ambiguous & (confidence < EASY_CONFIDENCE)] = HARD
    region[ambiguous] = AMBIGUOUS
    thresholds = {"variability": cut, "variability_quantile": AMBIGUOUS_QUANTILE, "confidence": EASY_CONFIDENCE}
    return region, thresholds
