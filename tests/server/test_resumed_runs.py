"""A run resumed in its own folder, as after restarting from a checkpoint: a
first ``SummaryWriter`` logged steps 0..9, a second one steps 5..14 in the
same folder, with or without ``purge_step=5`` (and, the one case where
TensorBoard's Python loader purges, with both writers given a
``purge_step``). At every step, every value the tab shows (matrix, excluded
rows, examples and their sprite, calibration, label issues, suspects and
their sprite) must come from one write, the last one: checked through
TensorBoard's real WSGI app (``--load_fast=false``) and the real
``tensorboard --load_fast=true``."""
from __future__ import annotations

import json
import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import metadata
from tests.support.events import ROUTES, route_url
from tests.support.plugin_app import make_app, status_and_body
from tests.support.tensorboard_server import tensorboard_server

TAG = "confusion/test"
NAMES = ["a", "b", "c", "d"]
FIRST, RESUMED = 1, 2
#: run -> purge_step of the first and of the resumed writer
RUNS = {"resumed": (None, None), "resumed_purge_step": (None, 5), "both_purge_step": (0, 5)}
STEPS = range(15)
#: Steps whose values the slower end-to-end test checks: each side of the restart and of the first writer's end.
EDGES = (4, 5, 9, 10)

Fetch = Callable[[str], Tuple[int, bytes]]


def key(writer_id: int, step: int) -> int:
    """What identifies the write of ``writer_id`` at ``step`` in every value."""
    return 1000 * writer_id + step


def thumbnails(k: int) -> np.ndarray:
    return (np.random.default_rng(k).random((2, 8, 8)) * 255).astype(np.uint8)


def examples(k: int) -> dict:
    return dict(true_labels=[0, 1], predicted_labels=[0, 1], confidences=[0.9, 0.8], dataset_indices=[k, k],
                class_names=NAMES)


def suspects(k: int) -> dict:
    return dict(given=[1], suggested=[0], self_confidence=[0.1], confidence=[0.8], dataset_indices=[k],
                class_names=NAMES, total=1, thresholds=[0.5] * 4)


def write(directory: str, writer_id: int, steps: range, purge_step: Optional[int]) -> None:
    """Every kind of value at each of ``steps``, each carrying ``key(writer_id, step)``."""
    writer = SummaryWriter(directory, purge_step=purge_step)
    for step in steps:
        k = key(writer_id, step)
        summary.write_confusion_matrix(writer, TAG, np.diag([k, 1, 1, 1]), step, class_names=NAMES)
        summary.write_excluded_rows(writer, TAG, writer_id, step)
        summary.write_cell_examples(writer, TAG, thumbnails(k), step, **examples(k))
        bins = np.zeros((4, 2, 3))
        bins[:, 0] = [k, k / 2, k]  # support of class 0: k
        summary.write_calibration(writer, TAG, bins, step, cell_confidence=np.eye(4) / 2, class_loss=np.ones(4),
                                  class_names=NAMES)
        summary.write_label_issues(writer, TAG, np.diag([k, 1, 1, 1]), step, suspect_counts=np.zeros((4, 4), int),
                                   class_names=NAMES)
        summary.write_suspects(writer, TAG, thumbnails(k)[:1], step, **suspects(k))
    writer.close()
    # Event files are read in name order, a name starting with the writer's start
    # time in seconds: name this one so the restart sorts after, without sleeping.
    (path,) = [p for p in os.listdir(directory) if p.startswith("events.out") and ".resume." not in p]
    os.rename(os.path.join(directory, path), os.path.join(directory, f"events.out.tfevents.{1_700_000_000 + writer_id}"
                                                                     f".resume.{writer_id}.0"))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> str:
    root = tmp_path_factory.mktemp("resumed")
    for run, (first_purge, resumed_purge) in RUNS.items():
        write(str(root / run), FIRST, range(10), first_purge)
        write(str(root / run), RESUMED, range(5, 15), resumed_purge)
    return str(root)


def sprite_of(k: int) -> bytes:
    value = summary.cell_examples_pb(TAG, thumbnails(k), **examples(k)).value[0]
    return value.tensor.string_val[metadata.EXAMPLES_SPRITE_BLOB]


def suspects_sprite_of(k: int) -> bytes:
    return summary.suspects_pb(TAG, thumbnails(k)[:1], **suspects(k)).value[0].tensor.string_val[dm.SUSPECTS_SPRITE_BLOB]


def mismatches(fetch: Fetch, run: str, steps: Sequence[int] = STEPS) -> List[str]:
    """Every value served for ``run`` at one of ``steps`` that is not the last write's."""
    status, body = fetch(ROUTES + "tags")
    assert status == 200, body[:300]
    listed = json.loads(body)["runs"][run][TAG]
    assert listed["steps"] == listed["examples_steps"] == list(STEPS)
    wrong = []
    for step in steps:
        writer_id = FIRST if step < 5 else RESUMED
        k = key(writer_id, step)

        def get(route: str, step: int = step, **params) -> bytes:
            status, body = fetch(route_url(route, run=run, tag=TAG, step=step, **params))
            assert status == 200, (route, step, body[:300])
            return body

        matrix = json.loads(get("matrix"))
        served: Dict[str, object] = {
            "matrix": matrix["matrix"][0][0],
            "excluded rows": matrix["excluded_rows"],
            "examples": [e["dataset_index"] for e in json.loads(get("examples", true=0, predicted=0))["examples"]],
            "sprite": get("sprite") == sprite_of(k),
            "calibration": json.loads(get("calibration"))["classes"][0]["support"],
            "label issues": json.loads(get("label_issues"))["confident_joint"][0][0],
            "suspects": [s["dataset_index"] for s in json.loads(get("suspects"))["suspects"]],
            "suspects sprite": get("suspects_sprite") == suspects_sprite_of(k),
        }
        expected = {"matrix": k, "excluded rows": writer_id, "examples": [k], "sprite": True, "calibration": k,
                    "label issues": k, "suspects": [k], "suspects sprite": True}
        wrong += [f"step {step} {what}: {served[what]!r}, not {value!r}" for what, value in expected.items()
                  if served[what] != value]
    return wrong


@pytest.mark.parametrize("run", RUNS)
def test_python_loader_serves_the_last_write_of_every_step(logdir, run):
    fetch = status_and_body(make_app(logdir)[0].get)

    assert mismatches(fetch, run) == []


@pytest.mark.subprocess
def test_rust_loader_serves_the_last_write_of_every_step(logdir, tmp_path):
    with tensorboard_server(logdir, load_fast=True, tmp_dir=str(tmp_path)) as server:
        fetch = status_and_body(server.get)

        deadline = time.monotonic() + 30  # the first load of every run may still be going on
        while time.monotonic() < deadline and not all(
                json.loads(fetch(ROUTES + "tags")[1])["runs"].get(run, {}).get(TAG, {}).get("steps") == list(STEPS)
                for run in RUNS):
            time.sleep(0.5)
        assert {run: mismatches(fetch, run, EDGES) for run in RUNS} == {run: [] for run in RUNS}
