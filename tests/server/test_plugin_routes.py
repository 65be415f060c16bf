"""The plugin's routes through TensorBoard's real WSGI application and data
provider (Python loader), with the plugin loaded through its loader.

Why one file of ~480 lines: one module-scoped logdir (12 steps, examples, a
1,000-class matrix) serves every route's tests and the malformed-request and
traversal tables; the diagnostics routes are in test_plugin_diagnostics.py."""
from __future__ import annotations

import io
import json
import os
import urllib.parse

import numpy as np
import pytest
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import metrics, summary
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.plugin import STATIC_DIR
from tests.support.events import route_url
from tests.support.plugin_app import BASE, PLUGIN, examples_at, get_json, make_app

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ünïcode & <b>"]
RUN = "exp 1/eval"
TAG = "confusion/test"
STEPS = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22]
EXAMPLE_STEPS = [4, 10]


def matrix_at(step: int) -> np.ndarray:
    rng = np.random.default_rng(step)
    matrix = rng.integers(0, 40, size=(10, 10))
    matrix[np.arange(10), np.arange(10)] += 200
    if step == 6:
        matrix[9, :] = 0  # class 9: no support ...
        matrix[:, 9] = 0  # ... and never predicted: NaN metrics -> null
    if step == 8:
        matrix[3, 5] = matrix[4, 5] = 77  # a tie in top confusions
    return matrix


def wall_time(step: int) -> float:
    return 1_700_000_000.25 + step


BIG = np.random.default_rng(7).integers(0, 3, size=(1000, 1000))


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("routes")
    writer = SummaryWriter(str(root / RUN))
    for step in STEPS:
        summary.write_confusion_matrix(writer, TAG, matrix_at(step), step, class_names=NAMES, walltime=wall_time(step),
                                       description="test split")
    for step in EXAMPLE_STEPS:
        summary.write_cell_examples(writer, TAG, step=step, class_names=NAMES, walltime=wall_time(step), **examples_at(step))
    summary.write_confusion_matrix(writer, "no_examples", np.eye(3, dtype=int) * 5, 1)
    # A series in a newer format version: skipped, not an error.
    meta = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_TENSOR)
    meta.plugin_data.plugin_name = PLUGIN
    meta.plugin_data.content = json.dumps(
        {"version": metadata.FORMAT_VERSION + 1, "kind": "confusion_matrix", "num_classes": 2, "class_names": ["a", "b"]}
    ).encode()
    future = summary_pb2.Summary()
    future.value.add(tag="future", metadata=meta).tensor.CopyFrom(
        summary.confusion_matrix_pb("x", np.eye(2, dtype=int)).value[0].tensor
    )
    writer._get_file_writer().add_summary(future, 0)
    writer.close()

    writer = SummaryWriter(str(root / "dup"))
    summary.write_confusion_matrix(writer, TAG, np.array([[1, 2], [3, 4]]), 5)
    summary.write_confusion_matrix(writer, TAG, np.array([[5, 6], [7, 8]]), 5)  # rewrite: last wins
    writer.close()

    writer = SummaryWriter(str(root / "big"))
    summary.write_confusion_matrix(writer, "imagenet", BIG, 1)
    summary.write_confusion_matrix(writer, "imagenet", np.diag(np.arange(1000)), 2)
    writer.close()

    writer = SummaryWriter(str(root / "scalars_only"))
    writer.add_scalar("loss", 0.5, 1)
    writer.close()
    return str(root)


@pytest.fixture(scope="module")
def client(logdir):
    return make_app(logdir)[0]


def test_plugins_listing_shows_the_plugin(client):
    listing = get_json(client, "/data/plugins_listing")[PLUGIN]
    assert listing["enabled"] is True
    assert listing["loading_mechanism"] == {"type": "IFRAME", "module_path": f"/data/plugin/{PLUGIN}/static/index.js"}


def test_plugin_disabled_without_data(tmp_path):
    writer = SummaryWriter(str(tmp_path / "run"))
    writer.add_scalar("loss", 1.0, 0)
    writer.close()
    client = make_app(str(tmp_path))[0]
    assert get_json(client, "/data/plugins_listing")[PLUGIN]["enabled"] is False
    assert get_json(client, BASE + "tags") == {"runs": {}}


def test_tags_lists_every_run_tag_and_step(client):
    runs = get_json(client, BASE + "tags")["runs"]
    assert set(runs) == {RUN, "dup", "big"}
    assert set(runs[RUN]) == {TAG, "no_examples"}  # "future" (newer version) skipped
    assert runs[RUN][TAG] == {
        "num_classes": 10,
        "class_names": NAMES,
        "description": "test split",
        "unit": "examples",  # no unit in the metadata (files before it)
        "steps": STEPS,
        "wall_times": [wall_time(s) for s in STEPS],
        "examples_steps": EXAMPLE_STEPS,
        "diagnostics": [],  # no calibration or label-issue series (files of the previous version)
        "samples_limit": None,
        "possibly_sampled": False,
    }
    assert runs[RUN]["no_examples"]["examples_steps"] == []
    assert runs[RUN]["no_examples"]["class_names"] == ["0", "1", "2"]
    assert runs["dup"][TAG]["steps"] == [5]
    assert runs["big"]["imagenet"]["num_classes"] == 1000 and runs["big"]["imagenet"]["steps"] == [1, 2]


def test_tags_with_latest_header_carries_last_matrices(client):
    """The tab's first request: the listing plus each small series' last matrix."""
    response = client.get(BASE + "tags", headers={"X-Confusion-Latest": "1"})
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert body["runs"] == get_json(client, BASE + "tags")["runs"]
    latest = body["latest"]
    assert latest[RUN][TAG] == matrix_at(STEPS[-1]).tolist()
    assert latest[RUN]["no_examples"] == (np.eye(3, dtype=int) * 5).tolist()
    assert latest["dup"][TAG] == [[5, 6], [7, 8]]
    assert "big" not in latest  # 1,000 classes: fetched through /matrix instead
    assert "latest" not in get_json(client, BASE + "tags")
    bad = client.get(BASE + "tags", headers={"X-Confusion-Latest": "yes"})
    assert bad.status_code == 400 and "X-Confusion-Latest" in json.loads(bad.get_data())["error"]


def test_matrix_exact_for_every_step(client):
    for step in STEPS:
        body = get_json(client, route_url("matrix", run=RUN, tag=TAG, step=step))
        assert body == {
            "run": RUN, "tag": TAG, "step": step, "wall_time": wall_time(step),
            "class_names": NAMES, "matrix": matrix_at(step).tolist(),
            "excluded_rows": None, "excluded_reason": None,  # no excluded-rows series: unknown
        }
    assert get_json(client, route_url("matrix", run="dup", tag=TAG, step=5))["matrix"] == [[5, 6], [7, 8]]


def test_matrix_1000_classes_exact(client):
    body = get_json(client, route_url("matrix", run="big", tag="imagenet", step=1))
    assert body["matrix"] == BIG.tolist()
    body = get_json(client, route_url("matrix", run="big", tag="imagenet", step=2))
    assert body["matrix"] == np.diag(np.arange(1000)).tolist()
    assert body["class_names"] == [str(i) for i in range(1000)]


@pytest.mark.parametrize("accept", ["gzip, deflate, br", "gzip;q=0", ""])
def test_large_responses_gzipped_only_when_accepted(client, accept):
    import gzip

    response = client.get(route_url("matrix", run="big", tag="imagenet", step=1), headers={"Accept-Encoding": accept})
    assert response.status_code == 200
    data = response.get_data()
    if accept.startswith("gzip,"):
        assert response.headers["Content-Encoding"] == "gzip"
        data = gzip.decompress(data)
    else:
        assert "Content-Encoding" not in response.headers
    assert json.loads(data)["matrix"] == BIG.tolist()


def assert_ratios(actual, expected) -> None:
    """Ratios are served rounded to 6 decimals; NaN (zero denominator) as null."""
    expected = np.asarray(expected, dtype=float).tolist()
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        if want != want:
            assert got is None
        else:
            assert got == round(want, 6) or abs(got - want) <= 5.000001e-7, (got, want)


@pytest.mark.parametrize("step", [0, 6, 8])
def test_metrics_agree_with_metrics_module(client, step):
    body = get_json(client, route_url("metrics", run=RUN, tag=TAG, step=step))
    matrix = matrix_at(step)
    expected = metrics.per_class_metrics(matrix)
    confused, confused_count = metrics.most_confused_with(matrix)
    assert body["run"] == RUN and body["tag"] == TAG and body["step"] == step
    assert_ratios([body["accuracy"]], [expected["accuracy"]])
    assert body["total"] == int(matrix.sum())
    assert [c["index"] for c in body["classes"]] == list(range(10))
    assert [c["name"] for c in body["classes"]] == NAMES
    assert [c["support"] for c in body["classes"]] == matrix.sum(axis=1).tolist()
    assert [c["predicted"] for c in body["classes"]] == matrix.sum(axis=0).tolist()
    for key in ("precision", "recall", "f1"):
        assert_ratios([c[key] for c in body["classes"]], expected[key])
    assert [c["most_confused_with"] for c in body["classes"]] == [None if i < 0 else i for i in confused.tolist()]
    assert [c["most_confused_count"] for c in body["classes"]] == confused_count.tolist()
    if step == 6:
        last = body["classes"][9]
        assert last["precision"] is None and last["recall"] is None and last["f1"] is None
        assert last["support"] == 0 and last["most_confused_with"] is None


def test_metrics_series_matches_metrics_of_each_step(client):
    series = get_json(client, route_url("metrics_series", run=RUN, tag=TAG))
    for i, step in enumerate(STEPS):
        single = get_json(client, route_url("metrics", run=RUN, tag=TAG, step=step))
        assert series["accuracy"][i] == single["accuracy"]
        for key in ("precision", "recall", "f1", "support"):
            assert series[key][i] == [c[key] for c in single["classes"]]


@pytest.mark.parametrize(
    "values",
    [
        np.zeros((1, 1), dtype=int),
        np.array([[0, 2**63 - 1], [10, 99]]),
        np.array([[10, 100], [1000, 9]]),
        np.arange(30).reshape(5, 6),
        np.zeros((3, 0), dtype=int),
        np.array([7, 0, 12345678901]),
        np.zeros(0, dtype=int),
    ],
)
def test_integer_json_equals_json_dumps(values):
    from tb_fmnist_plugin.server.json_encoding import ints_json as _ints_json

    assert json.loads(_ints_json(values)) == values.tolist()


def test_ratio_json_rounds_and_writes_null_for_nan():
    from tb_fmnist_plugin.server.json_encoding import ratios as _ratios
    from tb_fmnist_plugin.server.json_encoding import ratios_json as _ratios_json

    values = np.array([[0.0, 1.0, np.nan], [0.1234564, 0.9999996, 1 / 3]])
    expected = [[0.0, 1.0, None], [0.123456, 1.0, 0.333333]]
    assert json.loads(_ratios_json(values)) == expected
    assert json.loads(_ratios_json(values[1])) == expected[1]
    assert _ratios(values[0]) == expected[0]
    assert json.loads(_ratios_json(np.zeros((0, 3)))) == []


def test_metrics_series_over_every_step(client):
    body = get_json(client, route_url("metrics_series", run=RUN, tag=TAG))
    assert body["steps"] == STEPS and body["class_names"] == NAMES
    assert body["run"] == RUN and body["tag"] == TAG
    for i, step in enumerate(STEPS):
        expected = metrics.per_class_metrics(matrix_at(step))
        assert_ratios([body["accuracy"][i]], [expected["accuracy"]])
        for key in ("precision", "recall", "f1"):
            assert_ratios(body[key][i], expected[key])
        assert body["support"][i] == expected["support"].tolist()


def test_cell_series(client):
    body = get_json(client, route_url("cell_series", run=RUN, tag=TAG, true=3, predicted=5))
    assert body == {
        "steps": STEPS,
        "counts": [int(matrix_at(s)[3, 5]) for s in STEPS],
        "row_totals": [int(matrix_at(s)[3].sum()) for s in STEPS],
    }


@pytest.mark.parametrize("n", [None, 1, 3, 1000])
def test_top_confusions(client, n):
    params = dict(run=RUN, tag=TAG, step=8)
    if n is not None:
        params["n"] = n
    body = get_json(client, route_url("top_confusions", **params))
    matrix = matrix_at(8)
    expected = metrics.top_confusions(matrix, 10 if n is None else n)
    assert [(c["true"], c["predicted"], c["count"]) for c in body["confusions"]] == expected
    assert body["confusions"][0]["true"] == 3 and body["confusions"][0]["predicted"] == 5  # tie broken by true
    for c in body["confusions"]:
        assert c["true_name"] == NAMES[c["true"]] and c["predicted_name"] == NAMES[c["predicted"]]
        assert_ratios([c["row_share"]], [c["count"] / matrix[c["true"]].sum()])


def test_examples_and_sprite(client):
    step = 10
    written = examples_at(step)
    seen = 0
    for true in range(4):
        for predicted in range(4):
            url = route_url("examples", run=RUN, tag=TAG, step=step, true=true, predicted=predicted)
            body = get_json(client, url)
            assert (body["tile_width"], body["tile_height"], body["channels"]) == (28, 28, 1)
            mask = (written["true_labels"] == true) & (written["predicted_labels"] == predicted)
            order = np.argsort(-written["confidences"][mask], kind="stable")[:4]
            expected_indices = written["dataset_indices"][mask][order].tolist()
            assert [e["dataset_index"] for e in body["examples"]] == expected_indices
            assert [e["confidence"] for e in body["examples"]] == [
                round(float(c), 4) for c in written["confidences"][mask][order]
            ]
            sprite_url = urllib.parse.urljoin(url, body["sprite"])
            response = client.get(sprite_url)
            assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
            pixels = np.asarray(Image.open(io.BytesIO(response.get_data())))
            for example in body["examples"]:
                x, y = example["x"], example["y"]
                assert (x, y) == ((example["tile"] % body["columns"]) * 28, (example["tile"] // body["columns"]) * 28)
                tile = pixels[y:y + 28, x:x + 28]
                original = written["images"][example["dataset_index"] - 1000 * step]
                np.testing.assert_array_equal(tile, original)
                seen += 1
    expected_total = sum(
        min(4, int(((written["true_labels"] == t) & (written["predicted_labels"] == p)).sum()))
        for t in range(4) for p in range(4)
    )
    assert seen == expected_total > 0
    # Classes 4..9 never occur in these examples: empty list, not an error.
    assert get_json(client, route_url("examples", run=RUN, tag=TAG, step=step, true=9, predicted=9))["examples"] == []


@pytest.mark.parametrize(
    "url,code",
    [
        # missing / empty parameters
        (BASE + "matrix", 400),
        (route_url("matrix", tag=TAG, step=0), 400),
        (route_url("matrix", run=RUN, step=0), 400),
        (route_url("matrix", run=RUN, tag=TAG), 400),
        (route_url("matrix", run="", tag=TAG, step=0), 400),
        (route_url("metrics_series", run=RUN), 400),
        (route_url("cell_series", run=RUN, tag=TAG, true=1), 400),
        # malformed integers
        (route_url("matrix", run=RUN, tag=TAG, step="abc"), 400),
        (route_url("matrix", run=RUN, tag=TAG, step=-1), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="1.5"), 400),
        (route_url("matrix", run=RUN, tag=TAG, step=" 2"), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="+2"), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="0x10"), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="1e3"), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="2_0"), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="\u0662"), 400),  # Arabic-Indic digit two
        (route_url("matrix", run=RUN, tag=TAG, step="9" * 19), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="9" * 5000), 400),
        (route_url("matrix", run=RUN, tag=TAG, step="") , 400),
        (route_url("matrix", run=RUN, tag=TAG) + "&step=2&step=4", 400),
        (route_url("metrics", run=RUN, tag=TAG, step="NaN"), 400),
        # odd encodings
        (BASE + "matrix?run=%ff%fe&tag=x&step=0", 400),
        (BASE + "matrix?run=a%00b&tag=x&step=0", 400),
        (BASE + "matrix?run=x&tag=x&step=%ff", 400),
        (BASE + "matrix?" + "&".join(f"p{i}=1" for i in range(50)), 400),
        # class indices
        (route_url("cell_series", run=RUN, tag=TAG, true=10, predicted=0), 400),
        (route_url("cell_series", run=RUN, tag=TAG, true=0, predicted=-1), 400),
        (route_url("cell_series", run=RUN, tag=TAG, true=0, predicted="x"), 400),
        (route_url("examples", run=RUN, tag=TAG, step=10, true=0, predicted=10), 400),
        (route_url("examples", run=RUN, tag=TAG, step=10, true=10**20, predicted=0), 400),
        # top-N bounds
        (route_url("top_confusions", run=RUN, tag=TAG, step=0, n=0), 400),
        (route_url("top_confusions", run=RUN, tag=TAG, step=0, n=1001), 400),
        (route_url("top_confusions", run=RUN, tag=TAG, step=0, n="ten"), 400),
        # unknown run / tag / step
        (route_url("matrix", run="nope", tag=TAG, step=0), 404),
        (route_url("matrix", run=RUN, tag="nope", step=0), 404),
        (route_url("matrix", run=RUN, tag=TAG, step=1), 404),
        (route_url("matrix", run=RUN, tag=TAG, step=10**17), 404),
        (route_url("matrix", run=RUN, tag="future", step=0), 404),
        (route_url("matrix", run=RUN, tag=TAG + "/examples", step=4), 404),
        (route_url("matrix", run="scalars_only", tag="loss", step=1), 404),
        (route_url("metrics", run="nope", tag=TAG, step=0), 404),
        (route_url("metrics_series", run=RUN, tag="nope"), 404),
        (route_url("cell_series", run="nope", tag=TAG, true=0, predicted=0), 404),
        (route_url("top_confusions", run=RUN, tag=TAG, step=3), 404),
        (route_url("examples", run=RUN, tag=TAG, step=6, true=0, predicted=0), 404),  # step has no examples
        (route_url("examples", run=RUN, tag="no_examples", step=1, true=0, predicted=0), 404),
        (route_url("examples", run="nope", tag=TAG, step=4, true=0, predicted=0), 404),
        (route_url("sprite", run=RUN, tag=TAG, step=6), 404),
        (route_url("sprite", run=RUN, tag=TAG, step="x"), 400),
    ],
)
def test_malformed_requests_get_4xx_json_without_traceback(client, url, code):
    response = client.get(url)
    assert response.status_code == code, (url, response.get_data()[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = json.loads(response.get_data())
    assert set(body) == {"error"} and body["error"]
    assert "Traceback" not in body["error"] and "File \"" not in body["error"]


def test_post_is_rejected(client):
    response = client.post(route_url("matrix", run=RUN, tag=TAG, step=0))
    assert response.status_code == 405
    assert "error" in json.loads(response.get_data())


TRAVERSALS = [
    "static/../plugin.py",
    "static/../../setup.py",
    "static/%2e%2e/plugin.py",
    "static/%2e%2e%2fplugin.py",
    "static/%2e%2e%2f%2e%2e%2fsetup.py",
    "static/..%2fplugin.py",
    "static/..\\plugin.py",
    "static/%5c..%5cplugin.py",
    "static/..%5c..%5csetup.py",
    "static//etc/passwd",
    "static/%2fetc%2fpasswd",
    "static/C:\\Windows\\win.ini",
    "static/C:%5cWindows%5cwin.ini",
    "static/",
    "static/.",
    "static/%00index.js",
    "static/index.js%00.png",
    "static/./index.js/..",
    "static/nonexistent.js",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_static_traversal_is_refused(client, path):
    response = client.get(BASE + path)
    assert response.status_code in (400, 404), (path, response.status_code)
    data = response.get_data()
    assert b"import" not in data and b"root:" not in data and b"setup(" not in data


def test_static_serves_exactly_the_files_present(client):
    present = {}
    for directory, _, names in os.walk(STATIC_DIR):
        for name in names:
            if not name.startswith("."):
                full = os.path.join(directory, name)
                present[os.path.relpath(full, STATIC_DIR).replace(os.sep, "/")] = full
    for name, full in present.items():
        response = client.get(BASE + "static/" + name)
        assert response.status_code == 200
        with open(full, "rb") as handle:
            assert response.get_data() == handle.read()
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        if name.endswith(".js"):
            assert response.headers["Content-Type"].startswith("application/javascript")
    assert "index.js" in present, f"the built tab must be served from {STATIC_DIR}"


def test_new_steps_are_seen_after_reload(tmp_path):
    writer = SummaryWriter(str(tmp_path / "run"))
    summary.write_confusion_matrix(writer, TAG, np.eye(2, dtype=int), 0, walltime=10.0)
    writer.flush()
    client, multiplexer, _ = make_app(str(tmp_path))
    assert get_json(client, BASE + "tags")["runs"]["run"][TAG]["steps"] == [0]
    assert get_json(client, route_url("matrix", run="run", tag=TAG, step=0))["matrix"] == [[1, 0], [0, 1]]
    summary.write_confusion_matrix(writer, TAG, np.array([[3, 1], [2, 4]]), 1, walltime=11.0)
    summary.write_confusion_matrix(writer, TAG, np.array([[9, 9], [9, 9]]), 0, walltime=12.0)  # rewrite step 0
    writer.close()
    multiplexer.Reload()
    assert get_json(client, BASE + "tags")["runs"]["run"][TAG]["steps"] == [0, 1]
    assert get_json(client, route_url("matrix", run="run", tag=TAG, step=1))["matrix"] == [[3, 1], [2, 4]]
    assert get_json(client, route_url("matrix", run="run", tag=TAG, step=0))["matrix"] == [[9, 9], [9, 9]]


def test_fix_flags_keeps_all_by_default_and_user_value_wins(tmp_path):
    writer = SummaryWriter(str(tmp_path / "run"))
    for step in range(30):
        summary.write_confusion_matrix(writer, TAG, np.eye(2, dtype=int) * step, step)
    writer.close()
    client, _, flags = make_app(str(tmp_path))
    assert flags.samples_per_plugin == {PLUGIN: 0}
    tags = get_json(client, BASE + "tags")["runs"]["run"][TAG]
    assert tags["steps"] == list(range(30)) and tags["possibly_sampled"] is False

    client, _, flags = make_app(str(tmp_path), ["--samples_per_plugin", f"images=3,{PLUGIN}=5"])
    assert flags.samples_per_plugin == {"images": 3, PLUGIN: 5}
    tags = get_json(client, BASE + "tags")["runs"]["run"][TAG]
    assert len(tags["steps"]) == 5 and tags["steps"][-1] == 29
    assert tags["samples_limit"] == 5 and tags["possibly_sampled"] is True

    _, _, flags = make_app(str(tmp_path), ["--samples_per_plugin", "images=3"])
    assert flags.samples_per_plugin == {"images": 3, PLUGIN: 0}
