"""The routes' ``*_impl`` answers without HTTP: real event files written with a
real SummaryWriter and :mod:`tb_fmnist_plugin.summary`, read through
TensorBoard's real data provider (Python loader)."""
from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image
from tensorboard import errors
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import metrics, summary
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.reader import ConfusionReader
from tb_fmnist_plugin.server.views import ConfusionViews
from tests.support.plugin_app import CTX, EID, examples_at, load_provider, write_raw_value

RUN = "train/eval"
TAG = "confusion/test"
NAMES = ["cat", "dog", "bird", "fish", "frog", "Ünïcode & <b>"]
STEPS = [0, 3, 6, 9, 12]
EXAMPLE_STEP = 6


def matrix_at(step: int) -> np.ndarray:
    matrix = np.random.default_rng(step).integers(0, 9, size=(6, 6))
    matrix[np.arange(6), np.arange(6)] += 30 + step
    if step == 3:
        matrix[3, :] = matrix[:, 3] = 0  # class 3 absent and never predicted: NaN ratios
    return matrix


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("impl")
    writer = SummaryWriter(str(root / RUN))
    for step in STEPS:
        summary.write_confusion_matrix(writer, TAG, matrix_at(step), step, class_names=NAMES, walltime=100.0 + step)
    summary.write_cell_examples(
        writer, TAG, step=EXAMPLE_STEP, class_names=NAMES, walltime=106.0, **examples_at(EXAMPLE_STEP)
    )
    summary.write_confusion_matrix(writer, "no_examples", np.eye(2, dtype=int) * 3, 1)
    writer.close()

    writer = SummaryWriter(str(root / "broken"))
    summary.write_confusion_matrix(writer, TAG, np.array([[4, 1], [2, 3]]), 0)
    write_raw_value(writer, TAG, np.array([99, 1], dtype=np.int32), 1, ["a", "b"])  # sparse index out of range
    write_raw_value(writer, TAG, np.ones((3, 3), dtype=np.int32), 2, ["a", "b"])  # no layout of 2 classes
    writer.close()
    return str(root)


@pytest.fixture(scope="module")
def views(logdir):
    return ConfusionViews(ConfusionReader(load_provider(logdir)), samples_limit=None)


def rounded(values) -> list:
    """Ratios as the API gives them: 6 decimals, NaN as None."""
    return [None if v != v else round(float(v), 6) for v in np.asarray(values, dtype=float).reshape(-1)]


# --- tags ------------------------------------------------------------------------------


def test_tags_lists_runs_tags_steps_and_examples(views):
    runs = views.tags_impl(CTX, EID)["runs"]
    assert set(runs) == {RUN, "broken"}
    assert set(runs[RUN]) == {TAG, "no_examples"}
    assert runs[RUN][TAG] == {
        "num_classes": 6,
        "class_names": NAMES,
        "description": "",
        "unit": "examples",  # no unit in the metadata (files before it)
        "steps": STEPS,
        "wall_times": [100.0 + s for s in STEPS],
        "examples_steps": [EXAMPLE_STEP],
        "diagnostics": [],  # no calibration or label-issue series (files of the previous version)
        "samples_limit": None,
        "possibly_sampled": False,
    }
    assert runs[RUN]["no_examples"]["class_names"] == ["0", "1"]
    assert runs["broken"][TAG]["steps"] == [0]  # steps 1 and 2 are unreadable: not listed


def test_tags_with_latest_carries_each_last_readable_matrix(views):
    body = views.tags_impl(CTX, EID, with_latest=True)
    assert body["runs"] == views.tags_impl(CTX, EID)["runs"]
    assert body["latest"] == {
        RUN: {TAG: matrix_at(STEPS[-1]).tolist(), "no_examples": [[3, 0], [0, 3]]},
        "broken": {TAG: [[4, 1], [2, 3]]},  # its last readable step (0); 1 and 2 are unreadable
    }
    assert "latest" not in views.tags_impl(CTX, EID)


def test_tags_reports_a_sampling_limit(logdir):
    limited = ConfusionViews(ConfusionReader(load_provider(logdir)), samples_limit=5)
    tags = limited.tags_impl(CTX, EID)["runs"][RUN]
    assert tags[TAG]["samples_limit"] == 5 and tags[TAG]["possibly_sampled"] is True  # 5 steps kept of 5
    assert tags["no_examples"]["possibly_sampled"] is False


def test_without_a_data_provider_every_answer_is_not_found():
    views = ConfusionViews(None, samples_limit=None)
    with pytest.raises(errors.NotFoundError, match="no data provider"):
        views.tags_impl(CTX, EID)
    with pytest.raises(errors.NotFoundError, match="no data provider"):
        views.matrix_impl(CTX, EID, RUN, TAG, 0)


# --- matrix and metrics ---------------------------------------------------------------------


def test_matrix_is_the_written_matrix(views):
    for step in STEPS:
        body = views.matrix_impl(CTX, EID, RUN, TAG, step)
        assert isinstance(body["matrix"], np.ndarray) and body["matrix"].dtype == np.int64
        np.testing.assert_array_equal(body["matrix"], matrix_at(step))
        assert {k: v for k, v in body.items() if k != "matrix"} == {
            "run": RUN, "tag": TAG, "step": step, "wall_time": 100.0 + step, "class_names": NAMES,
            "excluded_rows": None, "excluded_reason": None,  # no excluded-rows series: unknown
        }


@pytest.mark.parametrize(
    "run,tag,step,message",
    [
        ("nope", TAG, 0, "run 'nope' not found"),
        (RUN, "nope", 0, "tag 'nope' not found in run"),
        (RUN, TAG, 1, "step 1 not found"),
        (RUN, TAG + "/examples", EXAMPLE_STEP, "not found"),  # the examples series is no matrix
    ],
)
def test_unknown_run_tag_or_step_is_not_found(views, run, tag, step, message):
    for impl in (views.matrix_impl, views.metrics_impl, views.top_confusions_impl):
        with pytest.raises(errors.NotFoundError, match=message):
            impl(CTX, EID, run, tag, step)


def test_an_unreadable_matrix_is_not_found_and_skipped_in_series(logdir, caplog):
    views = ConfusionViews(ConfusionReader(load_provider(logdir)), samples_limit=None)
    np.testing.assert_array_equal(views.matrix_impl(CTX, EID, "broken", TAG, 0)["matrix"], [[4, 1], [2, 3]])
    with caplog.at_level(logging.WARNING):
        with pytest.raises(errors.NotFoundError, match="stored matrix at this step is unreadable: a sparse index"):
            views.matrix_impl(CTX, EID, "broken", TAG, 1)
        assert views.metrics_series_impl(CTX, EID, "broken", TAG)["steps"] == [0]  # not a 404 for the series
        assert views.cell_series_impl(CTX, EID, "broken", TAG, 0, 1) == {"steps": [0], "counts": [1], "row_totals": [5]}
    assert any("out of range" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("step", [0, 3])
def test_metrics_are_the_metrics_module_numbers_rounded(views, step):
    body = views.metrics_impl(CTX, EID, RUN, TAG, step)
    matrix = matrix_at(step)
    expected = metrics.per_class_metrics(matrix)
    confused, confused_count = metrics.most_confused_with(matrix)
    assert (body["run"], body["tag"], body["step"], body["total"]) == (RUN, TAG, step, int(matrix.sum()))
    assert body["accuracy"] == rounded(expected["accuracy"])[0]
    classes = body["classes"]
    assert [c["index"] for c in classes] == list(range(6)) and [c["name"] for c in classes] == NAMES
    assert [c["support"] for c in classes] == matrix.sum(axis=1).tolist()
    assert [c["predicted"] for c in classes] == matrix.sum(axis=0).tolist()
    for key in ("precision", "recall", "f1"):
        assert [c[key] for c in classes] == rounded(expected[key])
    assert [c["most_confused_with"] for c in classes] == [None if i < 0 else i for i in confused.tolist()]
    assert [c["most_confused_count"] for c in classes] == confused_count.tolist()
    if step == 3:
        assert classes[3]["precision"] is None and classes[3]["most_confused_with"] is None


def test_metrics_series_stacks_every_step(views):
    body = views.metrics_series_impl(CTX, EID, RUN, TAG)
    assert (body["run"], body["tag"], body["class_names"], body["steps"]) == (RUN, TAG, NAMES, STEPS)
    assert body["accuracy"].shape == (len(STEPS),) and body["support"].dtype == np.int64
    for key in ("precision", "recall", "f1", "support"):
        assert body[key].shape == (len(STEPS), 6)
    for i, step in enumerate(STEPS):
        expected = metrics.per_class_metrics(matrix_at(step))
        for key in ("accuracy", "precision", "recall", "f1", "support"):
            np.testing.assert_array_equal(body[key][i], expected[key])  # NaN where NaN


def test_cell_series_follows_one_cell(views):
    body = views.cell_series_impl(CTX, EID, RUN, TAG, 2, 1)
    assert body == {
        "steps": STEPS,
        "counts": [int(matrix_at(s)[2, 1]) for s in STEPS],
        "row_totals": [int(matrix_at(s)[2].sum()) for s in STEPS],
    }
    with pytest.raises(errors.InvalidArgumentError, match=r"'true' = 6 is out of range \[0, 6\)"):
        views.cell_series_impl(CTX, EID, RUN, TAG, 6, 0)
    with pytest.raises(errors.NotFoundError):
        views.cell_series_impl(CTX, EID, RUN, "nope", 0, 0)


@pytest.mark.parametrize("n", [1, 3, 10, 1000])
def test_top_confusions_are_the_metrics_module_ones(views, n):
    matrix = matrix_at(9)
    body = views.top_confusions_impl(CTX, EID, RUN, TAG, 9, n)
    expected = metrics.top_confusions(matrix, n)
    assert [(c["true"], c["predicted"], c["count"]) for c in body["confusions"]] == expected
    for c in body["confusions"]:
        assert (c["true_name"], c["predicted_name"]) == (NAMES[c["true"]], NAMES[c["predicted"]])
        assert c["row_share"] == rounded([c["count"] / matrix[c["true"]].sum()])[0]


def test_top_confusions_default_and_bounds(views):
    assert views.top_confusions_impl(CTX, EID, RUN, TAG, 9) == views.top_confusions_impl(CTX, EID, RUN, TAG, 9, 10)
    for n in (0, 1001):
        with pytest.raises(errors.InvalidArgumentError, match="'n'"):
            views.top_confusions_impl(CTX, EID, RUN, TAG, 9, n)


# --- examples and sprite ------------------------------------------------------------------


def test_examples_point_at_their_tiles_in_the_sprite(views):
    written = examples_at(EXAMPLE_STEP)
    sprite = np.asarray(Image.open(io.BytesIO(views.sprite_impl(CTX, EID, RUN, TAG, EXAMPLE_STEP))))
    seen = 0
    for true in range(4):  # the examples' labels are 0..3
        for predicted in range(4):
            body = views.examples_impl(CTX, EID, RUN, TAG, EXAMPLE_STEP, true, predicted)
            assert (body["tile_width"], body["tile_height"], body["channels"]) == (28, 28, 1)
            assert body["sprite"] == f"sprite?run=train%2Feval&tag=confusion%2Ftest&step={EXAMPLE_STEP}"
            mask = (written["true_labels"] == true) & (written["predicted_labels"] == predicted)
            order = np.argsort(-written["confidences"][mask], kind="stable")[:4]
            assert [e["dataset_index"] for e in body["examples"]] == written["dataset_indices"][mask][order].tolist()
            for example in body["examples"]:
                x, y = example["x"], example["y"]
                assert (x, y) == ((example["tile"] % body["columns"]) * 28, (example["tile"] // body["columns"]) * 28)
                original = written["images"][example["dataset_index"] - 1000 * EXAMPLE_STEP]
                np.testing.assert_array_equal(sprite[y:y + 28, x:x + 28], original)
                seen += 1
    assert seen > 0
    assert views.examples_impl(CTX, EID, RUN, TAG, EXAMPLE_STEP, 5, 5)["examples"] == []  # class 5: no examples


def test_examples_errors(views):
    with pytest.raises(errors.InvalidArgumentError, match=r"'predicted' = 6 is out of range"):
        views.examples_impl(CTX, EID, RUN, TAG, EXAMPLE_STEP, 0, 6)
    with pytest.raises(errors.NotFoundError, match="no examples at step 3"):
        views.examples_impl(CTX, EID, RUN, TAG, 3, 0, 0)
    with pytest.raises(errors.NotFoundError, match="no examples for run"):
        views.examples_impl(CTX, EID, RUN, "no_examples", 1, 0, 0)
    with pytest.raises(errors.NotFoundError, match="run 'nope' not found"):
        views.sprite_impl(CTX, EID, "nope", TAG, EXAMPLE_STEP)
    with pytest.raises(errors.NotFoundError, match="no examples at step 3"):
        views.sprite_impl(CTX, EID, RUN, TAG, 3)


# --- the format's own checks the views rely on ---------------------------------------------


def test_format_knows_matrix_layouts_and_tile_offsets():
    assert metadata.matrix_value_problem(np.zeros((3, 3), dtype=np.int32), 3) is None
    assert metadata.matrix_value_problem(np.array([0, 5, 8, 1], dtype=np.int64), 3) is None  # sparse pairs
    assert "does not match 2 classes" in metadata.matrix_value_problem(np.zeros((3, 3), dtype=np.int32), 2)
    assert "nor sparse pairs" in metadata.matrix_value_problem(np.array([0, 5, 8]), 3)  # odd length
    assert "float32" in metadata.matrix_value_problem(np.zeros((2, 2), dtype=np.float32), 2)
    assert "not strictly ascending" in metadata.matrix_value_problem(np.array([5, 1, 0, 2]), 3)
    for value in (np.array([[0, 4, 2], [1, 9, 0], [3, 0, 7]]), np.array([1, 4, 2, 2, 3, 1, 4, 9, 8, 7])):
        index, counts = metadata.matrix_cells(value, 3)
        rebuilt = np.zeros(9, dtype=np.int64)
        rebuilt[index] = counts
        np.testing.assert_array_equal(rebuilt.reshape(3, 3), metadata.decode_matrix(value, 3))
        assert (np.diff(index) > 0).all()
    index = {"tile_width": 28, "tile_height": 20, "columns": 5}
    assert metadata.sprite_grid(index) == (28, 20, 5)
    assert [metadata.tile_offset(index, t) for t in (0, 4, 5, 13)] == [(0, 0), (112, 0), (0, 20), (84, 40)]
    assert metadata.sprite_grid({"tile_width": 8, "tile_height": 8, "columns": 0}) == (8, 8, 1)


def test_series_metrics_are_exact_for_counts_past_float_precision():
    """Sums of counts near the format's limit stay exact (int64, not float)."""
    big = np.array([[2**60, 3], [2**60, 2**61 + 1]])
    cells = [(np.flatnonzero(big), big.reshape(-1))]
    correct, support, predicted = metrics.cell_marginals(cells, 2)
    assert support.tolist() == [[2**60 + 3, 2**60 + 2**61 + 1]] and predicted.tolist() == [[2**61, 2**61 + 4]]
    assert correct.tolist() == [[2**60, 2**61 + 1]]
    assert metrics.per_class_metrics(big)["support"].tolist() == support[0].tolist()
