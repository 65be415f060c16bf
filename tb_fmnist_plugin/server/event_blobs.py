"""Blobs the Rust data server cannot hand out, read from the run's event files.

TensorBoard's Rust data server (``--load_fast=true``) names each blob by a key
holding the run and tag, but cannot parse its own key back when either name
holds ``"``, ``\\`` or a control character (its JSON decoder accepts only
strings without escapes): ``read_blob`` then fails with "failed to parse blob
key" for every blob of such a run or tag. For those names only, the reader
finds the blob-sequence value of a step it was listed by the data provider
in the run's event files under ``--logdir`` (local or any filesystem
TensorBoard reads).

Reading is done once and kept: :class:`EventBlobs` indexes each event file of
a run in one pass, ``(tag, step) -> (offset, length)`` of the record holding
each blob-sequence (string tensor) value, and keeps the index while the
file's size and modification time are unchanged. A file that grew is read
from where the last pass stopped (event files are appended to, as TensorBoard
assumes); one that shrank or was rewritten is indexed again. A request then
reads the one record it needs; the blobs read last are kept too (the sprite
route reads the index and the sprite of the same record). Both caches are
bounded in entries and bytes (:class:`~.caches.StampedCache`).

Which write wins: the last record holding ``(tag, step)``, files in name
order, as before (TensorBoard's loaders keep the last write of a listed
step). Records are framed by their length and its checksum, which is checked
(a file is read up to a bad one); the data's own CRC-32C is not, as the Rust
data server does not by default (in pure Python it is what made TensorBoard's
fallback reader take seconds per request): a damaged record fails to parse
or is served as stored, and the format's decoders check every value read.
"""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import struct
import sys
import threading
from typing import IO, Dict, Iterator, List, Optional, Tuple

from google.protobuf.message import DecodeError
from tensorboard.backend.event_processing import io_wrapper
from tensorboard.compat import tf
from tensorboard.compat.proto import event_pb2, types_pb2
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

from tb_fmnist_plugin.server.caches import StampedCache

#: A record's header: the data's length and the masked CRC-32C of that length.
_HEADER = struct.Struct("<QI")
#: A record's footer: the masked CRC-32C of its data.
_FOOTER_BYTES = 4
#: Bytes read at a time while indexing.
_CHUNK_BYTES = 4 * 1024 * 1024
#: Event-file indexes kept: at most this many files, of this many bytes in all
#: (about ``_ENTRY_BYTES`` per value); a larger index is built every request.
_FILES_MAX_ENTRIES = 10_000
_FILES_MAX_BYTES = 64 * 1024 * 1024
_ENTRY_BYTES = 256
#: Blob sequences kept after they were read (index and sprite of a step).
_VALUES_MAX_ENTRIES = 256
_VALUES_MAX_BYTES = 64 * 1024 * 1024

#: A file's (size, modification time in ns or None where unknown).
Stamp = Tuple[int, Optional[int]]
#: A record's file offset and data length.
Location = Tuple[int, int]


def key_cannot_name(run: str, tag: str) -> bool:
    """Whether the Rust data server's blob keys fail for ``run`` / ``tag``."""
    return any(ch in '"\\' or ord(ch) < 0x20 for ch in run + tag)


@dataclasses.dataclass
class Stats:
    """What an :class:`EventBlobs` read from disk (checks that it does not rescan)."""

    #: Bytes of event files read to build or extend indexes.
    bytes_scanned: int = 0
    #: Records read to answer a request (the values cache missed).
    records_read: int = 0


@dataclasses.dataclass
class _FileIndex:
    """Where each blob-sequence value of one event file is, read up to ``end``
    (the offset after its last whole record); ``generation`` names a build."""

    generation: int
    end: int = 0
    values: Dict[Tuple[str, int], Location] = dataclasses.field(default_factory=dict)


class EventBlobs:
    """Blob sequences read from event files through bounded, refreshed indexes."""

    def __init__(self) -> None:
        self._files = StampedCache(_FILES_MAX_ENTRIES, _FILES_MAX_BYTES)
        self._values = StampedCache(_VALUES_MAX_ENTRIES, _VALUES_MAX_BYTES)
        self._generations = itertools.count()
        self._lock = threading.Lock()
        self.stats = Stats()

    def read(self, logdir: str, run: str, tag: str, step: int) -> Optional[List[bytes]]:
        """The blobs of the value of ``tag`` at ``step`` in ``run``'s event
        files (the last one written, as the data providers keep), or None."""
        directory = _run_directory(logdir, run)
        if directory is None:
            return None
        with self._lock:
            found = self._locate(directory, tag, step)
        if found is None:
            return None
        path, generation, (offset, length) = found
        key = (path, offset, tag)
        blobs = self._values.get(key, generation)
        if blobs is None:
            blobs = _read_value(path, offset, length, tag, step)
            with self._lock:
                self.stats.records_read += 1
                if blobs is None:  # the file changed under the index: index it again next time
                    self._files.retain(lambda kept: kept != path)
            if blobs is None:
                return None
            self._values.put(key, generation, blobs, sum(len(blob) for blob in blobs) + 64)
        return list(blobs)

    def _locate(self, directory: str, tag: str, step: int) -> Optional[Tuple[str, int, Location]]:
        """The last record holding ``(tag, step)`` in ``directory``'s event
        files, later files first (each indexed or refreshed as needed)."""
        try:
            paths = sorted(p for p in io_wrapper.ListDirectoryAbsolute(directory) if io_wrapper.IsSummaryEventsFile(p))
        except (OSError, tf.errors.OpError):  # the run's directory went away
            return None
        for path in reversed(paths):
            index = self._index(path)
            location = None if index is None else index.values.get((tag, step))
            if location is not None:
                return path, index.generation, location
        return None

    def _index(self, path: str) -> Optional[_FileIndex]:
        """The index of ``path`` as the file is now: kept, extended by the
        bytes written since, or built; None if the file is gone."""
        stamp = _stamp(path)
        if stamp is None:
            return None
        kept = self._files.latest(path)
        if kept is not None and kept[0] == stamp:
            return kept[1]
        grown = kept is not None and stamp[0] > kept[0][0]
        index = kept[1] if grown else _FileIndex(next(self._generations))
        start = index.end
        try:
            with _open_at(path, start) as handle:
                for offset, data in _records(handle, start, stamp[0]):
                    _index_record(index, offset, data)
                    index.end = offset + _HEADER.size + len(data) + _FOOTER_BYTES
        except (OSError, tf.errors.OpError):  # the file went away while read
            return None
        self.stats.bytes_scanned += stamp[0] - start
        self._files.put(path, stamp, index, _ENTRY_BYTES * (len(index.values) + 1))
        return index


#: The indexes every reader of this process shares (keyed by file path).
shared = EventBlobs()


def read_blob_sequence(logdir: str, run: str, tag: str, step: int) -> Optional[List[bytes]]:
    """:meth:`EventBlobs.read` of the process's :data:`shared` indexes."""
    return shared.read(logdir, run, tag, step)


def _run_directory(logdir: str, run: str) -> Optional[str]:
    """The directory of ``run`` (a data provider's run name: the path
    relative to ``logdir`` with ``/`` separators, ``.`` for the logdir)."""
    parts = [] if run == "." else run.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return None
    directory = os.path.join(logdir, *parts) if parts else logdir
    return directory if tf.io.gfile.isdir(directory) else None


def _is_local(path: str) -> bool:
    return "://" not in path


def _stamp(path: str) -> Optional[Stamp]:
    """``path``'s size and modification time, or None if it is gone."""
    try:
        if _is_local(path):
            status = os.stat(path)
            return status.st_size, status.st_mtime_ns
        remote = tf.io.gfile.stat(path)
        return int(remote.length), getattr(remote, "mtime_nsec", None)
    except (OSError, tf.errors.OpError):
        return None


@contextlib.contextmanager
def _open_at(path: str, offset: int) -> Iterator[IO[bytes]]:
    """``path`` open for reading from byte ``offset`` (a filesystem whose
    files TensorBoard's fallback cannot seek is read up to it)."""
    opened = open(path, "rb") if _is_local(path) else tf.io.gfile.GFile(path, "rb")
    with opened as handle:
        if hasattr(handle, "seek"):
            handle.seek(offset)
        else:
            skipped = 0
            while skipped < offset:
                chunk = handle.read(min(_CHUNK_BYTES, offset - skipped))
                if not chunk:
                    break
                skipped += len(chunk)
        yield handle


def _records(handle: IO[bytes], offset: int, size: int) -> Iterator[Tuple[int, bytes]]:
    """``(offset, data)`` of each whole record from ``offset`` (where
    ``handle`` is) to ``size``; stops at a partial record or a bad header."""
    buffer, base = b"", offset  # buffer: the file's bytes from offset base

    def fill(count: int) -> bool:
        """Whether ``count`` bytes from ``offset`` are in the buffer (read if needed)."""
        nonlocal buffer, base
        held = len(buffer) - (offset - base)
        if held >= count:
            return True
        want = min(max(count - held, _CHUNK_BYTES), size - base - len(buffer))
        if want <= 0:
            return False
        buffer, base = buffer[offset - base:] + handle.read(want), offset
        return len(buffer) >= count

    while fill(_HEADER.size):
        at = offset - base
        length, length_crc = _HEADER.unpack_from(buffer, at)
        if masked_crc32c(buffer[at:at + 8]) != length_crc:
            return
        if not fill(_HEADER.size + length + _FOOTER_BYTES):
            return
        at = offset - base
        yield offset, buffer[at + _HEADER.size:at + _HEADER.size + length]
        offset += _HEADER.size + length + _FOOTER_BYTES


def _index_record(index: _FileIndex, offset: int, data: bytes) -> None:
    """Note where the record at ``offset`` holds blob-sequence values (string
    tensors, as TensorBoard stores blob sequences): later records win."""
    try:
        event = event_pb2.Event.FromString(data)
    except DecodeError:
        return
    for value in event.summary.value:
        if value.HasField("tensor") and value.tensor.dtype == types_pb2.DT_STRING:
            index.values[(sys.intern(value.tag), event.step)] = (offset, len(data))


def _read_value(path: str, offset: int, length: int, tag: str, step: int) -> Optional[Tuple[bytes, ...]]:
    """The blobs of ``tag`` in the record at ``offset`` if it still holds
    ``step`` (the last such value of the event, as indexed), or None."""
    try:
        with _open_at(path, offset) as handle:
            record = handle.read(_HEADER.size + length)
    except (OSError, tf.errors.OpError):
        return None
    if len(record) < _HEADER.size + length or _HEADER.unpack_from(record)[0] != length:
        return None
    try:
        event = event_pb2.Event.FromString(record[_HEADER.size:_HEADER.size + length])
    except DecodeError:
        return None
    if event.step != step:
        return None
    found = None
    for value in event.summary.value:
        if value.tag == tag and value.HasField("tensor"):
            found = tuple(value.tensor.string_val)
    return found
