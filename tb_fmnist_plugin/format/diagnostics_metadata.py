"""Value kinds of the evaluation diagnostics: calibration and suspected
label errors (``docs/format.md``, "Calibration and label-issue values").

Part of the on-disk format, next to :mod:`tb_fmnist_plugin.format.metadata` (the
plugin name, the format version, the kinds' names and content checks, the
matrix encoding these kinds reuse) and written by
:mod:`tb_fmnist_plugin.format.diagnostics_writers`. Every series here belongs to a
confusion-matrix tag ``M`` and is stored under ``M`` plus a suffix, at the
matrix's step; its metadata content is the matrix's class metadata plus
``matrix_tag`` (and ``bins`` for the three kinds of bins):

==============================  ==============================  =================================
tag                             kind                            value
==============================  ==============================  =================================
``M/reliability``               ``reliability_bins``            float64 ``[C, B, 3]``
``M/classwise_reliability``     ``classwise_bins``              float64 ``[C, B, 3]``
``M/reliability_by_predicted``  ``predicted_reliability_bins``  float64 ``[C, B, 3]``
``M/cell_confidence``           ``cell_confidence``             float64 ``[C, C]`` or sparse pairs
``M/class_loss``                ``class_loss``                  float64 ``[C]``
``M/confident_joint``           ``confident_joint``             counts, matrix encoding
``M/label_issues``              ``label_issues``                counts, matrix encoding
``M/suspects``                  ``suspects``                    blob sequence: JSON index, PNG sprite
==============================  ==============================  =================================
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

import numpy as np
from tensorboard.compat.proto import summary_pb2

from tb_fmnist_plugin.format import metadata, thumbnail_index

#: Tag suffix of each kind, appended to the matrix tag.
SUFFIXES: Dict[str, str] = {
    metadata.KIND_RELIABILITY: "/reliability",
    metadata.KIND_CELL_CONFIDENCE: "/cell_confidence",
    metadata.KIND_CLASS_LOSS: "/class_loss",
    metadata.KIND_CONFIDENT_JOINT: "/confident_joint",
    metadata.KIND_LABEL_ISSUES: "/label_issues",
    metadata.KIND_SUSPECTS: "/suspects",
    metadata.KIND_CLASSWISE: "/classwise_reliability",
    metadata.KIND_PREDICTED_RELIABILITY: "/reliability_by_predicted",
}

#: Fields of a reliability bin, in storage order (last axis of the value).
BIN_FIELDS = ("count", "confidence_sum", "correct")
#: Fields of a classwise bin of class k: examples whose p_k falls in the bin,
#: the sum of their p_k, how many of them have label k.
CLASSWISE_FIELDS = ("count", "probability_sum", "positives")

SUSPECTS_INDEX_BLOB = thumbnail_index.INDEX_BLOB
SUSPECTS_SPRITE_BLOB = thumbnail_index.SPRITE_BLOB


def diagnostic_tag(matrix_tag: str, kind: str) -> str:
    """Tag of the ``kind`` series that belongs to ``matrix_tag``."""
    return matrix_tag + SUFFIXES[kind]


def create_diagnostic_metadata(
    kind: str, class_names: Sequence[str], matrix_tag: str, *, bins: Optional[int] = None, description: str = ""
) -> summary_pb2.SummaryMetadata:
    """Metadata of a ``kind`` series of ``matrix_tag`` (``bins`` for the
    kinds of bins only: :data:`~tb_fmnist_plugin.format.metadata.BINNED_KINDS`)."""
    if kind not in SUFFIXES:
        raise ValueError(f"unknown diagnostic kind {kind!r}")
    content: Dict[str, Any] = {"num_classes": len(class_names), "class_names": list(class_names), "matrix_tag": matrix_tag}
    if kind in metadata.BINNED_KINDS:
        content["bins"] = int(bins or 0)
    data_class = summary_pb2.DATA_CLASS_BLOB_SEQUENCE if kind == metadata.KIND_SUSPECTS else summary_pb2.DATA_CLASS_TENSOR
    return metadata.create_metadata(kind, content, data_class, description)


# --- Reliability bins ---------------------------------------------------------------
#
# Three kinds share one layout, [C, B, 3] float64 over B equal-width bins on
# [0, 1] (a probability p is in bin min(floor(p * B), B - 1)):
# - reliability_bins, per TRUE class c (the older per-class definition): the
#   examples of class c by top-1 confidence: count, confidence sum, correct.
#   The whole set is the sum over c.
# - predicted_reliability_bins, per PREDICTED class k: the examples predicted
#   k by top-1 confidence: count, confidence sum, correct. Also sums to the
#   whole set's bins.
# - classwise_bins, per class k over ALL examples (Kull et al., 2019): the
#   examples whose p_k is in the bin, the sum of their p_k, how many have
#   label k. Every class counts every example once.


def encode_reliability(bins: np.ndarray) -> np.ndarray:
    """Store ``[C, B, 3]`` bins (any of the three kinds) as they are, in float64."""
    return np.asarray(bins, dtype=np.float64)


def decode_reliability(value: Any, num_classes: int, bins: int, *, what: str = "reliability bins") -> np.ndarray:
    """``[C, B, 3]`` float64 bins of any of the three kinds; ``ValueError``
    unless the value has that shape and finite, non-negative entries with
    ``field 2 <= count`` and ``field 1 <= count`` (a sum of probabilities)."""
    array = np.asarray(value)
    if array.shape != (num_classes, bins, 3) or array.dtype.kind != "f":
        raise ValueError(f"{what} of shape {array.shape} and dtype {array.dtype}, expected float [{num_classes}, {bins}, 3]")
    array = array.astype(np.float64)
    if not np.isfinite(array).all() or (array < 0).any():
        raise ValueError(f"{what} hold negative or non-finite values")
    count, probability_sum, hits = array[..., 0], array[..., 1], array[..., 2]
    if (count != np.round(count)).any() or (hits != np.round(hits)).any():
        raise ValueError(f"{what} hold fractional counts")
    # a sum of probabilities of at most 1 each, up to float32 accumulation error
    if (hits > count).any() or (probability_sum > count * (1 + 1e-5) + 1e-6).any():
        raise ValueError(f"{what} are inconsistent: more correct (or labelled) or more confidence than examples")
    return array


def decode_classwise(value: Any, num_classes: int, bins: int) -> np.ndarray:
    """``[C, B, 3]`` classwise bins: :func:`decode_reliability`'s checks,
    and every class counts the same examples (equal count totals)."""
    array = decode_reliability(value, num_classes, bins, what="classwise bins")
    totals = array[..., 0].sum(axis=1)
    if (totals != totals[0]).any():
        raise ValueError("classwise bins are inconsistent: the classes count different numbers of examples")
    return array


# --- Per-cell values (mean confidence) -----------------------------------------------
#
# A [C, C] float array stored dense (rank 2) or, when smaller, as rank-1 pairs
# (row * C + column, value) of the non-zero cells, flat index ascending: the
# matrix layouts, in float64. Zero means "no predictions in this cell".


def encode_cell_values(values: np.ndarray) -> np.ndarray:
    """Dense or sparse float64 encoding of a ``[C, C]`` array, whichever is smaller."""
    dense = np.asarray(values, dtype=np.float64)
    flat = dense.reshape(-1)
    nonzero = np.flatnonzero(flat)
    if 2 * nonzero.size >= flat.size:
        return dense
    pairs = np.empty(2 * nonzero.size, dtype=np.float64)
    pairs[0::2] = nonzero
    pairs[1::2] = flat[nonzero]
    return pairs


def decode_cell_values(value: Any, num_classes: int) -> np.ndarray:
    """Dense ``[C, C]`` float64; ``ValueError`` for another layout, indices
    out of range or not ascending, or non-finite values."""
    array = np.asarray(value)
    n = int(num_classes)
    if array.dtype.kind != "f":
        raise ValueError(f"cell values of dtype {array.dtype}, expected float")
    if array.ndim == 2 and array.shape == (n, n):
        dense = array.astype(np.float64)
    elif array.ndim == 1 and array.size % 2 == 0:
        index, values = array[0::2], array[1::2]
        if index.size and (index.min() < 0 or index.max() >= n * n or (index != np.round(index)).any()):
            raise ValueError("a sparse cell index is out of range")
        if not (np.diff(index) > 0).all():
            raise ValueError("sparse cell indices are not strictly ascending")
        dense = np.zeros(n * n, dtype=np.float64)
        dense[index.astype(np.int64)] = values
        dense = dense.reshape(n, n)
    else:
        raise ValueError(f"cell values of shape {array.shape} are neither [{n}, {n}] nor sparse pairs")
    if not np.isfinite(dense).all() or (dense < 0).any() or (dense > 1 + 1e-6).any():
        raise ValueError("cell values are not all probabilities (finite, within [0, 1])")
    return dense


# --- Per-class loss -------------------------------------------------------------------


def encode_class_loss(loss: np.ndarray) -> np.ndarray:
    """``[C]`` mean cross-entropy per true class, NaN for a class without examples."""
    return np.asarray(loss, dtype=np.float64).reshape(-1)


def decode_class_loss(value: Any, num_classes: int) -> np.ndarray:
    """``[C]`` float64 (NaN: no examples; +inf: a probability of 0 for a
    true label); ``ValueError`` for another shape or a negative loss."""
    array = np.asarray(value)
    if array.shape != (num_classes,) or array.dtype.kind != "f":
        raise ValueError(f"class loss of shape {array.shape} and dtype {array.dtype}, expected float [{num_classes}]")
    array = array.astype(np.float64)
    if (array < 0).any():
        raise ValueError("class loss holds a negative value")
    return array


# --- Suspects -------------------------------------------------------------------------
#
# A blob sequence of two blobs: the JSON index (below) and a PNG sprite with a
# tile per listed suspect, laid out as the cell examples' sprite (tile i at
# column i % columns, row i // columns). Without images the tile fields are 0
# and the sprite blob is empty.

def _rounded(value: float, digits: int = 6) -> float:
    return float(f"{value:.{digits}g}")


def encode_suspects_index(
    *, given: Sequence[int], suggested: Sequence[int], self_confidence: Sequence[float], confidence: Sequence[float],
    dataset_indices: Sequence[int], total: int, thresholds: Sequence[float], inexact_rows: int = 0, **layout: int,
) -> bytes:
    """Serialize the suspects index (blob 0); ``layout`` is the sprite's
    (:func:`~tb_fmnist_plugin.format.thumbnail_index.encode`). Probabilities
    keep 6 significant digits (self-confidences of label errors are often tiny)."""
    return thumbnail_index.encode(
        metadata.FORMAT_VERSION, **layout, given=thumbnail_index.ints(given), suggested=thumbnail_index.ints(suggested),
        self_confidence=[_rounded(v) for v in self_confidence], confidence=[_rounded(v) for v in confidence],
        index=thumbnail_index.ints(dataset_indices), total=int(total), thresholds=[_rounded(v) for v in thresholds],
        inexact_rows=int(inexact_rows),
    )


_SUSPECT_SCALARS = dict.fromkeys(
    ("tile_height", "tile_width", "channels", "columns", "bits", "total", "inexact_rows"), lambda v: v >= 0
)


def decode_suspects_index(blob: bytes, num_classes: int) -> Dict[str, Any]:
    """Parse blob 0 of a suspects value; ``ValueError`` saying what is wrong
    unless every field has its documented type and range."""
    is_class = thumbnail_index.is_class_index(num_classes)
    index = thumbnail_index.decode(blob, "suspects", scalars=_SUSPECT_SCALARS, required=("thresholds",), lists={
        "given": is_class, "suggested": is_class, "self_confidence": _is_probability, "confidence": _is_probability,
        "index": thumbnail_index.is_dataset_index,
    })
    if len(index["given"]) > index["total"]:
        raise ValueError("suspects index lists more suspects than its total")
    thresholds = index["thresholds"]
    if not isinstance(thresholds, list) or len(thresholds) != num_classes or not all(map(thumbnail_index.is_number, thresholds)):
        raise ValueError("suspects index: thresholds are not one number per class")
    return index


def _is_probability(value: Any) -> bool:
    return thumbnail_index.is_number(value) and 0.0 <= value <= 1.0
