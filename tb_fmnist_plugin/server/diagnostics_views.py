"""What the diagnostics routes answer, as plain data: calibration, cell
confidence, label issues and suspected label errors (``docs/http_api.md``).

One ``*_impl(ctx, experiment, ...)`` method per route of
:class:`tb_fmnist_plugin.server.plugin.ConfusionPlugin`, as in
:mod:`tb_fmnist_plugin.server.views`: read through
:class:`~tb_fmnist_plugin.server.diagnostics_reader.DiagnosticsReader`, compute with
:mod:`tb_fmnist_plugin.metrics`, raise ``tensorboard.errors`` (404, 400) or
``limits.ResponseTooLargeError`` (413, :func:`~tb_fmnist_plugin.server.limits.bounded`). Ratios are rounded as the API gives
them (:func:`~tb_fmnist_plugin.server.json_encoding.ratios`); other numbers are
``None`` where not finite, so no answer holds a NaN.
"""
from __future__ import annotations

import math
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import numpy as np
from tensorboard import errors

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server import queries
from tb_fmnist_plugin.server.diagnostics_reader import DiagnosticsReader, has_images
from tb_fmnist_plugin.server.json_encoding import ratios
from tb_fmnist_plugin.server.limits import bounded, bounded_counts
from tb_fmnist_plugin.server.series import MatrixSeries

_CALIBRATION = (metadata.KIND_RELIABILITY, metadata.KIND_CLASS_LOSS, metadata.KIND_PREDICTED_RELIABILITY,
                metadata.KIND_CLASSWISE)
#: ``per_class_kind`` of a calibration answer: what its per-class bins are conditioned on.
_BY_PREDICTED, _BY_TRUE = "predicted_class", "true_class"
#: JSON bytes per step and class of ``calibration_series`` (a ratio, a loss).
_SERIES_BYTES_PER_CLASS = 9 + 26
#: JSON bytes per bin and class of ``calibration`` (a count, two ratios).
_CALIBRATION_BYTES_PER_BIN = 12 + 2 * 9
#: JSON bytes of one listed suspect (names aside).
_SUSPECT_BYTES = 220


def _floats(values: Any) -> List[Optional[float]]:
    """Numbers that are not ratios (losses), ``None`` where not finite."""
    return [v if math.isfinite(v) else None for v in np.asarray(values, dtype=np.float64).reshape(-1).tolist()]


def _counts(values: Any) -> List[Optional[int]]:
    """Stored (float) counts as integers; ``None`` for a sum that overflowed."""
    return [int(v) if math.isfinite(v) else None for v in np.rint(np.asarray(values, dtype=np.float64)).reshape(-1).tolist()]


def _bins(reliability: Dict[str, np.ndarray]) -> Dict[str, Any]:
    """``count``, ``confidence``, ``accuracy`` of one set of bins as JSON lists."""
    return {
        "count": _counts(reliability["count"]),
        "confidence": ratios(reliability["confidence"]),
        "accuracy": ratios(reliability["accuracy"]),
    }


def _per_class_at(found: Dict[str, Any], step: int) -> Optional[Tuple[str, np.ndarray, Optional[np.ndarray]]]:
    """``(per_class_kind, [C, B, 3] top-label bins, classwise bins or None)``
    at ``step``: the bins by predicted class where the step has them (with
    the classwise bins if readable), else the older per-true-class bins
    (no classwise ECE); None when the step has neither."""
    def value(kind: str) -> Optional[np.ndarray]:
        series = found.get(kind)
        return series.get(step) if series is not None else None

    by_predicted, classwise = value(metadata.KIND_PREDICTED_RELIABILITY), value(metadata.KIND_CLASSWISE)
    if classwise is not None and (by_predicted is None or classwise.shape != by_predicted.shape):
        classwise = None  # bins of another count than the top-label ones: not shown beside them
    if by_predicted is not None:
        return _BY_PREDICTED, by_predicted, classwise
    by_true = value(metadata.KIND_RELIABILITY)
    return None if by_true is None else (_BY_TRUE, by_true, None)


def _top_label_steps(found: Dict[str, Any]) -> List[int]:
    """Steps with readable top-label bins of either kind."""
    steps = set()
    for kind in (metadata.KIND_PREDICTED_RELIABILITY, metadata.KIND_RELIABILITY):
        if kind in found:
            steps.update(found[kind].steps)
    return sorted(steps)


class DiagnosticsViews:
    """The diagnostics routes' answers over one data provider's reader
    (None when TensorBoard has no data provider: every answer is a 404)."""

    def __init__(self, reader: Optional[DiagnosticsReader]) -> None:
        self._reader_or_none = reader

    def _matrix(self, ctx: Any, experiment: str, run: str, tag: str) -> Tuple[DiagnosticsReader, MatrixSeries]:
        """The reader and the matrix series ``(run, tag)``; 404 if none."""
        if self._reader_or_none is None:
            raise errors.NotFoundError("TensorBoard has no data provider")
        return self._reader_or_none, self._reader_or_none.matrix_series(ctx, experiment, run, tag)

    def calibration_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Dict[str, Any]:
        """Reliability bins, ECE and mean loss at ``step``, of the whole set
        and per class: by predicted class with the classwise ECE where the
        step has those series (``per_class_kind`` ``"predicted_class"``),
        else the older per-true-class bins and ECE (``"true_class"``)."""
        reader, matrix = self._matrix(ctx, experiment, run, tag)
        found = reader.read(ctx, experiment, matrix, _CALIBRATION, step)
        per_class = _per_class_at(found, step)
        if per_class is None:  # 404 saying why, of the newer kind where the matrix has it
            newer = metadata.KIND_PREDICTED_RELIABILITY in found
            reader.require(found, metadata.KIND_PREDICTED_RELIABILITY if newer else metadata.KIND_RELIABILITY, matrix).at(step)
        kind, bins, classwise = per_class
        classes_count, num_bins = bins.shape[0], bins.shape[1]
        bounded(classes_count * num_bins * _CALIBRATION_BYTES_PER_BIN, "the calibration of this step")
        loss_series = found.get(metadata.KIND_CLASS_LOSS)
        loss = loss_series.get(step) if loss_series is not None else None
        with np.errstate(over="ignore"):
            overall = bins.sum(axis=0)
            support = classwise[..., 2].sum(axis=1) if classwise is not None else bins[..., 0].sum(axis=1)
        supports, predicted = _counts(support), _counts(bins[..., 0].sum(axis=1))
        class_bins = metrics.reliability(bins)
        bins_ece = ratios(metrics.expected_calibration_error(bins))
        class_ece = ratios(metrics.classwise_calibration_error(classwise)) if classwise is not None else bins_ece
        class_loss = _floats(loss) if loss is not None else [None] * classes_count
        classes = []
        for c in range(classes_count):
            entry = {"index": c, "name": matrix.class_names[c], "support": supports[c], "ece": class_ece[c],
                     "loss": class_loss[c]}
            if kind == _BY_PREDICTED:
                entry.update({"predicted": predicted[c], "predicted_ece": bins_ece[c]})
            entry.update(_bins({key: value[c] for key, value in class_bins.items()}))
            classes.append(entry)
        return {
            "run": matrix.run,
            "tag": matrix.tag,
            "step": step,
            "num_bins": num_bins,
            "edges": ratios(metrics.bin_edges(num_bins)),
            "per_class_kind": kind,
            "class_ece_kind": "classwise" if classwise is not None else _BY_TRUE,
            "overall": {"ece": ratios(metrics.expected_calibration_error(overall))[0], **_bins(metrics.reliability(overall))},
            "loss": None if loss is None else _floats([metrics.mean_loss(loss, support)])[0],
            "classes": classes,
        }

    def calibration_series_impl(self, ctx: Any, experiment: str, run: str, tag: str) -> Dict[str, Any]:
        """ECE overall and per class, and loss per class, at every readable
        step of the reliability series (either kind of top-label bins):
        ``"ece"`` ``[steps]``, ``"class_ece"`` ``[steps, C]`` classwise ECE
        (float arrays, NaN: undefined or not that step's kind),
        ``"true_class_ece"`` ``[[ratio or None]]`` the older per-true-class
        ECE of steps without classwise bins, ``"class_loss"`` ``[[float or None]]``."""
        reader, matrix = self._matrix(ctx, experiment, run, tag)
        found = reader.read(ctx, experiment, matrix, _CALIBRATION)
        n = matrix.num_classes
        at = {s: _per_class_at(found, s) for s in _top_label_steps(found)}
        steps = sorted(s for s, value in at.items() if value is not None)
        if metadata.KIND_PREDICTED_RELIABILITY not in found:
            reader.require(found, metadata.KIND_RELIABILITY, matrix)  # 404 without either kind
        bounded(len(steps) * n * (_SERIES_BYTES_PER_CLASS + 9), "the calibration of this series")
        loss_series = found.get(metadata.KIND_CLASS_LOSS)
        ece, class_ece, true_class_ece, class_loss = [], np.full((len(steps), n), np.nan), np.full((len(steps), n), np.nan), []
        for i, s in enumerate(steps):
            _, bins, classwise = at[s]
            with np.errstate(over="ignore"):
                ece.append(float(metrics.expected_calibration_error(bins.sum(axis=0))))
            if classwise is not None:
                class_ece[i] = metrics.classwise_calibration_error(classwise)
            else:
                true_class_ece[i] = metrics.expected_calibration_error(bins)
            loss = loss_series.get(s) if loss_series is not None else None
            class_loss.append(_floats(loss) if loss is not None else [None] * n)
        return {
            "steps": steps,
            "ece": np.asarray(ece, dtype=np.float64),
            "class_ece": class_ece,
            "true_class_ece": [ratios(row) for row in true_class_ece],  # JSON-ready (the route encodes two arrays fast)
            "class_loss": class_loss,
        }

    def cell_confidence_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Dict[str, Any]:
        """``"mean_confidence"``: ``[C, C]`` float array, NaN where the cell has no predictions (stored 0)."""
        reader, matrix = self._matrix(ctx, experiment, run, tag)
        found = reader.read(ctx, experiment, matrix, (metadata.KIND_CELL_CONFIDENCE,), step)
        values = reader.require(found, metadata.KIND_CELL_CONFIDENCE, matrix).at(step)
        bounded(values.size * 9, "the cell confidence of this step")
        return {"step": step, "mean_confidence": np.where(values > 0, values, np.nan)}

    def label_issues_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> Dict[str, Any]:
        """The confident joint and the suspects per (given, suggested) cell at
        ``step`` (``[C, C]`` int64 arrays), suspects per given class and in all."""
        reader, matrix = self._matrix(ctx, experiment, run, tag)
        kinds = (metadata.KIND_CONFIDENT_JOINT, metadata.KIND_LABEL_ISSUES)
        found = reader.read(ctx, experiment, matrix, kinds, step)
        joint, suspects = (reader.require(found, kind, matrix).at(step) for kind in kinds)
        bounded_counts("the label issues of this step", joint, suspects)
        issues = metrics.label_issues_per_class(suspects)
        return {"step": step, "confident_joint": joint, "suspects": suspects, "issues": issues.tolist(),
                "total": int(issues.sum())}

    def suspects_impl(
        self, ctx: Any, experiment: str, run: str, tag: str, step: int,
        given: Optional[int] = None, suggested: Optional[int] = None,
    ) -> Dict[str, Any]:
        """The suspects stored at ``step``, most suspicious first, those of
        class ``given`` / ``suggested`` only when given, with their tiles in
        the sprite and its URL relative to ``suspects`` (None without images)."""
        reader, matrix = self._matrix(ctx, experiment, run, tag)
        _, index = reader.read_suspects(ctx, experiment, matrix, step)
        n = matrix.num_classes
        given = None if given is None else queries.class_index("given", given, n)
        suggested = None if suggested is None else queries.class_index("suggested", suggested, n)
        images = has_images(index)
        names = matrix.class_names
        bounded(sum(_SUSPECT_BYTES + 6 * (len(names[g]) + len(names[s])) for g, s in zip(index["given"], index["suggested"])),
                "these suspects")  # a name's character is at most 6 bytes of ASCII JSON
        suspects = []
        for rank, (g, s) in enumerate(zip(index["given"], index["suggested"])):
            if (given is not None and g != given) or (suggested is not None and s != suggested):
                continue
            x, y = metadata.tile_offset(index, rank) if images else (None, None)
            suspects.append({
                "rank": rank, "tile": rank if images else None, "x": x, "y": y,
                "given": g, "given_name": names[g], "suggested": s, "suggested_name": names[s],
                "self_confidence": index["self_confidence"][rank], "confidence": index["confidence"][rank],
                "dataset_index": index["index"][rank],
            })
        sprite = None
        if images:
            sprite = "suspects_sprite?" + urllib.parse.urlencode(
                {"run": matrix.run, "tag": matrix.tag, "step": step}, quote_via=urllib.parse.quote
            )
        return {
            "step": step,
            "total": index["total"],
            "listed": len(index["given"]),
            "inexact_rows": index["inexact_rows"],
            "thresholds": index["thresholds"],
            "tile_width": index["tile_width"],
            "tile_height": index["tile_height"],
            "channels": index["channels"],
            "columns": index["columns"],
            "sprite": sprite,
            "suspects": suspects,
        }

    def suspects_sprite_impl(self, ctx: Any, experiment: str, run: str, tag: str, step: int) -> bytes:
        """The PNG sprite of the suspects at ``step``."""
        reader, matrix = self._matrix(ctx, experiment, run, tag)
        return reader.read_suspects_sprite(ctx, experiment, matrix, step)
