"""The plugin's name and the versioned content of its summary metadata.

The on-disk format (``docs/format.md``) is known only in
:mod:`tb_fmnist_plugin.format`. The writing side builds metadata here; the
reading side (the TensorBoard plugin) parses it and decodes values here.

Each value kind's encoding sits beside the check a reader applies to
untrusted data of that kind, and every kind shares the metadata content rules
above them. The calibration and label-issue kinds, a family of their own,
live in :mod:`tb_fmnist_plugin.format.diagnostics_metadata`; the thumbnail
index the examples share with the suspects in
:mod:`tb_fmnist_plugin.format.thumbnail_index`; a matrix value's two layouts and
their check in :mod:`tb_fmnist_plugin.format.matrix_encoding` (names re-exported here).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
from tensorboard.compat.proto import summary_pb2

from tb_fmnist_plugin.format import thumbnail_index
from tb_fmnist_plugin.format.matrix_encoding import (  # noqa: F401  (metadata.X keeps working)
    MAX_COUNT,
    counts_problem,
    decode_matrix,
    encode_matrix,
    matrix_cells,
    matrix_value_problem,
)
from tb_fmnist_plugin.format.thumbnail_index import is_int, sprite_grid, tile_offset  # noqa: F401  (the readers' names)

logger = logging.getLogger(__name__)

#: Stable, unique plugin name; used in summary metadata, routes and the tab.
PLUGIN_NAME = "tb_fmnist_confusion"

#: Version of the metadata content and value encodings this code writes.
#: Readers accept this version and older ones; newer ones are skipped.
#: Bumped for a new encoding or meaning of a kind; new kinds (older readers
#: skip them) came without a bump, the per-class calibration kinds included.
FORMAT_VERSION = 1

KIND_MATRIX = "confusion_matrix"
KIND_EXAMPLES = "cell_examples"
KIND_EXCLUDED = "excluded_rows"
# Evaluation diagnostics, each belonging to a matrix tag and carrying its class
# metadata; values in :mod:`tb_fmnist_plugin.format.diagnostics_metadata`.
KIND_RELIABILITY = "reliability_bins"
KIND_CELL_CONFIDENCE = "cell_confidence"
KIND_CLASS_LOSS = "class_loss"
KIND_CONFIDENT_JOINT = "confident_joint"
KIND_LABEL_ISSUES = "label_issues"
KIND_SUSPECTS = "suspects"
# Per-class calibration by the standard definitions (classwise, and by
# predicted class); ``reliability_bins`` is per true class.
KIND_CLASSWISE = "classwise_bins"
KIND_PREDICTED_RELIABILITY = "predicted_reliability_bins"
#: Kinds whose content carries ``bins``.
BINNED_KINDS = (KIND_RELIABILITY, KIND_CLASSWISE, KIND_PREDICTED_RELIABILITY)
DIAGNOSTIC_KINDS = (
    KIND_RELIABILITY, KIND_CELL_CONFIDENCE, KIND_CLASS_LOSS, KIND_CONFIDENT_JOINT, KIND_LABEL_ISSUES, KIND_SUSPECTS,
    KIND_CLASSWISE, KIND_PREDICTED_RELIABILITY,
)
# The per-example record of every evaluation, belonging to a matrix tag like
# the diagnostics; values in :mod:`tb_fmnist_plugin.format.example_record`.
KIND_EXAMPLE_IDS = "example_ids"
KIND_EXAMPLE_PREDICTIONS = "example_predictions"
KIND_EXAMPLE_THUMBNAILS = "example_thumbnails"
RECORD_KINDS = (KIND_EXAMPLE_IDS, KIND_EXAMPLE_PREDICTIONS, KIND_EXAMPLE_THUMBNAILS)

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


def create_metadata(kind: str, content: Dict[str, Any], data_class: int, description: str = "") -> summary_pb2.SummaryMetadata:
    """Metadata of any kind: plugin name, ``{"version", "kind"}`` plus
    ``content``; for the format's other modules (diagnostics)."""
    return _metadata(kind, content, data_class, description)


#: What one count of a matrix is: an example (classification, the default,
#: absent from older files), a pixel (segmentation) or a token (sequences).
MATRIX_UNITS = ("examples", "pixels", "tokens")
DEFAULT_MATRIX_UNIT = "examples"


def check_matrix_unit(unit: Any) -> str:
    """``unit`` if it is one of :data:`MATRIX_UNITS`, else ``ValueError``."""
    if unit not in MATRIX_UNITS:
        raise ValueError(f"unit must be one of {', '.join(MATRIX_UNITS)}, got {unit!r}")
    return unit


def matrix_unit(content: Dict[str, Any]) -> str:
    """The unit of a matrix series' parsed metadata: its ``"unit"`` field, or
    ``"examples"`` when absent (older files) or not one this code knows."""
    unit = content.get("unit")
    return unit if unit in MATRIX_UNITS else DEFAULT_MATRIX_UNIT


def create_matrix_metadata(
    class_names: Sequence[str], description: str = "", unit: Optional[str] = None
) -> summary_pb2.SummaryMetadata:
    """Metadata for a confusion-matrix tensor series (``DATA_CLASS_TENSOR``);
    ``unit`` (one of :data:`MATRIX_UNITS`) is stored when given."""
    content: Dict[str, Any] = {"num_classes": len(class_names), "class_names": list(class_names)}
    if unit is not None:
        content["unit"] = check_matrix_unit(unit)
    return _metadata(KIND_MATRIX, content, summary_pb2.DATA_CLASS_TENSOR, description)


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
    """Parse metadata content written by this plugin; ``None`` (with a
    warning naming the problem, see :func:`read_plugin_content`) for content
    a reader skips instead of failing."""
    parsed, problem = read_plugin_content(content)
    if problem is not None:
        logger.warning("%s: skipping a series: %s", PLUGIN_NAME, problem)
    return parsed


def read_plugin_content(content: bytes) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
    """``(parsed content, None)`` for readable content of this plugin;
    ``(None, problem)`` for content a reader must skip, ``problem`` saying
    why; ``(None, None)`` for content to ignore silently (a kind this code
    does not know, or a newer format version, warned about once per version
    here). Logs nothing else, so a reader can warn once per series."""
    try:
        parsed = json.loads(bytes(content).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None, "its metadata is not UTF-8 JSON"
    if not isinstance(parsed, dict):
        return None, "its metadata is not a JSON object"
    version = parsed.get("version")
    if not is_int(version) or version < 1:
        return None, "its metadata has no valid format version"
    if version > FORMAT_VERSION:
        if version not in _warned_versions:
            _warned_versions.add(version)
            logger.warning("%s: skipping data in format version %d; this plugin reads up to %d. "
                           "Upgrade tb-fmnist-plugin to see it.", PLUGIN_NAME, version, FORMAT_VERSION)
        return None, None
    kind = parsed.get("kind")
    if kind == KIND_EXCLUDED:
        if not isinstance(parsed.get("matrix_tag"), str):
            return None, "an excluded-rows series without a matrix tag"
        return parsed, None
    if kind not in (KIND_MATRIX, KIND_EXAMPLES) + DIAGNOSTIC_KINDS + RECORD_KINDS:
        return None, None
    problem = _class_metadata_problem(parsed.get("num_classes"), parsed.get("class_names"))
    if problem is None and kind == KIND_EXAMPLES and not isinstance(parsed.get("matrix_tag"), str):
        problem = "an examples series without a matrix tag"
    if problem is None and kind in DIAGNOSTIC_KINDS + RECORD_KINDS and not isinstance(parsed.get("matrix_tag"), str):
        problem = f"a {kind} series without a matrix tag"
    if problem is None and kind in BINNED_KINDS and not (is_int(parsed.get("bins")) and parsed["bins"] >= 1):
        problem = f"a {kind} series without a valid bin count"
    return (None, problem) if problem is not None else (parsed, None)


def _class_metadata_problem(num_classes: Any, names: Any) -> Optional[str]:
    """Why stored ``num_classes`` / ``class_names`` cannot be used, or None."""
    if not is_int(num_classes) or not isinstance(names, list) or len(names) != num_classes:
        return "its class metadata is inconsistent (num_classes and class_names disagree)"
    if not 1 <= num_classes <= MAX_CLASSES:
        return f"it declares {num_classes} classes; the format allows 1 to {MAX_CLASSES}"
    if not all(isinstance(name, str) for name in names):
        return "its class names are not all strings"
    return None


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
#   blob 0: UTF-8 JSON index (see ``docs/format.md``,
#           :mod:`tb_fmnist_plugin.format.thumbnail_index`);
#   blob 1: a PNG sprite sheet with every thumbnail, tile i at column
#           i % columns, row i // columns.

EXAMPLES_INDEX_BLOB = thumbnail_index.INDEX_BLOB
EXAMPLES_SPRITE_BLOB = thumbnail_index.SPRITE_BLOB
#: Largest tile side, in pixels, a reader accepts in an examples index.
MAX_TILE_PIXELS = 4096
_INDEX_SCALARS = {
    "tile_height": lambda v: 1 <= v <= MAX_TILE_PIXELS,
    "tile_width": lambda v: 1 <= v <= MAX_TILE_PIXELS,
    "channels": lambda v: v in (1, 3),
    "columns": lambda v: v >= 1,
}


def encode_examples_index(
    *, true_labels: Sequence[int], predicted_labels: Sequence[int], confidences: Sequence[float],
    dataset_indices: Sequence[int], **layout: int,
) -> bytes:
    """Serialize the examples index (blob 0); ``layout`` is the sprite's
    (:func:`~tb_fmnist_plugin.format.thumbnail_index.encode`). Confidences keep 4 decimals."""
    return thumbnail_index.encode(
        FORMAT_VERSION, **layout, true=thumbnail_index.ints(true_labels), predicted=thumbnail_index.ints(predicted_labels),
        confidence=[round(float(v), 4) for v in confidences], index=thumbnail_index.ints(dataset_indices),
    )


def decode_examples_index(blob: bytes, num_classes: Optional[int] = None) -> Dict[str, Any]:
    """Parse blob 0 of an examples value; raises ``ValueError`` saying what
    is wrong unless every field has its documented type and range (class
    indices below ``num_classes`` when given, finite confidences)."""
    is_class = thumbnail_index.is_class_index(num_classes)
    return thumbnail_index.decode(blob, "examples", scalars=_INDEX_SCALARS, lists={
        "true": is_class, "predicted": is_class, "confidence": thumbnail_index.is_number,
        "index": thumbnail_index.is_dataset_index,
    })


def examples_tag(matrix_tag: str) -> str:
    """Tag of the examples series that belongs to ``matrix_tag``."""
    return matrix_tag + EXAMPLES_TAG_SUFFIX
