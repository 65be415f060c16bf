"""End to end: the real ``tensorboard`` command, both load modes."""
from __future__ import annotations

import io
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import pytest
from PIL import Image
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tests.support.events import route_url  # noqa: E402
from tests.support.tensorboard_server import TensorBoardServer, tensorboard_server  # noqa: E402

pytestmark = pytest.mark.subprocess

PLUGIN = metadata.PLUGIN_NAME
BASE = f"/data/plugin/{PLUGIN}/"
TAG = "confusion/test"
STEPS = 30
NAMES = [f"class {i}" for i in range(10)]
MODES = [pytest.param(True, id="load_fast=true"), pytest.param(False, id="load_fast=false")]


def matrix_at(step: int) -> np.ndarray:
    rng = np.random.default_rng(step)
    matrix = rng.integers(0, 30, size=(10, 10))
    matrix[np.arange(10), np.arange(10)] += 10 * step
    return matrix


def examples_at(step: int):
    rng = np.random.default_rng(1000 + step)
    return dict(
        images=(rng.random((12, 28, 28)) * 255).astype(np.uint8),
        true_labels=rng.integers(0, 3, 12),
        predicted_labels=rng.integers(0, 3, 12),
        confidences=rng.random(12),
        dataset_indices=np.arange(12) + 100 * step,
    )


def excluded_at(step: int) -> int:
    """Rows of the evaluation at ``step`` left out of its matrix (NaN logits)."""
    return step % 3


BIG = np.diag(np.arange(1, 1001))
BIG[3, 999] = 7
BIG[999, 0] = 2**33


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    writer = SummaryWriter(str(root / "train"))
    for step in range(STEPS):
        summary.write_confusion_matrix(writer, TAG, matrix_at(step), step, class_names=NAMES, walltime=1e9 + step)
        summary.write_excluded_rows(writer, TAG, excluded_at(step), step)  # before the examples waited for
        summary.write_cell_examples(writer, TAG, step=step, class_names=NAMES, **examples_at(step))
    writer.add_scalar("loss", 1.0, 0)
    writer.close()
    writer = SummaryWriter(str(root / "big"))
    summary.write_confusion_matrix(writer, "imagenet", BIG, 3)
    writer.close()
    return str(root)


@pytest.fixture(scope="module")
def scalar_logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e_scalars")
    writer = SummaryWriter(str(root / "run"))
    for step in range(3):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()
    return str(root)


def wait_for_steps(server: TensorBoardServer, prefix: str, run: str, expected: int, timeout: float = 60.0):
    """The tags entry of (run, TAG) once its step count is ``expected``, or the
    last seen one if it never gets there (so the caller's assert shows it)."""
    deadline = time.monotonic() + timeout
    entry = None
    while time.monotonic() < deadline:
        status, _, body = server.get(prefix + BASE + "tags")
        if status == 200:
            entry = json.loads(body)["runs"].get(run, {}).get(TAG)
            if entry and len(entry["steps"]) == expected and len(entry["examples_steps"]) == expected:
                return entry
        time.sleep(0.5)
    return entry


def assert_clean_log(server: TensorBoardServer) -> None:
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    assert "internal error" not in log, log[-3000:]


@pytest.mark.parametrize("load_fast", MODES)
def test_every_step_served_exactly(logdir, load_fast):
    with tensorboard_server(logdir, load_fast) as server:
        listing = server.get_json("/data/plugins_listing")[PLUGIN]
        assert listing["enabled"] is True
        entry = wait_for_steps(server, "", "train", STEPS)
        assert entry is not None
        assert entry["steps"] == list(range(STEPS)), "default sampling must keep all 30 steps"
        assert entry["examples_steps"] == list(range(STEPS))
        assert entry["wall_times"] == [1e9 + s for s in range(STEPS)]
        assert entry["class_names"] == NAMES and entry["possibly_sampled"] is False
        for step in range(STEPS):
            body = server.get_json(route_url("matrix", run="train", tag=TAG, step=step))
            assert body["matrix"] == matrix_at(step).tolist()
            assert (body["excluded_rows"], body["excluded_reason"]) == (excluded_at(step), "nan_logits")
        series = server.get_json(route_url("metrics_series", run="train", tag=TAG))
        assert series["steps"] == list(range(STEPS))
        assert series["support"][7] == matrix_at(7).sum(axis=1).tolist()

        big = wait_for_big(server)
        assert big["matrix"] == BIG.tolist()

        step = 17
        written = examples_at(step)
        found = 0
        for true in range(3):
            for predicted in range(3):
                url = route_url("examples", run="train", tag=TAG, step=step, true=true, predicted=predicted)
                body = server.get_json(url)
                status, headers, png = server.get(urllib.parse.urljoin(url, body["sprite"]))
                assert status == 200 and headers["Content-Type"] == "image/png"
                pixels = np.asarray(Image.open(io.BytesIO(png)))
                for example in body["examples"]:
                    original = written["images"][example["dataset_index"] - 100 * step]
                    tile = pixels[example["y"]:example["y"] + 28, example["x"]:example["x"] + 28]
                    np.testing.assert_array_equal(tile, original)
                    found += 1
        assert found > 0
        assert server.get(route_url("matrix", run="train", tag=TAG, step=STEPS))[0] == 404
        assert server.get(route_url("matrix", run="train", tag=TAG, step="-3"))[0] == 400
        assert_clean_log(server)


def wait_for_big(server: TensorBoardServer, prefix: str = "", timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = server.get(prefix + route_url("matrix", run="big", tag="imagenet", step=3))
        if status == 200 or time.monotonic() > deadline:
            assert status == 200, body[:300]
            return json.loads(body)
        time.sleep(0.5)


@pytest.mark.parametrize("load_fast", MODES)
def test_explicit_samples_per_plugin_wins(logdir, load_fast):
    with tensorboard_server(logdir, load_fast, [f"--samples_per_plugin={PLUGIN}=5"]) as server:
        entry = wait_for_steps(server, "", "train", 5)
        assert entry is not None and len(entry["steps"]) == 5, entry and entry["steps"]
        assert entry["steps"][-1] == STEPS - 1
        assert entry["samples_limit"] == 5 and entry["possibly_sampled"] is True
        kept = entry["steps"][1]
        assert server.get_json(route_url("matrix", run="train", tag=TAG, step=kept))["matrix"] == matrix_at(kept).tolist()


@pytest.mark.parametrize("load_fast", MODES)
def test_no_confusion_data_disables_the_plugin_without_errors(scalar_logdir, load_fast):
    with tensorboard_server(scalar_logdir, load_fast) as server:
        time.sleep(1.5)  # a reload cycle or so
        assert server.get_json("/data/plugins_listing")[PLUGIN]["enabled"] is False
        assert server.get_json(BASE + "tags") == {"runs": {}}
        assert server.get(route_url("matrix", run="run", tag="loss", step=0))[0] == 404
        assert_clean_log(server)


@pytest.mark.parametrize("load_fast", MODES)
def test_path_prefix(logdir, load_fast):
    prefix = "/tb/sub"
    with tensorboard_server(logdir, load_fast, path_prefix=prefix) as server:
        assert server.get_json(prefix + "/data/plugins_listing")[PLUGIN]["enabled"] is True
        entry = wait_for_steps(server, prefix, "train", STEPS)
        assert entry is not None and entry["steps"] == list(range(STEPS))
        url = prefix + route_url("examples", run="train", tag=TAG, step=2, true=0, predicted=0)
        body = server.get_json(url)
        sprite = urllib.parse.urljoin(url, body["sprite"])
        assert sprite.startswith(prefix + BASE)
        status, headers, _ = server.get(sprite)
        assert status == 200 and headers["Content-Type"] == "image/png"
        assert server.get(BASE + "tags")[0] == 404  # only under the prefix
