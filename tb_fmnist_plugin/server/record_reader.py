"""Read the per-example record (``docs/format.md``, *Per-example record values*)
back through TensorBoard's data provider.

The record of a matrix tag ``M`` is three blob sequences (``M/example_ids``,
``M/example_predictions``, ``M/example_thumbnails``), each used only under
that tag, naming ``M`` and with the matrix's class count
(:meth:`ConfusionReader.owned_content`). Listing them costs one
``list_blob_sequences`` call; their blob references one
``read_blob_sequences`` call, kept while the provider lists the same
``max_step``, ``max_wall_time`` and ``max_length``. Each step's NPZ is read
(``read_blob``, or the event files for names the Rust server cannot parse:
:meth:`ConfusionReader.blob`) and decoded by the format
(:mod:`tb_fmnist_plugin.format.example_record`) once, then kept in a bounded
cache per step; a value the format refuses makes its step unreadable (404
saying why; the series routes skip it), logged once per series.

:class:`~tb_fmnist_plugin.server.record_series.RecordHistory` stacks every
readable evaluation of a run as ``[steps, examples]`` arrays over the union
of the examples evaluated (one column per dataset index, or position), kept
while the series are unchanged and rebuilt from the per-step cache when a
step is added.
"""
from __future__ import annotations

import time
from concurrent import futures
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from tensorboard import errors

from tb_fmnist_plugin import example_stats
from tb_fmnist_plugin.format import example_record as er
from tb_fmnist_plugin.server import record_series
from tb_fmnist_plugin.server.caches import StampedCache
from tb_fmnist_plugin.server.reader import ConfusionReader, Listing
from tb_fmnist_plugin.server.record_series import IDS, PREDICTIONS, THUMBNAILS, Record, RecordHistory, RecordStep
from tb_fmnist_plugin.server.series import ListedSeries, MatrixSeries

#: What messages call each kind's value.
WHAT = {IDS: "example ids", PREDICTIONS: "example predictions", THUMBNAILS: "example thumbnails"}
#: Decoded steps and blob listings kept: at most this many entries of this many bytes.
_STEPS_MAX_ENTRIES = 100_000
_STEPS_MAX_BYTES = 512 * 1024 * 1024
#: Stacked histories kept (one per run and tag).
_HISTORIES_MAX_ENTRIES = 64
_HISTORIES_MAX_BYTES = 512 * 1024 * 1024
_OVERHEAD_BYTES = 256
#: Longest a record's listing is reused while its matrix series is unchanged, in seconds.
RELIST_S = 5.0
#: Steps read at once when a history is stacked (each read is a round trip to the provider).
_READ_THREADS = 8
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Cached for thumbnails that did not decode (None means "not cached").
_UNREADABLE = "unreadable"


def _message(error: errors.PublicError) -> str:
    """A TensorBoard error's message without its code name ("Not found: ")."""
    text = str(error)
    return text.split(": ", 1)[1] if text.startswith("Not found: ") else text


def _tag_of(kind: str) -> Any:
    return lambda matrix_tag: er.record_tag(matrix_tag, kind)


def listed_record_kinds(
    reader: ConfusionReader, listing: Listing, matrices: Dict[str, Dict[str, ListedSeries]]
) -> Dict[Tuple[str, str], List[str]]:
    """``{(run, matrix_tag): kind names}`` for the ``tags`` listing:
    ``example_predictions`` where a matrix has usable ids and predictions
    series, with ``example_thumbnails`` where it has thumbnails too; no provider call."""
    result: Dict[Tuple[str, str], List[str]] = {}
    for run, tags in matrices.items():
        run_matrices = {tag: listed.series for tag, listed in tags.items()}
        blobs = listing.blob_sequences.get(run, {})
        for matrix_tag in tags:
            owned = {kind for kind in (IDS, PREDICTIONS, THUMBNAILS)
                     if _usable(reader, run, er.record_tag(matrix_tag, kind), blobs.get(er.record_tag(matrix_tag, kind)),
                                run_matrices, kind) is not None}
            if {IDS, PREDICTIONS} <= owned:
                result[(run, matrix_tag)] = [PREDICTIONS] + ([THUMBNAILS] if THUMBNAILS in owned else [])
    return result


def _usable(reader: ConfusionReader, run: str, tag: str, series: Any, matrices: Dict[str, MatrixSeries],
            kind: str) -> Optional[Dict[str, Any]]:
    """The content of a listed record series the plugin uses (owned by its
    matrix, and its kind's fields valid); None otherwise (logged once)."""
    content = reader.owned_content(run, tag, series, matrices, kind, _tag_of(kind))
    if content is None:
        return None
    problem = er.content_problem(content)
    if problem is not None:
        reader.skips.warn(run, tag, problem)
        return None
    return content


class RecordReader:
    """Reads the record series of matrix series through ``reader``'s data
    provider, with bounded caches of decoded steps and stacked histories."""

    def __init__(self, reader: ConfusionReader) -> None:
        self.reader = reader
        self._steps = StampedCache(_STEPS_MAX_ENTRIES, _STEPS_MAX_BYTES)
        self._histories = StampedCache(_HISTORIES_MAX_ENTRIES, _HISTORIES_MAX_BYTES)
        self._records = StampedCache(_HISTORIES_MAX_ENTRIES * 16, _HISTORIES_MAX_BYTES)

    def record(self, ctx: Any, experiment: str, run: str, tag: str, step: Optional[int] = None) -> Record:
        """The record of matrix series ``(run, tag)`` (holding ``step``'s
        predictions, when listed, if ``step`` is given); 404 when the matrix
        has no usable ids and predictions. One provider call (the matrix's
        listing) while the record's listing is kept: for at most
        :data:`RELIST_S` seconds, while the matrix series is unchanged and
        holds the asked step (each evaluation writes its matrix and its
        predictions at one step). Otherwise one more to list the record's
        series and, for new data, one to read their blob references (each
        costs about 40 ms with the Rust data server)."""
        matrix = self.reader.matrix_series(ctx, experiment, run, tag)
        key = ("record", experiment, run, tag)
        kept = self._records.get(key, matrix.stamp)
        if kept is not None:
            record, listed_at = kept
            if time.monotonic() - listed_at < RELIST_S and (step is None or step in record.datums[PREDICTIONS]):
                return record
        listed_at = time.monotonic()
        record = self._list_record(ctx, experiment, matrix)
        self._records.put(key, matrix.stamp, (record, listed_at), _OVERHEAD_BYTES * (1 + len(record.steps)))
        return record

    def _list_record(self, ctx: Any, experiment: str, matrix: MatrixSeries) -> Record:
        """List the record series of ``matrix`` and read their blob references (cached by their listing)."""
        reader, run, tag = self.reader, matrix.run, matrix.tag
        tags = {kind: er.record_tag(tag, kind) for kind in (IDS, PREDICTIONS, THUMBNAILS)}
        listed = reader.list_one(reader.provider.list_blob_sequences, ctx, experiment, run, *tags.values()).get(run, {})
        contents = {}
        for kind, kind_tag in tags.items():
            content = _usable(reader, run, kind_tag, listed.get(kind_tag), {tag: matrix}, kind)
            if content is not None:
                contents[kind] = content
        if IDS not in contents or PREDICTIONS not in contents:
            raise errors.NotFoundError(f"no per-example record for run {run!r}, tag {tag!r}")
        wanted = {kind: tags[kind] for kind in contents}
        stamps = {kind: (listed[t].max_step, listed[t].max_wall_time, listed[t].max_length) for kind, t in wanted.items()}
        stamp = tuple(sorted(stamps.items()))
        key = ("datums", experiment, run, tag)
        datums = self._steps.get(key, stamp)
        if datums is None:
            data = reader.read_series(reader.provider.read_blob_sequences, ctx, experiment,
                                      [(run, t) for t in wanted.values()]).get(run, {})
            datums = {kind: {d.step: d for d in data.get(t, [])} for kind, t in wanted.items()}  # last write wins
            self._steps.put(key, stamp, datums, _OVERHEAD_BYTES * (1 + sum(len(v) for v in datums.values())))
        rewritten = reader.matrix_values(ctx, experiment, matrix).rewritten
        return Record(experiment, matrix, contents, datums, rewritten, stamps)

    # --- one step ------------------------------------------------------------------

    def step(self, ctx: Any, experiment: str, record: Record, step: int) -> RecordStep:
        """The evaluation at ``step``; 404 saying why there is none."""
        found = self._decoded_step(ctx, experiment, record, step)
        if isinstance(found, str):
            raise errors.NotFoundError(found)
        return found

    def _decoded_step(self, ctx: Any, experiment: str, record: Record, step: int) -> Any:
        """:class:`RecordStep` at ``step``, or why not (str), cached per step."""
        run, tag = record.matrix.run, record.matrix.tag
        datum = record.datums[PREDICTIONS].get(step)
        if datum is None:
            return f"no example predictions at step {step} for run {run!r}, tag {tag!r}"
        key = ("step", experiment, run, tag, step)
        # the ids and thumbnails it uses may change; other steps do not matter
        stamp = (datum.wall_time, len(datum.values), step in record.rewritten, record.listed[IDS],
                 record.listed.get(THUMBNAILS))
        found = self._steps.get(key, stamp)
        if found is None:
            try:
                found = self._decode_step(ctx, record, step, datum)
                size = sum(a.nbytes for a in (found.index, found.label, found.predicted, found.p_given, found.confidence))
            except ValueError as error:
                self.reader.skips.warn(run, er.record_tag(tag, PREDICTIONS), str(error),
                                       what=f"the value at step {step} (and any other with the same problem)")
                found, size = f"the stored example predictions at step {step} are unreadable: {error}", 0
            except errors.NotFoundError as error:  # a blob that cannot be read
                found, size = _message(error), 0
            self._steps.put(key, stamp, found, size + _OVERHEAD_BYTES)
        return found

    def _decode_step(self, ctx: Any, record: Record, step: int, datum: Any) -> RecordStep:
        """Read and decode the predictions at ``step``, its ids value and
        thumbnails; ``ValueError`` naming what the format refuses."""
        num_classes = record.matrix.num_classes
        blob = self._blob(ctx, record, PREDICTIONS, step, datum.values, 0)
        # decoded (and checked against its ids' labels) once where it follows the ids in effect, as written
        ids_step = er.ids_in_effect(sorted(record.datums[IDS]), step)
        ids = self._ids(ctx, record, ids_step) if ids_step is not None else None
        decoded = None
        if isinstance(ids, dict):
            try:
                decoded = er.decode_example_predictions(blob, num_classes, ids["label"])
            except ValueError:  # said again below, where it follows other ids or is damaged
                decoded = None
        if decoded is None or decoded["ids_step"] != ids_step:
            ids_step = int(er.decode_example_predictions(blob, num_classes)["ids_step"])
            ids = self._ids(ctx, record, ids_step)
            if isinstance(ids, str):
                raise ValueError(ids)
            decoded = er.decode_example_predictions(blob, num_classes, ids["label"])
        predicted = decoded["predicted"].astype(np.int32)
        predicted[decoded["predicted"] == er.left_out_code(num_classes)] = example_stats.LEFT_OUT
        confidence = er.top1_confidence(decoded, ids["label"], num_classes)
        return RecordStep(step, ids_step, ids["index"], ids["label"], predicted,
                          decoded["p_given"].astype(np.float32), confidence.astype(np.float32),
                          self._thumbnails(ctx, record, ids_step, ids["index"].size))

    def _ids(self, ctx: Any, record: Record, ids_step: int) -> Any:
        """The decoded ids value at ``ids_step`` (cached), or why not (str)."""
        datum = record.datums[IDS].get(ids_step)
        if datum is None:
            return f"it follows the example ids of step {ids_step}, which are not stored"
        key = ("ids", record.experiment, record.matrix.run, record.matrix.tag, ids_step)
        stamp = (datum.wall_time, len(datum.values), ids_step in record.rewritten)
        found = self._steps.get(key, stamp)
        if found is None:
            try:
                blob = self._blob(ctx, record, IDS, ids_step, datum.values, 0)
                found = er.decode_example_ids(blob, record.matrix.num_classes, record.identity)
            except (ValueError, errors.NotFoundError) as error:
                problem = _message(error) if isinstance(error, errors.NotFoundError) else str(error)
                self.reader.skips.warn(record.matrix.run, er.record_tag(record.matrix.tag, IDS), problem,
                                       what=f"the value at step {ids_step}")
                found = f"the example ids of step {ids_step} it follows are unreadable: {problem}"
            self._steps.put(key, stamp, found, _OVERHEAD_BYTES + (0 if isinstance(found, str) else 16 * found["index"].size))
        return found

    def _thumbnails(self, ctx: Any, record: Record, ids_step: int, rows: int) -> Optional[record_series.Thumbnails]:
        """The thumbnails written with the ids of ``ids_step`` (None when
        there are none or they are unreadable: logged once)."""
        datum = record.datums.get(THUMBNAILS, {}).get(ids_step)
        if datum is None:
            return None
        key = ("thumbnails", record.experiment, record.matrix.run, record.matrix.tag, ids_step)
        stamp = (datum.wall_time, len(datum.values), ids_step in record.rewritten, rows)
        found = self._steps.get(key, stamp)
        if found is None:
            found = self._decode_thumbnails(ctx, record, ids_step, datum, rows) or _UNREADABLE
            self._steps.put(key, stamp, found, _OVERHEAD_BYTES + (0 if found is _UNREADABLE else found.tile_of_row.nbytes))
        return None if found is _UNREADABLE else found

    def _decode_thumbnails(self, ctx: Any, record: Record, ids_step: int, datum: Any, rows: int) -> Optional[record_series.Thumbnails]:
        content = record.contents[THUMBNAILS]
        tag = er.record_tag(record.matrix.tag, THUMBNAILS)
        try:
            index_blob = self._blob(ctx, record, THUMBNAILS, ids_step, datum.values, 0)
            # the pages are checked when served: only their count is known here
            decoded = er.decode_example_thumbnails([index_blob] + [_PNG_SIGNATURE] * (len(datum.values) - 1),
                                                   content, rows)
        except (ValueError, errors.NotFoundError) as error:
            self.reader.skips.warn(record.matrix.run, tag, str(error), what=f"the value at step {ids_step}")
            return None
        tile_of_row = np.full(rows, -1, dtype=np.int32)
        tile_of_row[decoded["row"]] = np.arange(decoded["row"].size, dtype=np.int32)
        layout = {name: content[name] for name in er.THUMBNAIL_FIELDS}
        return record_series.Thumbnails(ids_step, tile_of_row, int(decoded["row"].size), int(decoded["pages"]), layout)

    def thumbnails_at(self, ctx: Any, experiment: str, record: Record, step: int) -> record_series.Thumbnails:
        """The thumbnails value written at ``step`` (the step of an ids
        value); 404 saying why there is none."""
        ids = record.datums[IDS].get(step)
        if THUMBNAILS not in record.datums or step not in record.datums[THUMBNAILS] or ids is None:
            raise errors.NotFoundError(f"no example thumbnails at step {step} for run {record.matrix.run!r}, "
                                       f"tag {record.matrix.tag!r}")
        decoded = self._ids(ctx, record, step)
        found = None if isinstance(decoded, str) else self._thumbnails(ctx, record, step, decoded["index"].size)
        if found is None:
            raise errors.NotFoundError(f"the stored example thumbnails at step {step} are unreadable")
        return found

    def thumbnail_page(self, ctx: Any, experiment: str, record: Record, step: int, page: int) -> bytes:
        """The PNG of page ``page`` (from 0) of the thumbnails at ``step``."""
        found = self.thumbnails_at(ctx, experiment, record, step)
        if page >= found.pages:
            raise errors.NotFoundError(f"the example thumbnails at step {step} have {found.pages} page(s)")
        png = self._blob(ctx, record, THUMBNAILS, step, record.datums[THUMBNAILS][step].values, 1 + page)
        if bytes(png[:len(_PNG_SIGNATURE)]) != _PNG_SIGNATURE:
            raise errors.NotFoundError(f"the stored example thumbnails at step {step} are unreadable: "
                                       f"page {page} is not a PNG")
        return png

    def _blob(self, ctx: Any, record: Record, kind: str, step: int, refs: Any, position: int) -> bytes:
        return self.reader.blob(ctx, record.matrix.run, er.record_tag(record.matrix.tag, kind), step, refs, position,
                                WHAT[kind], step in record.rewritten, count=1)

    # --- every step ------------------------------------------------------------------

    def history(self, ctx: Any, experiment: str, record: Record) -> RecordHistory:
        """Every readable evaluation of ``record`` stacked (cached while its
        series are unchanged; each step decoded once); 404 when none is readable."""
        key = ("history", experiment, record.matrix.run, record.matrix.tag)
        found = self._histories.get(key, record.stamp)
        if found is None:
            found = self._stack(ctx, experiment, record)
            self._histories.put(key, record.stamp, found, found.nbytes)
        return found

    def _stack(self, ctx: Any, experiment: str, record: Record) -> RecordHistory:
        with futures.ThreadPoolExecutor(_READ_THREADS) as pool:  # the first time: every step's blob read
            evaluations = list(pool.map(lambda s: self._decoded_step(ctx, experiment, record, s), record.steps))
        readable = [e for e in evaluations if not isinstance(e, str)]
        if not readable:
            problems = "; ".join(sorted(set(evaluations))) or "no values"
            raise errors.NotFoundError(f"no readable example predictions for run {record.matrix.run!r}, "
                                       f"tag {record.matrix.tag!r}: {problems}")
        return record_series.stack(readable)
