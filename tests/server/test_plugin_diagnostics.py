"""The calibration and label-issue routes: event files written with a real
SummaryWriter and :mod:`tb_fmnist_plugin.format.diagnostics_writers` from known
probabilities, served by TensorBoard's real WSGI app and data provider (and
the real ``tensorboard`` command, both loaders), checked against a direct
numpy computation; untrusted stored values; the hooks' monitor end to end.

Why one file of ~420 lines: the six routes read one module-scoped logdir
written from the same known probabilities, which each test checks against."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util
from torch.nn import functional
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import diagnostics_writers as ds
from tb_fmnist_plugin.format import metadata
from tests.support.events import route_url
from tests.support.hooks_helpers import load, scalars  # noqa: E402
from tests.support.plugin_app import make_app
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402

RUN = "eval"
TAG = "confusion/test"
NAMES = ["cat", "dog", "Ünïcode & <b>", "bird"]
C, B = 4, 5
STEPS = [0, 5, 10]  # step 5: class 3 has no examples; step 10: an unreadable class loss, no label issues
BAD_STEPS = [20, 21, 22]
QUOTE_RUN, QUOTE_TAG = 'lr="0.1" \\ sweep', 'confusion/"test"\\'
SUSPECTS = dict(given=[1, 2, 1, 0, 3, 1, 2], suggested=[2, 1, 2, 1, 0, 0, 0],
                self_confidence=[0.00125, 0.003, 0.01, 0.02, 0.05, 0.1, 0.25],
                confidence=[0.97, 0.95, 0.9, 0.8, 0.7, 0.6, 0.55], dataset_indices=[40, 7, 13, 2, 99, 5, 61])
SUSPECT_OPTIONS = dict(class_names=NAMES, total=9, thresholds=[0.8, 0.75, 0.7, 0.9], inexact_rows=1)


def evaluation(step: int):
    """Labels and predicted probabilities ``[N, C]`` of the evaluation at ``step``."""
    rng = np.random.default_rng(step)
    labels = rng.integers(0, C if step != 5 else C - 1, 300)
    logits = rng.normal(size=(300, C)) * 1.5
    logits[np.arange(300), labels] += rng.random(300) * 4
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    return labels, probs / probs.sum(axis=1, keepdims=True)


def stored(step: int):
    """What the hooks would store for ``evaluation(step)``: bins, cell
    confidence, class loss, matrix (sums with ``np.add.at``)."""
    labels, probs = evaluation(step)
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    bin_of = np.minimum(np.floor(conf * B), B - 1).astype(int)
    bins = np.zeros((C, B, 3))
    for field, values in enumerate((np.ones_like(conf), conf, (pred == labels).astype(float))):
        np.add.at(bins, (labels, bin_of, field), values)
    cell_sum, cell_count = np.zeros((C, C)), np.zeros((C, C))
    np.add.at(cell_sum, (labels, pred), conf)
    np.add.at(cell_count, (labels, pred), 1)
    loss = np.array([-np.log(probs[labels == c, c]).mean() if (labels == c).any() else np.nan for c in range(C)])
    with np.errstate(invalid="ignore"):
        cells = np.where(cell_count > 0, cell_sum / cell_count, 0.0)
    return bins, cells, loss, cell_count.astype(int)


def joint_at(step: int):
    joint = np.diag([50, 60, 70, 40]) + step
    suspects = np.zeros((C, C), dtype=int)
    suspects[1, 2], suspects[2, 1], suspects[0, 1], suspects[3, 0] = 2 + step, 1, 1, 1
    return joint, suspects


def images(count: int = 7) -> np.ndarray:
    return (np.random.default_rng(3).random((count, 28, 28)) * 255).astype(np.uint8)


def raw(writer: SummaryWriter, tag: str, step: int, value, kind: str, matrix_tag: str = TAG, names=NAMES, **extra) -> None:
    """A value under a diagnostic kind's metadata, without the writer's checks."""
    proto = summary_pb2.Summary()
    meta = dm.create_diagnostic_metadata(kind, names, matrix_tag, **extra)
    tensor = tensor_util.make_tensor_proto(value, dtype=np.object_ if kind == metadata.KIND_SUSPECTS else None)
    proto.value.add(tag=tag, metadata=meta).tensor.CopyFrom(tensor)
    writer._get_file_writer().add_summary(proto, step)


def suspects_index(**changes) -> bytes:
    index = json.loads(dm.encode_suspects_index(tile_height=0, tile_width=0, channels=0, columns=0, bits=0,
                                                given=[1], suggested=[0], self_confidence=[0.1], confidence=[0.8],
                                                dataset_indices=[3], total=1, thresholds=[0.5] * C))
    index.update(changes)
    return json.dumps(index).encode()


def write_run(writer: SummaryWriter, tag: str = TAG) -> None:
    for step in STEPS:
        bins, cells, loss, matrix = stored(step)
        summary.write_confusion_matrix(writer, tag, matrix, step, class_names=NAMES)
        calibration = ds.calibration_pb(tag, bins=bins, cell_confidence=cells, class_loss=loss, class_names=NAMES)
        if step == 10:
            del calibration.value[2]  # no class loss at this step, but an unreadable one (below)
            raw(writer, tag + "/class_loss", step, np.zeros(C + 1), metadata.KIND_CLASS_LOSS, tag)
        writer._get_file_writer().add_summary(calibration, step)
        if step != 10:
            joint, suspects = joint_at(step)
            ds.write_label_issues(writer, tag, joint, step, suspect_counts=suspects, class_names=NAMES)
    ds.write_suspects(writer, tag, None, 0, **SUSPECTS, **SUSPECT_OPTIONS)  # without thumbnails
    ds.write_suspects(writer, tag, images(), 5, **SUSPECTS, **SUSPECT_OPTIONS)  # steps ascending, as the Rust server wants


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("diagnostics")
    writer = SummaryWriter(str(root / RUN))
    write_run(writer)
    bins = stored(0)[0]
    for step in BAD_STEPS:
        summary.write_confusion_matrix(writer, TAG, np.eye(C, dtype=int), step, class_names=NAMES)
    bad_bins = [bins * np.array([1, 1, -1]), np.where(bins > 0, np.nan, 0), bins[:, :3]]  # negative, NaN, shape
    bad_index = [suspects_index(given=[C]), suspects_index(given=[0, 1]), b"{not json"]
    for step, value, index in zip(BAD_STEPS, bad_bins, bad_index):
        raw(writer, TAG + "/reliability", step, value, metadata.KIND_RELIABILITY, bins=B)
        raw(writer, TAG + "/suspects", step, [index, b""], metadata.KIND_SUSPECTS)
    huge = np.zeros((C, B, 3))
    huge[:, -1] = 1.7e308  # every entry finite, their sum over classes is not
    raw(writer, TAG + "/reliability", 23, huge, metadata.KIND_RELIABILITY, bins=B)
    raw(writer, TAG + "/cell_confidence", 20, np.full((C, C), np.inf), metadata.KIND_CELL_CONFIDENCE)
    raw(writer, TAG + "/confident_joint", 20, -np.eye(C, dtype=np.int32), metadata.KIND_CONFIDENT_JOINT)
    raw(writer, TAG + "/label_issues", 20, np.eye(C, dtype=np.int32), metadata.KIND_LABEL_ISSUES)
    writer.close()
    writer = SummaryWriter(str(root / "foreign"))  # diagnostics that do not belong to their matrix
    summary.write_confusion_matrix(writer, "m", np.eye(3, dtype=int), 1)
    raw(writer, "m/reliability", 1, np.zeros((3, 2, 3)), metadata.KIND_RELIABILITY, "elsewhere", ["a", "b", "c"], bins=2)
    raw(writer, "m/class_loss", 1, np.zeros(5), metadata.KIND_CLASS_LOSS, "m", list("abcde"))
    raw(writer, "m/cell_confidence", 1, np.eye(3) * 0.5, metadata.KIND_CELL_CONFIDENCE, "m", ["a", "b", "c"])
    summary.write_confusion_matrix(writer, "plain", np.eye(2, dtype=int), 1)
    writer.close()
    return str(root)


@pytest.fixture(scope="module")
def client(logdir):
    return make_app(logdir)[0]


def get(client, route, **params):
    response = client.get(route_url(route, **params))
    body = response.data if response.mimetype == "image/png" else json.loads(response.data)
    return response.status_code, body


def ok(client, route, **params):
    code, body = get(client, route, run=params.pop("run", RUN), tag=params.pop("tag", TAG), **params)
    assert code == 200, body
    return body


def r6(value):
    return None if value != value else round(float(value), 6)


def expected_bins(labels, probs, rows):
    """Count, mean confidence, accuracy per bin, and ECE, of the examples
    ``rows``, computed directly from the probabilities."""
    conf, pred = probs.max(axis=1), probs.argmax(axis=1)
    bin_of = np.minimum(np.floor(conf * B), B - 1)
    count, confidence, accuracy, ece = [], [], [], 0.0
    for b in range(B):
        members = rows & (bin_of == b)
        count.append(int(members.sum()))
        confidence.append(r6(conf[members].mean()) if members.any() else None)
        accuracy.append(r6((pred[members] == labels[members]).mean()) if members.any() else None)
        if members.any():
            ece += members.sum() / rows.sum() * abs((pred[members] == labels[members]).mean() - conf[members].mean())
    return {"count": count, "confidence": confidence, "accuracy": accuracy}, (r6(ece) if rows.any() else None)


# --- calibration -------------------------------------------------------------------------


@pytest.mark.parametrize("step", STEPS)
def test_calibration_equals_a_direct_computation(client, step):
    body = ok(client, "calibration", step=step)
    labels, probs = evaluation(step)
    assert (body["run"], body["tag"], body["step"], body["num_bins"]) == (RUN, TAG, step, B)
    # written with calibration_pb only: the older per-true-class numbers, labelled so
    assert (body["per_class_kind"], body["class_ece_kind"]) == ("true_class", "true_class")
    assert body["edges"] == [0, 0.2, 0.4, 0.6, 0.8, 1]
    bins, ece = expected_bins(labels, probs, np.ones(len(labels), dtype=bool))
    assert body["overall"] == {"ece": ece, **bins}
    losses = -np.log(probs[np.arange(len(labels)), labels])
    assert body["loss"] == (None if step == 10 else pytest.approx(losses.mean(), rel=1e-12))
    for c, entry in enumerate(body["classes"]):
        rows = labels == c
        bins, ece = expected_bins(labels, probs, rows)
        assert entry == {"index": c, "name": NAMES[c], "support": int(rows.sum()), "ece": ece, **bins,
                         "loss": None if step == 10 or not rows.any() else pytest.approx(losses[rows].mean(), rel=1e-12)}
    assert body["classes"][3]["support"] == (0 if step == 5 else body["classes"][3]["support"])


def test_calibration_series_lists_readable_steps(client):
    body = ok(client, "calibration_series")
    assert body["steps"] == STEPS + [23]  # 20, 21, 22 unreadable: skipped
    for i, step in enumerate(STEPS + [23]):
        calibration = ok(client, "calibration", step=step)
        assert body["ece"][i] == calibration["overall"]["ece"]
        # no classwise bins in these files: the older per-true-class ECE, never as classwise
        assert body["true_class_ece"][i] == [entry["ece"] for entry in calibration["classes"]]
        assert body["class_ece"][i] == [None] * C
        assert body["class_loss"][i] == [entry["loss"] for entry in calibration["classes"]]
    assert body["class_loss"][2] == [None] * C and body["true_class_ece"][1][3] is None


def test_counts_whose_sums_overflow_are_null_not_an_error(client):
    body = ok(client, "calibration", step=23)
    assert body["classes"][0]["count"] == [0, 0, 0, 0, int(1.7e308)] and body["classes"][0]["support"] == int(1.7e308)
    assert body["classes"][0]["ece"] == 0 and body["classes"][0]["accuracy"][-1] == 1
    assert body["overall"]["count"] == [0, 0, 0, 0, None] and body["overall"]["ece"] is None and body["loss"] is None


def test_new_steps_are_read_after_a_reload(tmp_path):
    bins, cells, loss, matrix = stored(0)
    writer = SummaryWriter(str(tmp_path / RUN))
    for step in (1, 2):
        summary.write_confusion_matrix(writer, TAG, matrix, step, class_names=NAMES)
        ds.write_calibration(writer, TAG, bins * step, step, cell_confidence=cells, class_loss=loss, class_names=NAMES)
        writer.flush()
        if step == 1:
            client, multiplexer, _ = make_app(str(tmp_path))
            assert ok(client, "calibration_series")["steps"] == [1]  # cached until the series changes
    multiplexer.Reload()
    assert ok(client, "calibration_series")["steps"] == [1, 2]
    assert ok(client, "calibration", step=2)["classes"][0]["support"] == 2 * int(bins[0, :, 0].sum())


def test_cell_confidence_is_null_for_empty_cells(client):
    labels, probs = evaluation(5)
    body = ok(client, "cell_confidence", step=5)
    expected = [[r6(probs.max(axis=1)[(labels == t) & (probs.argmax(axis=1) == p)].mean())
                 if ((labels == t) & (probs.argmax(axis=1) == p)).any() else None for p in range(C)] for t in range(C)]
    assert body == {"step": 5, "mean_confidence": expected}
    assert body["mean_confidence"][3] == [None] * C  # class 3 has no examples at step 5


def test_label_issues(client):
    joint, suspects = joint_at(5)
    body = ok(client, "label_issues", step=5)
    assert body == {"step": 5, "confident_joint": joint.tolist(), "suspects": suspects.tolist(),
                    "issues": [1, 7, 1, 1], "total": 10}


# --- suspects ------------------------------------------------------------------------------


def test_suspects_list_order_filters_and_sprite(client):
    body = ok(client, "suspects", step=5)
    assert {k: body[k] for k in ("step", "total", "listed", "inexact_rows", "thresholds")} == \
        {"step": 5, "total": 9, "listed": 7, "inexact_rows": 1, "thresholds": [0.8, 0.75, 0.7, 0.9]}
    assert (body["tile_width"], body["tile_height"], body["channels"]) == (28, 28, 1)
    columns = body["columns"]
    assert body["sprite"] == "suspects_sprite?run=eval&tag=confusion%2Ftest&step=5"
    assert [s["rank"] for s in body["suspects"]] == list(range(7))
    for rank, suspect in enumerate(body["suspects"]):
        g, s = SUSPECTS["given"][rank], SUSPECTS["suggested"][rank]
        assert suspect == {"rank": rank, "tile": rank, "x": rank % columns * 28, "y": rank // columns * 28,
                           "given": g, "given_name": NAMES[g], "suggested": s, "suggested_name": NAMES[s],
                           "self_confidence": SUSPECTS["self_confidence"][rank], "confidence": SUSPECTS["confidence"][rank],
                           "dataset_index": SUSPECTS["dataset_indices"][rank]}
    assert [s["rank"] for s in ok(client, "suspects", step=5, given=1)["suspects"]] == [0, 2, 5]
    assert [s["rank"] for s in ok(client, "suspects", step=5, suggested=0)["suspects"]] == [4, 5, 6]
    filtered = ok(client, "suspects", step=5, given=1, suggested=2)
    assert [s["rank"] for s in filtered["suspects"]] == [0, 2] and filtered["listed"] == 7
    assert ok(client, "suspects", step=5, given=3, suggested=3)["suspects"] == []
    png = client.get(route_url("suspects_sprite", run=RUN, tag=TAG, step=5))
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data == expected_sprite(TAG)
    sprite = np.asarray(Image.open(io.BytesIO(png.data)))
    np.testing.assert_array_equal(sprite[:28, 28:56], images()[1])


def expected_sprite(tag: str) -> bytes:
    pb = ds.suspects_pb(tag, images(), **SUSPECTS, **SUSPECT_OPTIONS)
    return tensor_util.make_ndarray(pb.value[0].tensor)[dm.SUSPECTS_SPRITE_BLOB]


def test_suspects_without_images(client):
    body = ok(client, "suspects", step=0)
    assert body["sprite"] is None and body["columns"] == 0 and body["listed"] == 7
    assert body["suspects"][0]["tile"] is None and body["suspects"][0]["x"] is None
    assert get(client, "suspects_sprite", run=RUN, tag=TAG, step=0) == (404, {"error": "the suspects at step 0 were logged without images"})


# --- errors and untrusted data ---------------------------------------------------------------


@pytest.mark.parametrize("route,params", [
    ("suspects", {"step": 5, "given": 4}), ("suspects", {"step": 5, "suggested": 9}),
    ("suspects", {"step": 5, "given": "-1"}), ("suspects", {"step": 5, "given": ""}),
    ("calibration", {"step": "x"}), ("calibration", {}), ("cell_confidence", {"step": "1.5"}),
    ("label_issues", {"step": 10**20}), ("calibration_series", {"run": ""}), ("suspects_sprite", {}),
])
def test_bad_parameters_are_400(client, route, params):
    params = {"run": RUN, "tag": TAG, **params}
    code, body = get(client, route, **params)
    assert code == 400 and body["error"], body


@pytest.mark.parametrize("route,step,message", [
    ("calibration", 3, "no reliability value at step 3"),
    ("calibration", 20, "the stored reliability value at step 20 is unreadable: reliability bins hold negative"),
    ("calibration", 21, "the stored reliability value at step 21 is unreadable: reliability bins hold negative or non-finite values"),
    ("calibration", 22, "the stored reliability value at step 22 is unreadable: reliability bins of shape (4, 3, 3)"),
    ("cell_confidence", 20, "the stored cell confidence value at step 20 is unreadable: cell values are not all probabilities"),
    ("cell_confidence", 3, "no cell confidence value at step 3"),
    ("label_issues", 10, "no confident joint value at step 10"),
    ("label_issues", 20, "the stored confident joint value at step 20 is unreadable: it holds negative counts"),
    ("suspects", 10, "no suspects at step 10"),
    ("suspects", 20, "the stored suspects at step 20 are unreadable: suspects index: given holds an invalid entry"),
    ("suspects", 21, "the stored suspects at step 21 are unreadable: suspects index has lists of different lengths"),
    ("suspects", 22, "the stored suspects at step 22 are unreadable: unreadable suspects index"),
    ("suspects_sprite", 21, "the stored suspects at step 21 are unreadable"),
])
def test_missing_and_unreadable_steps_are_404(client, route, step, message):
    code, body = get(client, route, run=RUN, tag=TAG, step=step)
    assert code == 404 and body["error"].startswith(message), body


def test_each_problem_is_logged_once_per_series(logdir, caplog):
    fresh = make_app(logdir)[0]
    with caplog.at_level("WARNING", logger="tb_fmnist_plugin.server.caches"):
        for _ in range(3):
            fresh.get(route_url("tags"))
            for step in (10, 20):
                fresh.get(route_url("calibration", run=RUN, tag=TAG, step=step))
    logged = [r.getMessage() for r in caplog.records]
    assert sum("'confusion/test/reliability'" in m and "negative" in m for m in logged) == 1
    assert sum("'confusion/test/class_loss'" in m and "expected float [4]" in m for m in logged) == 1
    assert sum("'m/reliability'" in m and "'elsewhere'" in m for m in logged) == 1
    assert sum("'m/class_loss'" in m and "5 classes, its matrix 3" in m for m in logged) == 1


def test_tags_list_the_diagnostics_that_belong_to_each_matrix(client):
    runs = json.loads(client.get(route_url("tags")).data)["runs"]
    assert runs[RUN][TAG]["diagnostics"] == ["cell_confidence", "class_loss", "confident_joint", "label_issues",
                                             "reliability", "suspects"]
    assert runs["foreign"]["m"]["diagnostics"] == ["cell_confidence"]  # another matrix tag / class count: ignored
    assert runs["foreign"]["plain"]["diagnostics"] == []
    assert get(client, "calibration", run="foreign", tag="m", step=1) == \
        (404, {"error": "no reliability series for run 'foreign', tag 'm'"})


# --- the real tensorboard command, both loaders ------------------------------------------------


@pytest.fixture(scope="module")
def quoted_logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("diagnostics_quoted")
    writer = SummaryWriter(str(root / QUOTE_RUN))
    write_run(writer, QUOTE_TAG)
    writer.close()
    return str(root)


@pytest.mark.subprocess
@pytest.mark.parametrize("load_fast", [pytest.param(True, id="load_fast=true"), pytest.param(False, id="load_fast=false")])
def test_tensorboard_serves_diagnostics_of_quoted_names(quoted_logdir, load_fast):
    expected = make_app(quoted_logdir)[0]  # the Python loader in process, for the JSON answers
    with tensorboard_server(quoted_logdir, load_fast) as server:
        entry = server.get_json(route_url("tags"))["runs"][QUOTE_RUN][QUOTE_TAG]
        assert len(entry["diagnostics"]) == 6 and entry["steps"] == STEPS
        for route, params in [("calibration", {"step": 5}), ("calibration_series", {}), ("cell_confidence", {"step": 0}),
                              ("label_issues", {"step": 5}), ("suspects", {"step": 5, "given": 1})]:
            url = route_url(route, run=QUOTE_RUN, tag=QUOTE_TAG, **params)
            assert server.get_json(url) == json.loads(expected.get(url).data), route
        status, headers, png = server.get(route_url("suspects_sprite", run=QUOTE_RUN, tag=QUOTE_TAG, step=5))
        assert status == 200 and headers["Content-Type"] == "image/png" and png == expected_sprite(QUOTE_TAG)
        status, _, body = server.get(route_url("suspects_sprite", run=QUOTE_RUN, tag=QUOTE_TAG, step=0))
        assert status == 404 and "without images" in json.loads(body)["error"]


# --- the hooks' monitor, end to end ------------------------------------------------------------


def test_route_equals_what_the_monitor_computed(tmp_path):
    from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN  # the training side, imported by this test only
    from tb_fmnist_plugin.hooks import attach_hooks
    from tb_fmnist_plugin.hooks.evaluation import classify

    g = torch.Generator().manual_seed(0)
    data = []
    for i in range(4):
        labels = torch.randint(0, 10, (50,), generator=g)
        logits = torch.randn(50, 10, generator=g)
        logits[torch.arange(50), labels] += 3 * torch.rand(50, generator=g)
        labels = torch.where(torch.rand(50, generator=g) < 0.15, torch.randint(0, 10, (50,), generator=g), labels)
        data.append((logits, labels, torch.rand(50, 1, 28, 28, generator=g), torch.arange(i * 50, (i + 1) * 50)))
    writer = SummaryWriter(str(tmp_path / "run"))
    monitor = attach_hooks(FashionMNISTCNN(), writer, class_names=[f"c{i}" for i in range(10)], log_graph=False, calibration_bins=10)
    for batch in data:
        monitor.record(*batch)
    monitor.end_eval(step=2)
    writer.close()
    acc = load(tmp_path / "run")
    client = make_app(str(tmp_path))[0]
    body = ok(client, "calibration", run="run", step=2)
    assert body["overall"]["ece"] == pytest.approx(scalars(acc, "calibration/test/ece")[2], abs=1e-6)
    logits, labels = torch.cat([d[0] for d in data]), torch.cat([d[1] for d in data])
    predicted, confidence, _ = classify(logits)
    conf, true, pred = confidence.numpy().astype(np.float64), labels.numpy(), predicted.numpy()
    bin_of = np.minimum(np.floor(confidence.numpy() * np.float32(10)), 9)
    assert body["overall"]["count"] == [int((bin_of == b).sum()) for b in range(10)]
    assert (body["per_class_kind"], body["class_ece_kind"]) == ("predicted_class", "classwise")
    probs = torch.softmax(logits, dim=1).numpy()
    for c in range(10):
        expected = functional.cross_entropy(logits[labels == c], labels[labels == c]).item()
        assert body["classes"][c]["loss"] == pytest.approx(expected, rel=1e-5)
        rows = pred == c  # the per-class bins: the examples predicted c
        assert body["classes"][c]["count"] == [int((rows & (bin_of == b)).sum()) for b in range(10)]
        ece = sum(abs((true[rows & (bin_of == b)] == c).sum() - conf[rows & (bin_of == b)].sum()) for b in range(10)) / rows.sum()
        assert body["classes"][c]["predicted_ece"] == pytest.approx(ece, abs=1e-6)
        p_c = probs[:, c]  # classwise: every example, outcome [label == c], bins of p_c
        bin_c = np.minimum(np.floor(p_c * np.float32(10)), 9)
        classwise = sum(abs((true[bin_c == b] == c).sum() - p_c[bin_c == b].astype(np.float64).sum()) for b in range(10)) / len(true)
        assert body["classes"][c]["ece"] == pytest.approx(classwise, abs=1e-6)
        assert body["classes"][c]["support"] == int((true == c).sum())
    assert body["loss"] == pytest.approx(functional.cross_entropy(logits, labels).item(), rel=1e-5)
    issues = ok(client, "label_issues", run="run", step=2)
    assert issues["total"] == scalars(acc, "label_issues/test/count")[2]
    suspects = ok(client, "suspects", run="run", step=2)
    assert suspects["total"] == issues["total"] and suspects["listed"] == len(suspects["suspects"]) > 0
    assert all(true[s["dataset_index"]] == s["given"] for s in suspects["suspects"])
