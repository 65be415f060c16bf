"""A small logdir holding every value kind of the format, and every route's
answer over it from a running ``tensorboard``: for the tests that compare two
servers route by route (another TensorBoard version, another file system).

The logdir is written with :mod:`tb_fmnist_plugin.summary` through any
``SummaryWriter``-like factory, so the same values can go to a local folder
or straight to a remote path; every event has a fixed wall time, so two
copies written at different times answer the same bytes.
"""
from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tests.support.events import ROUTES, route_url
from tests.support.tensorboard_server import TensorBoardServer

#: Runs of the logdir; the second is a nested folder (a path with ``/`` and ``=``).
RUNS = ("train", "sweep/lr=0.1")
TAG = "confusion/test"
NAMES = ["cat", "dog", "bird"]
STEPS = (0, 3)
BINS = 4
#: The cells whose ``examples`` and ``cell_series`` are asked for (a request
#: costs ~0.1 s under the Rust data server): diagonal and off-diagonal ones.
CELLS = ((0, 0), (1, 0), (2, 1), (2, 2))
#: One answer: HTTP status, content type (without parameters), body bytes.
Answer = Tuple[int, str, bytes]


def _rng(run: str, step: int) -> np.random.Generator:
    return np.random.default_rng([RUNS.index(run), step])


def write_run(writer: Any, run: str) -> None:
    """Every value kind of ``run`` at each of ``STEPS``: matrix, excluded rows,
    cell examples, calibration, label issues and suspects with thumbnails."""
    c = len(NAMES)
    for step in STEPS:
        rng, walltime = _rng(run, step), 1.6e9 + step
        matrix = rng.integers(0, 6, (c, c)) + np.eye(c, dtype=np.int64) * (20 + step)
        summary.write_confusion_matrix(writer, TAG, matrix, step, class_names=NAMES, walltime=walltime)
        summary.write_excluded_rows(writer, TAG, step % 2, step, walltime=walltime)
        summary.write_cell_examples(
            writer, TAG, (rng.random((18, 28, 28)) * 255).astype(np.uint8), step,
            true_labels=rng.integers(0, c, 18), predicted_labels=rng.integers(0, c, 18),
            confidences=rng.random(18), dataset_indices=np.arange(18) + 100 * step,
            class_names=NAMES, walltime=walltime,
        )
        counts = rng.integers(0, 9, (c, BINS)).astype(float)
        centers = (np.arange(BINS) + 0.5) / BINS
        bins = np.stack([counts, counts * centers, np.floor(counts * 0.6)], axis=-1)
        summary.write_calibration(
            writer, TAG, bins, step, cell_confidence=rng.random((c, c)) * 0.9,
            class_loss=rng.random(c) + 0.2, class_names=NAMES, walltime=walltime,
        )
        suspects = np.array([[0, 1, 0], [2, 0, 0], [0, 1, 0]])
        summary.write_label_issues(writer, TAG, matrix, step, suspect_counts=suspects, class_names=NAMES,
                                   walltime=walltime)
        summary.write_suspects(
            writer, TAG, rng.random((4, 28, 28)), step, given=[1, 1, 0, 2], suggested=[0, 0, 1, 1],
            self_confidence=[0.01, 0.02, 0.04, 0.08], confidence=[0.9, 0.8, 0.7, 0.6],
            dataset_indices=[5, 9, 11, 40], class_names=NAMES, total=4, thresholds=[0.5, 0.6, 0.7],
            walltime=walltime,
        )


def write_logdir(root: str, make_writer: Callable[[str], Any]) -> None:
    """Every run of ``RUNS`` under ``root`` (a local folder or a URL such as
    ``s3://bucket/prefix``), each written through ``make_writer(run_path)``."""
    for run in RUNS:
        writer = make_writer(root.rstrip("/") + "/" + run)
        write_run(writer, run)
        writer.close()


def wait_for_listing(server: TensorBoardServer, timeout: float = 90.0) -> dict:
    """The plugin's ``tags`` answer once every run lists every step with its
    examples and diagnostics (fails with the last answer after ``timeout``)."""
    deadline, body = time.monotonic() + timeout, None
    while True:
        status, _, raw = server.get(ROUTES + "tags")
        body = json.loads(raw) if status == 200 else raw[:300]
        if status == 200 and _complete(body):
            return body
        assert time.monotonic() < deadline, f"incomplete listing after {timeout}s: {body}\n{server.log()[-3000:]}"
        time.sleep(0.5)


def _complete(listing: dict) -> bool:
    entries = [listing["runs"].get(run, {}).get(TAG) for run in RUNS]
    return all(
        entry and entry["steps"] == list(STEPS) and entry["examples_steps"] == list(STEPS) and entry["diagnostics"]
        for entry in entries
    )


def route_urls() -> List[str]:
    """Every route of the plugin for every run, step and cell of the logdir,
    plus answers that must be errors (unknown step, malformed step, unknown
    run) and the frontend bundle."""
    urls = [ROUTES + "tags", ROUTES + "static/index.js", ROUTES + "static/missing.js"]
    for run in RUNS:
        series = dict(run=run, tag=TAG)
        urls += [route_url("metrics_series", **series), route_url("calibration_series", **series),
                 route_url("metrics_series", **series, metrics="f1,support", classes="0,2")]
        urls += [route_url("cell_series", **series, true=t, predicted=p) for t, p in CELLS]
        for step in STEPS:
            at = dict(series, step=step)
            urls += [route_url(name, **at) for name in (
                "matrix", "metrics", "top_confusions", "sprite", "calibration", "cell_confidence",
                "label_issues", "suspects", "suspects_sprite")]
            urls += [route_url("top_confusions", **at, n=2), route_url("suspects", **at, given=1, suggested=0)]
            urls += [route_url("examples", **at, true=t, predicted=p) for t, p in CELLS]
        urls += [route_url("matrix", **series, step=99), route_url("matrix", **series, step="-1")]
    urls.append(route_url("matrix", run="no such run", tag=TAG, step=0))
    return urls


def answers(server: TensorBoardServer, urls: List[str]) -> Dict[str, Answer]:
    """``{url: (status, content type, body)}`` of each URL, plus the sprite
    each ``examples`` answer points at; ``plugins_listing`` contributes the
    plugin's own entry only (other plugins differ between versions)."""
    out: Dict[str, Answer] = {}
    for url in urls:
        status, headers, body = server.get(url)
        out[url] = (status, headers.get("Content-Type", "").split(";")[0], body)
        if status == 200 and urllib.parse.urlparse(url).path.endswith("/examples"):
            sprite = urllib.parse.urljoin(url, json.loads(body)["sprite"])
            if sprite not in out:
                status, headers, png = server.get(sprite)
                out[sprite] = (status, headers.get("Content-Type", ""), png)
    listing = json.loads(server.get("/data/plugins_listing")[2])
    out["/data/plugins_listing"] = (200, "application/json", json.dumps(listing.get(metadata.PLUGIN_NAME)).encode())
    return out


def differences(expected: Dict[str, Answer], actual: Dict[str, Answer]) -> List[str]:
    """The URLs whose answers differ, each with both answers' first bytes."""
    return [
        f"{url}: expected {expected.get(url, (None, '', b''))[:2]} {expected.get(url, (0, '', b''))[2][:200]!r}, "
        f"got {actual.get(url, (None, '', b''))[:2]} {actual.get(url, (0, '', b''))[2][:200]!r}"
        for url in sorted(set(expected) | set(actual))
        if expected.get(url) != actual.get(url)
    ]


def check_served(reference: Dict[str, Answer]) -> None:
    """The reference answers really served the data: every route of a listed
    step answered 200 (only the deliberate errors did not)."""
    errors = {url: a[:2] for url, a in reference.items() if a[0] != 200}
    expected_errors = {u for u in errors if "step=99" in u or "step=-1" in u or "no%20such" in u or "missing.js" in u}
    assert set(errors) == expected_errors, {u: errors[u] for u in set(errors) - expected_errors}
    assert len(reference) > 60 and sum(a[1] == "image/png" for a in reference.values()) >= 8
