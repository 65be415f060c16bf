"""Write API of the per-example record (values in
:mod:`tb_fmnist_plugin.format.example_record`, ``docs/format.md``).

Typical use, for matrix ``"confusion/test"`` (the hooks do this for you)::

    from tb_fmnist_plugin import summary
    summary.write_example_ids(writer, "confusion/test", indices, step, labels=labels,
                              identity="index", class_names=names)
    summary.write_example_thumbnails(writer, "confusion/test", images, step, rows=np.arange(n),
                                     class_names=names)
    summary.write_example_predictions(writer, "confusion/test", predicted, step, p_given=p_given,
                                      confidence=top1, labels=labels, ids_step=step, class_names=names)

Every ``write_*`` takes ``(writer, tag, data, step)`` positionally and the
rest by keyword; ``*_pb`` functions ``(tag, data)`` return the ``Summary``
without writing. Bad input raises ``TypeError``/``ValueError`` naming the
problem and writes nothing.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util

from tb_fmnist_plugin.format import example_record as er
from tb_fmnist_plugin.format import metadata, sprites
from tb_fmnist_plugin.format.checks import check_array, check_int
from tb_fmnist_plugin.format.events import write_function
from tb_fmnist_plugin.format.writers import _validate_tag, check_class_indices

DEFAULT_THUMBNAILS_MAX_BYTES = er.DEFAULT_THUMBNAILS_MAX_BYTES


def _blobs(tag: str, kind: str, meta: summary_pb2.SummaryMetadata, blobs: Sequence[bytes]) -> summary_pb2.Summary:
    out = summary_pb2.Summary()
    out.value.add(tag=er.record_tag(tag, kind), metadata=meta,
                  tensor=tensor_util.make_tensor_proto(list(blobs), dtype=np.object_))
    return out


def _labels(labels: Any, num_classes: int, count: Optional[int] = None) -> np.ndarray:
    array = check_array(labels, "labels").reshape(-1)
    return check_class_indices(array, "labels", array.size if count is None else count, num_classes)


def example_ids_pb(
    tag: str, index: Any, *, labels: Any, identity: str, class_names: Sequence[str]
) -> summary_pb2.Summary:
    """The ids value of matrix ``tag``: ``index`` [N] (dataset indices,
    strictly increasing, for ``identity="index"``; ``0..N-1`` or None for
    ``identity="position"``) and the given ``labels`` [N] of those rows."""
    tag = _validate_tag(tag)
    names = metadata.validate_class_names(class_names)
    label = _labels(labels, len(names))
    if index is None:
        if identity != er.IDENTITY_POSITION:
            raise ValueError("index is required unless identity is 'position'")
        index = np.arange(label.size)
    index = check_array(index, "index").reshape(-1)
    if index.size and not np.issubdtype(index.dtype, np.integer):
        raise TypeError(f"index must hold integers, got dtype {index.dtype}")
    if index.size != label.size:
        raise ValueError(f"index has {index.size} entries, labels {label.size}")
    blob = er.encode_example_ids(index, label, len(names), identity)
    return _blobs(tag, metadata.KIND_EXAMPLE_IDS, er.create_example_ids_metadata(names, tag, identity), [blob])


write_example_ids = write_function(
    example_ids_pb, "write_example_ids",
    """Write the ids value of matrix ``tag`` at ``step`` (see :func:`example_ids_pb`): at the first
    evaluation and whenever the evaluated rows or their labels change.""")


def _probabilities(value: Any, what: str, count: int) -> np.ndarray:
    array = check_array(value, what).reshape(-1)
    if array.size != count:
        raise ValueError(f"{what} has {array.size} entries, expected {count}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)) or array.dtype == np.bool_:
        raise TypeError(f"{what} must be numbers, got dtype {array.dtype}")
    return array.astype(np.float32)


def example_predictions_pb(
    tag: str, predicted: Any, *, p_given: Any, confidence: Any, labels: Any, ids_step: int, class_names: Sequence[str]
) -> summary_pb2.Summary:
    """One evaluation's predictions of matrix ``tag``, one per row of the ids
    value written at ``ids_step`` (same order):

    Args:
      predicted: [N] predicted class; -1 for a row left out of the matrix.
      p_given: [N] softmax probability of the given label.
      confidence: [N] top-1 probability (only misclassified rows' are kept).
      labels: [N] the given labels (the ids value's).
    """
    tag = _validate_tag(tag)
    names = metadata.validate_class_names(class_names)
    c = len(names)
    label = _labels(labels, c)
    array = check_array(predicted, "predicted").reshape(-1)
    if array.size != label.size:
        raise ValueError(f"predicted has {array.size} entries, labels {label.size}")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"predicted must hold class indices, got dtype {array.dtype}")
    array = array.astype(np.int64)
    if array.size and int(array.min()) < -1:
        raise ValueError("predicted must be class indices, or -1 for a row left out of the matrix")
    ids_step = check_int(ids_step, "ids_step", minimum=0, type_error=True)
    blob = er.encode_example_predictions(
        array, _probabilities(p_given, "p_given", label.size), _probabilities(confidence, "confidence", label.size),
        label, c, ids_step,
    )
    return _blobs(tag, metadata.KIND_EXAMPLE_PREDICTIONS, er.create_example_predictions_metadata(names, tag), [blob])


write_example_predictions = write_function(
    example_predictions_pb, "write_example_predictions",
    """Write one evaluation's per-example predictions of matrix ``tag`` at ``step`` (the matrix's step;
    see :func:`example_predictions_pb`).""")


def example_thumbnails_pb(
    tag: str,
    images: Any,
    *,
    rows: Any,
    class_names: Sequence[str],
    max_bytes: int = DEFAULT_THUMBNAILS_MAX_BYTES,
    priority: Any = None,
    num_rows: Optional[int] = None,
) -> summary_pb2.Summary:
    """The thumbnails of an ids value of matrix ``tag`` (write once per ids value, at its step).

    Args:
      images: ``[T, C, H, W]`` or ``[T, H, W]``, float in [0, 1] or uint8.
      rows: [T] distinct rows of the ids value the images show.
      max_bytes: byte budget of the value (pages and row list), at least 1024.
      priority: optional [T] booleans: rows kept first when the budget is
        exceeded (the hooks pass "misclassified"); then the others in row order.
      num_rows: N of the ids value (default T); ``complete`` tells whether
        every one of them has a thumbnail.

    Over budget, the rows past it get no thumbnail and a warning is issued
    once per tag.
    """
    tag = _validate_tag(tag)
    names = metadata.validate_class_names(class_names)
    max_bytes = check_int(max_bytes, "max_bytes", minimum=1024)
    row = check_array(rows, "rows").reshape(-1)
    if row.size and not np.issubdtype(row.dtype, np.integer):
        raise TypeError(f"rows must hold integers, got dtype {row.dtype}")
    count = row.size
    num_rows = count if num_rows is None else check_int(num_rows, "num_rows", minimum=count)
    if count and (int(row.min()) < 0 or int(row.max()) >= num_rows or np.unique(row).size != count):
        raise ValueError(f"rows must be distinct rows in [0, {num_rows})")
    tiles = sprites.images_to_uint8(images, count)
    urgent = np.zeros(count, dtype=bool) if priority is None else check_array(priority, "priority").reshape(-1)
    if urgent.shape != (count,) or urgent.dtype != np.bool_:
        raise ValueError(f"priority must be {count} booleans")
    order = np.lexsort((row, ~urgent))  # urgent first, then row order
    height, width, channels = tiles.shape[1:]
    columns = er.page_columns(count, height, width)
    per_page = columns * columns
    pages: Dict[Tuple[int, int], bytes] = {}  # (first, stop) in `order` -> PNG, shared by the tried prefixes

    def build(keep: int, bits: int) -> summary_pb2.Summary:
        blobs = [er.encode_npz(row=row[order[:keep]].astype(np.int32))]
        for first in range(0, keep, per_page):
            span = (first, min(keep, first + per_page))
            if span not in pages:
                pages[span] = er.encode_page(tiles[order[span[0]:span[1]]], columns)
            blobs.append(pages[span])
        meta = er.create_example_thumbnails_metadata(
            names, tag, tile_height=height, tile_width=width, channels=channels, columns=columns,
            tiles_per_page=per_page, budget_bytes=max_bytes, complete=keep == num_rows,
        )
        return _blobs(tag, metadata.KIND_EXAMPLE_THUMBNAILS, meta, blobs)

    def dropped(kept: int) -> None:
        sprites.warn_dropped_once(
            er.record_tag(tag, metadata.KIND_EXAMPLE_THUMBNAILS),
            f"keeps thumbnails of {kept} of {count} examples; the others do not fit its budget of "
            f"{max_bytes:,} bytes (HookOptions.example_thumbnails_max_bytes in the hooks, max_bytes here); "
            "misclassified examples were kept first.",
        )

    return sprites.fit_to_budget(build, count, grey=False, max_bytes=max_bytes, on_drop=dropped)


write_example_thumbnails = write_function(
    example_thumbnails_pb, "write_example_thumbnails",
    """Write the thumbnails of an ids value of matrix ``tag`` at ``step`` (the ids value's step;
    see :func:`example_thumbnails_pb`).""")
