"""What each route answers, as plain data (dicts, lists, numpy arrays).

One ``*_impl(ctx, experiment, ...)`` method per route of
:class:`tb_fmnist_plugin.plugin.ConfusionPlugin`, in the manner of
TensorBoard's own plugins: the route parses the request and encodes the
answer; the method here reads through :class:`~tb_fmnist_plugin.reader.ConfusionReader`,
computes with :mod:`tb_fmnist_plugin.metrics`, and raises
``tensorboard.errors.NotFoundError`` (404) or ``InvalidArgumentError`` (400).
Ratios are already rounded as the API gives them (:mod:`tb_fmnist_plugin.json_encoding`).
"""
from __future__ import annotations

import contextlib
import logging
import urllib.parse
from typing import Any, Dict, Iterator, List, Optional, Tuple

import numpy as np
from tensorboard import errors

from tb_fmnist_plugin import metadata, metrics, queries
from tb_fmnist_plugin.json_encoding import ratios
from tb_fmnist_plugin.reader import ConfusionReader, MatrixValues

logger = logging.getLogger(__name__)

#: Default and largest ``n`` of ``top_confusions``.
TOP_N_DEFAULT = 10
TOP_N_MAX = 1000
#: ``tags`` with ``with_latest`` carries the last matrix of each series of at
#: most this many classes (what the tab draws first).
LATEST_MAX_CLASSES = 100
#: Steps decoded at once by ``metrics_series`` (bounds memory for 1,000 classes).
_SERIES_CHUNK_ELEMENTS = 8_000_000
_SERIES_METRICS = ("accuracy", "precision", "recall", "f1", "support")


@contextlib.contextmanager
def _unreadable_is_not_found(values: MatrixValues, message: str) -> Iterator[None]:
    """Turn a matrix that fails to decode into a logged 404 with ``message``."""
    try:
        yield
    except ValueError as error:
        series = values.series
        logger.warning("%s: unreadable matrix in %s/%s: %s", metadata.PLUGIN_NAME, series.run, series.tag, error)
        raise errors.NotFoundError(message) from None


def _dense(values: MatrixValues, i: int) -> np.ndarray:
    """The ``i``-th kept matrix of a series; 404 if it does not decode."""
    with _unreadable_is_not_found(values, "the stored matrix at this step is unreadable"):
        return values.dense(i)


class ConfusionViews:
    """The routes' answers over one data provider's reader.

    ``reader`` is None when TensorBoard has no data provider (every answer
    is then a 404); ``samples_limit`` is how many steps TensorBoard keeps of
    this plugin's series (None: all), reported by ``tags``.
    """

    def __init__(self, reader: Optional[ConfusionReader], samples_limit: Optional[int]) -> None:
        self._reader_or_none = reader
        self._samples_limit = samples_limit

    @property
    def _reader(self) -> ConfusionReader:
        if self._reader_or_none is None:
            raise errors.NotFoundError("TensorBoard has no data provider")
        return self._reader_or_none

    def _step(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Tuple[MatrixValues, int]:
        """The series ``(run, tag)`` and the position of ``step`` in it."""
        values = self._reader.read_matrices(ctx, experiment, run, tag)
        return values, values.position(step)

    def tags_impl(self, ctx: Any, experiment: str, *, with_latest: bool = False) -> Dict[str, Any]:
        """Every run and matrix tag with its steps; with ``with_latest`` also
        the last matrix of each series of at most ``LATEST_MAX_CLASSES``
        classes, so the tab draws without a second round trip."""
        reader = self._reader
        listing = reader.list_matrix_series(ctx, experiment)
        examples = reader.examples_steps(ctx, experiment) if listing else {}
        limit = self._samples_limit
        runs: Dict[str, Any] = {}
        latest: Dict[str, Dict[str, Any]] = {}
        for run in sorted(listing):
            tags: Dict[str, Any] = {}
            for tag in sorted(listing[run]):
                values = reader.read_matrices(ctx, experiment, run, tag, listing[run][tag])
                series = values.series
                steps = values.steps.tolist()
                examples_steps = examples.get((run, tag), [])
                tags[tag] = {
                    "num_classes": series.num_classes,
                    "class_names": series.class_names,
                    "description": series.description,
                    "steps": steps,
                    "wall_times": values.wall_times.tolist(),
                    "examples_steps": examples_steps,
                    "samples_limit": limit,
                    "possibly_sampled": limit is not None
                    and (len(steps) >= limit or len(examples_steps) >= limit),
                }
                if with_latest and steps and series.num_classes <= LATEST_MAX_CLASSES:
                    # the series was decoded above; this only densifies one step
                    try:
                        rows = values.dense(len(steps) - 1)
                    except ValueError:
                        continue  # unreadable: the tab asks /matrix and shows its error
                    latest.setdefault(run, {})[tag] = rows.tolist()
            runs[run] = tags
        payload: Dict[str, Any] = {"runs": runs}
        if with_latest:
            payload["latest"] = latest
        return payload

    def matrix_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Dict[str, Any]:
        """The matrix at ``step``; ``"matrix"`` is an ``[n, n]`` int64 array."""
        values, i = self._step(ctx, experiment, run, tag, step)
        series = values.series
        return {
            "run": series.run,
            "tag": series.tag,
            "step": int(values.steps[i]),
            "wall_time": float(values.wall_times[i]),
            "class_names": series.class_names,
            "matrix": _dense(values, i),
        }

    def metrics_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Dict[str, Any]:
        """Accuracy and per-class metrics at ``step`` (NaN ratios are None)."""
        values, i = self._step(ctx, experiment, run, tag, step)
        series = values.series
        matrix = _dense(values, i)
        result = metrics.per_class_metrics(matrix)
        confused_index, confused_count = metrics.most_confused_with(matrix)
        precision, recall, f1 = ratios(result["precision"]), ratios(result["recall"]), ratios(result["f1"])
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
                "most_confused_with": None if confused_index[c] < 0 else confused_index[c],
                "most_confused_count": confused_count[c],
            }
            for c in range(series.num_classes)
        ]
        return {
            "run": series.run,
            "tag": series.tag,
            "step": int(values.steps[i]),
            "accuracy": ratios(result["accuracy"])[0],
            "total": int(sum(support)),
            "classes": classes,
        }

    def metrics_series_impl(self, ctx: Any, experiment: str, run: str, tag: str) -> Dict[str, Any]:
        """Metrics at every kept step: ``"accuracy"`` ``[steps]`` and
        ``"precision"``, ``"recall"``, ``"f1"`` ``[steps, n]`` float arrays (NaN
        for a zero denominator), ``"support"`` ``[steps, n]`` int64."""
        values = self._reader.read_matrices(ctx, experiment, run, tag)
        series = values.series
        n = series.num_classes
        count = values.steps.size
        chunk = max(1, _SERIES_CHUNK_ELEMENTS // (n * n))
        parts: Dict[str, List[np.ndarray]] = {key: [] for key in _SERIES_METRICS}
        for start in range(0, count, chunk):
            with _unreadable_is_not_found(values, "a stored matrix of this series is unreadable"):
                stacked = values.dense_range(start, min(count, start + chunk))
            result = metrics.per_class_metrics(stacked)
            for key, chunks in parts.items():
                chunks.append(result[key])
        empty = {"accuracy": np.zeros(0), "support": np.zeros((0, n), dtype=np.int64)}
        payload: Dict[str, Any] = {
            "run": series.run,
            "tag": series.tag,
            "class_names": series.class_names,
            "steps": values.steps.tolist(),
        }
        for key in _SERIES_METRICS:
            payload[key] = np.concatenate(parts[key]) if parts[key] else empty.get(key, np.zeros((0, n)))
        return payload

    def cell_series_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, true: int, predicted: int
    ) -> Dict[str, Any]:
        """Count of cell ``(true, predicted)`` and of row ``true`` at every kept step."""
        values = self._reader.read_matrices(ctx, experiment, run, tag)
        n = values.series.num_classes
        true = queries.class_index("true", true, n)
        predicted = queries.class_index("predicted", predicted, n)
        counts: List[int] = []
        row_totals: List[int] = []
        for i in range(values.steps.size):
            matrix = _dense(values, i)
            counts.append(int(matrix[true, predicted]))
            row_totals.append(int(matrix[true].sum()))
        return {"steps": values.steps.tolist(), "counts": counts, "row_totals": row_totals}

    def top_confusions_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int, n: int = TOP_N_DEFAULT
    ) -> Dict[str, Any]:
        """The ``n`` largest off-diagonal cells at ``step`` (1 <= n <= ``TOP_N_MAX``)."""
        values, i = self._step(ctx, experiment, run, tag, step)
        n = queries.int_in_range("n", n, 1, TOP_N_MAX)
        names = values.series.class_names
        matrix = _dense(values, i)
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
        found = self._reader.read_examples(ctx, experiment, run, tag, step)
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
        self._reader.matrix_series(ctx, experiment, run, tag)
        found = self._reader.read_examples(ctx, experiment, run, tag, step)
        return self._reader.read_blob(ctx, found.sprite_key)
