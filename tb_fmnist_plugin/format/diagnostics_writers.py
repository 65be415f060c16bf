"""Write API for the evaluation diagnostics: calibration and suspected label
errors of a confusion matrix's evaluation (values in
:mod:`tb_fmnist_plugin.format.diagnostics_metadata`, ``docs/format.md``).

Typical use, at the step of the matrix ``"confusion/test"``::

    from tb_fmnist_plugin.format import diagnostics_writers as ds
    ds.write_calibration(writer, "confusion/test", bins, step, cell_confidence=mean_conf,
                         class_loss=loss, class_names=names)
    ds.write_class_calibration(writer, "confusion/test", classwise, step, by_predicted=by_predicted,
                               class_names=names)
    ds.write_label_issues(writer, "confusion/test", joint, step, suspect_counts=counts,
                          class_names=names)
    ds.write_suspects(writer, "confusion/test", images, step, given=given, suggested=suggested,
                      self_confidence=self_conf, confidence=conf, dataset_indices=indices,
                      class_names=names, total=n, thresholds=thresholds)

Every ``write_*`` takes ``(writer, tag, data, step)`` positionally and the rest
by keyword, ``*_pb`` functions ``(tag, data)``; they return the ``Summary``
without writing. Bad input raises ``TypeError``/``ValueError`` naming the
problem and writes nothing. Writing and step checks
(:mod:`tb_fmnist_plugin.format.events`), image conversion, the sprite and the
byte budget (:mod:`tb_fmnist_plugin.format.sprites`) are shared with the cell
examples; old argument orders are :mod:`tb_fmnist_plugin.format.call_order`'s.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util

from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import metadata, sprites
from tb_fmnist_plugin.format import writers as summary
from tb_fmnist_plugin.format.call_order import accepts_old_order
from tb_fmnist_plugin.format.checks import check_array, check_int
from tb_fmnist_plugin.format.events import write_function
from tb_fmnist_plugin.format.writers import _validate_tag

#: Default byte budget of one suspects summary (index + sprite + metadata).
DEFAULT_SUSPECTS_MAX_BYTES = summary.DEFAULT_EXAMPLES_MAX_BYTES


def _floats(value: Any, what: str, shape: tuple, *, allow_nan: bool = False) -> np.ndarray:
    array = check_array(value, what)
    if array.shape != shape:
        raise ValueError(f"{what} must have shape {shape}, got {array.shape}")
    if array.dtype == np.bool_ or not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(f"{what} must be numbers, got dtype {array.dtype}")
    array = array.astype(np.float64)
    finite = np.isfinite(array) | (np.isnan(array) if allow_nan else False)
    if not finite.all() or (array < 0).any():
        raise ValueError(f"{what} must be finite and non-negative{' (NaN allowed)' if allow_nan else ''}")
    return array


def _value(tag: str, kind: str, names: Sequence[str], tensor: Any, **content: Any) -> summary_pb2.Summary.Value:
    return summary_pb2.Summary.Value(
        tag=dm.diagnostic_tag(tag, kind),
        metadata=dm.create_diagnostic_metadata(kind, names, tag, **content),
        tensor=tensor,
    )


# --- Calibration --------------------------------------------------------------------


def calibration_pb(
    tag: str, bins: Any, *, cell_confidence: Any, class_loss: Any, class_names: Sequence[str]
) -> summary_pb2.Summary:
    """The calibration ``Summary`` of matrix ``tag``: three values.

    Args:
      bins: ``[C, B, 3]`` per true class and confidence bin: count, sum of
        top-1 confidence, correct (``correct <= count``).
      cell_confidence: ``[C, C]`` mean top-1 confidence per (true,
        predicted) cell, 0 where the cell is empty.
      class_loss: ``[C]`` mean cross-entropy per true class, NaN where none.
    """
    tag = _validate_tag(tag)
    names = metadata.validate_class_names(class_names)
    c = len(names)
    bins_array = _bins(bins, "bins", c)
    cells = _floats(cell_confidence, "cell_confidence", (c, c))
    if (cells > 1 + 1e-9).any():
        raise ValueError("cell_confidence must be mean probabilities in [0, 1]")
    loss = _floats(class_loss, "class_loss", (c,), allow_nan=True)
    out = summary_pb2.Summary()
    out.value.extend([
        _value(tag, metadata.KIND_RELIABILITY, names, tensor_util.make_tensor_proto(dm.encode_reliability(bins_array)),
               bins=bins_array.shape[1]),
        _value(tag, metadata.KIND_CELL_CONFIDENCE, names, tensor_util.make_tensor_proto(dm.encode_cell_values(cells))),
        _value(tag, metadata.KIND_CLASS_LOSS, names, tensor_util.make_tensor_proto(dm.encode_class_loss(loss))),
    ])
    return out


write_calibration = accepts_old_order("writer", "tag", "step")(
    write_function(calibration_pb, "write_calibration",
                   """Write the calibration of matrix ``tag`` at ``step`` (see :func:`calibration_pb`).""")
)


def _bins(value: Any, what: str, num_classes: int, *, bins: int = 0) -> np.ndarray:
    """``[C, B, 3]`` bins as float64 (``B`` = ``bins`` unless 0); the last
    two fields (a probability sum, a count of hits) cannot exceed the count."""
    array = check_array(value, what)
    if array.ndim != 3 or array.shape[0] != num_classes or array.shape[2] != 3 or array.shape[1] < 1 \
            or (bins and array.shape[1] != bins):
        raise ValueError(f"{what} must have shape [{num_classes}, {bins or 'B'}, 3], got {array.shape}")
    array = _floats(array, what, array.shape)
    if (array[..., 2] > array[..., 0]).any() or (array[..., 1] > array[..., 0] * (1 + 1e-9)).any():
        raise ValueError(f"{what}: the probability sum and the hits cannot exceed the count")
    return array


def class_calibration_pb(
    tag: str, classwise: Any, *, by_predicted: Any, class_names: Sequence[str]
) -> summary_pb2.Summary:
    """The per-class calibration ``Summary`` of matrix ``tag``: two values.

    Args:
      classwise: ``[C, B, 3]`` per class ``k`` and bin of ``p_k`` (the
        softmax probability of ``k``), over all examples: count, sum of
        ``p_k``, examples labelled ``k``. Every class counts every example.
      by_predicted: ``[C, B, 3]`` per predicted class and bin of top-1
        confidence: count, confidence sum, correct.
    """
    tag = _validate_tag(tag)
    names = metadata.validate_class_names(class_names)
    c = len(names)
    classwise_array = _bins(classwise, "classwise", c)
    predicted_array = _bins(by_predicted, "by_predicted", c, bins=classwise_array.shape[1])
    totals = classwise_array[..., 0].sum(axis=1)
    if (totals != totals[0]).any():
        raise ValueError("classwise: every class must count the same examples (equal count totals)")
    out = summary_pb2.Summary()
    for kind, array in ((metadata.KIND_CLASSWISE, classwise_array), (metadata.KIND_PREDICTED_RELIABILITY, predicted_array)):
        out.value.append(_value(tag, kind, names, tensor_util.make_tensor_proto(dm.encode_reliability(array)),
                                bins=array.shape[1]))
    return out


write_class_calibration = write_function(
    class_calibration_pb, "write_class_calibration",
    """Write the per-class calibration of matrix ``tag`` at ``step`` (see :func:`class_calibration_pb`).""")


# --- Label issues -------------------------------------------------------------------


def label_issues_pb(
    tag: str, confident_joint: Any, *, suspect_counts: Any, class_names: Sequence[str]
) -> summary_pb2.Summary:
    """The label-issue counts of matrix ``tag``: the confident joint and the
    suspects per (given, suggested) cell, both ``[C, C]`` counts stored in
    the matrix encoding."""
    tag = _validate_tag(tag)
    names = metadata.validate_class_names(class_names)
    out = summary_pb2.Summary()
    for kind, value, what in (
        (metadata.KIND_CONFIDENT_JOINT, confident_joint, "confident_joint"),
        (metadata.KIND_LABEL_ISSUES, suspect_counts, "suspect_counts"),
    ):
        counts = summary.validate_matrix(value)
        if counts.shape[0] != len(names):
            raise ValueError(f"{what} has {counts.shape[0]} classes, class_names {len(names)}")
        out.value.append(_value(tag, kind, names, tensor_util.make_tensor_proto(metadata.encode_matrix(counts))))
    return out


write_label_issues = accepts_old_order("writer", "tag", "step")(
    write_function(label_issues_pb, "write_label_issues",
                   """Write the label-issue counts of matrix ``tag`` at ``step`` (see :func:`label_issues_pb`).""")
)


@accepts_old_order("tag", "images", "given", "suggested", "self_confidence", "confidence", "dataset_indices")
def suspects_pb(
    tag: str,
    images: Any,
    *,
    given: Any,
    suggested: Any,
    self_confidence: Any,
    confidence: Any,
    dataset_indices: Any = None,
    class_names: Sequence[str],
    total: int,
    thresholds: Any,
    inexact_rows: int = 0,
    max_bytes: int = DEFAULT_SUSPECTS_MAX_BYTES,
) -> summary_pb2.Summary:
    """The suspected label errors of matrix ``tag``, most suspicious first.

    Args:
      images: ``[N, C, H, W]`` or ``[N, H, W]`` (float in [0, 1] or uint8),
        or None for a list without thumbnails.
      given, suggested: ``[N]`` given label and label guessed by confident learning.
      self_confidence, confidence: ``[N]`` probability of the given and of the suggested label.
      dataset_indices: ``[N]`` (-1 unknown).
      total: suspects found in the evaluation (``N`` or more).
      thresholds: ``[C]`` per-class thresholds of confident learning.
      inexact_rows: rows whose result may differ from the full computation.

    The listed order is kept; under ``max_bytes`` thumbnails fall back to 16
    grey levels, then suspects are dropped from the end.
    """
    tag = _validate_tag(tag)
    names = metadata.validate_class_names(class_names)
    c = len(names)
    max_bytes = check_int(max_bytes, "max_bytes", minimum=1024)
    given_a = summary.check_class_indices(given, "given", check_array(given, "given").size, c)
    count = given_a.size
    suggested_a = summary.check_class_indices(suggested, "suggested", count, c)
    probs = [_floats(check_array(v, what).reshape(-1), what, (count,)) for v, what in
             ((self_confidence, "self_confidence"), (confidence, "confidence"))]
    if any((p > 1 + 1e-6).any() for p in probs):
        raise ValueError("self_confidence and confidence must be probabilities")
    indices = np.full(count, -1, dtype=np.int64) if dataset_indices is None else check_array(dataset_indices, "dataset_indices").reshape(-1).astype(np.int64)
    if indices.size != count:
        raise ValueError(f"dataset_indices has {indices.size} entries, expected {count}")
    total = check_int(total, "total", minimum=count)
    limits = _floats(check_array(thresholds, "thresholds").reshape(-1), "thresholds", (c,))
    inexact_rows = check_int(inexact_rows, "inexact_rows", minimum=0)
    tiles = sprites.images_to_uint8(images, count) if images is not None else None
    meta = dm.create_diagnostic_metadata(metadata.KIND_SUSPECTS, names, tag)

    def build(keep: int, bits: int) -> summary_pb2.Summary:
        if tiles is not None:
            png, columns = sprites.encode_sprite(tiles[:keep], bits)
            shape = tiles.shape[1:]
        else:
            png, columns, shape = b"", 0, (0, 0, 0)
        index = dm.encode_suspects_index(
            tile_height=shape[0], tile_width=shape[1], channels=shape[2], columns=columns, bits=bits if tiles is not None else 0,
            given=given_a[:keep], suggested=suggested_a[:keep], self_confidence=probs[0][:keep],
            confidence=probs[1][:keep], dataset_indices=indices[:keep], total=total, thresholds=limits,
            inexact_rows=inexact_rows,
        )
        out = summary_pb2.Summary()
        out.value.add(tag=dm.diagnostic_tag(tag, metadata.KIND_SUSPECTS), metadata=meta,
                      tensor=tensor_util.make_tensor_proto([index, png], dtype=np.object_))
        return out

    def dropped(kept: int) -> None:
        sprites.warn_dropped_once(
            dm.diagnostic_tag(tag, metadata.KIND_SUSPECTS),
            f"lists {kept} of {count} suspects; the others do not fit its max_bytes={max_bytes:,} budget "
            "(the least suspicious are dropped).",
        )

    grey = tiles is not None and tiles.shape[3] == 1
    return sprites.fit_to_budget(build, count, grey=grey, max_bytes=max_bytes, on_drop=dropped)


write_suspects = accepts_old_order(
    "writer", "tag", "step", "images", "given", "suggested", "self_confidence", "confidence", "dataset_indices"
)(
    write_function(suspects_pb, "write_suspects", """Write the suspects of matrix ``tag`` at ``step``
    (see :func:`suspects_pb` for the arguments).""")
)
