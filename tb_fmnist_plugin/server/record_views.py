"""What the per-example record's routes answer, as plain data: a cell's
members, an example's history, what entered or left a cell, forgetting and
the data map (``docs/http_api.md``, *The per-example record*).

One ``*_impl(ctx, experiment, ...)`` method per route, as in
:mod:`tb_fmnist_plugin.server.views`: read through
:class:`~tb_fmnist_plugin.server.record_reader.RecordReader`, compute with
:mod:`tb_fmnist_plugin.example_stats` (the one definition of these numbers),
raise ``tensorboard.errors`` (404, 400) or ``limits.ResponseTooLargeError``
(413). Probabilities are rounded to :data:`DECIMALS` decimals (they are
stored as float16); NaN is ``None``.
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from tensorboard import errors

from tb_fmnist_plugin import example_stats as stats
from tb_fmnist_plugin.server import queries
from tb_fmnist_plugin.server.limits import bounded
from tb_fmnist_plugin.server.record_reader import RecordReader
from tb_fmnist_plugin.server.record_series import Record, RecordHistory, RecordStep

#: Default and largest ``limit`` of ``members``, ``cell_changes`` and ``forgetting``.
LIMIT_DEFAULT = 100
LIMIT_MAX = 1000
#: ``sort`` and ``order`` of the listed members (the first of each is the default).
SORTS = ("confidence", "p_given")
ORDERS = ("desc", "asc")
#: Decimals of the probabilities and data-map coordinates answered.
DECIMALS = 4
#: JSON bytes of one example of ``data_map`` and one evaluation of ``example_history``.
_DATA_MAP_BYTES = 96
_HISTORY_BYTES = 40


def rounded(values: Any) -> List[Optional[float]]:
    """Numbers rounded to :data:`DECIMALS` decimals, NaN as None."""
    array = np.round(np.asarray(values, dtype=np.float64).reshape(-1), DECIMALS)
    return [None if math.isnan(v) else v for v in array.tolist()]


def _items(at: RecordStep, rows: np.ndarray) -> List[Dict[str, Any]]:
    """``rows`` of the evaluation ``at`` as the routes list examples."""
    index, label, predicted = at.index[rows].tolist(), at.label[rows].tolist(), at.predicted[rows].tolist()
    confidence, p_given = rounded(at.confidence[rows]), rounded(at.p_given[rows])
    return [
        {"row": row, "index": index[i], "label": label[i], "predicted": None if predicted[i] < 0 else predicted[i],
         "confidence": confidence[i], "p_given": p_given[i], "thumbnail": at.thumbnail(row)}
        for i, row in enumerate(rows.tolist())
    ]


def _listed(at: RecordStep, rows: np.ndarray, sort: str, order: str, offset: int, limit: int) -> Dict[str, Any]:
    """``{"total", "items"}``: the page of ``rows`` in the asked order."""
    values = at.confidence if sort == "confidence" else at.p_given
    page = stats.sorted_page(rows, values, order == "desc", offset, limit)
    return {"total": int(rows.size), "items": _items(at, page)}


def page_params(sort: str, order: str, offset: int, limit: int) -> None:
    """400 unless ``sort``/``order`` are known and ``1 <= limit <= LIMIT_MAX``."""
    for name, value, allowed in (("sort", sort, SORTS), ("order", order, ORDERS)):
        queries.choice_param({name: value}, name, allowed, allowed[0])
    queries.int_in_range("limit", limit, 1, LIMIT_MAX)
    queries.int_in_range("offset", offset, 0, 2**62)


class RecordViews:
    """The record routes' answers over one reader (None when TensorBoard
    has no data provider: every answer is a 404)."""

    def __init__(self, reader: Optional[RecordReader]) -> None:
        self._reader_or_none = reader

    @property
    def _reader(self) -> RecordReader:
        if self._reader_or_none is None:
            raise errors.NotFoundError("TensorBoard has no data provider")
        return self._reader_or_none

    def record(self, ctx: Any, experiment: str, run: str, tag: str, step: Optional[int] = None) -> Record:
        """The record of ``(run, tag)`` as listed (with ``step`` if listed;
        404 if none); its ``stamp`` changes with its data. Passed to an
        ``*_impl``, it saves their listing."""
        return self._reader.record(ctx, experiment, run, tag, step)

    def _step(self, ctx: Any, experiment: str, run: str, tag: str, step: int,
              record: Optional[Record] = None) -> Tuple[Record, RecordStep]:
        record = record if record is not None else self.record(ctx, experiment, run, tag, step)
        return record, self._reader.step(ctx, experiment, record, step)

    def members_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int, true: int, predicted: int,
        sort: str = SORTS[0], order: str = ORDERS[0], offset: int = 0, limit: int = LIMIT_DEFAULT,
    ) -> Dict[str, Any]:
        """Every member of cell ``(true, predicted)`` at ``step``: how many
        (``total``) and the page ``[offset, offset + limit)`` sorted by
        ``sort`` (``confidence``: top-1, or ``p_given``) in ``order``."""
        page_params(sort, order, offset, limit)
        record, at = self._step(ctx, experiment, run, tag, step)
        n = record.matrix.num_classes
        true, predicted = queries.class_index("true", true, n), queries.class_index("predicted", predicted, n)
        rows = stats.cell_members(at.label, at.predicted, true, predicted)
        return {"run": run, "tag": tag, "step": step, "true": true, "predicted": predicted, "identity": record.identity,
                "offset": offset, **_listed(at, rows, sort, order, offset, limit)}

    def example_history_impl(self, ctx: Any, experiment: str, run: str, tag: str, index: int) -> Dict[str, Any]:
        """Example ``index`` (dataset index or position) at every readable
        evaluation: predicted class, top-1 confidence, ``p_given`` (None
        where left out or not evaluated); 404 if it was never evaluated."""
        record = self.record(ctx, experiment, run, tag)
        history = self._reader.history(ctx, experiment, record)
        column = history.column(index)
        if column is None:
            raise errors.NotFoundError(f"example {index} was never evaluated in run {run!r}, tag {tag!r}")
        bounded(history.steps.size * _HISTORY_BYTES, "this example's history")
        predicted = history.predicted[:, column].tolist()
        tile = int(history.tile[column])
        return {
            "index": index,
            "label": int(history.label[column]),
            "identity": record.identity,
            "steps": history.steps.tolist(),
            "predicted": [None if p < 0 else p for p in predicted],
            "confidence": rounded(history.confidence[:, column]),
            "p_given": rounded(history.p_given[:, column]),
            "thumbnail": None if tile < 0 else {"step": int(history.thumbnail_step[column]), "tile": tile},
        }

    def cell_changes_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int, true: int, predicted: int,
        step_a: Optional[int] = None, run_a: Optional[str] = None,
        sort: str = SORTS[0], order: str = ORDERS[0], offset: int = 0, limit: int = LIMIT_DEFAULT,
    ) -> Dict[str, Any]:
        """The examples that ``entered`` cell ``(true, predicted)`` (members
        at B = ``run`` at ``step``, not at A = ``run_a`` (default ``run``)
        at ``step_a`` (default ``step``)) and that ``left`` it, each listed
        as ``members`` lists (B's values for entered, A's for left). A and B
        must have evaluated the same examples (400 otherwise)."""
        page_params(sort, order, offset, limit)
        if step_a is None and run_a is None:
            raise errors.InvalidArgumentError("cell_changes needs step_a (another step) or run_a (another run)")
        run_a = run if run_a is None else run_a
        step_a = step if step_a is None else step_a
        record_b, at_b = self._step(ctx, experiment, run, tag, step)
        record_a, at_a = self._step(ctx, experiment, run_a, tag, step_a)
        n = record_b.matrix.num_classes
        true, predicted = queries.class_index("true", true, n), queries.class_index("predicted", predicted, n)
        _same_examples(record_a, at_a, record_b, at_b)
        entered, left = stats.cell_changes(at_a.label, at_a.predicted, at_b.label, at_b.predicted, true, predicted)
        return {"run": run, "tag": tag, "step": step, "run_a": run_a, "step_a": step_a, "true": true,
                "predicted": predicted, "identity": record_b.identity, "offset": offset,
                "entered": _listed(at_b, entered, sort, order, offset, limit),
                "left": _listed(at_a, left, sort, order, offset, limit)}

    def forgetting_impl(self, ctx: Any, experiment: str, run: str, tag: str, limit: int = LIMIT_DEFAULT) -> Dict[str, Any]:
        """Forgetting events over every readable evaluation: counts per
        class and the ``limit`` examples forgotten most often."""
        queries.int_in_range("limit", limit, 1, LIMIT_MAX)
        record = self.record(ctx, experiment, run, tag)
        history = self._reader.history(ctx, experiment, record)
        events = stats.forgetting_events(history.correct, stats.evaluated(history.predicted))
        per_class = stats.forgetting_per_class(history.label, history.correct, events, record.matrix.num_classes)
        bounded(record.matrix.num_classes * 5 * 12 + history.steps.size * 12, "the forgetting of this series")
        top = stats.most_forgotten(events, limit)
        return {
            **_history_fields(run, tag, record, history),
            "per_class": {name: values.tolist() for name, values in per_class.items()},
            "top": [{"index": int(history.index[u]), "label": int(history.label[u]), "forgetting_events": int(events[u]),
                     "thumbnail": _thumbnail(history, u)} for u in top.tolist()],
        }

    def data_map_impl(self, ctx: Any, experiment: str, run: str, tag: str,
                      record: Optional[Record] = None) -> Dict[str, Any]:
        """The data map of every example evaluated at least once: mean and
        population standard deviation of ``p_given`` (``confidence``,
        ``variability``), ``correctness`` and region (index into ``regions``)."""
        record = record if record is not None else self.record(ctx, experiment, run, tag)
        history = self._reader.history(ctx, experiment, record)
        was_evaluated = stats.evaluated(history.predicted)
        found = stats.data_map(history.p_given, history.correct, was_evaluated)
        region, thresholds = stats.data_map_regions(found["confidence"], found["variability"])
        keep = found["evaluations"] > 0
        bounded(int(keep.sum()) * _DATA_MAP_BYTES, "the data map of this series")
        tile = history.tile[keep]
        return {
            **_history_fields(run, tag, record, history),
            "thresholds": {key: rounded([value])[0] for key, value in thresholds.items()},
            "regions": list(stats.REGIONS),
            "index": history.index[keep].tolist(),
            "label": history.label[keep].tolist(),
            "confidence": rounded(found["confidence"][keep]),
            "variability": rounded(found["variability"][keep]),
            "correctness": rounded(found["correctness"][keep]),
            "region": region[keep].tolist(),
            "thumbnail_step": [None if t < 0 else s for s, t in zip(history.thumbnail_step[keep].tolist(), tile.tolist())],
            "tile": [None if t < 0 else t for t in tile.tolist()],
        }

    def thumbnails_layout_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Dict[str, Any]:
        """The page geometry of the thumbnails written at ``step``."""
        record = self.record(ctx, experiment, run, tag, step)
        found = self._reader.thumbnails_at(ctx, experiment, record, step)
        return {"step": step, **found.layout, "tiles": found.tiles, "pages": found.pages}

    def thumbnail_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int, page: int) -> bytes:
        """The PNG of page ``page`` (from 0) of the thumbnails written at ``step``."""
        record = self.record(ctx, experiment, run, tag, step)
        return self._reader.thumbnail_page(ctx, experiment, record, step, page)


def _history_fields(run: str, tag: str, record: Record, history: RecordHistory) -> Dict[str, Any]:
    """The fields that open an answer over every evaluation of a series:
    what it is of and which evaluations it counts."""
    return {
        "run": run,
        "tag": tag,
        "identity": record.identity,
        "evaluations": int(history.steps.size),
        "steps": history.steps.tolist(),
    }


def _thumbnail(history: RecordHistory, column: int) -> Optional[Dict[str, int]]:
    tile = int(history.tile[column])
    return None if tile < 0 else {"step": int(history.thumbnail_step[column]), "tile": tile}


def _same_examples(record_a: Record, at_a: RecordStep, record_b: Record, at_b: RecordStep) -> None:
    """400 unless evaluations A and B are of the same examples (same
    identity, same indices in the same rows) and class count."""
    def where(record: Record, at: RecordStep) -> str:
        return f"run {record.matrix.run!r} at step {at.step}"

    problem = None
    if record_a.matrix.num_classes != record_b.matrix.num_classes:
        problem = f"{record_a.matrix.num_classes} and {record_b.matrix.num_classes} classes"
    elif record_a.identity != record_b.identity:
        problem = f"examples identified by {record_a.identity} and by {record_b.identity}"
    elif at_a.index.size != at_b.index.size:
        problem = f"{at_a.index.size} and {at_b.index.size} examples"
    elif not np.array_equal(at_a.index, at_b.index):
        problem = f"different examples ({int((at_a.index != at_b.index).sum())} of {at_a.index.size} indices differ)"
    if problem is not None:
        raise errors.InvalidArgumentError(
            f"{where(record_a, at_a)} and {where(record_b, at_b)} cannot be compared example by example: {problem}")
