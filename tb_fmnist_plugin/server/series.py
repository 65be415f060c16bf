"""One matrix series as the plugin holds it: listed, decoded, summarised.

:class:`MatrixSeries` is what the data provider lists of a series (and of
its excluded-rows series, if any); :class:`MatrixValues` its readable steps
with their stored values and excluded-row counts (built by
:func:`matrix_values`, which skips, and logs once, every value the format
refuses); :class:`ListedSeries` the little of it the ``tags`` listing shows.
Decoding is :mod:`tb_fmnist_plugin.format.metadata`'s.

A step written more than once (a run resumed in its folder): every series
(matrix, excluded rows, examples, diagnostics) shows its last write, as the
Rust data server keeps (a value at a step drops those the series held at that
step and later). TensorBoard's Python data provider keeps every tensor write
but hands out the first write's blobs, so the blobs of a step whose matrix it
holds more than once (:attr:`MatrixValues.rewritten`) are read from the
event files (:class:`StepWrite`).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, FrozenSet, Hashable, List, Optional, Sequence, Tuple

import numpy as np
from tensorboard import errors

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.caches import SkipLog

#: Bytes counted per stored array besides its data (numpy's own overhead).
_ARRAY_OVERHEAD_BYTES = 128
#: Matrix cells summed at once by :meth:`MatrixValues.marginals` (bounds its memory).
_MARGINALS_CHUNK_CELLS = 2_000_000


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
    #: ``(max_step, max_wall_time)`` of the series' excluded-rows series
    #: (``metadata.excluded_tag(tag)``) as listed; None when it has none.
    excluded_stamp: Optional[Tuple[Optional[int], Optional[float]]] = None
    #: What one count is: "examples", "pixels" or "tokens" (the metadata's ``unit``).
    unit: str = "examples"

    @property
    def excluded_tag(self) -> Optional[str]:
        """Tag of the series' excluded-rows series, if it has one."""
        return metadata.excluded_tag(self.tag) if self.excluded_stamp is not None else None

    @property
    def stamp(self) -> Hashable:
        """Changes whenever the provider holds new data for the series
        (or for its excluded-rows series)."""
        return (self.max_step, self.max_wall_time, self.num_classes, self.excluded_stamp)


@dataclasses.dataclass(frozen=True)
class ListedSeries:
    """What the ``tags`` listing shows of a series: its readable steps, and
    the stored value and excluded-row count (None: unknown) of the last one
    (for the tab's first draw)."""

    series: MatrixSeries
    steps: List[int]
    wall_times: List[float]
    last_value: Optional[np.ndarray]
    last_excluded: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class MatrixValues:
    """Every readable kept step of a matrix series, in ascending step order.

    ``values[i]`` is the stored (possibly sparse) encoding of step
    ``steps[i]``, already checked by the format; :meth:`dense` decodes one
    step, :meth:`cells` gives its non-dense form. When a step was written
    more than once, the last write wins (module docstring). ``unreadable``
    maps each skipped step to why. ``excluded[i]`` is the count of rows
    left out of step ``steps[i]``'s matrix, ``-1`` where unknown
    (:meth:`excluded_rows`). ``rewritten``: the steps the provider holds more
    than one write of.
    """

    series: MatrixSeries
    steps: np.ndarray
    wall_times: np.ndarray
    values: Tuple[np.ndarray, ...]
    unreadable: Dict[int, str]
    excluded: np.ndarray
    rewritten: FrozenSet[int] = frozenset()
    _memo: Dict[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def position(self, step: int) -> int:
        """Index of ``step`` in ``steps``; raises ``NotFoundError``."""
        i = int(np.searchsorted(self.steps, step))
        if i >= self.steps.size or int(self.steps[i]) != step:
            if step in self.unreadable:
                raise errors.NotFoundError(f"the stored matrix at this step is unreadable: {self.unreadable[step]}")
            raise errors.NotFoundError(f"step {step} not found for run {self.series.run!r}, tag {self.series.tag!r}")
        return i

    def excluded_rows(self, i: int) -> Optional[int]:
        """Rows left out of the ``i``-th readable step's matrix; None when
        unknown (no excluded-rows series, or no readable value at that step)."""
        count = int(self.excluded[i])
        return None if count < 0 else count

    def dense(self, i: int) -> np.ndarray:
        """The ``[n, n]`` int64 matrix of the ``i``-th readable step."""
        return metadata.decode_matrix(self.values[i], self.series.num_classes, checked=True)

    def cells(self, i: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(flat index, count)`` of the cells of the ``i``-th readable step,
        flat index ascending (:func:`metadata.matrix_cells`)."""
        return metadata.matrix_cells(self.values[i], self.series.num_classes)

    def cell_counts(self, row: int, col: int) -> np.ndarray:
        """Count of cell ``(row, col)`` at every readable step (int64)."""
        key = row * self.series.num_classes + col
        out = np.zeros(self.steps.size, dtype=np.int64)
        for i in range(self.steps.size):
            index, counts = self.cells(i)
            at = int(np.searchsorted(index, key))
            if at < index.size and int(index[at]) == key:
                out[i] = counts[at]
        return out

    def marginals(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(correct, support, predicted)`` per class at every readable step,
        ``[steps, n]`` int64 (:func:`metrics.cell_marginals`), computed once
        in chunks of at most ``_MARGINALS_CHUNK_CELLS`` cells."""
        if "marginals" not in self._memo:
            n = self.series.num_classes
            chunk = max(1, _MARGINALS_CHUNK_CELLS // (n * n))
            parts = [metrics.cell_marginals([self.cells(i) for i in range(start, min(self.steps.size, start + chunk))], n)
                     for start in range(0, self.steps.size, chunk)]
            empty = np.zeros((0, n), dtype=np.int64)
            self._memo["marginals"] = tuple(np.concatenate([p[k] for p in parts] or [empty]) for k in range(3))
        return self._memo["marginals"]

    def series_metrics(self) -> Dict[str, np.ndarray]:
        """:func:`metrics.metrics_from_marginals` at every readable step,
        computed once (``metrics_series`` answers select from it)."""
        if "metrics" not in self._memo:
            self._memo["metrics"] = metrics.metrics_from_marginals(*self.marginals())
        return self._memo["metrics"]

    @property
    def nbytes(self) -> int:
        """About how much memory the series holds (with its marginals and metrics)."""
        arrays = (self.steps, self.wall_times, self.excluded, *self.values)
        derived = (3 + 3) * 8 * self.steps.size * self.series.num_classes + 8 * self.steps.size
        return derived + 64 * len(self.rewritten) + sum(a.nbytes + _ARRAY_OVERHEAD_BYTES for a in arrays)

    def listed(self) -> ListedSeries:
        """The listing's view of the series."""
        last = self.values[-1] if self.values else None
        last_excluded = self.excluded_rows(len(self.values) - 1) if self.values else None
        return ListedSeries(self.series, self.steps.tolist(), self.wall_times.tolist(), last, last_excluded)


@dataclasses.dataclass(frozen=True)
class StepWrite:
    """A blob-sequence value (examples, suspects) of one step: the provider's
    datum, and whether its step was ``rewritten`` (its blobs are then read
    from the event files, whose last write is the one the matrix shows)."""

    datum: Any
    rewritten: bool


def _last_of_each_step(steps: np.ndarray) -> np.ndarray:
    """Positions that keep the last occurrence of each step, ascending by step."""
    order = np.argsort(steps, kind="stable")
    sorted_steps = steps[order]
    keep = np.ones(order.size, dtype=bool)
    if order.size > 1:
        keep[:-1] = sorted_steps[1:] != sorted_steps[:-1]
    return order[keep]


def matrix_values(
    series: MatrixSeries, datums: Sequence[Any], skips: SkipLog, excluded_datums: Sequence[Any] = ()
) -> MatrixValues:
    """The readable steps of ``series`` from the provider's tensor datums
    (``excluded_datums``: those of its excluded-rows series).

    A value the format refuses (:func:`metadata.matrix_value_problem`) is
    skipped, its step remembered as unreadable, and the problem logged once
    per series; likewise an excluded-row count, whose step's count is then
    unknown.
    """
    steps = np.array([d.step for d in datums], dtype=np.int64)
    wall_times = np.array([d.wall_time for d in datums], dtype=np.float64)
    keep: List[int] = []
    values: List[np.ndarray] = []
    unreadable: Dict[int, str] = {}
    for i in _last_of_each_step(steps).tolist():
        value = np.asarray(datums[i].numpy)
        problem = metadata.matrix_value_problem(value, series.num_classes)
        if problem is None:
            keep.append(i)
            values.append(value)
        else:
            unreadable[int(steps[i])] = problem
            skips.warn(series.run, series.tag, problem, what=f"the value at step {int(steps[i])} (and any other "
                                                             "with the same problem)")
    kept = np.array(keep, dtype=np.int64)
    counts = _excluded_counts(series, excluded_datums, skips)
    excluded = np.array([counts.get(int(step), -1) for step in steps[kept].tolist()], dtype=np.int64)
    unique, writes = np.unique(steps, return_counts=True)
    rewritten = frozenset(unique[writes > 1].tolist())
    return MatrixValues(series, steps[kept], wall_times[kept], tuple(values), unreadable, excluded, rewritten)


def _excluded_counts(series: MatrixSeries, datums: Sequence[Any], skips: SkipLog) -> Dict[int, int]:
    """``{step: excluded-row count}`` of the excluded-rows datums of
    ``series``, the last write of a step winning; a value the format refuses
    (:func:`metadata.decode_excluded`) leaves its step out, logged once."""
    steps = np.array([d.step for d in datums], dtype=np.int64)
    counts: Dict[int, int] = {}
    for i in _last_of_each_step(steps).tolist():
        step = int(steps[i])
        try:
            counts[step] = metadata.decode_excluded(datums[i].numpy)
        except ValueError as error:
            skips.warn(series.run, metadata.excluded_tag(series.tag), str(error),
                       what=f"the excluded-rows value at step {step} (and any other with the same problem)")
    return counts
