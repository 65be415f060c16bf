"""Untrusted data (issue 10, cases 3-8 and 10): whatever a logdir holds, no
route answers 500 or a number that is not in the file; what is listed can be
read; each problem is logged once per series, saying what is wrong.

In-process through TensorBoard's real WSGI app and Python data provider;
the last tests run the real ``tensorboard`` command in both load modes.
"""
from __future__ import annotations

import io
import json
import logging
import re
import time
import urllib.parse

import numpy as np
import pytest
from PIL import Image

from tests.server import untrusted_data as ud  # noqa: E402
from tests.support.events import route_url  # noqa: E402
from tests.support.plugin_app import BASE, examples_at, make_app
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402

EXAMPLES = examples_at(1)
ROUTES = ("matrix", "metrics", "top_confusions", "metrics_series", "cell_series", "examples", "sprite")


def status_and_json(client, url: str):
    response = client.get(url)
    data = response.get_data()
    return response.status_code, (json.loads(data) if response.mimetype == "application/json" else data)


def every_route(run: str, tag: str, step: int):
    """One URL per data route for ``(run, tag, step)``."""
    cell = dict(true=0, predicted=1)
    return [route_url("matrix", run=run, tag=tag, step=step), route_url("metrics", run=run, tag=tag, step=step),
            route_url("top_confusions", run=run, tag=tag, step=step), route_url("metrics_series", run=run, tag=tag),
            route_url("cell_series", run=run, tag=tag, **cell), route_url("examples", run=run, tag=tag, step=step, **cell),
            route_url("sprite", run=run, tag=tag, step=step)]


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("untrusted")
    ud.write(str(root), EXAMPLES)
    return str(root)


@pytest.fixture(scope="module")
def client(logdir):
    return make_app(logdir)[0]


def test_only_readable_series_and_steps_are_listed(client):
    """Cases 4, 5, 8: unreadable steps, bad class counts, float or string
    tensors and names the routes cannot take are not listed."""
    runs = json.loads(client.get(BASE + "tags").get_data())["runs"]
    assert set(runs) == {ud.RUN, ud.QUOTE_RUN}
    assert set(runs[ud.RUN]) == {ud.GOOD, ud.NEG}
    assert runs[ud.RUN][ud.NEG]["steps"] == sorted(ud.NEG_READABLE)
    assert runs[ud.RUN][ud.GOOD]["steps"] == ud.GOOD_STEPS
    assert runs[ud.RUN][ud.GOOD]["examples_steps"] == ud.GOOD_STEPS  # not "other/examples"'s
    assert runs[ud.QUOTE_RUN][ud.QUOTE_TAG]["examples_steps"] == [5]


@pytest.mark.parametrize("step", sorted(ud.NEG_READABLE))
def test_listed_steps_serve_the_numbers_in_the_file(client, step):
    assert status_and_json(client, route_url("matrix", run=ud.RUN, tag=ud.NEG, step=step))[1]["matrix"] == ud.NEG_READABLE[step]


@pytest.mark.parametrize("step,problem", [(1, "negative counts"), (2, "negative counts"), (3, "above 2\\*\\*63")])
def test_a_stored_negative_or_out_of_range_count_makes_its_step_unreadable(client, step, problem):
    """Cases 3 and 4: never 293 for -3, never a ZeroDivisionError: a 404 naming the problem."""
    for route in ("matrix", "metrics", "top_confusions"):
        code, body = status_and_json(client, route_url(route, run=ud.RUN, tag=ud.NEG, step=step))
        assert code == 404 and "unreadable" in body["error"], (route, body)
        assert re.search(problem, body["error"])


def test_series_routes_skip_unreadable_steps(client):
    """Case 8: one unreadable step no longer 404s the whole series."""
    code, body = status_and_json(client, route_url("metrics_series", run=ud.RUN, tag=ud.NEG))
    assert code == 200 and body["steps"] == sorted(ud.NEG_READABLE)
    assert body["support"] == [np.sum(ud.NEG_READABLE[s], axis=1).tolist() for s in sorted(ud.NEG_READABLE)]
    code, body = status_and_json(client, route_url("cell_series", run=ud.RUN, tag=ud.NEG, true=1, predicted=0))
    assert (code, body) == (200, {"steps": [0, 4], "counts": [2, 1], "row_totals": [5, 10]})


@pytest.mark.parametrize("tag,problem", ud.UNLISTED)
def test_unlisted_series_answer_404_saying_why(client, tag, problem):
    """Cases 3, 5, 8: num_classes 0 (was a 500), 10,000 classes (was 200 MB
    of JSON), float and string tensors: every route a quick 404 naming the problem."""
    for url in every_route(ud.RUN, tag, 0):
        start = time.perf_counter()
        code, body = status_and_json(client, url)
        assert code == 404 and (problem in body["error"] or "no examples" in body["error"]), (url, body)
        assert time.perf_counter() - start < 2.0


@pytest.mark.parametrize("step,problem", [(0, "true"), (2, "confidence"), (3, "tile_width")])
def test_unreadable_examples_index_is_a_404_not_a_500(client, step, problem):
    """Case 3: an out-of-range class, a NaN confidence, a fractional tile width."""
    for url in (route_url("examples", run=ud.RUN, tag=ud.GOOD, step=step, true=0, predicted=1),
                route_url("sprite", run=ud.RUN, tag=ud.GOOD, step=step)):
        code, body = status_and_json(client, url)
        assert code == 404 and "unreadable" in body["error"] and problem in body["error"], body
    code, body = status_and_json(client, route_url("examples", run=ud.RUN, tag=ud.GOOD, step=1, true=0, predicted=1))
    assert code == 200 and all(np.isfinite(e["confidence"]) for e in body["examples"])


def test_answers_over_the_size_bound_are_refused_with_a_clear_error(client, monkeypatch):
    """Case 5: a per-response bound (64 MB; lowered here) instead of 200 MB of JSON."""
    from tb_fmnist_plugin.server import limits

    monkeypatch.setattr(limits, "MAX_RESPONSE_BYTES", 100)
    assert status_and_json(client, route_url("matrix", run=ud.RUN, tag=ud.GOOD, step=0))[0] == 200  # 16 cells: fits
    code, body = status_and_json(client, route_url("metrics_series", run=ud.RUN, tag=ud.GOOD))
    assert code == 413 and "the metrics of this series would be about" in body["error"], body


def assert_examples_match_sprite(get, run: str, tag: str, step: int) -> int:
    """Fetch every cell's examples and the sprite with ``get(url) -> (status,
    body bytes)``; check each tile against the written image; count them."""
    found = 0
    for true in range(4):
        for predicted in range(4):
            url = route_url("examples", run=run, tag=tag, step=step, true=true, predicted=predicted)
            code, data = get(url)
            assert code == 200, (url, data[:300])
            body = json.loads(data)
            code, sprite = get(urllib.parse.urljoin(url, body["sprite"]))
            assert code == 200, sprite[:300]
            pixels = np.asarray(Image.open(io.BytesIO(sprite)))
            for example in body["examples"]:
                x, y = example["x"], example["y"]
                original = EXAMPLES["images"][example["dataset_index"] - 1000]
                np.testing.assert_array_equal(pixels[y:y + 28, x:x + 28], original)
                found += 1
    return found


def test_examples_for_names_with_quotes_and_backslashes(client):
    """Case 7 with the Python data provider (the subprocess test below: Rust)."""
    def get(url):
        response = client.get(url)
        return response.status_code, response.get_data()

    assert assert_examples_match_sprite(get, ud.QUOTE_RUN, ud.QUOTE_TAG, 5) > 0


def test_each_problem_is_logged_once_per_series_saying_what_is_wrong(logdir, caplog):
    """Case 10: many requests, one warning per problem of a series; a float
    value is reported as such, not as a shape problem."""
    client = make_app(logdir)[0]
    with caplog.at_level(logging.WARNING):
        for _ in range(3):
            client.get(BASE + "tags", headers={"X-Confusion-Latest": "1"})
            for step in range(5):
                for url in every_route(ud.RUN, ud.NEG, step) + every_route(ud.RUN, "floats", step):
                    client.get(url)
            client.get(route_url("examples", run=ud.RUN, tag=ud.GOOD, step=2, true=0, predicted=0))
    messages = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    for problem in ("negative counts", "above 2**63", "float32, not integer counts", "declares 0 classes",
                    "declares 10000 classes", "confidence", "names matrix tag 'good'", "contains control"):
        assert sum(problem in m for m in messages) >= 1, (problem, messages)
    assert len(messages) == len(set(messages)), messages  # none repeated
    assert not any("shape" in m for m in messages if "float" in m)
    assert not any("excluded" in m for m in messages)


def test_excluded_rows_series_are_neither_listed_nor_warned_about(tmp_path, caplog):
    """The excluded-rows kind (``<matrix tag>/excluded``) is not a matrix tag."""
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin import summary

    writer = SummaryWriter(str(tmp_path / "run"))
    for step in range(2):
        summary.write_confusion_matrix(writer, "confusion/test", np.eye(3, dtype=int), step)
        summary.write_excluded_rows(writer, "confusion/test", step, step)
    writer.close()
    with caplog.at_level(logging.WARNING):
        runs = json.loads(make_app(str(tmp_path))[0].get(BASE + "tags").get_data())["runs"]
    assert set(runs["run"]) == {"confusion/test"}
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING and "tb_fmnist" in r.name]


@pytest.mark.subprocess
@pytest.mark.parametrize("load_fast", [pytest.param(True, id="load_fast=true"), pytest.param(False, id="load_fast=false")])
def test_real_tensorboard_never_answers_500_and_serves_quoted_names(logdir, load_fast):
    """Cases 3-8 and 10 through the real ``tensorboard`` command; case 7
    (``"`` and ``\\`` in names) is the Rust data server's blob keys."""
    with tensorboard_server(logdir, load_fast) as server:
        deadline = time.monotonic() + 60
        while len(server.get_json(BASE + "tags")["runs"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)

        def get(url):
            code, _, body = server.get(url)
            return code, body

        assert assert_examples_match_sprite(get, ud.QUOTE_RUN, ud.QUOTE_TAG, 5) > 0  # case 7
        for _ in range(2):
            runs = server.get_json(BASE + "tags")["runs"]
            assert set(runs) == {ud.RUN, ud.QUOTE_RUN} and set(runs[ud.RUN]) == {ud.GOOD, ud.NEG}
            assert runs[ud.RUN][ud.NEG]["steps"] == sorted(ud.NEG_READABLE)
            for tag in [ud.GOOD, ud.NEG] + [tag for tag, _ in ud.UNLISTED]:
                for step in range(5):
                    for url in every_route(ud.RUN, tag, step):
                        code, _, body = server.get(url)
                        assert code in (200, 404), (url, code, body[:300])
            assert server.get(route_url("matrix", run=ud.RUN, tag=ud.NEG, step=1))[0] == 404
        log = server.log()
        assert "Traceback" not in log and "internal error" not in log, log[-3000:]
        assert log.count("negative counts") == 1, log[-3000:]  # logged once, not per request
