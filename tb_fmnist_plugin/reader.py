"""Read confusion data back through TensorBoard's data provider.

All reading for the plugin lives here (decoding is :mod:`tb_fmnist_plugin.metadata`'s),
so :mod:`tb_fmnist_plugin.views` only shapes answers. Nothing here touches the
multiplexer or the log directory: every read goes through
``context.data_provider``, which works the same under ``--load_fast=true``
(the Rust data server) and ``--load_fast=false``. A run, tag or step that is
not there raises :class:`tensorboard.errors.NotFoundError` (HTTP 404).
"""
from __future__ import annotations

import dataclasses
import logging
import os
import threading
from collections import OrderedDict
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from tensorboard import errors
from tensorboard.data import provider

from tb_fmnist_plugin import metadata

logger = logging.getLogger(__name__)

#: ``downsample`` passed to the provider: larger than any plausible number of
#: kept steps, so the provider returns every step it holds.
READ_ALL = 10**9

def _cache_entries() -> int:
    """Series kept between requests; ``TB_FMNIST_PLUGIN_CACHE_ENTRIES=0``
    turns the cache off (used by the benchmark to measure cold reads)."""
    try:
        return max(0, int(os.environ.get("TB_FMNIST_PLUGIN_CACHE_ENTRIES", "16")))
    except ValueError:
        return 16


#: Decoded series kept between requests (see :class:`ConfusionReader`).
_CACHE_ENTRIES = _cache_entries()
#: Series whose stored values exceed this many bytes are not cached.
_CACHE_MAX_SERIES_BYTES = 64 * 1024 * 1024
#: Bytes of stored values the whole cache may hold.
_CACHE_MAX_TOTAL_BYTES = 256 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class MatrixSeries:
    """A confusion-matrix tag of one run, as listed by the data provider."""

    run: str
    tag: str
    num_classes: int
    class_names: List[str]
    description: str
    max_step: Optional[int]
    max_wall_time: Optional[float]


@dataclasses.dataclass(frozen=True)
class MatrixValues:
    """Every kept step of a matrix series, in ascending step order.

    ``values[i]`` is the stored (possibly sparse) encoding of step
    ``steps[i]``; :meth:`dense` decodes one step, :meth:`dense_range` several.
    When a step was written more than once, the last write wins.
    """

    series: MatrixSeries
    steps: np.ndarray
    wall_times: np.ndarray
    values: Tuple[np.ndarray, ...]

    def position(self, step: int) -> int:
        """Index of ``step`` in ``steps``; raises ``NotFoundError``."""
        i = int(np.searchsorted(self.steps, step))
        if i >= self.steps.size or int(self.steps[i]) != step:
            raise errors.NotFoundError(f"step {step} not found for run {self.series.run!r}, tag {self.series.tag!r}")
        return i

    def dense(self, i: int) -> np.ndarray:
        """The ``[n, n]`` int64 matrix of the ``i``-th kept step."""
        return metadata.decode_matrix(self.values[i], self.series.num_classes)

    def dense_range(self, start: int, stop: int) -> np.ndarray:
        """The ``[stop - start, n, n]`` int64 matrices of kept steps."""
        n = self.series.num_classes
        out = np.empty((stop - start, n, n), dtype=np.int64)
        for k, i in enumerate(range(start, stop)):
            out[k] = self.dense(i)
        return out


@dataclasses.dataclass(frozen=True)
class ExamplesStep:
    """The per-cell examples of one step: parsed index and the sprite's key."""

    step: int
    wall_time: float
    index: Dict[str, Any]
    sprite_key: str


def _ordered_unique_last(steps: np.ndarray) -> np.ndarray:
    """Positions that keep the last occurrence of each step, ascending by step."""
    order = np.argsort(steps, kind="stable")
    sorted_steps = steps[order]
    keep = np.ones(order.size, dtype=bool)
    if order.size > 1:
        keep[:-1] = sorted_steps[1:] != sorted_steps[:-1]
    return order[keep]


class ConfusionReader:
    """Lists and reads this plugin's series through a ``DataProvider``.

    Decoded matrix series are cached per (experiment, run, tag) and reused
    while the provider reports the same ``max_step`` and ``max_wall_time``
    for the series; any new event changes one of them. Listing a series is
    one cheap metadata call, so a request for a single step does not
    transfer every step's tensor again.
    """

    def __init__(self, data_provider: provider.DataProvider) -> None:
        self._provider = data_provider
        self._cache: "OrderedDict[Tuple[str, str, str], Tuple[Tuple[Any, ...], MatrixValues, int]]" = OrderedDict()
        self._lock = threading.Lock()

    # --- Listing ---------------------------------------------------------------

    def list_matrix_series(self, ctx: Any, experiment_id: str) -> Dict[str, Dict[str, MatrixSeries]]:
        """Every readable matrix series, as ``{run: {tag: MatrixSeries}}``."""
        listing = self._provider.list_tensors(
            ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME
        )
        result: Dict[str, Dict[str, MatrixSeries]] = {}
        for run, tags in listing.items():
            for tag, series in tags.items():
                content = _content_of_kind(series, metadata.KIND_MATRIX)
                if content is not None:
                    result.setdefault(run, {})[tag] = _matrix_series(run, tag, series, content)
        return result

    def matrix_series(self, ctx: Any, experiment_id: str, run: str, tag: str) -> MatrixSeries:
        """The one matrix series ``(run, tag)``; raises ``NotFoundError``."""
        found = self._one_series(self._provider.list_tensors, ctx, experiment_id, run, tag, metadata.KIND_MATRIX)
        if found is None:
            if run not in self._provider_runs(ctx, experiment_id):
                raise errors.NotFoundError(f"run {run!r} not found")
            raise errors.NotFoundError(f"tag {tag!r} not found in run {run!r}")
        return _matrix_series(run, tag, *found)

    def list_examples_series(self, ctx: Any, experiment_id: str) -> Dict[Tuple[str, str], str]:
        """``{(run, matrix_tag): examples_tag}`` for every readable examples series."""
        listing = self._provider.list_blob_sequences(
            ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME
        )
        result: Dict[Tuple[str, str], str] = {}
        for run, tags in listing.items():
            for tag, series in tags.items():
                content = _content_of_kind(series, metadata.KIND_EXAMPLES)
                matrix_tag = None if content is None else content.get("matrix_tag")
                if isinstance(matrix_tag, str):
                    result[(run, matrix_tag)] = tag
        return result

    def _one_series(
        self, list_series: Any, ctx: Any, experiment_id: str, run: str, tag: str, kind: str
    ) -> Optional[Tuple[Any, Dict[str, Any]]]:
        """``(listed series, parsed content)`` of the one series ``(run, tag)``
        of ``kind``, as ``list_series`` (the provider's ``list_tensors`` or
        ``list_blob_sequences``) lists it; None if there is none."""
        listing = list_series(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            run_tag_filter=provider.RunTagFilter(runs=[run], tags=[tag]),
        )
        series = listing.get(run, {}).get(tag)
        content = None if series is None else _content_of_kind(series, kind)
        return None if content is None else (series, content)

    @staticmethod
    def _read_all(read: Any, ctx: Any, experiment_id: str, runs: List[str], tags: List[str]) -> Dict[str, Any]:
        """Every kept datum of ``runs`` x ``tags``, ``{run: {tag: [datum]}}``,
        as ``read`` (the provider's ``read_tensors`` or ``read_blob_sequences``)
        returns them."""
        return read(
            ctx,
            experiment_id=experiment_id,
            plugin_name=metadata.PLUGIN_NAME,
            downsample=READ_ALL,
            run_tag_filter=provider.RunTagFilter(runs=runs, tags=tags),
        )

    def _provider_runs(self, ctx: Any, experiment_id: str) -> set:
        return {r.run_name for r in self._provider.list_runs(ctx, experiment_id=experiment_id)}

    # --- Matrices ----------------------------------------------------------------

    def read_matrices(
        self, ctx: Any, experiment_id: str, run: str, tag: str, series: Optional[MatrixSeries] = None
    ) -> MatrixValues:
        """Every kept step of ``(run, tag)``; raises ``NotFoundError``.

        ``series`` is the listing of ``(run, tag)`` if the caller already has
        a fresh one (saves a provider call per series when listing all).
        """
        if series is None:
            series = self.matrix_series(ctx, experiment_id, run, tag)
        key = (experiment_id, run, tag)
        stamp = (series.max_step, series.max_wall_time, series.num_classes)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(key)
                return hit[1]
        data = self._read_all(self._provider.read_tensors, ctx, experiment_id, [run], [tag])
        datums = data.get(run, {}).get(tag, [])
        steps = np.array([d.step for d in datums], dtype=np.int64)
        wall_times = np.array([d.wall_time for d in datums], dtype=np.float64)
        keep = np.array(
            [i for i in _ordered_unique_last(steps) if _is_matrix_value(datums[i].numpy, series)],
            dtype=np.int64,
        )
        values = tuple(np.asarray(datums[i].numpy) for i in keep)
        result = MatrixValues(series, steps[keep], wall_times[keep], values)
        size = sum(v.nbytes for v in values)
        if _CACHE_ENTRIES and size <= _CACHE_MAX_SERIES_BYTES:
            with self._lock:
                self._cache[key] = (stamp, result, size)
                self._cache.move_to_end(key)
                total = sum(entry[2] for entry in self._cache.values())
                while len(self._cache) > _CACHE_ENTRIES or total > _CACHE_MAX_TOTAL_BYTES:
                    total -= self._cache.popitem(last=False)[1][2]
        return result

    # --- Examples -------------------------------------------------------------

    def _examples_tag(self, ctx: Any, experiment_id: str, run: str, tag: str) -> Optional[str]:
        candidate = metadata.examples_tag(tag)
        found = self._one_series(
            self._provider.list_blob_sequences, ctx, experiment_id, run, candidate, metadata.KIND_EXAMPLES
        )
        return None if found is None else candidate

    def read_examples(self, ctx: Any, experiment_id: str, run: str, tag: str, step: int) -> ExamplesStep:
        """The examples of ``(run, tag)`` at ``step``; raises ``NotFoundError``."""
        examples_tag = self._examples_tag(ctx, experiment_id, run, tag)
        if examples_tag is None:
            raise errors.NotFoundError(f"no examples for run {run!r}, tag {tag!r}")
        data = self._read_all(self._provider.read_blob_sequences, ctx, experiment_id, [run], [examples_tag])
        match = None
        for datum in data.get(run, {}).get(examples_tag, []):
            if datum.step == step:
                match = datum  # last write of a step wins
        if match is None:
            raise errors.NotFoundError(f"no examples at step {step} for run {run!r}, tag {tag!r}")
        refs = match.values
        if len(refs) <= max(metadata.EXAMPLES_INDEX_BLOB, metadata.EXAMPLES_SPRITE_BLOB):
            raise errors.NotFoundError(f"examples at step {step} are incomplete")
        blob = self._provider.read_blob(ctx, blob_key=refs[metadata.EXAMPLES_INDEX_BLOB].blob_key)
        try:
            index = metadata.decode_examples_index(blob)
        except ValueError as error:
            logger.warning("%s: unreadable examples at %s/%s step %d: %s", metadata.PLUGIN_NAME, run, tag, step, error)
            raise errors.NotFoundError(f"examples at step {step} are unreadable") from None
        return ExamplesStep(step, match.wall_time, index, refs[metadata.EXAMPLES_SPRITE_BLOB].blob_key)

    def examples_steps(self, ctx: Any, experiment_id: str) -> Dict[Tuple[str, str], List[int]]:
        """``{(run, matrix_tag): [steps with examples, ascending]}``."""
        tags = self.list_examples_series(ctx, experiment_id)
        if not tags:
            return {}
        runs = sorted({run for run, _ in tags})
        data = self._read_all(
            self._provider.read_blob_sequences, ctx, experiment_id, runs, sorted(set(tags.values()))
        )
        result: Dict[Tuple[str, str], List[int]] = {}
        for (run, matrix_tag), examples_tag in tags.items():
            datums = data.get(run, {}).get(examples_tag, [])
            result[(run, matrix_tag)] = sorted({d.step for d in datums})
        return result

    def read_blob(self, ctx: Any, blob_key: str) -> bytes:
        """Bytes of one blob (e.g. a sprite PNG)."""
        return self._provider.read_blob(ctx, blob_key=blob_key)


def _is_matrix_value(value: Any, series: MatrixSeries) -> bool:
    """Whether a stored value has a matrix layout; logs and skips it if not."""
    if metadata.is_matrix_value(value, series.num_classes):
        return True
    logger.warning(
        "%s: skipping a value of shape %s in %s/%s (expected %d classes)",
        metadata.PLUGIN_NAME, np.shape(value), series.run, series.tag, series.num_classes,
    )
    return False


def _content_of_kind(series: Any, kind: str) -> Optional[Dict[str, Any]]:
    """Parsed metadata content of a listed series, if it is of ``kind``."""
    content = metadata.parse_plugin_content(series.plugin_content)
    return content if content is not None and content.get("kind") == kind else None


def _matrix_series(run: str, tag: str, series: Any, content: Dict[str, Any]) -> MatrixSeries:
    return MatrixSeries(
        run=run,
        tag=tag,
        num_classes=int(content["num_classes"]),
        class_names=[str(name) for name in content["class_names"]],
        description=series.description or "",
        max_step=series.max_step,
        max_wall_time=series.max_wall_time,
    )
