"""The per-example record's routes: event files written with a real
SummaryWriter and the format's write API (``summary.write_example_*``) from
known predictions, read through TensorBoard's real data provider
(``*_impl``) and WSGI app (and the real ``tensorboard`` command, both
loaders), checked against direct computations in this file: members of every
cell at every step, histories, entered/left between steps and runs,
forgetting and the data map; parameters and damaged values."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import example_record as er
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.reader import ConfusionReader
from tb_fmnist_plugin.server.record_reader import RecordReader
from tb_fmnist_plugin.server.record_views import RecordViews
from tests.support.events import route_url
from tests.support.plugin_app import CTX, EID, get_json, load_provider, make_app
from tests.support.tensorboard_server import tensorboard_server

TAG = "confusion/test"
NAMES = ["cat", "dog", "bird", "frog"]
C, N = 4, 300
RUN_STEPS = {"a": [0, 10, 20, 30, 40], "b": [0, 10, 20]}
CHANGED_AT = 30  # run a's ids change here: one example leaves, one joins
QUOTED = 'say "hi"'  # the Rust data server cannot name its blobs: read from the event files


def ids_of(run: str, step: int):
    """``(index, label)`` of the ids in effect at ``step``."""
    rng = np.random.default_rng(7)
    index = np.sort(rng.choice(1000, N + 1, replace=False))
    label = rng.integers(0, C, N + 1)
    keep = np.arange(N) if run != "a" or step < CHANGED_AT else np.arange(1, N + 1)
    keep = keep[:280] if run == "other_ids" else keep
    return index[keep], label[keep]


def evaluation(run: str, step: int):
    """``(predicted (-1 left out), p_given, top-1)`` of each row at ``step``."""
    index, label = ids_of(run, step)
    rng = np.random.default_rng(1000 * sum(map(ord, run)) + step)
    logits = rng.normal(size=(index.size, C))
    logits[np.arange(index.size), label] += rng.random(index.size) * (1 + step / 10)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    predicted = probs.argmax(axis=1)
    predicted[rng.random(index.size) < 0.03] = -1
    return predicted, probs[np.arange(index.size), label], probs.max(axis=1)


def thumbnails_of(run: str, step: int):
    """Tiles (uint8 ``[T, 6, 5]``) of every third row but rows 0..9."""
    rows = np.arange(10, ids_of(run, step)[0].size, 3)
    rng = np.random.default_rng(step + 3)
    return rows, rng.integers(0, 256, (rows.size, 6, 5)).astype(np.uint8)


def raw_blobs(writer, tag: str, kind: str, blobs, step: int) -> None:
    """A record value stored without the format's checks."""
    meta = er.create_record_metadata(kind, NAMES, TAG)
    proto = summary_pb2.Summary()
    proto.value.add(tag=er.record_tag(TAG, kind), metadata=meta).tensor.CopyFrom(
        tensor_util.make_tensor_proto(np.array(blobs, dtype=object)))
    writer._get_file_writer().add_summary(proto, step)


def write_run(logdir: str, run: str, steps) -> None:
    writer = SummaryWriter(f"{logdir}/{run}")
    last = None
    for step in steps:
        index, label = ids_of(run, step)
        if last is None or not np.array_equal(last, index):
            summary.write_example_ids(writer, TAG, index, step, labels=label, identity="index", class_names=NAMES)
            rows, tiles = thumbnails_of(run, step)
            summary.write_example_thumbnails(writer, TAG, tiles, step, rows=rows, class_names=NAMES,
                                             num_rows=index.size, max_bytes=1_000_000)
            last, ids_step = index, step
        predicted, p_given, top1 = evaluation(run, step)
        matrix = np.zeros((C, C), np.int64)
        np.add.at(matrix, (label[predicted >= 0], predicted[predicted >= 0]), 1)
        summary.write_confusion_matrix(writer, TAG, matrix, step, class_names=NAMES)
        summary.write_example_predictions(writer, TAG, predicted, step, p_given=p_given, confidence=top1,
                                          labels=label, ids_step=ids_step, class_names=NAMES)
    writer.close()


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("record"))
    for run, steps in RUN_STEPS.items():
        write_run(root, run, steps)
    write_run(root, "other_ids", [0])
    write_run(root, QUOTED, [0, 10])
    write_run(root, "damaged", [0, 10])
    writer = SummaryWriter(f"{root}/damaged")
    raw_blobs(writer, TAG, metadata.KIND_EXAMPLE_PREDICTIONS, [b"not an npz"], 20)
    lost = er.encode_example_predictions(np.zeros(N, np.int64), np.ones(N), np.ones(N), np.zeros(N), C, 5)
    raw_blobs(writer, TAG, metadata.KIND_EXAMPLE_PREDICTIONS, [lost], 30)  # its ids (step 5) were never written
    for step in (20, 30):
        summary.write_confusion_matrix(writer, TAG, np.eye(C, dtype=np.int64), step, class_names=NAMES)
    summary.write_confusion_matrix(writer, "confusion/bare", np.eye(C, dtype=np.int64), 0, class_names=NAMES)
    writer.close()
    return root


@pytest.fixture(scope="module")
def views(logdir):
    return RecordViews(RecordReader(ConfusionReader(load_provider(logdir), logdir=logdir)))


@pytest.fixture(scope="module")
def client(logdir):
    return make_app(logdir)[0]


def stored(values):
    """Probabilities as the format stores them (float16) and the API rounds them."""
    return [None if math.isnan(v) else v for v in np.round(np.float16(values).astype(np.float64), 4).tolist()]


def expected_members(run, step, true, pred, sort="confidence", order="desc"):
    """Rows of the members, ordered as asked (ties: row ascending)."""
    _, label = ids_of(run, step)
    predicted, p_given, top1 = evaluation(run, step)
    rows = [r for r in range(N) if label[r] == true and predicted[r] == pred]
    values = np.float16(top1 if sort == "confidence" else p_given).astype(np.float64)
    return sorted(rows, key=lambda r: (-values[r] if order == "desc" else values[r], r))


def test_members_of_every_cell_at_every_step(views):
    for run, steps in RUN_STEPS.items():
        for step in steps:
            index, label = ids_of(run, step)
            predicted, p_given, top1 = evaluation(run, step)
            rows, _ = thumbnails_of(run, step)
            first = {"a": 0 if step < CHANGED_AT else CHANGED_AT, "b": 0}[run]
            seen = 0
            for t in range(C):
                for p in range(C):
                    rows_expected = expected_members(run, step, t, p)
                    got = views.members_impl(CTX, EID, run, TAG, step, t, p, limit=1000)
                    assert got["total"] == len(rows_expected)
                    assert [item["row"] for item in got["items"]] == rows_expected
                    assert [item["index"] for item in got["items"]] == index[rows_expected].tolist()
                    assert all(item["label"] == t and item["predicted"] == p for item in got["items"])
                    assert [item["p_given"] for item in got["items"]] == stored(p_given[rows_expected])
                    assert [item["confidence"] for item in got["items"]] == stored(top1[rows_expected])
                    tiles = {int(r): tile for tile, r in enumerate(rows)}
                    assert [item["thumbnail"] for item in got["items"]] == [
                        {"step": first, "tile": tiles[r]} if r in tiles else None for r in rows_expected]
                    seen += got["total"]
            assert seen == int((predicted >= 0).sum())  # every row but the left-out ones, once


@pytest.mark.parametrize("sort, order", [("p_given", "asc"), ("confidence", "asc"), ("p_given", "desc")])
def test_members_sorted_and_paged(client, sort, order):
    rows = expected_members("a", 20, 1, 1, sort, order)
    assert len(rows) > 15
    pages = [get_json(client, route_url("members", run="a", tag=TAG, step=20, true=1, predicted=1, sort=sort,
                                        order=order, offset=offset, limit=9)) for offset in range(0, len(rows) + 9, 9)]
    assert [item["row"] for page in pages for item in page["items"]] == rows
    assert pages[-1]["items"] == [] and {page["total"] for page in pages} == {len(rows)}
    assert pages[1]["offset"] == 9 and pages[0]["identity"] == "index"


def test_history_of_an_example(views, client):
    index_a = ids_of("a", 0)[0]
    for column in (0, 5, 150):  # 0 leaves at step 30; the others stay
        got = get_json(client, route_url("example_history", run="a", tag=TAG, index=int(index_a[column])))
        assert got["steps"] == RUN_STEPS["a"] and got["identity"] == "index"
        assert got["label"] == int(ids_of("a", 0)[1][column])
        for i, step in enumerate(RUN_STEPS["a"]):
            index, _ = ids_of("a", step)
            row = np.flatnonzero(index == index_a[column])
            predicted, p_given, top1 = evaluation("a", step)
            if row.size == 0 or predicted[row[0]] < 0:
                assert got["predicted"][i] is None and got["p_given"][i] is None and got["confidence"][i] is None
            else:
                assert got["predicted"][i] == predicted[row[0]]
                assert [got["p_given"][i], got["confidence"][i]] == stored([p_given[row[0]], top1[row[0]]])
    joined = views.example_history_impl(CTX, EID, "a", TAG, int(ids_of("a", CHANGED_AT)[0][-1]))
    assert joined["predicted"][:3] == [None] * 3 and joined["thumbnail"] is None  # new at 30; its row (299) has none
    # row 13 at step 0, row 12 (no tile) from step 30: step 0's; row 14, then 13: the later one's
    assert views.example_history_impl(CTX, EID, "a", TAG, int(index_a[13]))["thumbnail"] == {"step": 0, "tile": 1}
    assert views.example_history_impl(CTX, EID, "a", TAG, int(index_a[14]))["thumbnail"] == {"step": CHANGED_AT, "tile": 1}
    missing = sorted(set(range(1000)) - set(index_a.tolist()) - set(ids_of("a", CHANGED_AT)[0].tolist()))[0]
    answer = get_json(client, route_url("example_history", run="a", tag=TAG, index=missing), 404)
    assert f"example {missing} was never evaluated" in answer["error"]


def _changes(run_a, step_a, run_b, step_b, t, p):
    _, label_a = ids_of(run_a, step_a)
    _, label_b = ids_of(run_b, step_b)
    pred_a, pred_b = evaluation(run_a, step_a)[0], evaluation(run_b, step_b)[0]
    at_a = {r for r in range(N) if label_a[r] == t and pred_a[r] == p}
    at_b = {r for r in range(N) if label_b[r] == t and pred_b[r] == p}
    return at_b - at_a, at_a - at_b


@pytest.mark.parametrize("query, a, b", [
    (dict(run="a", step=20, step_a=0), ("a", 0), ("a", 20)),
    (dict(run="a", step=10, step_a=20), ("a", 20), ("a", 10)),
    (dict(run="b", step=10, run_a="a"), ("a", 10), ("b", 10)),
    (dict(run="a", step=20, run_a="b", step_a=0), ("b", 0), ("a", 20)),
])
def test_cell_changes_between_steps_and_runs(client, query, a, b):
    for t in range(C):
        for p in range(C):
            entered, left = _changes(*a, *b, t, p)
            got = get_json(client, route_url("cell_changes", tag=TAG, true=t, predicted=p, limit=1000, **query))
            assert got["entered"]["total"] == len(entered) and got["left"]["total"] == len(left)
            assert sorted(item["row"] for item in got["entered"]["items"]) == sorted(entered)
            assert sorted(item["row"] for item in got["left"]["items"]) == sorted(left)
            _, p_given_b, top1_b = evaluation(*b)
            assert [item["confidence"] for item in got["entered"]["items"]] == sorted(
                stored(top1_b[sorted(entered)]), reverse=True)
            assert all(item["predicted"] == p for item in got["left"]["items"])  # A's values


def _union_history(run):
    """``{index: (label, [(correct or None, p_given or None) per step])}``, by loops."""
    result = {}
    steps = RUN_STEPS[run]
    for j, step in enumerate(steps):
        index, label = ids_of(run, step)
        predicted, p_given, _ = evaluation(run, step)
        for r in range(index.size):
            entry = result.setdefault(int(index[r]), [None, [(None, None)] * len(steps)])
            entry[0] = int(label[r])
            if predicted[r] >= 0:
                entry[1][j] = (bool(predicted[r] == label[r]), float(np.float16(p_given[r])))
    return result


def test_forgetting_equals_a_direct_count(client):
    expected_per_class = {name: [0] * C for name in ("forgetting_events", "forgotten_examples", "never_learned",
                                                     "unforgettable", "examples")}
    events_of = {}
    for index, (label, seq) in _union_history("a").items():
        events = sum(1 for (was, _), (now, _) in zip(seq, seq[1:]) if was is True and now is False)
        learned = any(c is True for c, _ in seq)
        events_of[index] = events
        for name, count in (("forgetting_events", events), ("forgotten_examples", events > 0), ("examples", 1),
                            ("never_learned", not learned), ("unforgettable", learned and events == 0)):
            expected_per_class[name][label] += int(count)
    got = get_json(client, route_url("forgetting", run="a", tag=TAG, limit=25))
    assert got["evaluations"] == 5 and got["steps"] == RUN_STEPS["a"]
    assert got["per_class"] == expected_per_class
    assert sum(expected_per_class["examples"]) == N + 1 and sum(expected_per_class["forgetting_events"]) > 10
    top = sorted((i for i in events_of if events_of[i]), key=lambda i: (-events_of[i], i))[:25]
    assert [item["index"] for item in got["top"]] == top
    assert [item["forgetting_events"] for item in got["top"]] == [events_of[i] for i in top]


def test_data_map_equals_a_direct_computation(client):
    got = get_json(client, route_url("data_map", run="a", tag=TAG))
    history = _union_history("a")
    evaluated = {i: [(c, p) for c, p in seq if c is not None] for i, (_, seq) in history.items()}
    kept = sorted(i for i, seen in evaluated.items() if seen)
    assert got["index"] == kept and got["evaluations"] == 5 and got["regions"] == ["easy", "ambiguous", "hard"]
    variabilities = []
    for k, index in enumerate(kept):
        probs = [p for _, p in evaluated[index]]
        mean = sum(probs) / len(probs)
        std = math.sqrt(sum((p - mean) ** 2 for p in probs) / len(probs))
        variabilities.append(std)
        assert got["confidence"][k] == pytest.approx(mean, abs=6e-5)
        assert got["variability"][k] == pytest.approx(std, abs=6e-5)
        assert got["correctness"][k] == pytest.approx(sum(c for c, _ in evaluated[index]) / len(probs), abs=6e-5)
        assert got["label"][k] == history[index][0]
    cut = float(np.quantile(variabilities, 2 / 3))
    assert got["thresholds"]["variability"] == pytest.approx(cut, abs=6e-5) and got["thresholds"]["confidence"] == 0.5
    for k, std in enumerate(variabilities):
        if abs(std - cut) > 1e-6:
            mean = got["confidence"][k]
            assert got["region"][k] == (1 if std >= cut and std > 0 else 0 if mean >= 0.5 else 2)
    assert set(got["region"]) == {0, 1, 2}
    with_tiles = {int(ids_of("a", step)[0][r]) for step in (0, CHANGED_AT) for r in thumbnails_of("a", step)[0]}
    assert [index for index, tile in zip(got["index"], got["tile"]) if tile is not None] == sorted(with_tiles)


def test_thumbnail_pages_hold_each_rows_tile(client):
    layout = get_json(client, route_url("example_thumbnails_layout", run="a", tag=TAG, step=0))
    rows, tiles = thumbnails_of("a", 0)
    assert (layout["tile_height"], layout["tile_width"], layout["channels"]) == (6, 5, 1)
    assert layout["tiles"] == rows.size and layout["complete"] is False and layout["pages"] >= 1
    members = get_json(client, route_url("members", run="a", tag=TAG, step=0, true=2, predicted=2, limit=1000))
    listed = [item for item in members["items"] if item["thumbnail"] is not None]
    assert listed
    for item in listed[:5]:
        tile = item["thumbnail"]["tile"]
        page, grid_row, grid_col = er.tile_cell(tile, layout["columns"], layout["tiles_per_page"])
        response = client.get(route_url("example_thumbnail", run="a", tag=TAG, step=0, page=page - 1))
        assert response.status_code == 200 and response.headers["Content-Type"] == "image/png"
        image = np.asarray(Image.open(io.BytesIO(response.get_data())).convert("L"))
        cut = image[grid_row * 6:(grid_row + 1) * 6, grid_col * 5:(grid_col + 1) * 5]
        assert np.array_equal(cut, tiles[list(rows).index(item["row"])])
    answer = get_json(client, route_url("example_thumbnail", run="a", tag=TAG, step=0, page=layout["pages"]), 404)
    assert "page(s)" in answer["error"]
    assert "no example thumbnails at step 10" in get_json(
        client, route_url("example_thumbnails_layout", run="a", tag=TAG, step=10), 404)["error"]


def test_tags_list_the_record(client):
    runs = get_json(client, route_url("tags"))["runs"]
    assert {"example_predictions", "example_thumbnails"} <= set(runs["a"][TAG]["diagnostics"])


@pytest.mark.parametrize("route, params, code, message", [
    ("members", dict(step=0, true=0, predicted=0, sort="loss"), 400, "'sort' must be one of confidence, p_given"),
    ("members", dict(step=0, true=0, predicted=0, order="up"), 400, "'order' must be one of desc, asc"),
    ("members", dict(step=0, true=0, predicted=0, limit=1001), 400, "'limit' = 1001 is out of range [1, 1000]"),
    ("members", dict(step=0, true=0, predicted=0, limit=0), 400, "out of range"),
    ("members", dict(step=0, true=4, predicted=0), 400, "'true' = 4 is out of range"),
    ("members", dict(step=5, true=0, predicted=0), 404, "no example predictions at step 5"),
    ("example_history", dict(index=-1), 400, "non-negative integer"),
    ("forgetting", dict(limit=5000), 400, "out of range"),
    ("cell_changes", dict(step=0, true=0, predicted=0), 400, "needs step_a"),
    ("cell_changes", dict(step=0, true=0, predicted=0, run_a="other_ids"), 400, "280 and 300 examples"),
    ("cell_changes", dict(step=CHANGED_AT, step_a=0, true=0, predicted=0), 400, "indices differ"),
    ("cell_changes", dict(step=0, true=0, predicted=0, run_a="nope"), 404, "run 'nope' not found"),
])
def test_bad_parameters(client, route, params, code, message):
    answer = get_json(client, route_url(route, run="a", tag=TAG, **params), code)
    assert message in answer["error"], answer


def test_damaged_values_answer_404_saying_why(client, views):
    url = route_url("members", run="damaged", tag=TAG, true=0, predicted=0)
    assert get_json(client, url + "&step=10")["total"] >= 0
    assert "unreadable: example_predictions: not a readable NPZ" in get_json(client, url + "&step=20", 404)["error"]
    assert "example ids of step 5, which are not stored" in get_json(client, url + "&step=30", 404)["error"]
    history = views.example_history_impl(CTX, EID, "damaged", TAG, int(ids_of("damaged", 0)[0][0]))
    assert history["steps"] == [0, 10]  # the unreadable steps are skipped
    bare = route_url("members", run="damaged", tag="confusion/bare", step=0, true=0, predicted=0)
    assert "no per-example record for run 'damaged', tag 'confusion/bare'" in get_json(client, bare, 404)["error"]


@pytest.mark.subprocess
@pytest.mark.parametrize("load_fast", [True, False], ids=["load_fast=true", "load_fast=false"])
def test_tensorboard_serves_the_same_answers(logdir, client, load_fast):
    urls = [route_url("members", run="a", tag=TAG, step=s, true=t, predicted=p, limit=50)
            for s, t, p in [(0, 0, 0), (20, 1, 2), (40, 3, 3)]]
    urls += [route_url("example_history", run="a", tag=TAG, index=int(ids_of("a", 0)[0][i])) for i in (3, 150)]
    urls += [route_url("cell_changes", run="b", tag=TAG, step=10, run_a="a", true=1, predicted=1),
             route_url("cell_changes", run=QUOTED, tag=TAG, step=10, step_a=0, true=2, predicted=2),
             route_url("example_thumbnails_layout", run=QUOTED, tag=TAG, step=0)]
    with tensorboard_server(logdir, load_fast) as server:
        for url in urls:
            assert server.get_json(url) == json.loads(client.get(url).get_data()), url
        page = route_url("example_thumbnail", run=QUOTED, tag=TAG, step=0, page=0)
        status, headers, body = server.get(page)
        assert status == 200 and headers["Content-Type"] == "image/png" and body == client.get(page).get_data()
