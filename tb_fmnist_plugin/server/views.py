"""What each route answers, as plain data (dicts, lists, numpy arrays).

One ``*_impl(ctx, experiment, ...)`` method per route of
:class:`tb_fmnist_plugin.server.plugin.ConfusionPlugin`, in the manner of
TensorBoard's own plugins: the route parses the request and encodes the
answer; the method here reads through :class:`~tb_fmnist_plugin.server.reader.ConfusionReader`,
computes with :mod:`tb_fmnist_plugin.metrics`, and raises
``tensorboard.errors.NotFoundError`` (404), ``InvalidArgumentError`` (400) or
:class:`~tb_fmnist_plugin.server.limits.ResponseTooLargeError` (413, an answer over
``limits.MAX_RESPONSE_BYTES``).
Ratios are already rounded as the API gives them (:mod:`tb_fmnist_plugin.server.json_encoding`).
"""
from __future__ import annotations

import urllib.parse
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from tensorboard import errors

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server import diagnostics_reader, queries, record_reader
from tb_fmnist_plugin.server.caches import StampedCache
from tb_fmnist_plugin.server.json_encoding import ratios
from tb_fmnist_plugin.server.limits import bounded, bounded_counts
from tb_fmnist_plugin.server.reader import ConfusionReader, Listing
from tb_fmnist_plugin.server.series import ListedSeries, MatrixSeries, MatrixValues

#: Default and largest ``n`` of ``top_confusions``.
TOP_N_DEFAULT = 10
TOP_N_MAX = 1000
#: ``tags`` with ``with_latest`` carries the last matrix of each series of at
#: most this many classes (what the tab draws first), up to this many cells
#: in all (a sweep of hundreds of runs: the tab asks /matrix for the rest).
LATEST_MAX_CLASSES = 100
LATEST_MAX_CELLS = 1_000_000
#: ``tags`` summarizes the last step of each series of at most this many
#: classes (the run table's numbers), with every class's recall up to
#: ``SUMMARY_RECALL_MAX_CLASSES`` classes.
SUMMARY_MAX_CLASSES = 1000
SUMMARY_RECALL_MAX_CLASSES = 100
#: The fields of ``metrics_series`` (all of them unless its ``metrics`` parameter picks some).
SERIES_METRICS = ("accuracy", "precision", "recall", "f1", "support", "iou")
#: JSON bytes per step and class of ``metrics_series`` (5 ratios, a count).
_SERIES_BYTES_PER_CLASS = 5 * 9 + 12


class ConfusionViews:
    """The routes' answers over one data provider's reader.

    ``reader`` is None when TensorBoard has no data provider (every answer
    is then a 404); ``samples_limit`` is how many steps TensorBoard keeps of
    this plugin's series (None: all), reported by ``tags``.
    """

    def __init__(self, reader: Optional[ConfusionReader], samples_limit: Optional[int]) -> None:
        self._reader_or_none = reader
        self._samples_limit = samples_limit
        self._calibration = diagnostics_reader.DiagnosticsReader(reader) if reader is not None else None
        # summaries of listed series, kept while a series' stamp is unchanged
        self._summaries = StampedCache(1_000_000, 64 * 1024 * 1024)

    @property
    def _reader(self) -> ConfusionReader:
        if self._reader_or_none is None:
            raise errors.NotFoundError("TensorBoard has no data provider")
        return self._reader_or_none

    def series(self, ctx: Any, experiment: str, run: str, tag: str) -> MatrixSeries:
        """The matrix series ``(run, tag)`` as listed now (one provider call;
        404 if there is none); its ``stamp`` changes with its data. Passed to
        ``matrix_impl`` or ``metrics_series_impl``, it saves their own call."""
        return self._reader.matrix_series(ctx, experiment, run, tag)

    def _step(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int, series: Optional[MatrixSeries] = None
    ) -> Tuple[MatrixValues, int]:
        """The series ``(run, tag)`` and the position of ``step`` in it."""
        values = self._reader.read_matrices(ctx, experiment, run, tag, series)
        return values, values.position(step)

    def listing(self, ctx: Any, experiment: str) -> Listing:
        """What the provider lists now (two calls); its ``stamp`` changes
        whenever ``tags_impl`` would answer differently."""
        return self._reader.listing(ctx, experiment)

    def tags_impl(
        self, ctx: Any, experiment: str, *, with_latest: bool = False, listing: Optional[Listing] = None
    ) -> Dict[str, Any]:
        """Every run and matrix tag with its readable steps; with
        ``with_latest`` also the last matrix of each series of at most
        ``LATEST_MAX_CLASSES`` classes (up to ``LATEST_MAX_CELLS`` cells in
        all) and its excluded-row count, so the tab draws without a second
        round trip. ``summaries`` (:meth:`_summary`) holds the run table's
        numbers at each series' last step. A constant number
        of provider calls, whatever the number of runs and tags (none but the
        reads of new data given a fresh ``listing``; one more batched read
        for the reliability series with new data, when runs log calibration)."""
        reader = self._reader
        listing = listing if listing is not None else reader.listing(ctx, experiment)
        matrices = reader.listed_series(ctx, experiment, listing)
        examples = reader.examples_steps(ctx, experiment, listing, matrices) if matrices else {}
        diagnostics = diagnostics_reader.listed_kinds(reader, listing, matrices)
        recorded = record_reader.listed_record_kinds(reader, listing, matrices)
        reliability = self._calibration.last_reliability(ctx, experiment, listing, matrices) if self._calibration else {}
        limit = self._samples_limit
        runs: Dict[str, Any] = {}
        latest: Dict[str, Dict[str, Any]] = {}
        latest_excluded: Dict[str, Dict[str, Optional[int]]] = {}
        summaries: Dict[str, Dict[str, Any]] = {}
        cells_left = LATEST_MAX_CELLS
        for run in sorted(matrices):
            tags: Dict[str, Any] = {}
            for tag in sorted(matrices[run]):
                listed = matrices[run][tag]
                series = listed.series
                examples_steps = examples.get((run, tag), [])
                tags[tag] = {
                    "num_classes": series.num_classes,
                    "class_names": series.class_names,
                    "description": series.description,
                    "unit": series.unit,
                    "steps": listed.steps,
                    "wall_times": listed.wall_times,
                    "examples_steps": examples_steps,
                    "diagnostics": sorted(diagnostics[(run, tag)] + recorded.get((run, tag), [])),
                    "samples_limit": limit,
                    "possibly_sampled": limit is not None
                    and (len(listed.steps) >= limit or len(examples_steps) >= limit),
                }
                summary = self._summary(experiment, listed, reliability.get((run, tag)))
                if summary is not None:
                    summaries.setdefault(run, {})[tag] = summary
                cells = series.num_classes**2
                if with_latest and series.num_classes <= LATEST_MAX_CLASSES and cells <= cells_left:
                    # checked when read; past the budget the tab asks /matrix
                    rows = metadata.decode_matrix(listed.last_value, series.num_classes, checked=True)
                    latest.setdefault(run, {})[tag] = rows.tolist()
                    latest_excluded.setdefault(run, {})[tag] = listed.last_excluded
                    cells_left -= cells
            runs[run] = tags
        payload: Dict[str, Any] = {"runs": runs}
        if summaries:  # absent when no series has one (nothing listed, or only series over SUMMARY_MAX_CLASSES)
            payload["summaries"] = summaries
        if with_latest:
            payload["latest"] = latest
            payload["latest_excluded_rows"] = latest_excluded
        return payload

    def _summary(self, experiment: str, listed: ListedSeries, bins: Optional[Any]) -> Optional[Dict[str, Any]]:
        """The run table's numbers at the last listed step of a series of at
        most ``SUMMARY_MAX_CLASSES`` classes (None otherwise), computed with
        :mod:`tb_fmnist_plugin.metrics`: ``accuracy``, the lowest recall of a
        class with support (``worst_recall``, ``worst_class``; None when no
        class has any), ``recall`` per class (only up to
        ``SUMMARY_RECALL_MAX_CLASSES`` classes) and ``ece`` from the
        reliability ``bins`` at that step (None when not logged there)."""
        series = listed.series
        if series.num_classes > SUMMARY_MAX_CLASSES or listed.last_value is None:
            return None
        key = (experiment, series.run, series.tag)
        stamp = (series.stamp, None if bins is None else bins.tobytes())
        cached = self._summaries.get(key, stamp)
        if cached is not None:
            return cached
        matrix = metadata.decode_matrix(listed.last_value, series.num_classes, checked=True)
        result = metrics.per_class_metrics(matrix)
        recall = result["recall"]
        worst = None if np.isnan(recall).all() else int(np.nanargmin(recall))
        summary: Dict[str, Any] = {
            "step": listed.steps[-1],
            "accuracy": ratios(result["accuracy"])[0],
            "worst_recall": None if worst is None else ratios(recall[worst])[0],
            "worst_class": worst,
            "ece": None if bins is None else ratios(metrics.expected_calibration_error(bins.sum(axis=0)))[0],
        }
        if series.num_classes <= SUMMARY_RECALL_MAX_CLASSES:
            summary["recall"] = ratios(recall)
        self._summaries.put(key, stamp, summary, 64 + 16 * series.num_classes)
        return summary

    def matrix_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int, series: Optional[MatrixSeries] = None
    ) -> Dict[str, Any]:
        """The matrix at ``step``; ``"matrix"`` is an ``[n, n]`` int64 array.
        ``"excluded_rows"``: the rows of that evaluation left out of the matrix
        (None: unknown), ``"excluded_reason"`` why (None when unknown)."""
        values, i = self._step(ctx, experiment, run, tag, step, series)
        series = values.series
        matrix = values.dense(i)
        bounded_counts("this matrix", matrix)
        excluded = values.excluded_rows(i)
        return {
            "run": series.run,
            "tag": series.tag,
            "step": int(values.steps[i]),
            "wall_time": float(values.wall_times[i]),
            "class_names": series.class_names,
            "matrix": matrix,
            "excluded_rows": excluded,
            "excluded_reason": None if excluded is None else metadata.EXCLUDED_REASON_NAN,
        }

    def metrics_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Dict[str, Any]:
        """Accuracy and per-class metrics at ``step`` (NaN ratios are None),
        with IoU per class and mean, frequency-weighted IoU and pixel
        accuracy (the dense tasks' numbers, answered for every matrix; for a
        classification matrix they are the same formulas over examples)."""
        values, i = self._step(ctx, experiment, run, tag, step)
        series = values.series
        matrix = values.dense(i)
        result = metrics.per_class_metrics(matrix)
        confused_index, confused_count = metrics.most_confused_with(matrix)
        precision, recall, f1 = ratios(result["precision"]), ratios(result["recall"]), ratios(result["f1"])
        dense = metrics.iou_metrics(matrix)
        iou = ratios(dense["iou"])
        support = result["support"].tolist()
        predicted = result["predicted"].tolist()
        confused_index = confused_index.tolist()
        confused_count = confused_count.tolist()
        classes = [
            {
                "index": c,
                "name": series.class_names[c],
                "support": support[c],
                "predicted": predicted[c],
                "precision": precision[c],
                "recall": recall[c],
                "f1": f1[c],
                "iou": iou[c],
                "most_confused_with": None if confused_index[c] < 0 else confused_index[c],
                "most_confused_count": confused_count[c],
            }
            for c in range(series.num_classes)
        ]
        return {
            "run": series.run,
            "tag": series.tag,
            "step": int(values.steps[i]),
            "unit": series.unit,
            "accuracy": ratios(result["accuracy"])[0],
            **{key: ratios(dense[key])[0] for key in ("mean_iou", "frequency_weighted_iou", "pixel_accuracy")},
            "total": int(sum(support)),
            "classes": classes,
        }

    def metrics_series_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, series: Optional[MatrixSeries] = None,
        fields: Optional[Sequence[str]] = None, classes: Optional[Sequence[int]] = None,
    ) -> Dict[str, Any]:
        """Metrics at every kept step: ``"accuracy"`` ``[steps]`` and
        ``"precision"``, ``"recall"``, ``"f1"``, ``"iou"`` ``[steps, n]`` float
        arrays (NaN for a zero denominator), ``"support"`` ``[steps, n]`` int64. The
        optional ``fields`` (names of :data:`SERIES_METRICS`, the ``metrics``
        parameter) and ``classes`` (class indices) keep only those metrics and
        class columns (a long series' answer is megabytes; the tab may need one class)."""
        names = SERIES_METRICS if fields is None else tuple(fields)
        values = self._reader.read_matrices(ctx, experiment, run, tag, series)
        series = values.series
        picked = None if classes is None else [queries.class_index("classes", c, series.num_classes) for c in classes]
        width = series.num_classes if picked is None else len(picked)
        bounded(values.steps.size * width * _SERIES_BYTES_PER_CLASS, "the metrics of this series")
        result = dict(values.series_metrics())
        if "iou" in names:
            result["iou"] = metrics.iou_metrics_from_marginals(*values.marginals())["iou"]
        payload: Dict[str, Any] = {
            "run": series.run,
            "tag": series.tag,
            "class_names": series.class_names,
            "steps": values.steps.tolist(),
        }
        if picked is not None:
            payload["classes"] = picked
        for key in (key for key in SERIES_METRICS if key in names):
            payload[key] = result[key] if picked is None or key == "accuracy" else result[key][:, picked]
        return payload

    def cell_series_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, true: int, predicted: int
    ) -> Dict[str, Any]:
        """Count of cell ``(true, predicted)`` and of row ``true`` at every readable kept step."""
        values = self._reader.read_matrices(ctx, experiment, run, tag)
        n = values.series.num_classes
        true = queries.class_index("true", true, n)
        predicted = queries.class_index("predicted", predicted, n)
        row_totals = values.marginals()[1][:, true]
        counts = values.cell_counts(true, predicted)
        return {"steps": values.steps.tolist(), "counts": counts.tolist(), "row_totals": row_totals.tolist()}

    def top_confusions_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int, n: int = TOP_N_DEFAULT
    ) -> Dict[str, Any]:
        """The ``n`` largest off-diagonal cells at ``step`` (1 <= n <= ``TOP_N_MAX``)."""
        values, i = self._step(ctx, experiment, run, tag, step)
        n = queries.int_in_range("n", n, 1, TOP_N_MAX)
        names = values.series.class_names
        matrix = values.dense(i)
        row_totals = matrix.sum(axis=1).tolist()
        top = metrics.top_confusions(matrix, n)
        shares = ratios([count / row_totals[t] for t, _, count in top])
        confusions = [
            {
                "true": t,
                "predicted": p,
                "true_name": names[t],
                "predicted_name": names[p],
                "count": count,
                "row_share": share,
            }
            for (t, p, count), share in zip(top, shares)
        ]
        return {"confusions": confusions}

    def examples_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int, true: int, predicted: int
    ) -> Dict[str, Any]:
        """The example images of cell ``(true, predicted)`` at ``step``: their
        tiles in the sprite and a URL of the sprite relative to ``examples``."""
        series = self._reader.matrix_series(ctx, experiment, run, tag)
        found = self._reader.read_examples(ctx, experiment, series, step)
        true = queries.class_index("true", true, series.num_classes)
        predicted = queries.class_index("predicted", predicted, series.num_classes)
        index = found.index
        width, height, columns = metadata.sprite_grid(index)
        examples = []
        for tile in range(len(index["true"])):
            if index["true"][tile] == true and index["predicted"][tile] == predicted:
                x, y = metadata.tile_offset(index, tile)
                examples.append(
                    {
                        "tile": tile,
                        "x": x,
                        "y": y,
                        "confidence": index["confidence"][tile],
                        "dataset_index": index["index"][tile],
                    }
                )
        sprite = "sprite?" + urllib.parse.urlencode(
            {"run": series.run, "tag": series.tag, "step": found.step}, quote_via=urllib.parse.quote
        )
        return {
            "tile_width": width,
            "tile_height": height,
            "channels": int(index["channels"]),
            "columns": columns,
            "sprite": sprite,
            "examples": examples,
        }

    def sprite_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> bytes:
        """The PNG sprite sheet of the examples at ``step``."""
        series = self._reader.matrix_series(ctx, experiment, run, tag)
        return self._reader.read_sprite(ctx, experiment, series, step)
