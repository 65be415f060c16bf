"""Write API for confusion matrices and their per-cell example thumbnails.

Typical use with a :class:`torch.utils.tensorboard.SummaryWriter`::

    from tb_fmnist_plugin.format import writers as summary
    summary.write_confusion_matrix(writer, "confusion/test", counts, epoch, class_names=names)

Every ``write_*`` takes ``(writer, tag, data, step)`` positionally and the rest
by keyword; ``*_pb`` functions take ``(tag, data)`` and return the
:class:`Summary` proto without writing, for code that owns its own writer
(old argument orders: :mod:`tb_fmnist_plugin.format.call_order`). The stored
layout is described in ``docs/format.md``.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util

from tb_fmnist_plugin.format import metadata, sprites
from tb_fmnist_plugin.format.call_order import accepts_old_order
from tb_fmnist_plugin.format.checks import check_array, check_int
from tb_fmnist_plugin.format.events import check_writer, file_writer_of, write_function

__all__ = [
    "DEFAULT_EXAMPLES_MAX_BYTES", "DEFAULT_EXAMPLES_PER_CELL", "cell_examples_pb", "check_class_indices",
    "check_writer", "confusion_matrix_pb", "excluded_rows_pb", "file_writer_of", "validate_matrix",
    "write_cell_examples", "write_confusion_matrix", "write_excluded_rows",
]

#: Default number of thumbnails kept per (true, predicted) cell.
DEFAULT_EXAMPLES_PER_CELL = 4
#: Default byte budget of one examples summary (index + sprite + metadata).
DEFAULT_EXAMPLES_MAX_BYTES = 150_000


# --- Validation --------------------------------------------------------------


def _validate_tag(tag: Any) -> str:
    if not isinstance(tag, str) or not tag:
        raise TypeError(f"tag must be a non-empty string, got {tag!r}")
    return tag


def validate_matrix(matrix: Any) -> np.ndarray:
    """Return ``matrix`` as a non-negative ``int64`` square array, or raise."""
    array = check_array(matrix, "matrix")
    if array.dtype == np.bool_ or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"matrix must hold integer counts, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"matrix must be 2-D (rows = true class, columns = predicted), got shape {array.shape}")
    if array.shape[0] != array.shape[1]:
        raise ValueError(f"matrix must be square, got shape {array.shape}")
    if array.shape[0] < 1:
        raise ValueError("matrix must have at least one class")
    if array.shape[0] > metadata.MAX_CLASSES:
        raise ValueError(f"matrix has {array.shape[0]} classes; at most {metadata.MAX_CLASSES} are supported")
    if np.issubdtype(array.dtype, np.floating):
        if np.isnan(array).any():
            raise ValueError("matrix contains NaN")
        if np.isinf(array).any():
            raise ValueError("matrix contains infinite values")
        if (array != np.round(array)).any():
            raise ValueError("matrix counts must be whole numbers")
        if np.abs(array).max(initial=0) >= 2**62:
            raise ValueError("matrix counts are too large")
    if (array < 0).any():
        raise ValueError("matrix counts must be non-negative")
    counts = array if array.dtype.kind in "iu" else array.astype(np.int64)
    problem = metadata.counts_problem(counts)
    if problem is not None:
        raise ValueError(f"matrix counts cannot be stored exactly: {problem}")
    return counts.astype(np.int64)


# --- Confusion matrix -----------------------------------------------------------


@accepts_old_order("tag", "matrix", "class_names", "description")
def confusion_matrix_pb(
    tag: str,
    matrix: Any,
    *,
    class_names: Optional[Sequence[str]] = None,
    description: str = "",
    unit: Optional[str] = None,
) -> summary_pb2.Summary:
    """Build the ``Summary`` for one confusion matrix without writing it.

    Args:
      tag: the series name, e.g. ``"confusion/test"``.
      matrix: square 2-D array or tensor of counts, rows = true class,
        columns = predicted class.
      class_names: one name per class; defaults to ``"0"``, ``"1"``, ...
      description: shown by TensorBoard as the series description.
      unit: what one count is: ``"examples"``, ``"pixels"`` (segmentation)
        or ``"tokens"``; stored in the metadata when given (readers take
        ``"examples"`` when it is absent).
    """
    tag = _validate_tag(tag)
    counts = validate_matrix(matrix)
    names = metadata.validate_class_names(class_names, counts.shape[0])
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=tag,
        metadata=metadata.create_matrix_metadata(names, description, unit),
        tensor=tensor_util.make_tensor_proto(metadata.encode_matrix(counts)),
    )
    return summary


write_confusion_matrix = accepts_old_order("writer", "tag", "matrix", "step", "class_names", "walltime", "description")(
    write_function(confusion_matrix_pb, "write_confusion_matrix", """Write one confusion matrix at ``step``
    through ``writer`` (arguments: :func:`confusion_matrix_pb`).

    Raises ``TypeError``/``ValueError`` naming the problem, writing nothing,
    for a matrix that is not square, has negative, fractional or NaN counts, or
    class names of the wrong length.""")
)


# --- Excluded rows ----------------------------------------------------------------


@accepts_old_order("tag", "count", "description")
def excluded_rows_pb(tag: str, count: int, *, description: str = "") -> summary_pb2.Summary:
    """Build the ``Summary`` counting the rows of one evaluation of matrix
    ``tag`` that are not in it because their logits held NaN (stored under
    ``tag + "/excluded"``, at the matrix's step)."""
    tag = _validate_tag(tag)
    count = check_int(count, "count", minimum=0)
    summary = summary_pb2.Summary()
    summary.value.add(
        tag=metadata.excluded_tag(tag),
        metadata=metadata.create_excluded_metadata(tag, description),
        tensor=tensor_util.make_tensor_proto(metadata.encode_excluded(count)),
    )
    return summary


write_excluded_rows = accepts_old_order("writer", "tag", "count", "step", "walltime")(
    write_function(excluded_rows_pb, "write_excluded_rows", """Write the excluded-row count of matrix
    ``tag`` at ``step`` (write it at every step of the matrix, 0 included, so
    each step has its own count).""")
)


# --- Per-cell examples ----------------------------------------------------------


def check_class_indices(values: Any, what: str, count: int, num_classes: int) -> np.ndarray:
    """``count`` class indices in ``[0, num_classes)`` as ``int64``; raises naming ``what``."""
    array = check_array(values, what).reshape(-1)
    if array.size != count:
        raise ValueError(f"{what} has {array.size} entries, expected {count}")
    if count and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"{what} must be integers, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if count and (array.min() < 0 or array.max() >= num_classes):
        raise ValueError(f"{what} must be class indices in [0, {num_classes})")
    return array


def _select_per_cell(
    true: np.ndarray, predicted: np.ndarray, confidence: np.ndarray, max_per_cell: int
) -> np.ndarray:
    """Indices of the ``max_per_cell`` most confident examples of each cell,
    ordered so that every cell's best example comes before any cell's second."""
    order = np.lexsort((-confidence, predicted, true))
    cell = true[order] * (int(predicted.max(initial=0)) + 1) + predicted[order]
    starts = np.r_[0, np.flatnonzero(np.diff(cell)) + 1] if order.size else np.zeros(0, dtype=np.int64)
    rank = np.arange(order.size) - np.repeat(starts, np.diff(np.r_[starts, order.size]))
    keep = rank < max_per_cell
    kept, kept_rank = order[keep], rank[keep]
    priority = np.lexsort((-confidence[kept], kept_rank))
    return kept[priority]


@accepts_old_order("tag", "images", "true_labels", "predicted_labels", "confidences", "dataset_indices")
def cell_examples_pb(
    tag: str,
    images: Any,
    *,
    true_labels: Any,
    predicted_labels: Any,
    confidences: Any,
    dataset_indices: Any = None,
    class_names: Optional[Sequence[str]] = None,
    num_classes: Optional[int] = None,
    max_per_cell: int = DEFAULT_EXAMPLES_PER_CELL,
    max_bytes: int = DEFAULT_EXAMPLES_MAX_BYTES,
    description: str = "",
) -> summary_pb2.Summary:
    """Build the per-cell examples ``Summary`` for the matrix series ``tag``.

    Keeps the ``max_per_cell`` most confident examples of each (true,
    predicted) cell and stores them as one PNG sprite plus a JSON index. The
    result never exceeds ``max_bytes``: thumbnails fall back to 16 grey levels,
    then the least important examples (second-best of a cell before any
    cell's best) are dropped.

    Args:
      tag: the confusion-matrix tag the examples belong to; they are stored
        under ``tag + "/examples"``.
      images: ``[N, C, H, W]`` or ``[N, H, W]``, float in [0, 1] or uint8, C 1 or 3.
      true_labels, predicted_labels: ``[N]`` class indices.
      confidences: ``[N]`` model confidence in the predicted class.
      dataset_indices: ``[N]`` index of each example in its dataset (-1 unknown).
      class_names / num_classes: the classes (one of them is required).
    """
    tag = _validate_tag(tag)
    if class_names is None and num_classes is None:
        raise ValueError("give class_names or num_classes")
    if num_classes is None:
        num_classes = len(class_names)  # type: ignore[arg-type]
    num_classes = check_int(num_classes, "num_classes", minimum=1, maximum=metadata.MAX_CLASSES)
    names = metadata.validate_class_names(class_names, num_classes)
    max_per_cell = check_int(max_per_cell, "max_per_cell", minimum=1)
    max_bytes = check_int(max_bytes, "max_bytes", minimum=1024)

    true = check_array(true_labels, "true_labels").reshape(-1)
    count = true.size
    true = check_class_indices(true, "true_labels", count, len(names))
    predicted = check_class_indices(predicted_labels, "predicted_labels", count, len(names))
    confidence = check_array(confidences, "confidences").reshape(-1).astype(np.float64)
    if confidence.size != count:
        raise ValueError(f"confidences has {confidence.size} entries, expected {count}")
    if np.isnan(confidence).any():
        raise ValueError("confidences contain NaN")
    if dataset_indices is None:
        indices = np.full(count, -1, dtype=np.int64)
    else:
        indices = check_array(dataset_indices, "dataset_indices").reshape(-1).astype(np.int64)
        if indices.size != count:
            raise ValueError(f"dataset_indices has {indices.size} entries, expected {count}")
    tiles = sprites.images_to_uint8(images, count)

    meta = metadata.create_examples_metadata(names, tag, description)
    priority = _select_per_cell(true, predicted, confidence, int(max_per_cell))

    def build(keep: int, bits: int) -> summary_pb2.Summary:
        chosen = priority[:keep]
        # Store each cell's examples together, most confident first.
        chosen = chosen[np.lexsort((-confidence[chosen], predicted[chosen], true[chosen]))]
        png, columns = sprites.encode_sprite(tiles[chosen], bits)
        index = metadata.encode_examples_index(
            tile_height=tiles.shape[1],
            tile_width=tiles.shape[2],
            channels=tiles.shape[3],
            columns=columns,
            bits=bits,
            true_labels=true[chosen],
            predicted_labels=predicted[chosen],
            confidences=confidence[chosen],
            dataset_indices=indices[chosen],
        )
        summary = summary_pb2.Summary()
        summary.value.add(
            tag=metadata.examples_tag(tag),
            metadata=meta,
            tensor=tensor_util.make_tensor_proto([index, png], dtype=np.object_),
        )
        return summary

    grey = tiles.shape[3] == 1
    tile_bytes = max(1, tiles[0].size // 2 if grey else tiles[0].size) if count else 1  # raw, at the last bits tried
    return sprites.fit_to_budget(
        build, priority.size, grey=grey, max_bytes=max_bytes,
        on_drop=lambda kept: sprites.warn_dropped_once(
            metadata.examples_tag(tag),
            f"keeps {kept} of {priority.size} example thumbnails; the others do not fit its max_bytes={max_bytes:,} "
            "budget and are not logged (each cell's most confident example goes before any cell's second). Use "
            "fewer or smaller thumbnails (hooks: examples_per_cell, thumbnail_size) or a larger max_bytes.",
        ),
        guess=max_bytes // tile_bytes,
    )


write_cell_examples = accepts_old_order(
    "writer", "tag", "step", "images", "true_labels", "predicted_labels", "confidences", "dataset_indices"
)(
    write_function(cell_examples_pb, "write_cell_examples", """Write the per-cell example thumbnails of
    matrix ``tag`` at ``step``. See :func:`cell_examples_pb` for the
    arguments. Bad input raises ``TypeError``/``ValueError`` and writes nothing.""")
)
