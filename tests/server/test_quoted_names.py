"""Runs and tags named with ``"`` under the Rust data server (whose blob keys
cannot name them, ``event_blobs``): examples and sprites are read from the
event files once, kept, and refreshed with only the bytes written since. The
plugin runs in this process over the real Rust server (``rust_app``), so its
index's counters can be read; the answers are checked against TensorBoard's
Python loader over the same files."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.server import event_blobs
from tests.support.events import route_url
from tests.support.plugin_app import examples_at, make_app
from tests.support.rust_app import rust_app

pytestmark = pytest.mark.subprocess

RUN, TAG = 'lr="0.1" \\ sweep', 'confusion/"test"'
NAMES = ["a", "b", "c", "d"]
CELLS = [(0, 0), (1, 2), (3, 1)]


def write_step(writer: SummaryWriter, step: int) -> None:
    summary.write_confusion_matrix(writer, TAG, np.full((4, 4), step + 1), step, class_names=NAMES)
    summary.write_cell_examples(writer, TAG, step=step, class_names=NAMES, **examples_at(step))
    writer.flush()


def wait_for_examples(client, steps, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(route_url("tags"))
        runs = json.loads(response.get_data()) if response.status_code == 200 else {}
        if runs.get("runs", {}).get(RUN, {}).get(TAG, {}).get("examples_steps") == steps:
            return
        assert time.monotonic() < deadline, runs
        time.sleep(0.2)


def assert_served_as_python_loader(client, expected, steps) -> None:
    for step in steps:
        for true, predicted in CELLS:
            url = route_url("examples", run=RUN, tag=TAG, step=step, true=true, predicted=predicted)
            got, want = client.get(url), expected.get(url)
            assert got.status_code == want.status_code == 200, (url, got.get_data()[:300])
            assert json.loads(got.get_data()) == json.loads(want.get_data())
        url = route_url("sprite", run=RUN, tag=TAG, step=step)
        got, want = client.get(url), expected.get(url)
        assert got.status_code == 200 and got.get_data() == want.get_data(), url


def test_quoted_examples_are_read_once_and_refreshed_when_the_run_grows(tmp_path):
    writer = SummaryWriter(str(tmp_path / RUN))
    for step in range(2):
        write_step(writer, step)
    (name,) = os.listdir(tmp_path / RUN)
    path = str(tmp_path / RUN / name)
    expected, multiplexer, _ = make_app(str(tmp_path))
    stats = event_blobs.shared.stats
    try:
        with rust_app(str(tmp_path)) as client:
            wait_for_examples(client, [0, 1])
            scanned_before = stats.bytes_scanned
            assert_served_as_python_loader(client, expected, [0, 1])
            size = os.path.getsize(path)
            assert stats.bytes_scanned - scanned_before == size  # the run's one file, read once
            scanned, records = stats.bytes_scanned, stats.records_read
            assert_served_as_python_loader(client, expected, [1, 0])
            assert (stats.bytes_scanned, stats.records_read) == (scanned, records)  # nothing read again

            write_step(writer, 2)
            multiplexer.Reload()
            wait_for_examples(client, [0, 1, 2])
            assert_served_as_python_loader(client, expected, [2, 0])
            assert stats.bytes_scanned - scanned == os.path.getsize(path) - size  # the new bytes only
    finally:
        writer.close()
