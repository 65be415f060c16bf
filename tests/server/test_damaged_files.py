"""Damaged event files: the plugin serves what TensorBoard hands it, and never
answers 5xx. A run written with a real ``SummaryWriter`` is copied twice,
one copy with a bit flipped inside a stored count (100010 becomes 100011),
the other truncated inside that record. What each loader keeps:

- ``--load_fast=false`` checks every record's checksum: the flipped record
  and every later record of its file are dropped.
- ``--load_fast=true`` (the Rust data server) skips checksums by default:
  the flipped count is served. With ``--extra_data_server_flags=--checksum``
  it drops the flipped record and every later one of its file, as
  ``--load_fast=false`` does (and logs a ``ChecksumError`` naming the file).
- Both keep what came before the cut of a truncated file.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import pytest
from tensorboard.data import provider
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tests.support.events import ROUTES, route_url
from tests.support.plugin_app import CTX, EID, load_provider, make_app, status_and_body
from tests.support.tensorboard_server import tensorboard_server

TAG = "confusion/test"
NAMES = ["a", "b", "c", "d"]
STEPS = list(range(6))
DAMAGED_STEP, COUNT = 3, 100010
RUNS = ("flipped", "truncated")
BEFORE = [s for s in STEPS if s < DAMAGED_STEP]
#: Steps whose every route the slower end-to-end tests request.
AROUND = (DAMAGED_STEP - 1, DAMAGED_STEP, DAMAGED_STEP + 1)
#: loader -> run -> (steps kept of every series, count served at the damaged step if it is kept)
KEPT: Dict[str, Dict[str, Tuple[List[int], Optional[int]]]] = {
    "python": {"flipped": (BEFORE, None), "truncated": (BEFORE, None)},
    "rust": {"flipped": (STEPS, COUNT + 1), "truncated": (BEFORE, None)},
    "rust --checksum": {"flipped": (BEFORE, None), "truncated": (BEFORE, None)},
}
STEP_ROUTES = ("matrix", "metrics", "top_confusions", "examples", "sprite", "calibration", "cell_confidence",
               "label_issues", "suspects", "suspects_sprite")
SERIES_ROUTES = ("metrics_series", "cell_series", "calibration_series")

Fetch = Callable[[str], Tuple[int, bytes]]


def count_at(step: int) -> int:
    return COUNT if step == DAMAGED_STEP else 10 + step


def write_run(directory: str) -> None:
    """Every kind of value at every step; cell (0, 0) of the matrix holds ``count_at(step)``."""
    writer = SummaryWriter(directory)
    images = (np.random.default_rng(0).random((2, 8, 8)) * 255).astype(np.uint8)
    for step in STEPS:
        summary.write_confusion_matrix(writer, TAG, np.diag([count_at(step), 1, 1, 1]), step, class_names=NAMES)
        summary.write_excluded_rows(writer, TAG, 0, step)
        summary.write_cell_examples(writer, TAG, images, step, true_labels=[0, 1], predicted_labels=[0, 1],
                                    confidences=[0.9, 0.8], class_names=NAMES)
        bins = np.zeros((4, 2, 3))
        bins[:, 0] = [4, 2, 4]
        summary.write_calibration(writer, TAG, bins, step, cell_confidence=np.eye(4) / 2, class_loss=np.ones(4),
                                  class_names=NAMES)
        summary.write_label_issues(writer, TAG, np.eye(4, dtype=int), step, suspect_counts=np.zeros((4, 4), int),
                                   class_names=NAMES)
        summary.write_suspects(writer, TAG, images[:1], step, given=[1], suggested=[0], self_confidence=[0.1],
                               confidence=[0.8], class_names=NAMES, total=1, thresholds=[0.5] * 4)
    writer.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory) -> str:
    """The runs ``flipped`` and ``truncated``: damaged copies of one run."""
    source = tmp_path_factory.mktemp("source")
    write_run(str(source))
    (name,) = os.listdir(source)
    data = (source / name).read_bytes()
    stored = COUNT.to_bytes(4, "little")  # a sparse int32 matrix: its counts little-endian in tensor_content
    assert data.count(stored) == 1
    at = data.index(stored)
    root = tmp_path_factory.mktemp("damaged")
    for run, damaged in (("flipped", data[:at] + bytes([data[at] ^ 1]) + data[at + 1:]), ("truncated", data[:at + 2])):
        os.makedirs(root / run)
        (root / run / name).write_bytes(damaged)
    shutil.rmtree(source)
    return str(root)


def wait_listed(fetch: Fetch, matrix_steps: Dict[str, List[int]], timeout_s: float = 30.0) -> None:
    """Until the ``tags`` route lists each run's ``matrix_steps`` (the Rust
    server's first load may still be going on), at most ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, body = fetch(ROUTES + "tags")
        runs = json.loads(body)["runs"] if status == 200 else {}
        if all(runs.get(run, {}).get(TAG, {}).get("steps") == steps for run, steps in matrix_steps.items()):
            return
        time.sleep(0.5)


def check_served(fetch: Fetch, run: str, kept: Tuple[List[int], Optional[int]],
                 checked: Sequence[int] = STEPS) -> Dict[str, List[int]]:
    """Asserts what ``run`` serves against ``kept`` (see :data:`KEPT`): every
    route of each ``checked`` step answers 200 if the step is kept, else 404;
    returns the ``tags`` listing of the run's matrix series."""
    steps, damaged_count = kept
    status, body = fetch(ROUTES + "tags")
    assert status == 200, body[:300]
    listed = json.loads(body)["runs"][run][TAG]
    assert (listed["steps"], listed["examples_steps"]) == (steps, steps)
    for route in SERIES_ROUTES:
        status, body = fetch(route_url(route, run=run, tag=TAG, true=0, predicted=0))
        assert status == 200, (route, body[:300])
    for step in checked:
        for route in STEP_ROUTES:
            status, body = fetch(route_url(route, run=run, tag=TAG, step=step, true=0, predicted=0))
            assert status == (200 if step in steps else 404), (route, step, status, body[:300])
        if step in steps:
            count = json.loads(fetch(route_url("matrix", run=run, tag=TAG, step=step))[1])["matrix"][0][0]
            expected = damaged_count if step == DAMAGED_STEP and damaged_count is not None else count_at(step)
            assert count == expected, (step, count)
    return listed


@pytest.mark.parametrize("run", RUNS)
def test_python_loader_serves_what_its_reader_keeps(logdir, run):
    fetch = status_and_body(make_app(logdir)[0].get)

    listed = check_served(fetch, run, KEPT["python"][run])
    read = load_provider(logdir).read_tensors(
        CTX, experiment_id=EID, plugin_name=metadata.PLUGIN_NAME, downsample=10**9,
        run_tag_filter=provider.RunTagFilter(runs=[run], tags=[TAG]))[run][TAG]
    assert listed["steps"] == [datum.step for datum in read]
    for datum in read:
        served = json.loads(fetch(route_url("matrix", run=run, tag=TAG, step=datum.step))[1])["matrix"]
        assert np.array_equal(served, metadata.decode_matrix(datum.numpy, len(NAMES)))


@pytest.mark.subprocess
@pytest.mark.parametrize("loader, flags", [("rust", []), ("rust --checksum", ["--extra_data_server_flags=--checksum"])])
def test_rust_loader_serves_what_it_keeps(logdir, tmp_path, loader, flags):
    with tensorboard_server(logdir, load_fast=True, extra_args=flags, tmp_dir=str(tmp_path)) as server:
        fetch = status_and_body(server.get)

        wait_listed(fetch, {run: KEPT[loader][run][0] for run in RUNS})
        for run in RUNS:
            check_served(fetch, run, KEPT[loader][run], AROUND)
