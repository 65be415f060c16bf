"""A log directory for the browser tests of the per-example record (issue
19), written with the format's write API through a real ``SummaryWriter``:
``N`` examples of ``C`` classes evaluated at ``STEPS`` in two runs over the
same dataset indices, with matrices consistent with the predictions and
thumbnails for all but every ``NO_THUMB_EVERY``-th row.

Every array is made here (:func:`record_of`), so the tests compute what the
tab must show (members, moved examples, forgetting, data map) from these
arrays with numpy, not from the server's answers.
"""
from __future__ import annotations

from typing import Dict

import numpy as np

from tb_fmnist_plugin import summary
from tests.ui import ui_data as ud

TAG = "confusion/test"
RUNS = ("rec_a", "rec_b")
C = 10
N = 300
STEPS = (0, 1, 2, 3)
NAMES = [f"class{c}" for c in range(C)]
#: Rows whose index % NO_THUMB_EVERY == 0 get no thumbnail (the tab shows their index).
NO_THUMB_EVERY = 10
#: The dataset indices (strictly increasing) of the rows.
INDEX = np.arange(N, dtype=np.int64) * 3 + 7


def record_of(run: str) -> Dict[str, np.ndarray]:
    """The arrays of ``run``: ``label`` [N], and per step (``[S, N]``)
    ``predicted``, ``p_given`` and ``confidence`` (top-1), as float16
    values (what is stored) turned to float64."""
    rng = np.random.default_rng(19 + RUNS.index(run))
    # the same labels in both runs; class 0 has ~40% of them (its diagonal cell spans pages)
    label = np.random.default_rng(5).choice(C, N, p=[0.4] + [0.6 / (C - 1)] * (C - 1))
    predicted, p_given, confidence = [], [], []
    for j, _ in enumerate(STEPS):
        right = rng.random(N) < 0.35 + 0.15 * j
        other = (label + rng.integers(1, C, N)) % C
        pred = np.where(right, label, other)
        # distinct probabilities (distinct in float16 too): sorted orders have no ties
        p = np.linspace(0.05, 0.95, N)[rng.permutation(N)]
        p = np.where(right, np.maximum(p, 0.3), p * 0.6)
        top1 = np.where(right, p, (1.0 + p) / 2.0)
        predicted.append(pred)
        p_given.append(p.astype(np.float16).astype(np.float64))
        confidence.append(top1.astype(np.float16).astype(np.float64))
    return {"label": label, "predicted": np.array(predicted), "p_given": np.array(p_given), "confidence": np.array(confidence)}


def images() -> np.ndarray:
    """[N, 28, 28] uint8 thumbnails: row r's image is a bar whose length encodes r."""
    out = np.zeros((N, 28, 28), dtype=np.uint8)
    for r in range(N):
        out[r, 2 + r % 24, :] = 255
        out[r, :, 2 + (r // 24) % 24] = 128
    return out


def thumbnail_rows() -> np.ndarray:
    return np.array([r for r in range(N) if r % NO_THUMB_EVERY != 0], dtype=np.int64)


def matrix_of(label: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    m = np.zeros((C, C), dtype=np.int64)
    np.add.at(m, (label, predicted), 1)
    return m


def write_record_logdir(logdir: str) -> Dict[str, Dict[str, np.ndarray]]:
    """Write both runs; returns :func:`record_of` of each run."""
    out = {}
    rows = thumbnail_rows()
    pictures = images()[rows]
    for run in RUNS:
        rec = record_of(run)
        out[run] = rec
        writer = ud._writer(logdir, run)  # noqa: SLF001 - the UI data modules share it
        summary.write_example_ids(writer, TAG, INDEX, STEPS[0], labels=rec["label"], identity="index", class_names=NAMES)
        summary.write_example_thumbnails(writer, TAG, pictures, STEPS[0], rows=rows, class_names=NAMES, num_rows=N)
        for j, step in enumerate(STEPS):
            summary.write_confusion_matrix(writer, TAG, matrix_of(rec["label"], rec["predicted"][j]), step, class_names=NAMES)
            summary.write_example_predictions(
                writer, TAG, rec["predicted"][j], step, p_given=rec["p_given"][j], confidence=rec["confidence"][j],
                labels=rec["label"], ids_step=STEPS[0], class_names=NAMES)
        writer.close()
    return out
