"""Value kinds of the per-example record of every evaluation
(``docs/format.md``, "Per-example record"): which examples were evaluated,
what the model predicted for each at every step, and a thumbnail of each,
once per run.

Every series belongs to a confusion-matrix tag ``M`` (like the diagnostics of
:mod:`tb_fmnist_plugin.format.diagnostics_metadata`) and is a blob sequence;
its metadata content is the matrix's class metadata plus ``matrix_tag``:

============================  ========================  ===========================================
tag                           kind                      value
============================  ========================  ===========================================
``M/example_ids``             ``example_ids``           one NPZ: ``index`` int64 [N], ``label`` [N]
``M/example_predictions``     ``example_predictions``   one NPZ: ``predicted``, ``p_given``,
                                                        ``confidence`` [W], ``ids_step``
``M/example_thumbnails``      ``example_thumbnails``    NPZ ``row`` int32 [T], then PNG pages
============================  ========================  ===========================================

Arrays travel as NPZ (``numpy.savez_compressed``); a reader loads them
without pickles and checks every array's dtype, shape and range here: each
``decode_*`` raises ``ValueError`` naming the problem. Pure numpy (Pillow
only for the pages, through :mod:`tb_fmnist_plugin.format.sprites`).
"""
from __future__ import annotations

import bisect
import io
import math
import zipfile
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple

import numpy as np
from tensorboard.compat.proto import summary_pb2

from tb_fmnist_plugin.format import metadata, sprites
from tb_fmnist_plugin.format.thumbnail_index import is_int

#: Tag suffix of each kind, appended to the matrix tag.
SUFFIXES: Dict[str, str] = {
    metadata.KIND_EXAMPLE_IDS: "/example_ids",
    metadata.KIND_EXAMPLE_PREDICTIONS: "/example_predictions",
    metadata.KIND_EXAMPLE_THUMBNAILS: "/example_thumbnails",
}
#: ``identity`` of an ids value: dataset indices given to ``record(indices=...)``.
IDENTITY_INDEX = "index"
#: ``identity`` of an ids value: the position in evaluation order.
IDENTITY_POSITION = "position"
IDENTITIES = (IDENTITY_INDEX, IDENTITY_POSITION)
#: Largest number of examples one value may hold (bounds what a reader unpacks).
MAX_EXAMPLES = 1 << 26
#: Default per-run byte budget of the thumbnails.
DEFAULT_THUMBNAILS_MAX_BYTES = 8_000_000
#: Most tiles per page side, and most pixels per page side.
MAX_PAGE_COLUMNS = 32
MAX_PAGE_PIXELS = 2048
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def record_tag(matrix_tag: str, kind: str) -> str:
    """Tag of the ``kind`` series of the record of ``matrix_tag``."""
    return matrix_tag + SUFFIXES[kind]


def label_dtype(num_classes: int) -> np.dtype:
    """Stored dtype of labels: int16 for up to 32767 classes, else int32."""
    return np.dtype(np.int16 if num_classes <= 32767 else np.int32)


def predicted_dtype(num_classes: int) -> np.dtype:
    """Stored dtype of predicted classes: uint8 for up to 254 classes, else
    uint16; the dtype's maximum (:func:`left_out_code`) marks a left-out row."""
    return np.dtype(np.uint8 if num_classes <= 254 else np.uint16)


def left_out_code(num_classes: int) -> int:
    """The stored predicted value of a row left out of the matrix."""
    return int(np.iinfo(predicted_dtype(num_classes)).max)


def ids_in_effect(steps_with_ids: Sequence[int], step: int) -> Optional[int]:
    """The step of the ids value in effect at ``step``: the largest of the
    ascending ``steps_with_ids`` that is ``<= step``; None if there is none."""
    at = bisect.bisect_right(list(steps_with_ids), step)
    return int(steps_with_ids[at - 1]) if at else None


# --- Metadata ---------------------------------------------------------------------


def create_record_metadata(
    kind: str, class_names: Sequence[str], matrix_tag: str, description: str = "", **content: Any
) -> summary_pb2.SummaryMetadata:
    """Metadata of a ``kind`` record series of ``matrix_tag`` (blob sequence);
    ``content`` adds the kind's fields."""
    if kind not in SUFFIXES:
        raise ValueError(f"unknown record kind {kind!r}")
    payload: Dict[str, Any] = {"num_classes": len(class_names), "class_names": list(class_names), "matrix_tag": matrix_tag}
    payload.update(content)
    return metadata.create_metadata(kind, payload, summary_pb2.DATA_CLASS_BLOB_SEQUENCE, description)


def create_example_ids_metadata(class_names: Sequence[str], matrix_tag: str, identity: str) -> summary_pb2.SummaryMetadata:
    """Metadata of an ``example_ids`` series (``identity``: index or position)."""
    if identity not in IDENTITIES:
        raise ValueError(f"identity must be one of {IDENTITIES}, got {identity!r}")
    return create_record_metadata(metadata.KIND_EXAMPLE_IDS, class_names, matrix_tag, identity=identity)


def create_example_predictions_metadata(class_names: Sequence[str], matrix_tag: str) -> summary_pb2.SummaryMetadata:
    """Metadata of an ``example_predictions`` series."""
    return create_record_metadata(metadata.KIND_EXAMPLE_PREDICTIONS, class_names, matrix_tag)


def create_example_thumbnails_metadata(
    class_names: Sequence[str], matrix_tag: str, **layout: Any
) -> summary_pb2.SummaryMetadata:
    """Metadata of an ``example_thumbnails`` series; ``layout`` holds
    :data:`THUMBNAIL_FIELDS` (checked by :func:`thumbnails_content_problem`)."""
    return create_record_metadata(metadata.KIND_EXAMPLE_THUMBNAILS, class_names, matrix_tag, **layout)


#: Content fields of a thumbnails series and their valid values.
THUMBNAIL_FIELDS = {
    "tile_height": lambda v: is_int(v) and 1 <= v <= metadata.MAX_TILE_PIXELS,
    "tile_width": lambda v: is_int(v) and 1 <= v <= metadata.MAX_TILE_PIXELS,
    "channels": lambda v: is_int(v) and v in (1, 3),
    "columns": lambda v: is_int(v) and v >= 1,
    "tiles_per_page": lambda v: is_int(v) and v >= 1,
    "budget_bytes": lambda v: is_int(v) and v >= 0,
    "complete": lambda v: isinstance(v, bool),
}


def content_problem(content: Mapping[str, Any]) -> Optional[str]:
    """Why a record series' parsed content (already accepted by
    :func:`~tb_fmnist_plugin.format.metadata.read_plugin_content`) cannot be
    used, or None: an ids series needs a known ``identity``, a thumbnails
    series every :data:`THUMBNAIL_FIELDS` entry with ``tiles_per_page`` a
    multiple of ``columns``."""
    kind = content.get("kind")
    if kind == metadata.KIND_EXAMPLE_IDS and content.get("identity") not in IDENTITIES:
        return f"an example_ids series with an unknown identity {content.get('identity')!r}"
    if kind == metadata.KIND_EXAMPLE_THUMBNAILS:
        for name, valid in THUMBNAIL_FIELDS.items():
            if not valid(content.get(name)):
                return f"an example_thumbnails series with an invalid {name} ({content.get(name)!r})"
        if content["tiles_per_page"] % content["columns"]:
            return "an example_thumbnails series whose tiles_per_page is not a multiple of its columns"
    return None


# --- NPZ blobs --------------------------------------------------------------------


def encode_npz(**arrays: np.ndarray) -> bytes:
    """The arrays as one compressed NPZ blob."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def decode_npz(blob: Any, names: Iterable[str], what: str) -> Dict[str, np.ndarray]:
    """The arrays ``names`` of an NPZ blob, exactly those, loaded without
    pickles; ``ValueError`` for anything else or an array over
    :data:`MAX_EXAMPLES` 8-byte entries before it is unpacked."""
    names = tuple(names)
    if not isinstance(blob, (bytes, bytearray)):
        raise ValueError(f"{what}: the blob is not bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(bytes(blob))) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
        if sorted(sizes) != sorted(name + ".npy" for name in names):
            raise ValueError(f"{what}: the NPZ holds {sorted(sizes)}, expected {sorted(names)}")
        if max(sizes.values(), default=0) > MAX_EXAMPLES * 8 + 4096:
            raise ValueError(f"{what}: an array is larger than {MAX_EXAMPLES} entries")
        with np.load(io.BytesIO(bytes(blob)), allow_pickle=False) as npz:
            return {name: npz[name] for name in names}
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as error:
        raise ValueError(f"{what}: not a readable NPZ ({error})") from None
    except ValueError as error:
        raise ValueError(str(error) if str(error).startswith(what) else f"{what}: {error}") from None


def _check(array: np.ndarray, name: str, dtypes: Tuple[Any, ...], shape: Tuple[int, ...], what: str) -> np.ndarray:
    if array.dtype not in tuple(np.dtype(d) for d in dtypes):
        raise ValueError(f"{what}: {name} is {array.dtype}, expected {' or '.join(str(np.dtype(d)) for d in dtypes)}")
    if array.shape != shape:
        raise ValueError(f"{what}: {name} has shape {array.shape}, expected {shape}")
    return array


def _rows(array: np.ndarray, name: str, what: str) -> int:
    if array.ndim != 1:
        raise ValueError(f"{what}: {name} has shape {array.shape}, expected one row per example")
    return int(array.shape[0])


# --- example_ids ------------------------------------------------------------------


def ids_problem(index: np.ndarray, label: np.ndarray, num_classes: int, identity: str) -> Optional[str]:
    """Why ``index``/``label`` (int64, any int) are no ids value, or None."""
    if index.shape != label.shape or index.ndim != 1:
        return f"index {index.shape} and label {label.shape} are not one row per example"
    if identity == IDENTITY_POSITION:
        if not np.array_equal(index, np.arange(index.size)):
            return "index must be the positions 0..N-1 (identity 'position')"
    elif identity == IDENTITY_INDEX:
        if index.size and int(index.min()) < 0:
            return "index holds a negative dataset index"
        if not (np.diff(index) > 0).all():
            return "index is not strictly increasing (rows sorted by dataset index, no duplicates)"
    else:
        return f"unknown identity {identity!r}"
    if label.size and (int(label.min()) < 0 or int(label.max()) >= num_classes):
        return f"a label is outside [0, {num_classes})"
    return None


def encode_example_ids(index: Any, label: Any, num_classes: int, identity: str) -> bytes:
    """NPZ blob of an ids value; ``ValueError`` naming the problem."""
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    label = np.asarray(label).reshape(-1).astype(np.int64)
    problem = ids_problem(index, label, num_classes, identity)
    if problem is not None:
        raise ValueError(problem)
    return encode_npz(index=index, label=label.astype(label_dtype(num_classes)))


def decode_example_ids(blob: Any, num_classes: int, identity: str) -> Dict[str, np.ndarray]:
    """``{"index": int64 [N], "label": int64 [N]}`` of an ids blob."""
    what = "example_ids"
    arrays = decode_npz(blob, ("index", "label"), what)
    n = _rows(arrays["index"], "index", what)
    index = _check(arrays["index"], "index", (np.int64,), (n,), what)
    label = _check(arrays["label"], "label", (label_dtype(num_classes),), (n,), what).astype(np.int64)
    problem = ids_problem(index, label, num_classes, identity)
    if problem is not None:
        raise ValueError(f"{what}: {problem}")
    return {"index": index, "label": label}


# --- example_predictions ----------------------------------------------------------


def encode_example_predictions(
    predicted: Any, p_given: Any, top1: Any, label: Any, num_classes: int, ids_step: int
) -> bytes:
    """NPZ blob of one evaluation's predictions of the rows of an ids value.

    ``predicted``: class per row, negative for a row left out of the matrix;
    ``p_given``/``top1``: probability of the given label / top-1 probability
    per row (ignored for left-out rows); ``label``: the ids value's labels.
    Only the top-1 of misclassified rows is stored (for the others it is
    ``p_given``)."""
    label = np.asarray(label).reshape(-1).astype(np.int64)
    predicted = np.asarray(predicted).reshape(-1).astype(np.int64)
    n = label.size
    p_given = np.asarray(p_given, dtype=np.float32).reshape(-1)
    top1 = np.asarray(top1, dtype=np.float32).reshape(-1)
    if predicted.size != n or p_given.size != n or top1.size != n:
        raise ValueError(f"predicted, p_given and confidence must have one entry per row ({n})")
    if (predicted >= num_classes).any():
        raise ValueError(f"a predicted class is outside [0, {num_classes})")
    left_out = predicted < 0
    for name, values in (("p_given", p_given), ("confidence", top1)):
        kept = values[~left_out]
        if not np.isfinite(kept).all() or (kept < 0).any() or (kept > 1 + 1e-6).any():
            raise ValueError(f"{name} must be probabilities in [0, 1] for every row in the matrix")
    stored = np.where(left_out, left_out_code(num_classes), predicted).astype(predicted_dtype(num_classes))
    p16 = np.where(left_out, np.nan, np.clip(p_given, 0.0, 1.0)).astype(np.float16)
    wrong = ~left_out & (predicted != label)
    confidence = np.maximum(np.clip(top1[wrong], 0.0, 1.0), np.clip(p_given[wrong], 0.0, 1.0)).astype(np.float16)
    if isinstance(ids_step, (bool, np.bool_)) or not isinstance(ids_step, (int, np.integer)) or ids_step < 0:
        raise ValueError(f"ids_step must be a step >= 0, got {ids_step!r}")
    return encode_npz(predicted=stored, p_given=p16, confidence=confidence, ids_step=np.asarray(int(ids_step), dtype=np.int64))


def decode_example_predictions(blob: Any, num_classes: int, label: Optional[np.ndarray] = None) -> Dict[str, Any]:
    """``{"predicted", "p_given", "confidence", "ids_step"}`` of a
    predictions blob, as stored (``predicted`` with :func:`left_out_code`,
    ``confidence`` of the misclassified rows only; ``ids_step`` an int).
    With the ids value's ``label``, also checks the row count and ``W``."""
    what = "example_predictions"
    arrays = decode_npz(blob, ("predicted", "p_given", "confidence", "ids_step"), what)
    n = _rows(arrays["predicted"], "predicted", what)
    predicted = _check(arrays["predicted"], "predicted", (predicted_dtype(num_classes),), (n,), what)
    p_given = _check(arrays["p_given"], "p_given", (np.float16,), (n,), what)
    ids_step = _check(arrays["ids_step"], "ids_step", (np.int64,), (), what)
    if int(ids_step) < 0:
        raise ValueError(f"{what}: ids_step is negative")
    code = left_out_code(num_classes)
    left_out = predicted == code
    if ((predicted >= num_classes) & ~left_out).any():
        raise ValueError(f"{what}: a predicted class is outside [0, {num_classes})")
    kept = p_given[~left_out]
    if not np.isfinite(kept).all() or (kept < 0).any() or (kept > 1).any():
        raise ValueError(f"{what}: p_given is not a probability for every row in the matrix")
    if not np.isnan(p_given[left_out]).all():
        raise ValueError(f"{what}: p_given of a left-out row is not NaN")
    confidence = arrays["confidence"]
    width = _rows(confidence, "confidence", what)
    _check(confidence, "confidence", (np.float16,), (width,), what)
    if not np.isfinite(confidence).all() or (confidence < 0).any() or (confidence > 1).any():
        raise ValueError(f"{what}: confidence holds values that are not probabilities")
    if label is not None:
        label = np.asarray(label).reshape(-1)
        if label.size != n:
            raise ValueError(f"{what}: {n} rows, but the ids value in effect has {label.size}")
        wrong = ~left_out & (predicted.astype(np.int64) != label)
        if int(wrong.sum()) != width:
            raise ValueError(f"{what}: {width} confidences for {int(wrong.sum())} misclassified rows")
        if (confidence < p_given[wrong]).any():
            raise ValueError(f"{what}: a top-1 confidence is below the probability of the given label")
    return {"predicted": predicted, "p_given": p_given, "confidence": confidence, "ids_step": int(ids_step)}


def top1_confidence(predictions: Mapping[str, Any], label: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 [N] top-1 probability of every row of decoded ``predictions``
    (NaN for left-out rows): ``confidence`` where misclassified, else ``p_given``."""
    predicted = np.asarray(predictions["predicted"])
    top1 = np.asarray(predictions["p_given"], dtype=np.float32).copy()
    wrong = (predicted != left_out_code(num_classes)) & (predicted.astype(np.int64) != np.asarray(label))
    top1[wrong] = np.asarray(predictions["confidence"], dtype=np.float32)
    return top1


# --- example_thumbnails -----------------------------------------------------------
#
# Blob 0: NPZ ``row`` int32 [T], the ids value's rows having a thumbnail
# (distinct; tile t is row[t]). Blobs 1..P: PNG pages of ``columns`` x
# ``tiles_per_page / columns`` tiles; tile t on page 1 + t // tiles_per_page
# at grid cell ((t % tiles_per_page) // columns, (t % tiles_per_page) % columns).


def page_columns(count: int, tile_height: int, tile_width: int) -> int:
    """Tiles per page side for ``count`` tiles: enough for all on one square
    page, at most :data:`MAX_PAGE_COLUMNS` and :data:`MAX_PAGE_PIXELS` wide."""
    fit = max(1, MAX_PAGE_PIXELS // max(tile_height, tile_width))
    return max(1, min(MAX_PAGE_COLUMNS, fit, math.ceil(math.sqrt(max(count, 1)))))


def encode_page(tiles: np.ndarray, columns: int) -> bytes:
    """One 8-bit PNG page of up to ``columns**2`` uint8 tiles ``[T, H, W, C]``
    (a short last page is padded with empty tiles to the full square)."""
    full = columns * columns
    if tiles.shape[0] > full:
        raise ValueError(f"{tiles.shape[0]} tiles do not fit a page of {full}")
    if tiles.shape[0] < full:
        tiles = np.concatenate([tiles, np.zeros((full - tiles.shape[0],) + tiles.shape[1:], dtype=np.uint8)])
    png, sheet_columns = sprites.encode_sprite(tiles, 8)
    assert sheet_columns == columns
    return png


def tile_cell(tile: int, columns: int, tiles_per_page: int) -> Tuple[int, int, int]:
    """``(page blob, grid row, grid column)`` of tile ``tile`` (page blob 1 is the first page)."""
    page, within = divmod(int(tile), tiles_per_page)
    return 1 + page, within // columns, within % columns


def decode_example_thumbnails(blobs: Sequence[Any], content: Mapping[str, Any], num_rows: Optional[int] = None) -> Dict[str, Any]:
    """``{"row": int32 [T], "pages": P}`` of a thumbnails value (its blobs,
    all read); checks the content (:func:`content_problem`), that the rows
    are distinct (and below ``num_rows`` when given), that there is one PNG
    page per ``tiles_per_page`` tiles."""
    what = "example_thumbnails"
    problem = content_problem(content)
    if problem is not None:
        raise ValueError(problem)
    if not blobs:
        raise ValueError(f"{what}: no blobs")
    row = decode_npz(blobs[0], ("row",), what)["row"]
    t = _rows(row, "row", what)
    _check(row, "row", (np.int32,), (t,), what)
    if t and (int(row.min()) < 0 or (num_rows is not None and int(row.max()) >= num_rows)):
        raise ValueError(f"{what}: a row is outside the ids value")
    if np.unique(row).size != t:
        raise ValueError(f"{what}: a row has two thumbnails")
    pages = -(-t // int(content["tiles_per_page"]))
    if len(blobs) != 1 + pages:
        raise ValueError(f"{what}: {len(blobs) - 1} pages for {t} tiles, expected {pages}")
    for page in blobs[1:]:
        if not isinstance(page, (bytes, bytearray)) or not bytes(page[:8]) == _PNG_SIGNATURE:
            raise ValueError(f"{what}: a page is not a PNG")
    return {"row": row, "pages": pages}
