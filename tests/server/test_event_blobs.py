"""The blobs read straight from a run's event files, for the run and tag names
the Rust data server cannot name (``event_blobs``), without the Rust server:
the end-to-end check against it is ``test_plugin_diagnostics.py``'s."""
from __future__ import annotations

import numpy as np
import pytest
from tensorboard.compat.proto import summary_pb2
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.server import event_blobs
from tests.support.plugin_app import write_raw_value

RUN = 'nested/say "hi" \\ run'
TAG = 'confusion/"quoted"\\tag/examples'


def blobs(*values: bytes) -> np.ndarray:
    return np.array(values, dtype=object)


@pytest.mark.parametrize("run, tag, cannot", [
    ("train", "confusion/test", False),
    ("lr=0.1 Ünïcode <b>", "confusion/test/examples", False),
    ('say "hi"', "confusion/test", True),
    ("train", "back\\slash", True),
    ("train", "tab\there", True),
])
def test_key_cannot_name_quotes_backslashes_and_control_characters(run, tag, cannot):
    assert event_blobs.key_cannot_name(run, tag) is cannot


def test_the_last_value_of_a_step_is_read_from_the_run_directory(tmp_path):
    writer = SummaryWriter(str(tmp_path / RUN))
    meta = summary_pb2.SummaryMetadata()
    write_raw_value(writer, TAG, blobs(b"index 1", b"sprite 1"), 1, meta=meta)
    write_raw_value(writer, TAG, blobs(b"index 2", b"sprite 2"), 2, meta=meta)
    write_raw_value(writer, TAG, blobs(b"index 2 again", b"sprite 2 again"), 2, meta=meta)  # rewritten: last wins
    write_raw_value(writer, "other", blobs(b"x"), 1, meta=meta)
    writer.close()
    (tmp_path / RUN / "not_an_event_file.txt").write_text(TAG)

    logdir = str(tmp_path)
    assert event_blobs.read_blob_sequence(logdir, RUN, TAG, 1) == [b"index 1", b"sprite 1"]
    assert event_blobs.read_blob_sequence(logdir, RUN, TAG, 2) == [b"index 2 again", b"sprite 2 again"]
    assert event_blobs.read_blob_sequence(logdir, RUN, TAG, 3) is None
    assert event_blobs.read_blob_sequence(logdir, RUN, "missing", 1) is None
    for run in ("nested/missing", "nested/../nested/x", "nested//x", "..", ""):
        assert event_blobs.read_blob_sequence(logdir, run, TAG, 1) is None, run


def test_the_logdir_itself_is_the_run_dot(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    write_raw_value(writer, TAG, blobs(b"a", b"b"), 0, meta=summary_pb2.SummaryMetadata())
    writer.close()
    assert event_blobs.read_blob_sequence(str(tmp_path), ".", TAG, 0) == [b"a", b"b"]
