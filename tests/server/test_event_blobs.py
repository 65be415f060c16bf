"""The blobs read straight from a run's event files, for the run and tag names
the Rust data server cannot name (``event_blobs``), without the Rust server:
which write wins, and that each file is read once, then only its new bytes.
The checks against the Rust server are ``test_quoted_names.py``'s and
``test_plugin_diagnostics.py``'s."""
from __future__ import annotations

import os
import struct

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


# --- read once and kept: one pass per file, then only the bytes written since ----------------

META = summary_pb2.SummaryMetadata()


def write_steps(writer: SummaryWriter, steps, suffix: bytes = b"") -> None:
    for step in steps:
        write_raw_value(writer, TAG, blobs(b"index %d%s" % (step, suffix), b"sprite %d%s" % (step, suffix)), step,
                        meta=META)
    writer.flush()


def events_file(directory) -> str:
    (name,) = [name for name in os.listdir(directory) if "tfevents" in name]
    return os.path.join(directory, name)


def expected(step: int, suffix: bytes = b"") -> list:
    return [b"index %d%s" % (step, suffix), b"sprite %d%s" % (step, suffix)]


def test_a_run_is_scanned_once_then_only_its_new_bytes(tmp_path):
    writer = SummaryWriter(str(tmp_path / RUN))
    write_steps(writer, range(3))
    path, logdir, files = events_file(tmp_path / RUN), str(tmp_path), event_blobs.EventBlobs()
    for _ in range(3):  # the examples route reads blob 0, the sprite route blobs 0 and 1: each step again
        for step in range(3):
            assert files.read(logdir, RUN, TAG, step) == expected(step)
    assert files.stats.bytes_scanned == os.path.getsize(path)  # one pass
    assert files.stats.records_read == 3  # each record read once, then kept

    before = os.path.getsize(path)
    write_steps(writer, [3])
    write_steps(writer, [1], b" again")  # a step written again: the last write wins
    writer.close()
    assert files.read(logdir, RUN, TAG, 3) == expected(3)
    assert files.read(logdir, RUN, TAG, 1) == expected(1, b" again")
    assert files.read(logdir, RUN, TAG, 2) == expected(2)
    assert files.stats.bytes_scanned == before + (os.path.getsize(path) - before)  # the new bytes only


def record_ends(data: bytes) -> list:
    """The offset after each record of an event file's bytes."""
    ends, offset = [], 0
    while offset < len(data):
        (length,) = struct.unpack_from("<Q", data, offset)
        offset += 12 + length + 4
        ends.append(offset)
    return ends


def test_a_partial_record_is_read_once_it_is_whole(tmp_path):
    source = SummaryWriter(str(tmp_path / "source"))
    write_steps(source, range(2))
    source.close()
    with open(events_file(tmp_path / "source"), "rb") as handle:
        data = handle.read()
    *_, last_start, end = [0] + record_ends(data)
    cut = last_start + (end - last_start) // 2  # a writer half-way through step 1's record
    run = tmp_path / "logs" / RUN
    run.mkdir(parents=True)
    path = str(run / os.path.basename(events_file(tmp_path / "source")))
    with open(path, "wb") as handle:
        handle.write(data[:cut])
    logdir, files = str(tmp_path / "logs"), event_blobs.EventBlobs()
    assert files.read(logdir, RUN, TAG, 0) == expected(0)
    assert files.read(logdir, RUN, TAG, 1) is None
    with open(path, "ab") as handle:
        handle.write(data[cut:])
    assert files.read(logdir, RUN, TAG, 1) == expected(1)
    assert files.stats.bytes_scanned == cut + (len(data) - last_start)  # the partial record read again, no more


def test_a_rewritten_file_is_indexed_again_and_later_files_win(tmp_path):
    def event_bytes(name: str, steps, suffix: bytes) -> bytes:
        writer = SummaryWriter(str(tmp_path / name))
        write_steps(writer, steps, suffix)
        writer.close()
        with open(events_file(tmp_path / name), "rb") as handle:
            return handle.read()

    run = tmp_path / "logs" / RUN
    run.mkdir(parents=True)
    first, second = str(run / "events.out.tfevents.1.host"), str(run / "events.out.tfevents.2.host")
    with open(first, "wb") as handle:
        handle.write(event_bytes("a", range(3), b" a"))
    logdir, files = str(tmp_path / "logs"), event_blobs.EventBlobs()
    assert files.read(logdir, RUN, TAG, 2) == expected(2, b" a")
    with open(first, "wb") as handle:  # replaced by a shorter file
        handle.write(event_bytes("b", range(1), b" b"))
    assert files.read(logdir, RUN, TAG, 0) == expected(0, b" b")
    assert files.read(logdir, RUN, TAG, 2) is None
    with open(second, "wb") as handle:  # a later file (a resumed run) writes step 0 again
        handle.write(event_bytes("c", [0], b" c"))
    assert files.read(logdir, RUN, TAG, 0) == expected(0, b" c")


def test_the_process_shares_one_index(tmp_path):
    writer = SummaryWriter(str(tmp_path / RUN))
    write_steps(writer, [7])
    writer.close()
    scanned = event_blobs.shared.stats.bytes_scanned
    for _ in range(2):
        assert event_blobs.read_blob_sequence(str(tmp_path), RUN, TAG, 7) == expected(7)
    assert event_blobs.shared.stats.bytes_scanned == scanned + os.path.getsize(events_file(tmp_path / RUN))
