"""Blobs the Rust data server cannot hand out, read from the run's event files.

TensorBoard's Rust data server (``--load_fast=true``) names each blob by a key
holding the run and tag, but cannot parse its own key back when either name
holds ``"``, ``\\`` or a control character (its JSON decoder accepts only
strings without escapes): ``read_blob`` then fails with "failed to parse blob
key" for every blob of such a run or tag. For those names only, the reader
finds the blob-sequence value of a step it was listed by the data provider
in the run's event files under ``--logdir`` (local or any filesystem
TensorBoard reads) with TensorBoard's own event file reader.
"""
from __future__ import annotations

import os
from typing import List, Optional

from tensorboard.backend.event_processing import event_file_loader, io_wrapper
from tensorboard.compat import tf
from tensorboard.compat.proto import event_pb2


def key_cannot_name(run: str, tag: str) -> bool:
    """Whether the Rust data server's blob keys fail for ``run`` / ``tag``."""
    return any(ch in '"\\' or ord(ch) < 0x20 for ch in run + tag)


def _run_directory(logdir: str, run: str) -> Optional[str]:
    """The directory of ``run`` (a data provider's run name: the path
    relative to ``logdir`` with ``/`` separators, ``.`` for the logdir)."""
    parts = [] if run == "." else run.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    directory = os.path.join(logdir, *parts) if parts else logdir
    return directory if tf.io.gfile.isdir(directory) else None


def read_blob_sequence(logdir: str, run: str, tag: str, step: int) -> Optional[List[bytes]]:
    """The blobs of the value of ``tag`` at ``step`` in ``run``'s event
    files (the last one written, as the data providers keep), or None."""
    directory = _run_directory(logdir, run)
    if directory is None:
        return None
    needle = tag.encode("utf-8")
    found = None
    for path in sorted(io_wrapper.ListDirectoryAbsolute(directory)):
        if not io_wrapper.IsSummaryEventsFile(path):
            continue
        for record in event_file_loader.RawEventFileLoader(path).Load():
            if needle not in record:  # most records: no need to parse them
                continue
            event = event_pb2.Event.FromString(record)
            if event.step != step:
                continue
            for value in event.summary.value:
                if value.tag == tag and value.HasField("tensor"):
                    found = list(value.tensor.string_val)
    return found
