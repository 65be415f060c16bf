"""Logdirs written by release 0.1 (the flat package, before ``format/`` and
``server/``) read the same with today's plugin: every value kind, through
TensorBoard's real data provider and the routes' plain-data answers. The
files in ``data/logdir-v0.1`` were written by ``write_v0_1_logdir.py`` on
0.1's code; the values they hold are in ``v0_1_data.py``."""
from __future__ import annotations

import io
import os

import numpy as np
import pytest
from PIL import Image

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.server.diagnostics_reader import DiagnosticsReader
from tb_fmnist_plugin.server.diagnostics_views import DiagnosticsViews
from tb_fmnist_plugin.server.reader import ConfusionReader
from tb_fmnist_plugin.server.views import ConfusionViews
from tests.format import v0_1_data as data
from tests.support.plugin_app import CTX, EID, load_provider

LOGDIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "logdir-v0.1")
ARGS = (CTX, EID, data.RUN, data.TAG)


@pytest.fixture(scope="module")
def views():
    reader = ConfusionReader(load_provider(LOGDIR))
    return ConfusionViews(reader, samples_limit=None), DiagnosticsViews(DiagnosticsReader(reader))


def test_the_listing_shows_every_step_and_kind(views):
    listed = views[0].tags_impl(CTX, EID)["runs"][data.RUN][data.TAG]
    assert listed["steps"] == list(data.STEPS)
    assert listed["class_names"] == data.NAMES
    assert listed["examples_steps"] == [data.DIAGNOSTICS_STEP]
    assert listed["diagnostics"] == sorted(
        ["cell_confidence", "class_loss", "confident_joint", "label_issues", "reliability", "suspects"]
    )


@pytest.mark.parametrize("step", data.STEPS)
def test_matrices_and_excluded_rows(views, step):
    answer = views[0].matrix_impl(*ARGS, step)
    np.testing.assert_array_equal(answer["matrix"], data.matrix_at(step))
    assert answer["excluded_rows"] == step and answer["wall_time"] == 100.0 + step


def test_examples_of_every_cell(views):
    written = data.examples()
    seen = 0
    for true in range(len(data.NAMES)):
        for predicted in range(len(data.NAMES)):
            answer = views[0].examples_impl(*ARGS, data.DIAGNOSTICS_STEP, true, predicted)
            expected = {
                int(i): c for t, p, i, c in zip(written["true_labels"], written["predicted_labels"],
                                                written["dataset_indices"], written["confidences"])
                if (t, p) == (true, predicted)
            }
            got = {e["dataset_index"]: e["confidence"] for e in answer["examples"]}
            assert got.keys() == expected.keys()
            for index, confidence in got.items():
                assert confidence == pytest.approx(expected[index], abs=1e-6)
            seen += len(got)
    assert seen == len(written["true_labels"])
    sprite = Image.open(io.BytesIO(views[0].sprite_impl(*ARGS, data.DIAGNOSTICS_STEP)))
    assert sprite.format == "PNG" and sprite.width >= 8 and sprite.height >= 8


def test_calibration_and_label_issues(views):
    written = data.calibration()
    calibration = views[1].calibration_impl(*ARGS, data.DIAGNOSTICS_STEP)
    overall = written["bins"].sum(axis=0)
    assert calibration["num_bins"] == data.BINS
    assert calibration["overall"]["count"] == overall[:, 0].astype(int).tolist()
    assert calibration["overall"]["ece"] == pytest.approx(
        float(metrics.expected_calibration_error(overall)), abs=1e-4)
    confidence = views[1].cell_confidence_impl(*ARGS, data.DIAGNOSTICS_STEP)["mean_confidence"]
    np.testing.assert_allclose(confidence, written["cell_confidence"], rtol=1e-6)
    issues = views[1].label_issues_impl(*ARGS, data.DIAGNOSTICS_STEP)
    np.testing.assert_array_equal(issues["confident_joint"], data.label_issues()["confident_joint"])
    np.testing.assert_array_equal(issues["suspects"], data.label_issues()["suspect_counts"])


def test_suspects(views):
    written = data.suspects()
    answer = views[1].suspects_impl(*ARGS, data.DIAGNOSTICS_STEP)
    assert answer["total"] == written["total"] and answer["listed"] == 2
    assert [s["dataset_index"] for s in answer["suspects"]] == written["dataset_indices"].tolist()
    assert [(s["given"], s["suggested"]) for s in answer["suspects"]] == [(0, 1), (2, 0)]
    np.testing.assert_allclose(answer["thresholds"], written["thresholds"], rtol=1e-6)
    assert answer["sprite"] is not None
