"""The ``tags`` listing's per-series ``summaries`` (the Confusion tab's run
table, issue 18): accuracy, worst-class recall, per-class recall and ECE at
each series' last step, checked against numpy on the matrices written, through
TensorBoard's Python loader (WSGI app) and the real ``tensorboard
--load_fast=true``; and the listing's provider calls stay constant."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.server.reader import ConfusionReader
from tb_fmnist_plugin.server.views import ConfusionViews
from tests.support.plugin_app import BASE, CTX, counting, get_json, make_app
from tests.support.tensorboard_server import tensorboard_server

TAG = "confusion/test"
CLASSES = 10
BINS = 5


def matrix_for(seed: int, n: int = CLASSES) -> np.ndarray:
    """A matrix with a different accuracy per seed; class 3 never occurs (no support)."""
    rng = np.random.default_rng(seed)
    m = rng.integers(0, 6, size=(n, n)) + np.diag(rng.integers(5, 60, size=n))
    m[3, :] = 0
    return m


def bins_for(seed: int, n: int = CLASSES) -> np.ndarray:
    rng = np.random.default_rng(100 + seed)
    count = rng.integers(0, 20, size=(n, BINS)).astype(float)
    correct = np.floor(count * rng.uniform(0, 1, size=count.shape))
    confidence = count * rng.uniform(0.2, 1.0, size=count.shape)
    return np.stack([count, confidence, correct], axis=-1)


def calibrate(writer, bins: np.ndarray, step: int) -> None:
    n = bins.shape[0]
    summary.write_calibration(writer, TAG, bins, step, cell_confidence=np.full((n, n), 0.5),
                              class_loss=np.ones(n), class_names=[str(i) for i in range(n)])


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    """Runs ``r0``..``r3`` (10 classes, 3 steps; r0 calibrated at its last
    step, r1 only at its first), and ``wide`` of 120 classes."""
    root = tmp_path_factory.mktemp("summary")
    for r in range(4):
        writer = SummaryWriter(str(root / f"r{r}"))
        for step in range(3):
            summary.write_confusion_matrix(writer, TAG, matrix_for(10 * r + step), step)
        if r == 0:
            calibrate(writer, bins_for(r), 2)
        if r == 1:
            calibrate(writer, bins_for(r), 0)
        writer.close()
    writer = SummaryWriter(str(root / "wide"))
    summary.write_confusion_matrix(writer, TAG, matrix_for(99, 120), 0)
    writer.close()
    return str(root)


def expected(matrix: np.ndarray, bins) -> dict:
    """The summary computed here with numpy alone."""
    support = matrix.sum(axis=1)
    recall = np.where(support > 0, np.diag(matrix) / np.maximum(support, 1), np.nan)
    worst = int(np.nanargmin(recall))
    out = {"accuracy": np.trace(matrix) / matrix.sum(), "worst_class": worst, "worst_recall": recall[worst],
           "recall": [None if np.isnan(x) else x for x in recall], "ece": None}
    if bins is not None:
        overall = bins.sum(axis=0)
        out["ece"] = np.abs(overall[:, 2] - overall[:, 1]).sum() / overall[:, 0].sum()
    return out


def check(summaries: dict) -> None:
    """Every run's summary equals numpy's on the matrix written at its last step."""
    for r in range(4):
        got = summaries[f"r{r}"][TAG]
        want = expected(matrix_for(10 * r + 2), bins_for(r) if r == 0 else None)
        assert got["step"] == 2
        assert got["worst_class"] == want["worst_class"]
        for key in ("accuracy", "worst_recall"):
            assert got[key] == pytest.approx(want[key], abs=1e-6), (r, key)
        assert got["recall"][3] is None and want["recall"][3] is None  # no support: no recall
        assert [x for x in got["recall"] if x is not None] == pytest.approx([x for x in want["recall"] if x is not None], abs=1e-6)
        if want["ece"] is None:
            assert got["ece"] is None  # r1 logged calibration at another step only
        else:
            assert got["ece"] == pytest.approx(want["ece"], abs=1e-6) and got["ece"] > 0
    wide = summaries["wide"][TAG]
    assert "recall" not in wide  # over 100 classes: no per-class list
    assert wide["accuracy"] == pytest.approx(expected(matrix_for(99, 120), None)["accuracy"], abs=1e-6)


def test_python_loader_summaries_match_numpy(logdir):
    body = get_json(make_app(logdir)[0], BASE + "tags")
    check(body["summaries"])
    assert set(body["runs"]["r0"][TAG]) >= {"steps", "wall_times"}  # the runs listing itself unchanged


@pytest.mark.subprocess
def test_rust_loader_summaries_match_numpy(logdir, tmp_path):
    with tensorboard_server(logdir, load_fast=True, tmp_dir=str(tmp_path)) as server:
        deadline = time.monotonic() + 30  # the first load of every run may still be going on
        while True:
            body = server.get_json(BASE + "tags")
            ready = all(body["summaries"].get(f"r{r}", {}).get(TAG, {}).get("step") == 2 for r in range(4))
            if (ready and body["summaries"]["r0"][TAG]["ece"] is not None) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        check(body["summaries"])


def test_summaries_keep_the_listing_constant_in_provider_calls(logdir):
    """The reliability series are read in one batched call, and a listing
    with nothing new reads nothing; summaries then come from the cache."""
    provider = counting(logdir)
    views = ConfusionViews(ConfusionReader(provider), samples_limit=None)
    first = views.tags_impl(CTX, "")
    assert provider.calls["read_tensors"] == 2  # matrices, then the reliability series
    provider.calls.clear()
    again = views.tags_impl(CTX, "")
    assert dict(provider.calls) == {"list_tensors": 1, "list_blob_sequences": 1}
    assert json.dumps(again["summaries"], sort_keys=True) == json.dumps(first["summaries"], sort_keys=True)
