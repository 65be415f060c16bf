"""The plugin's name and the versioned content of its summary metadata.

This module and :mod:`tb_fmnist_plugin.summary` are the only places that know
the on-disk format (``docs/format.md``). The writing side builds metadata here;
the reading side (the TensorBoard plugin) parses it and decodes values here.
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence

import numpy as np
from tensorboard.compat.proto import summary_pb2

logger = logging.getLogger(__name__)

#: Stable, unique plugin name; used in summary metadata, routes and the tab.
PLUGIN_NAME = "tb_fmnist_confusion"

#: Version of the metadata content and value encodings this code writes.
#: Readers accept this version and older ones; newer ones are skipped.
FORMAT_VERSION = 1

KIND_MATRIX = "confusion_matrix"
KIND_EXAMPLES = "cell_examples"
KIND_EXCLUDED = "excluded_rows"

#: Suffix appended to a matrix tag to name its per-cell examples series.
EXAMPLES_TAG_SUFFIX = "/examples"
#: Suffix appended to a matrix tag to name its excluded-rows series.
EXCLUDED_TAG_SUFFIX = "/excluded"
#: Why the rows counted by an excluded-rows series are not in the matrix.
EXCLUDED_REASON_NAN = "nan_logits"

#: Largest number of classes a matrix may have.
MAX_CLASSES = 4096

_warned_versions: set = set()


def default_class_names(num_classes: int) -> List[str]:
    """Names used when the writer gave none: ``"0"``, ``"1"``, ..."""
    return [str(i) for i in range(num_classes)]


def validate_class_names(
    class_names: Optional[Sequence[str]], num_classes: Optional[int] = None, *, distinct: bool = False
) -> List[str]:
    """Return class names as a list of strings, or raise naming the problem.

    The one check of class names, for the format writer and the hooks. ``None``
    gives :func:`default_class_names` (``num_classes`` is then required). With
    ``num_classes`` the count must match; without it, 1 to :data:`MAX_CLASSES`
    names are accepted. ``distinct`` also requires non-empty, unique names
    (the hooks put them in tags).
    """
    if class_names is None:
        if num_classes is None:
            raise ValueError("give class_names or num_classes")
        return default_class_names(num_classes)
    if isinstance(class_names, (str, bytes)):
        raise TypeError("class_names must be a sequence of strings, not a single string")
    if not isinstance(class_names, Iterable):
        raise TypeError(f"class_names must be a sequence of strings, got {type(class_names).__name__}")
    names = list(class_names)
    if num_classes is not None and len(names) != num_classes:
        raise ValueError(
            f"class_names has {len(names)} entries but the matrix has {num_classes} classes"
        )
    if not names:
        raise ValueError("class_names is empty")
    if len(names) > MAX_CLASSES:
        raise ValueError(f"at most {MAX_CLASSES} classes are supported, got {len(names)} class names")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"class_names must be strings; got {type(name).__name__}: {name!r}")
        if distinct and not name:
            raise TypeError(f"class_names must be non-empty strings, got {name!r}")
    if distinct and len(set(names)) != len(names):
        raise ValueError("class_names has duplicates")
    return names


def _metadata(kind: str, content: Dict[str, Any], data_class: int, description: str) -> summary_pb2.SummaryMetadata:
    payload = {"version": FORMAT_VERSION, "kind": kind}
    payload.update(content)
    meta = summary_pb2.SummaryMetadata(
        summary_description=description,
        data_class=data_class,
    )
    meta.plugin_data.plugin_name = PLUGIN_NAME
    meta.plugin_data.content = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return meta


def create_matrix_metadata(class_names: Sequence[str], description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata for a confusion-matrix tensor series (``DATA_CLASS_TENSOR``)."""
    return _metadata(
        KIND_MATRIX,
        {"num_classes": len(class_names), "class_names": list(class_names)},
        summary_pb2.DATA_CLASS_TENSOR,
        description,
    )


def create_examples_metadata(
    class_names: Sequence[str], matrix_tag: str, description: str = ""
) -> summary_pb2.SummaryMetadata:
    """Metadata for a per-cell examples series (``DATA_CLASS_BLOB_SEQUENCE``)."""
    return _metadata(
        KIND_EXAMPLES,
        {
            "num_classes": len(class_names),
            "class_names": list(class_names),
            "matrix_tag": matrix_tag,
        },
        summary_pb2.DATA_CLASS_BLOB_SEQUENCE,
        description,
    )


def create_excluded_metadata(matrix_tag: str, description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata for the excluded-rows series of ``matrix_tag``
    (``DATA_CLASS_TENSOR``): rows of an evaluation left out of the matrix
    because their logits held NaN."""
    return _metadata(
        KIND_EXCLUDED,
        {"matrix_tag": matrix_tag, "reason": EXCLUDED_REASON_NAN},
        summary_pb2.DATA_CLASS_TENSOR,
        description,
    )


def parse_plugin_content(content: bytes) -> Optional[Dict[str, Any]]:
    """Parse metadata content written by this plugin.

    Returns ``None`` (after one warning per version) for content of a newer
    format version, and for content that is not this plugin's, so a reader
    skips such series instead of failing.
    """
    try:
        parsed = json.loads(bytes(content).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        logger.warning("%s: skipping a series with unreadable metadata", PLUGIN_NAME)
        return None
    if not isinstance(parsed, dict):
        return None
    version = parsed.get("version")
    if not isinstance(version, int) or version < 1:
        logger.warning("%s: skipping a series with no valid format version", PLUGIN_NAME)
        return None
    if version > FORMAT_VERSION:
        if version not in _warned_versions:
            _warned_versions.add(version)
            logger.warning(
                "%s: skipping data in format version %d; this plugin reads up to %d. "
                "Upgrade tb-fmnist-plugin to see it.",
                PLUGIN_NAME,
                version,
                FORMAT_VERSION,
            )
        return None
    if parsed.get("kind") == KIND_EXCLUDED:
        if not isinstance(parsed.get("matrix_tag"), str):
            logger.warning("%s: skipping an excluded-rows series without a matrix tag", PLUGIN_NAME)
            return None
        return parsed
    if parsed.get("kind") not in (KIND_MATRIX, KIND_EXAMPLES):
        return None
    num_classes = parsed.get("num_classes")
    names = parsed.get("class_names")
    if not isinstance(num_classes, int) or not isinstance(names, list) or len(names) != num_classes:
        logger.warning("%s: skipping a series with inconsistent class metadata", PLUGIN_NAME)
        return None
    return parsed


# --- Matrix value encoding -------------------------------------------------
#
# A matrix is stored in whichever of two layouts is smaller, distinguished by
# rank so a reader needs nothing but the tensor and ``num_classes``:
#   dense : rank 2, shape [n, n], counts in row-major order;
#   sparse: rank 1, shape [2 * nnz], pairs (row * n + col, count) of the
#           non-zero cells in increasing flat-index order.
# The dtype is the narrowest of int32/int64 that holds every value.


def encode_matrix(matrix: np.ndarray) -> np.ndarray:
    """Encode a validated non-negative ``int64`` square matrix for storage."""
    n = matrix.shape[0]
    flat = matrix.reshape(-1)
    nonzero = np.flatnonzero(flat)
    if 2 * nonzero.size < flat.size:
        encoded = np.empty(2 * nonzero.size, dtype=np.int64)
        encoded[0::2] = nonzero
        encoded[1::2] = flat[nonzero]
    else:
        encoded = matrix
    limit = np.iinfo(np.int32).max
    if encoded.size == 0 or (int(encoded.max()) <= limit and n * n <= limit):
        return encoded.astype(np.int32)
    return encoded.astype(np.int64)


def decode_matrix(value: np.ndarray, num_classes: int) -> np.ndarray:
    """Decode a stored matrix value into a dense ``int64`` ``[n, n]`` array.

    Raises ``ValueError`` if the value does not fit the layout.
    """
    value = np.asarray(value)
    n = int(num_classes)
    if value.ndim == 2:
        if value.shape != (n, n):
            raise ValueError(f"matrix shape {value.shape} does not match {n} classes")
        return value.astype(np.int64)
    if value.ndim == 1 and value.size % 2 == 0:
        pairs = value.astype(np.int64).reshape(-1, 2)
        dense = np.zeros(n * n, dtype=np.int64)
        if pairs.size:
            index = pairs[:, 0]
            if index.min() < 0 or index.max() >= n * n:
                raise ValueError("sparse matrix index out of range")
            dense[index] = pairs[:, 1]
        return dense.reshape(n, n)
    raise ValueError(f"unrecognized matrix encoding of shape {value.shape}")


def is_matrix_value(value: Any, num_classes: int) -> bool:
    """Whether a stored value has integer counts in one of the two layouts
    above for ``num_classes`` classes: a cheap check on a whole series before
    any step is decoded (:func:`decode_matrix` still checks sparse indices)."""
    value = np.asarray(value)
    n = int(num_classes)
    laid_out = (value.ndim == 2 and value.shape == (n, n)) or (value.ndim == 1 and value.size % 2 == 0)
    return laid_out and np.issubdtype(value.dtype, np.integer)


# --- Excluded-rows value encoding ------------------------------------------
#
# One evaluation's count of rows left out of its matrix: a rank-0 int64 tensor
# at the matrix's step.


def encode_excluded(count: int) -> np.ndarray:
    """Encode a non-negative row count for storage."""
    return np.asarray(int(count), dtype=np.int64)


def decode_excluded(value: Any) -> int:
    """The count of a stored excluded-rows value; raises ``ValueError`` if it
    is not one non-negative integer."""
    value = np.asarray(value)
    if value.size != 1 or not np.issubdtype(value.dtype, np.integer) or int(value.reshape(-1)[0]) < 0:
        raise ValueError(f"unrecognized excluded-rows value of shape {value.shape} and dtype {value.dtype}")
    return int(value.reshape(-1)[0])


def excluded_tag(matrix_tag: str) -> str:
    """Tag of the excluded-rows series that belongs to ``matrix_tag``."""
    return matrix_tag + EXCLUDED_TAG_SUFFIX


# --- Examples value encoding -----------------------------------------------
#
# A per-cell examples value is a blob sequence of exactly two blobs:
#   blob 0: UTF-8 JSON index (see ``docs/format.md``);
#   blob 1: a PNG sprite sheet with every thumbnail, tile i at column
#           i % columns, row i // columns.

EXAMPLES_INDEX_BLOB = 0
EXAMPLES_SPRITE_BLOB = 1


def encode_examples_index(
    *,
    tile_height: int,
    tile_width: int,
    channels: int,
    columns: int,
    bits: int,
    true_labels: Sequence[int],
    predicted_labels: Sequence[int],
    confidences: Sequence[float],
    dataset_indices: Sequence[int],
) -> bytes:
    """Serialize the examples index (blob 0)."""
    index = {
        "version": FORMAT_VERSION,
        "tile_height": int(tile_height),
        "tile_width": int(tile_width),
        "channels": int(channels),
        "columns": int(columns),
        "bits": int(bits),
        "true": [int(v) for v in true_labels],
        "predicted": [int(v) for v in predicted_labels],
        "confidence": [round(float(v), 4) for v in confidences],
        "index": [int(v) for v in dataset_indices],
    }
    return json.dumps(index, separators=(",", ":")).encode("utf-8")


def decode_examples_index(blob: bytes) -> Dict[str, Any]:
    """Parse blob 0 of an examples value; raises ``ValueError`` if malformed."""
    try:
        index = json.loads(bytes(blob).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"unreadable examples index: {error}") from None
    required = ("tile_height", "tile_width", "channels", "columns", "true", "predicted", "confidence", "index")
    if not isinstance(index, dict) or any(key not in index for key in required):
        raise ValueError("examples index is missing fields")
    count = len(index["true"])
    if not all(len(index[key]) == count for key in ("predicted", "confidence", "index")):
        raise ValueError("examples index has lists of different lengths")
    return index


def sprite_grid(index: Dict[str, Any]) -> tuple[int, int, int]:
    """``(tile_width, tile_height, columns)`` of the sprite that a decoded
    examples index describes."""
    return int(index["tile_width"]), int(index["tile_height"]), max(1, int(index["columns"]))


def tile_offset(index: Dict[str, Any], tile: int) -> tuple[int, int]:
    """Pixel offset ``(x, y)`` of tile ``tile`` in the sprite: column
    ``tile % columns``, row ``tile // columns``."""
    width, height, columns = sprite_grid(index)
    return (tile % columns) * width, (tile // columns) * height


def examples_tag(matrix_tag: str) -> str:
    """Tag of the examples series that belongs to ``matrix_tag``."""
    return matrix_tag + EXAMPLES_TAG_SUFFIX
