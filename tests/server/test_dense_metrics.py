"""Dense tasks through TensorBoard's real WSGI app: a pixel matrix written by
the format API (``unit="pixels"``) is listed with its unit, and ``metrics``
and ``metrics_series`` carry IoU per class, mean and frequency-weighted IoU
and pixel accuracy, each checked against numpy's own arithmetic here (not the
plugin's metrics module); counts above 2**31 read exactly; a matrix without a
unit (a classification run, the 0.1 logdir) answers "examples"; a unit that
is not a string is ignored with one warning."""
from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest
from tensorboard.compat.proto import summary_pb2
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tests.format import v0_1_data
from tests.support.events import route_url
from tests.support.plugin_app import get_json, make_app, write_raw_value

SEG, CLS, ODD = "seg", "cls", "odd"
TAG = "confusion/val"
NAMES = ["background", "road", "car", "sky"]
STEPS = [1, 2, 3]
BIG = 3 * 2**31 + 7  # a cell above int32: read exactly


def pixel_matrix(step: int) -> np.ndarray:
    """Pixel counts of step ``step``; "sky" (3) is never seen nor predicted
    (undefined IoU), and the last step has a cell above 2**31."""
    rng = np.random.default_rng(step)
    matrix = rng.integers(0, 5_000, size=(4, 4)) + np.diag(rng.integers(20_000, 90_000, 4))
    matrix[3, :] = 0
    matrix[:, 3] = 0
    if step == STEPS[-1]:
        matrix[0, 0] = BIG
    return matrix.astype(np.int64)


def numpy_dense_numbers(matrix: np.ndarray) -> dict:
    """IoU per class and the step's summary numbers, by numpy alone (the
    definitions of Long et al., CVPR 2015), in float64 from exact int sums."""
    counts = matrix.astype(np.int64)
    correct, rows, cols = np.diag(counts), counts.sum(axis=1), counts.sum(axis=0)
    union = rows + cols - correct
    iou = np.array([c / u if u else np.nan for c, u in zip(correct, union)])
    defined = ~np.isnan(iou)
    total = counts.sum()
    return {
        "iou": iou,
        "mean_iou": iou[defined].mean(),
        "frequency_weighted_iou": (rows[defined] / total * iou[defined]).sum(),
        "pixel_accuracy": correct.sum() / total,
    }


def close(got, want) -> bool:
    """A served ratio (6 decimals, NaN as None) equals ``want``."""
    if want != want:
        return got is None
    return got is not None and abs(got - float(want)) <= 5.000001e-7


def raw_matrix_metadata(unit) -> summary_pb2.SummaryMetadata:
    """A matrix's metadata with ``unit`` as given (what a foreign writer might store)."""
    return metadata.create_metadata(
        metadata.KIND_MATRIX, {"num_classes": 2, "class_names": ["a", "b"], "unit": unit}, summary_pb2.DATA_CLASS_TENSOR
    )


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("dense")
    writer = SummaryWriter(str(root / SEG))
    for step in STEPS:
        summary.write_confusion_matrix(writer, TAG, pixel_matrix(step), step, class_names=NAMES, unit="pixels")
    writer.close()
    writer = SummaryWriter(str(root / CLS))
    summary.write_confusion_matrix(writer, TAG, np.array([[5, 1], [2, 7]]), 1)
    writer.close()
    writer = SummaryWriter(str(root / ODD))
    write_raw_value(writer, "numeric", np.array([[3, 1], [0, 2]]), 1, meta=raw_matrix_metadata(7))
    write_raw_value(writer, "unknown", np.array([[3, 1], [0, 2]]), 1, meta=raw_matrix_metadata("voxels"))
    write_raw_value(writer, "tokens", np.array([[3, 1], [0, 2]]), 1, meta=raw_matrix_metadata("tokens"))
    writer.close()
    return make_app(str(root))[0]


def test_the_listing_says_what_a_count_is(client, caplog):
    with caplog.at_level(logging.WARNING):
        runs = get_json(client, route_url("tags"))["runs"]
        again = get_json(client, route_url("tags"))["runs"]
    assert again == runs
    assert runs[SEG][TAG]["unit"] == "pixels" and runs[SEG][TAG]["steps"] == STEPS
    assert runs[CLS][TAG]["unit"] == "examples"  # no unit stored: examples
    assert runs[ODD]["tokens"]["unit"] == "tokens"
    assert runs[ODD]["numeric"]["unit"] == "examples" and runs[ODD]["numeric"]["steps"] == [1]  # still read
    assert runs[ODD]["unknown"]["unit"] == "examples"
    unit_warnings = [r.getMessage() for r in caplog.records if "its unit" in r.getMessage()]
    assert len(unit_warnings) == 2, unit_warnings  # once per series, not per request
    assert any("'numeric'" in w and "7" in w for w in unit_warnings)
    assert any("'unknown'" in w and "voxels" in w for w in unit_warnings)


@pytest.mark.parametrize("step", STEPS)
def test_metrics_carry_iou_and_the_dense_summary(client, step):
    body = get_json(client, route_url("metrics", run=SEG, tag=TAG, step=step))
    matrix = pixel_matrix(step)
    want = numpy_dense_numbers(matrix)
    assert body["unit"] == "pixels"
    assert body["total"] == int(matrix.sum())  # exact, above 2**31 at the last step
    assert [c["support"] for c in body["classes"]] == matrix.sum(axis=1).tolist()
    for c, expected in zip(body["classes"], want["iou"]):
        assert close(c["iou"], expected), (c["index"], c["iou"], expected)
    assert body["classes"][3]["iou"] is None  # never seen nor predicted: undefined, left out of the means
    for key in ("mean_iou", "frequency_weighted_iou", "pixel_accuracy"):
        assert close(body[key], want[key]), (key, body[key], want[key])
    assert close(body["pixel_accuracy"], body["accuracy"])


def test_counts_above_int32_are_exact(client):
    body = get_json(client, route_url("metrics", run=SEG, tag=TAG, step=STEPS[-1]))
    assert body["classes"][0]["support"] == int(pixel_matrix(STEPS[-1])[0].sum()) > 2**32
    matrix = get_json(client, route_url("matrix", run=SEG, tag=TAG, step=STEPS[-1]))["matrix"]
    assert matrix[0][0] == BIG


def test_metrics_series_carries_iou_at_every_step(client):
    series = get_json(client, route_url("metrics_series", run=SEG, tag=TAG))
    assert series["steps"] == STEPS and len(series["iou"]) == len(STEPS)
    for row, step in zip(series["iou"], STEPS):
        assert all(close(got, want) for got, want in zip(row, numpy_dense_numbers(pixel_matrix(step))["iou"])), row
    picked = get_json(client, route_url("metrics_series", run=SEG, tag=TAG, metrics="iou", classes="2,0"))
    assert list(picked) == ["run", "tag", "class_names", "steps", "classes", "iou"]
    assert picked["iou"] == [[row[2], row[0]] for row in series["iou"]]
    for step in STEPS:  # the same numbers as the metrics route's
        classes = get_json(client, route_url("metrics", run=SEG, tag=TAG, step=step))["classes"]
        assert [c["iou"] for c in classes] == series["iou"][STEPS.index(step)]


def test_a_classification_answer_only_gains_the_iou_fields(client):
    body = get_json(client, route_url("metrics", run=CLS, tag=TAG, step=1))
    assert body["unit"] == "examples" and close(body["accuracy"], 12 / 15)
    assert [round(c["iou"], 6) for c in body["classes"]] == [round(5 / 8, 6), round(7 / 10, 6)]
    assert set(body) == {"run", "tag", "step", "unit", "accuracy", "mean_iou", "frequency_weighted_iou",
                         "pixel_accuracy", "total", "classes"}
    assert set(body["classes"][0]) == {"index", "name", "support", "predicted", "precision", "recall", "f1", "iou",
                                       "most_confused_with", "most_confused_count"}


def test_an_old_logdir_answers_examples_and_still_reads():
    logdir = os.path.join(os.path.dirname(os.path.abspath(v0_1_data.__file__)), "data", "logdir-v0.1")
    old = make_app(logdir)[0]
    listed = get_json(old, route_url("tags"))["runs"][v0_1_data.RUN][v0_1_data.TAG]
    assert listed["unit"] == "examples" and listed["steps"] == list(v0_1_data.STEPS)
    step = v0_1_data.STEPS[-1]
    body = get_json(old, route_url("metrics", run=v0_1_data.RUN, tag=v0_1_data.TAG, step=step))
    want = numpy_dense_numbers(v0_1_data.matrix_at(step))
    assert body["unit"] == "examples" and body["total"] == int(v0_1_data.matrix_at(step).sum())
    assert all(close(c["iou"], w) for c, w in zip(body["classes"], want["iou"]))
    series = json.loads(old.get(route_url("metrics_series", run=v0_1_data.RUN, tag=v0_1_data.TAG)).get_data())
    assert len(series["iou"]) == len(v0_1_data.STEPS)
