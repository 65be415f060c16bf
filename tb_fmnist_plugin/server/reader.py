"""Read confusion data back through TensorBoard's data provider.

All reading for the plugin lives here and, for the diagnostic kinds, in
:mod:`tb_fmnist_plugin.server.diagnostics_reader` (decoding is the format's), so the views only
shape answers. Every read goes through ``context.data_provider``, the same under
``--load_fast=true`` (the Rust data server) and ``false``, but for the blobs it cannot hand
out, read from the event files (:mod:`tb_fmnist_plugin.server.event_blobs`): those of a run
or tag name the Rust server cannot parse, and those of a step written again, of which the Python
provider hands out the first write's (:class:`~tb_fmnist_plugin.server.series.StepWrite`).
A run, tag or step that is not there raises :class:`tensorboard.errors.NotFoundError` (404).

The listing costs a constant number of provider calls whatever the number of
runs and tags: one ``list_tensors`` and one ``list_blob_sequences``
(:class:`Listing`), and for the series whose data changed since the last
listing (all of them, the first time) one batched ``read_tensors`` and one
``read_blob_sequences``. A matrix series' excluded-rows series (its tag plus
``/excluded``) is listed and read with it, in the same calls. What is
listed can be read: a series or step whose stored data the format refuses, or
whose run or tag name the routes cannot take, is left out, and the problem
logged once per series (:class:`~tb_fmnist_plugin.server.caches.SkipLog`).
"""
from __future__ import annotations

import dataclasses
import threading
from typing import Any, Callable, Dict, Hashable, List, Optional, Sequence, Tuple

from tensorboard import errors
from tensorboard.data import provider

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server import event_blobs, provider_calls
from tb_fmnist_plugin.server.caches import SkipLog, StampedCache
from tb_fmnist_plugin.server.limits import name_problem
from tb_fmnist_plugin.server.provider_calls import READ_ALL, Listing  # noqa: F401  (reader.X keeps working)
from tb_fmnist_plugin.server.series import ListedSeries, MatrixSeries, MatrixValues, StepWrite, matrix_values

#: Decoded series kept between requests: at most this many, of at most this
#: many bytes of stored values in all (a larger series is read every time).
_VALUES_MAX_ENTRIES = 10_000
_VALUES_MAX_BYTES = 256 * 1024 * 1024
#: Listing entries (steps and last value of each series) kept between requests.
_LISTED_MAX_ENTRIES = 1_000_000
_LISTED_MAX_BYTES = 256 * 1024 * 1024
#: Distinct metadata contents whose parse is remembered.
_CONTENTS_MAX = 100_000

Key = Tuple[str, str, str]


@dataclasses.dataclass(frozen=True)
class ExamplesStep:
    """The per-cell examples of one step: parsed index and blob references
    (``rewritten``: see :class:`~tb_fmnist_plugin.server.series.StepWrite`)."""

    step: int
    wall_time: float
    index: Dict[str, Any]
    refs: Tuple[Any, ...]
    rewritten: bool = False


class ConfusionReader:
    """Lists and reads this plugin's series through a ``DataProvider``.

    Decoded matrix series and listing entries are cached per (experiment,
    run, tag) and reused while the provider reports the same ``max_step``
    and ``max_wall_time`` for the series; any new event changes one of them.
    ``logdir`` (TensorBoard's ``--logdir``) is only used for the blobs the
    Rust data server cannot hand out.
    """

    def __init__(self, data_provider: provider.DataProvider, logdir: Optional[str] = None) -> None:
        self.provider = data_provider
        self._logdir = logdir or None
        self.skips = SkipLog()
        self._values = StampedCache(_VALUES_MAX_ENTRIES, _VALUES_MAX_BYTES)
        self._listed = StampedCache(_LISTED_MAX_ENTRIES, _LISTED_MAX_BYTES)
        self._examples_listed = StampedCache(_LISTED_MAX_ENTRIES, _LISTED_MAX_BYTES)
        self._contents: Dict[bytes, Tuple[Optional[Dict[str, Any]], Optional[str]]] = {}
        # one listing refresh at a time: overlapping ones wait, then find it fresh
        self._listing_lock = threading.Lock()

    # --- Listing ---------------------------------------------------------------

    def listing(self, ctx: Any, experiment_id: str) -> Listing:
        """This plugin's series as the provider lists them now (two calls)."""
        return Listing(
            self.provider.list_tensors(ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME),
            self.provider.list_blob_sequences(ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME),
        )

    def list_matrix_series(
        self, ctx: Any, experiment_id: str, listing: Optional[Listing] = None
    ) -> Dict[str, Dict[str, MatrixSeries]]:
        """Every matrix series the routes can serve, ``{run: {tag: MatrixSeries}}``
        (one provider call, none given a ``listing``)."""
        tensors = listing.tensors if listing is not None else self.provider.list_tensors(
            ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME
        )
        result: Dict[str, Dict[str, MatrixSeries]] = {}
        for run, tags in tensors.items():
            for tag, series in tags.items():
                found = self.series_of_kind(run, tag, series, metadata.KIND_MATRIX)
                if found is not None:
                    excluded = self._excluded_stamp(run, tag, tags)
                    result.setdefault(run, {})[tag] = _matrix_series(run, tag, series, found, excluded, self.unit(run, tag, found))
        return result

    def _excluded_stamp(self, run: str, matrix_tag: str, tags: Dict[str, Any]) -> Optional[Tuple[Any, Any]]:
        """``(max_step, max_wall_time)`` of the excluded-rows series of
        ``matrix_tag`` among the listed ``tags`` of ``run``, if it is there and
        readable; None otherwise (a problem logged once)."""
        tag = metadata.excluded_tag(matrix_tag)
        content = self.series_of_kind(run, tag, tags.get(tag), metadata.KIND_EXCLUDED)
        if content is None:
            return None
        if content["matrix_tag"] != matrix_tag:
            self.skips.warn(run, tag, f"it names matrix tag {content['matrix_tag']!r}, whose excluded rows would "
                                      f"be {metadata.excluded_tag(content['matrix_tag'])!r}")
            return None
        if content.get("reason") != metadata.EXCLUDED_REASON_NAN:
            self.skips.warn(run, tag, f"its reason {content.get('reason')!r} is not one this plugin knows")
            return None
        series = tags[tag]
        return (series.max_step, series.max_wall_time)

    def listed_series(self, ctx: Any, experiment_id: str, listing: Listing) -> Dict[str, Dict[str, ListedSeries]]:
        """Every matrix series of ``listing`` with at least one readable step,
        with its readable steps: ``{run: {tag: ListedSeries}}``. At most one
        provider call (for the series with new data), whatever their number."""
        with self._listing_lock:
            matrices = self.list_matrix_series(ctx, experiment_id, listing)
            every = [s for tags in matrices.values() for s in tags.values()]
            fresh: Dict[Key, ListedSeries] = {}
            stale: List[MatrixSeries] = []
            for series in every:
                hit = self._listed.get(_key(experiment_id, series), series.stamp)
                if hit is None:
                    stale.append(series)
                else:
                    fresh[_key(experiment_id, series)] = hit
            if stale:
                data = self.read_series(self.provider.read_tensors, ctx, experiment_id, stale)
                for series in stale:
                    fresh[_key(experiment_id, series)] = self._keep(experiment_id, self._values_of(series, data))
            current = set(fresh)
            self._listed.retain(lambda key: key[0] != experiment_id or key in current)
        result: Dict[str, Dict[str, ListedSeries]] = {}
        for series in every:
            entry = fresh[_key(experiment_id, series)]
            if entry.steps:
                result.setdefault(series.run, {})[series.tag] = entry
            else:
                self.skips.warn(series.run, series.tag, "none of its stored values is readable")
        return result

    def matrix_series(self, ctx: Any, experiment_id: str, run: str, tag: str) -> MatrixSeries:
        """The one matrix series ``(run, tag)`` (one provider call); raises
        ``NotFoundError``, saying why when the series is there but unreadable."""
        listing = self.list_one(self.provider.list_tensors, ctx, experiment_id, run, tag,
                                 metadata.excluded_tag(tag))
        series = listing.get(run, {}).get(tag)
        if series is None:
            if run not in {r.run_name for r in self.provider.list_runs(ctx, experiment_id=experiment_id)}:
                raise errors.NotFoundError(f"run {run!r} not found")
            raise errors.NotFoundError(f"tag {tag!r} not found in run {run!r}")
        content, problem = self._content(series.plugin_content)
        if problem is not None:
            raise errors.NotFoundError(f"tag {tag!r} of run {run!r} is unreadable: {problem}")
        if content is None or content.get("kind") != metadata.KIND_MATRIX:
            raise errors.NotFoundError(f"tag {tag!r} not found in run {run!r}")
        return _matrix_series(run, tag, series, content, self._excluded_stamp(run, tag, listing.get(run, {})),
                              self.unit(run, tag, content))

    # --- Matrices ----------------------------------------------------------------

    def read_matrices(self, ctx: Any, experiment_id: str, run: str, tag: str,
                      series: Optional[MatrixSeries] = None) -> MatrixValues:
        """Every readable kept step of ``(run, tag)``; raises ``NotFoundError``. Costs one provider call
        while the series is cached, two otherwise (one less given ``series``, its fresh :meth:`matrix_series`)."""
        series = series if series is not None else self.matrix_series(ctx, experiment_id, run, tag)
        values = self.matrix_values(ctx, experiment_id, series)
        if not values.steps.size:  # not listed either
            problems = "; ".join(sorted(set(values.unreadable.values()))) or "no values"
            raise errors.NotFoundError(f"tag {tag!r} of run {run!r} has no readable value: {problems}")
        return values

    def matrix_values(self, ctx: Any, experiment_id: str, series: MatrixSeries) -> MatrixValues:
        """The values of the listed ``series``, cached (else one provider call); possibly no readable step."""
        values = self._values.get(_key(experiment_id, series), series.stamp)
        if values is None:
            values = self._values_of(series, self.read_series(self.provider.read_tensors, ctx, experiment_id, [series]))
            self._keep(experiment_id, values)
        return values

    def _values_of(self, series: MatrixSeries, data: Dict[str, Any]) -> MatrixValues:
        """The readable steps of ``series`` (and its excluded-row counts)
        among the datums ``data`` read by :meth:`_read`."""
        tags = data.get(series.run, {})
        excluded = tags.get(series.excluded_tag, []) if series.excluded_tag is not None else []
        return matrix_values(series, tags.get(series.tag, []), self.skips, excluded)

    def _keep(self, experiment_id: str, values: MatrixValues) -> ListedSeries:
        """Cache a freshly read series and its listing entry."""
        key, stamp = _key(experiment_id, values.series), values.series.stamp
        listed = values.listed()
        self._values.put(key, stamp, values, values.nbytes)
        self._listed.put(key, stamp, listed, 16 * len(listed.steps) + values.nbytes // max(1, len(values.values)))
        return listed

    # --- Examples -------------------------------------------------------------

    def examples_steps(
        self, ctx: Any, experiment_id: str, listing: Listing, matrices: Dict[str, Dict[str, ListedSeries]]
    ) -> Dict[Tuple[str, str], List[int]]:
        """``{(run, matrix_tag): [steps with examples, ascending]}`` for the
        listed ``matrices`` (at most one provider call, for new data)."""
        result: Dict[Tuple[str, str], List[int]] = {}
        stale: List[Tuple[str, str, Hashable, str]] = []
        current = set()
        with self._listing_lock:
            for run, tags in listing.blob_sequences.items():
                run_matrices = {tag: listed.series for tag, listed in matrices.get(run, {}).items()}
                for tag, series in tags.items():
                    content = self.owned_content(run, tag, series, run_matrices)
                    if content is None:
                        continue
                    matrix_tag = content["matrix_tag"]
                    stamp = (series.max_step, series.max_wall_time, series.max_length)
                    current.add((experiment_id, run, tag))
                    hit = self._examples_listed.get((experiment_id, run, tag), stamp)
                    if hit is None:
                        stale.append((run, tag, stamp, matrix_tag))
                    else:
                        result[(run, matrix_tag)] = hit
            if stale:
                data = self.read_series(self.provider.read_blob_sequences, ctx, experiment_id, stale)
                for run, tag, stamp, matrix_tag in stale:
                    steps = sorted({d.step for d in data.get(run, {}).get(tag, [])})
                    self._examples_listed.put((experiment_id, run, tag), stamp, steps, 8 * len(steps) + 64)
                    result[(run, matrix_tag)] = steps
            self._examples_listed.retain(lambda key: key[0] != experiment_id or key in current)
        return result

    def owned_content(self, run: str, tag: str, series: Any, matrices: Dict[str, MatrixSeries], kind: str = metadata.KIND_EXAMPLES,
                      tag_of: Callable[[str], str] = metadata.examples_tag) -> Optional[Dict[str, Any]]:
        """Content of a listed series of ``kind`` (examples, a diagnostic) if it is ``tag_of`` a
        matrix in ``matrices`` with its class count; None (a problem logged once) otherwise."""
        content = self.series_of_kind(run, tag, series, kind)
        if content is None:
            return None
        matrix_tag = content["matrix_tag"]
        if tag != tag_of(matrix_tag):
            self.skips.warn(run, tag, f"it names matrix tag {matrix_tag!r}, whose {kind} would be {tag_of(matrix_tag)!r}")
            return None
        matrix = matrices.get(matrix_tag)
        if matrix is not None and content["num_classes"] != matrix.num_classes:
            self.skips.warn(run, tag, f"it has {content['num_classes']} classes, its matrix {matrix.num_classes}")
            return None
        return content if matrix is not None else None

    def read_examples(self, ctx: Any, experiment_id: str, series: MatrixSeries, step: int) -> ExamplesStep:
        """The examples of the matrix ``series`` at ``step``; raises ``NotFoundError``."""
        write, index = self.read_indexed(ctx, experiment_id, series, step, metadata.KIND_EXAMPLES, metadata.examples_tag,
                                         metadata.decode_examples_index, "examples")
        return ExamplesStep(step, write.datum.wall_time, index, tuple(write.datum.values), write.rewritten)

    def read_indexed(self, ctx: Any, experiment_id: str, series: MatrixSeries, step: int, kind: str,
                     tag_of: Callable[[str], str], decode: Callable[[bytes, int], Any], what: str) -> Tuple[StepWrite, Any]:
        """The value at ``step`` of the ``kind`` blob sequence ``tag_of(series.tag)`` (examples, suspects)
        and its blob 0 parsed by ``decode(blob, num_classes)``; ``NotFoundError`` saying why."""
        run, tag = series.run, tag_of(series.tag)
        listing = self.list_one(self.provider.list_blob_sequences, ctx, experiment_id, run, tag)
        if self.owned_content(run, tag, listing.get(run, {}).get(tag), {series.tag: series}, kind, tag_of) is None:
            raise errors.NotFoundError(f"no {what} for run {run!r}, tag {series.tag!r}")
        data = self.read_series(self.provider.read_blob_sequences, ctx, experiment_id, [(run, tag)])
        datum = next((d for d in reversed(data.get(run, {}).get(tag, [])) if d.step == step), None)
        if datum is None:
            raise errors.NotFoundError(f"no {what} at step {step} for run {run!r}, tag {series.tag!r}")
        match = StepWrite(datum, step in self.matrix_values(ctx, experiment_id, series).rewritten)
        blob = self.blob(ctx, run, tag, step, datum.values, 0, what, match.rewritten)
        try:
            return match, decode(blob, series.num_classes)
        except ValueError as error:
            self.skips.warn(run, tag, str(error), what=f"the {what} at step {step} (and any other with the same problem)")
            raise errors.NotFoundError(f"the stored {what} at step {step} are unreadable: {error}") from None

    def read_sprite(self, ctx: Any, experiment_id: str, series: MatrixSeries, step: int) -> bytes:
        """The PNG sprite of the examples of ``series`` at ``step``."""
        found = self.read_examples(ctx, experiment_id, series, step)
        return self.blob(ctx, series.run, metadata.examples_tag(series.tag), step, found.refs,
                         metadata.EXAMPLES_SPRITE_BLOB, "examples", found.rewritten)

    def blob(self, ctx: Any, run: str, tag: str, step: int, refs: Sequence[Any], position: int, what: str = "examples",
             rewritten: bool = False, count: int = 2) -> bytes:
        """Blob ``position`` of the value ``refs`` (index, sprite) of ``(run, tag)`` at ``step``, read from the
        event files (``event_blobs``) where the Rust server cannot name it or the step was ``rewritten``;
        ``count``: the blobs such a value holds at least (2: index and sprite; the record's NPZ: 1)."""
        if len(refs) < max(count, position + 1):
            raise errors.NotFoundError(f"the stored {what} at step {step} are incomplete")
        if not rewritten:
            try:
                return self.provider.read_blob(ctx, blob_key=refs[position].blob_key)
            except errors.InvalidArgumentError:
                if self._logdir is None or not event_blobs.key_cannot_name(run, tag):
                    raise
        blobs = event_blobs.read_blob_sequence(self._logdir, run, tag, step) if self._logdir is not None else None
        if blobs is None or len(blobs) <= position:
            again = " (written more than once: the last write is not in the event files under --logdir)"
            raise errors.NotFoundError(f"the stored {what} at step {step} are unreadable{again if rewritten else ''}")
        return blobs[position]

    # --- Provider calls and metadata -------------------------------------------

    def series_of_kind(self, run: str, tag: str, series: Any, kind: str) -> Optional[Dict[str, Any]]:
        """Parsed content of a listed series of ``kind`` the routes can serve;
        None otherwise (a problem logged once per series)."""
        if series is None:
            return None
        content, problem = self._content(series.plugin_content)
        if content is None or content.get("kind") != kind:
            if problem is not None:
                self.skips.warn(run, tag, problem)
            return None
        for what, name in (("run", run), ("tag", tag)):
            problem = name_problem(name)
            if problem is not None:
                self.skips.warn(run, tag, f"its {what} name {problem}")
                return None
        return content

    def unit(self, run: str, tag: str, content: Dict[str, Any]) -> str:
        """:func:`metadata.matrix_unit` of a matrix series; a stored unit it
        does not know (or not a string) is warned about once per series."""
        unit = metadata.matrix_unit(content)
        if "unit" in content and content["unit"] != unit:
            self.skips.warn(run, tag, f"its unit {str(content['unit'])[:40]!r} is not one of "
                                      f"{', '.join(metadata.MATRIX_UNITS)}; counted as {unit}", what="the unit")
        return unit

    def _content(self, raw: bytes) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
        """:func:`metadata.read_plugin_content`, remembered per distinct content."""
        raw = bytes(raw)
        found = self._contents.get(raw)
        if found is None:
            found = metadata.read_plugin_content(raw)
            if len(self._contents) >= _CONTENTS_MAX:
                self._contents.clear()
            self._contents[raw] = found
        return found

    list_one = staticmethod(provider_calls.list_one)
    read_series = staticmethod(provider_calls.read_series)


def _key(experiment_id: str, series: MatrixSeries) -> Key:
    return (experiment_id, series.run, series.tag)


def _matrix_series(
    run: str, tag: str, series: Any, content: Dict[str, Any], excluded_stamp: Optional[Tuple[Any, Any]], unit: str
) -> MatrixSeries:
    return MatrixSeries(run=run, tag=tag, num_classes=int(content["num_classes"]),
                        class_names=list(content["class_names"]), description=series.description or "",
                        max_step=series.max_step, max_wall_time=series.max_wall_time, excluded_stamp=excluded_stamp,
                        unit=unit)
