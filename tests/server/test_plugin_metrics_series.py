"""``metrics_series`` of a long series through TensorBoard's real WSGI app:
the gzipped body kept between requests is the JSON answer, and the optional
``metrics`` and ``classes`` parameters select from the default answer."""
from __future__ import annotations

import gzip
import json

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.server import responses
from tests.support.plugin_app import BASE, make_app

RUN, TAG = "long", "confusion/test"
CLASSES, STEPS = 100, 120  # about 370 KB of JSON: above the size sent gzipped


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("series")
    rng = np.random.default_rng(3)
    writer = SummaryWriter(str(root / RUN))
    for step in range(STEPS):
        matrix = rng.integers(0, 5, size=(CLASSES, CLASSES)) + np.diag(rng.integers(0, 60, CLASSES))
        matrix[7] = 0  # a class with no support: null recall and f1
        summary.write_confusion_matrix(writer, TAG, matrix, step)
    writer.close()
    return make_app(str(root))[0]


def get(client, gzip_ok: bool = False, **params):
    headers = {"Accept-Encoding": "gzip"} if gzip_ok else {}
    response = client.get(BASE + "metrics_series", query_string={"run": RUN, "tag": TAG, **params}, headers=headers)
    return response.status_code, response.headers, response.get_data()


def test_kept_gzip_body_is_the_json_answer(client, monkeypatch):
    status, headers, plain = get(client)
    assert status == 200 and "Content-Encoding" not in headers and len(plain) >= 256 * 1024
    compressions = []
    original = gzip.compress
    monkeypatch.setattr(responses.gzip, "compress", lambda *a, **k: compressions.append(1) or original(*a, **k))
    bodies = []
    for _ in range(3):
        status, headers, body = get(client, gzip_ok=True)
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        bodies.append(body)
    assert gzip.decompress(bodies[0]) == plain
    assert bodies[1] == bodies[0] == bodies[2] and not compressions  # compressed once, when first built


def test_metrics_and_classes_select_from_the_default_answer(client):
    full = json.loads(get(client)[2])
    assert "classes" not in full and list(full)[-6:] == ["accuracy", "precision", "recall", "f1", "support", "iou"]
    status, _, body = get(client, metrics="recall")
    picked = json.loads(body)
    assert status == 200 and picked == {key: full[key] for key in ("run", "tag", "class_names", "steps", "recall")}
    status, _, body = get(client, metrics="f1,accuracy,precision", classes="42,7,0")
    picked = json.loads(body)
    assert status == 200 and picked["classes"] == [42, 7, 0] and picked["accuracy"] == full["accuracy"]
    assert list(picked) == ["run", "tag", "class_names", "steps", "classes", "accuracy", "precision", "f1"]
    for key in ("precision", "f1"):
        assert picked[key] == [[row[42], row[7], row[0]] for row in full[key]]
    assert all(row[1] is None for row in picked["f1"])
    picked = json.loads(get(client, classes="99")[2])
    assert picked["support"] == [[row[99]] for row in full["support"]] and picked["class_names"] == full["class_names"]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"metrics": "recal"}, "'metrics' must list distinct names"),
        ({"metrics": ""}, "'metrics' must list distinct names"),
        ({"metrics": "f1,f1"}, "'metrics' must list distinct names"),
        ({"classes": "100"}, "'classes' = 100 is out of range [0, 100)"),
        ({"classes": "3,3"}, "'classes' lists a class more than once"),
        ({"classes": "-1"}, "'classes' must be a non-negative integer"),
        ({"classes": "1,,2"}, "'classes' must be a non-negative integer"),
        ({"classes": ""}, "'classes' must be a non-negative integer"),
    ],
)
def test_bad_metrics_or_classes_are_400(client, params, message):
    status, _, body = get(client, **params)
    assert status == 400 and message in json.loads(body)["error"]
