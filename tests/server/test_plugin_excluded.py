"""Rows left out of a matrix (NaN logits): the reader, ``matrix_impl``/``tags_impl``
and their routes, over real event files written with a real SummaryWriter and
:func:`tb_fmnist_plugin.summary.write_excluded_rows`, read through
TensorBoard's real data provider (Python loader)."""
from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from tensorboard import errors
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.reader import ConfusionReader
from tb_fmnist_plugin.server.views import ConfusionViews
from tests.support.events import route_url  # noqa: E402
from tests.support.plugin_app import BASE, CTX, EID, counting, get_json, load_provider, make_app, write_raw_value

TAG = "confusion/test"
RUN = "nan run"
QUOTED = 'say "hi" \\ <b>'  # names the Rust server's blob keys cannot carry; markup
MISNAMED = "misnamed"
OLD = "old"
STEPS = [0, 1, 2, 3]
#: What RUN's excluded-rows series holds at each step (None: unknown).
EXCLUDED = {0: 0, 1: 7, 2: None, 3: None}


def matrix_at(step: int) -> np.ndarray:
    return np.array([[5 + step, 1], [2, 6 + step]])


@pytest.fixture(scope="module")
def logdir(tmp_path_factory):
    root = tmp_path_factory.mktemp("excluded")
    writer = SummaryWriter(str(root / RUN))
    for step in STEPS:
        summary.write_confusion_matrix(writer, TAG, matrix_at(step), step, walltime=10.0 + step)
    summary.write_excluded_rows(writer, TAG, 0, 0)
    summary.write_excluded_rows(writer, TAG, 4, 1)
    summary.write_excluded_rows(writer, TAG, 7, 1)  # rewritten: the last write wins
    bad = np.asarray(2.5, dtype=np.float32)  # not a count: step 2 unknown
    write_raw_value(writer, metadata.excluded_tag(TAG), bad, 2, meta=metadata.create_excluded_metadata(TAG))
    writer.close()  # step 3: no value, unknown

    writer = SummaryWriter(str(root / QUOTED))
    summary.write_confusion_matrix(writer, QUOTED, matrix_at(0), 0)
    summary.write_excluded_rows(writer, QUOTED, 5, 0)
    writer.close()

    writer = SummaryWriter(str(root / MISNAMED))  # its excluded series names another matrix
    summary.write_confusion_matrix(writer, TAG, matrix_at(0), 0)
    meta = metadata.create_excluded_metadata("confusion/other")
    write_raw_value(writer, metadata.excluded_tag(TAG), metadata.encode_excluded(3), 0, meta=meta)
    writer.close()

    writer = SummaryWriter(str(root / OLD))  # written before the kind existed
    summary.write_confusion_matrix(writer, TAG, matrix_at(0), 0)
    writer.close()
    return str(root)


@pytest.fixture(scope="module")
def views(logdir):
    return ConfusionViews(ConfusionReader(load_provider(logdir)), samples_limit=None)


def test_matrix_carries_the_excluded_count_of_its_step(views, caplog):
    with caplog.at_level(logging.WARNING):
        for step in STEPS:
            body = views.matrix_impl(CTX, EID, RUN, TAG, step)
            np.testing.assert_array_equal(body["matrix"], matrix_at(step))
            want = EXCLUDED[step]
            assert (body["excluded_rows"], body["excluded_reason"]) == (want, None if want is None else "nan_logits")
        for run, tag, want in ((QUOTED, QUOTED, 5), (MISNAMED, TAG, None), (OLD, TAG, None)):
            assert views.matrix_impl(CTX, EID, run, tag, 0)["excluded_rows"] == want
        views.matrix_impl(CTX, EID, MISNAMED, TAG, 0)
    warnings = [r.getMessage() for r in caplog.records]
    bad = [m for m in warnings if "excluded-rows value at step 2" in m]
    assert len(bad) == 1 and "float32" in bad[0]  # once, naming the problem
    misnamed = [m for m in warnings if "'confusion/other'" in m]
    assert len(misnamed) == 1 and repr(metadata.excluded_tag(TAG)) in misnamed[0]


def test_excluded_series_is_no_matrix_and_tags_list_it_nowhere(views):
    runs = views.tags_impl(CTX, EID)["runs"]
    assert set(runs[RUN]) == {TAG} and set(runs[QUOTED]) == {QUOTED}
    assert runs[RUN][TAG]["steps"] == STEPS and "excluded_rows" not in runs[RUN][TAG]
    with pytest.raises(errors.NotFoundError, match="not found"):
        views.matrix_impl(CTX, EID, RUN, metadata.excluded_tag(TAG), 0)


def test_tags_with_latest_carry_the_last_steps_excluded_count(views):
    body = views.tags_impl(CTX, EID, with_latest=True)
    assert body["latest_excluded_rows"] == {RUN: {TAG: None}, QUOTED: {QUOTED: 5}, MISNAMED: {TAG: None}, OLD: {TAG: None}}
    assert "latest_excluded_rows" not in views.tags_impl(CTX, EID)


def test_excluded_rows_cost_no_extra_provider_call(logdir):
    """Listed and read with their matrices: the listing stays at its constant
    number of calls, one step's matrix at one listing and one read."""
    provider = counting(logdir)
    views = ConfusionViews(ConfusionReader(provider), samples_limit=None)
    views.tags_impl(CTX, EID, with_latest=True)
    assert dict(provider.calls) == {"list_tensors": 1, "read_tensors": 1, "list_blob_sequences": 1}
    provider.calls.clear()
    fresh = ConfusionViews(ConfusionReader(provider), samples_limit=None)
    assert fresh.matrix_impl(CTX, EID, RUN, TAG, 1)["excluded_rows"] == 7
    assert dict(provider.calls) == {"list_tensors": 1, "read_tensors": 1}


def test_matrix_route_answers_the_count_and_follows_new_data(logdir, tmp_path):
    client = make_app(logdir)[0]
    body = get_json(client, route_url("matrix", run=RUN, tag=TAG, step=1))
    assert (body["matrix"], body["excluded_rows"], body["excluded_reason"]) == (matrix_at(1).tolist(), 7, "nan_logits")
    assert get_json(client, route_url("matrix", run=QUOTED, tag=QUOTED, step=0))["excluded_rows"] == 5
    latest = json.loads(client.get(BASE + "tags", headers={"X-Confusion-Latest": "1"}).get_data())
    assert latest["latest_excluded_rows"][QUOTED] == {QUOTED: 5}

    # the count written after the matrix (as the hooks do) is seen after a reload
    writer = SummaryWriter(str(tmp_path / "run"))
    summary.write_confusion_matrix(writer, TAG, matrix_at(0), 0, walltime=10.0)
    writer.flush()
    client, multiplexer, _ = make_app(str(tmp_path))
    assert get_json(client, route_url("matrix", run="run", tag=TAG, step=0))["excluded_rows"] is None
    summary.write_excluded_rows(writer, TAG, 2, 0, walltime=10.0)
    writer.close()
    multiplexer.Reload()
    assert get_json(client, route_url("matrix", run="run", tag=TAG, step=0))["excluded_rows"] == 2
