"""The per-example record as the server holds it: a record's series as
listed (:class:`Record`), one decoded evaluation (:class:`RecordStep`, with
its ids value's :class:`Thumbnails`), and every evaluation of a run stacked
(:class:`RecordHistory`, built by :func:`stack`). Plain data, read and
decoded by :mod:`tb_fmnist_plugin.server.record_reader`.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, FrozenSet, Hashable, List, Optional, Sequence, Tuple

import numpy as np

from tb_fmnist_plugin import example_stats
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.series import MatrixSeries

IDS, PREDICTIONS, THUMBNAILS = metadata.KIND_EXAMPLE_IDS, metadata.KIND_EXAMPLE_PREDICTIONS, metadata.KIND_EXAMPLE_THUMBNAILS
_OVERHEAD_BYTES = 256


@dataclasses.dataclass(frozen=True)
class Record:
    """The record series of one matrix series as listed now: their
    contents, the last write of each step per kind, and the steps whose
    matrix was written more than once (blobs then read from the event files)."""

    experiment: str
    matrix: MatrixSeries
    contents: Dict[str, Dict[str, Any]]
    datums: Dict[str, Dict[int, Any]]
    rewritten: FrozenSet[int]
    #: ``(max_step, max_wall_time, max_length)`` of each kind's series as listed.
    listed: Dict[str, Tuple[Any, ...]]

    @property
    def stamp(self) -> Hashable:
        """Changes whenever any of the record's series (or its matrix) gets new data."""
        return (self.matrix.stamp, tuple(sorted(self.listed.items())))

    @property
    def identity(self) -> str:
        """``index`` (dataset indices) or ``position`` (evaluation order)."""
        return str(self.contents[IDS]["identity"])

    @property
    def steps(self) -> List[int]:
        """Steps with a predictions value, ascending (readable or not)."""
        return sorted(self.datums[PREDICTIONS])


@dataclasses.dataclass(frozen=True)
class Thumbnails:
    """A thumbnails value: each row's tile (-1: none) and the page geometry."""

    step: int
    tile_of_row: np.ndarray
    tiles: int
    pages: int
    layout: Dict[str, Any]


@dataclasses.dataclass(frozen=True)
class RecordStep:
    """One evaluation: its rows' dataset ``index`` (or position) and
    ``label`` (the ids in effect), ``predicted`` (int32,
    :data:`~tb_fmnist_plugin.example_stats.LEFT_OUT` for a left-out row),
    ``p_given`` and top-1 ``confidence`` (float32, NaN when left out), and
    the thumbnails of those ids (None without)."""

    step: int
    ids_step: int
    index: np.ndarray
    label: np.ndarray
    predicted: np.ndarray
    p_given: np.ndarray
    confidence: np.ndarray
    thumbnails: Optional[Thumbnails]

    def thumbnail(self, row: int) -> Optional[Dict[str, int]]:
        """``{"step", "tile"}`` of ``row``'s thumbnail, or None."""
        if self.thumbnails is None or self.thumbnails.tile_of_row[row] < 0:
            return None
        return {"step": self.thumbnails.step, "tile": int(self.thumbnails.tile_of_row[row])}


@dataclasses.dataclass(frozen=True)
class RecordHistory:
    """Every readable evaluation of a record, stacked: ``steps`` ``[E]``;
    per example (the union of the ids evaluated, sorted by ``index``)
    ``label`` (its last ids value's), ``thumbnail_step`` and ``tile`` (-1:
    none); ``[E, U]`` ``predicted`` (:data:`~tb_fmnist_plugin.example_stats.LEFT_OUT`
    where left out or not evaluated), ``p_given``, ``confidence``, ``correct``."""

    steps: np.ndarray
    index: np.ndarray
    label: np.ndarray
    predicted: np.ndarray
    p_given: np.ndarray
    confidence: np.ndarray
    correct: np.ndarray
    thumbnail_step: np.ndarray
    tile: np.ndarray

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in dataclasses.astuple(self)) + _OVERHEAD_BYTES

    def column(self, index: int) -> Optional[int]:
        """The column of dataset index (or position) ``index``, or None."""
        at = int(np.searchsorted(self.index, index))
        return at if at < self.index.size and self.index[at] == index else None


def stack(evaluations: Sequence[RecordStep]) -> RecordHistory:
    """The readable ``evaluations`` (in step order) as one :class:`RecordHistory`:
    a column per example of the union of their ids (by index), later ids
    values winning for each example's label and thumbnail."""
    by_ids = {e.ids_step: e for e in evaluations}  # one evaluation per ids value (they share its arrays)
    index = by_ids[evaluations[0].ids_step].index if len(by_ids) == 1 else np.unique(
        np.concatenate([e.index for e in by_ids.values()]))
    columns = {s: np.searchsorted(index, e.index) for s, e in by_ids.items()}
    shape = (len(evaluations), index.size)
    predicted = np.full(shape, example_stats.LEFT_OUT, dtype=np.int32)
    p_given = np.full(shape, np.nan, dtype=np.float32)
    confidence = np.full(shape, np.nan, dtype=np.float32)
    correct = np.zeros(shape, dtype=bool)
    label = np.zeros(index.size, dtype=np.int64)
    thumbnail_step = np.full(index.size, -1, dtype=np.int64)
    tile = np.full(index.size, -1, dtype=np.int32)
    for s in sorted(by_ids):
        e, cols = by_ids[s], columns[s]
        label[cols] = e.label
        if e.thumbnails is not None:
            has = e.thumbnails.tile_of_row >= 0
            thumbnail_step[cols[has]] = e.thumbnails.step
            tile[cols[has]] = e.thumbnails.tile_of_row[has]
    for j, e in enumerate(evaluations):
        cols = columns[e.ids_step]
        predicted[j, cols] = e.predicted
        p_given[j, cols] = e.p_given
        confidence[j, cols] = e.confidence
        correct[j, cols] = example_stats.correct(e.label, e.predicted)
    return RecordHistory(np.asarray([e.step for e in evaluations], dtype=np.int64), index, label, predicted, p_given,
                         confidence, correct, thumbnail_step, tile)
