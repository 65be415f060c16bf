"""A log directory holding what other tools, old writers or a crash might
leave: values the write API refuses, written as raw protobufs through a real
``SummaryWriter``'s file writer, next to readable data (issue 10, cases 3-8).
"""
from __future__ import annotations

import io
import json
import os
from typing import Any, Dict, List

import numpy as np
from PIL import Image
from tensorboard.compat.proto import summary_pb2
from tensorboard.util import tensor_util
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata

RUN = "untrusted"
GOOD = "good"  # 4 classes, steps 0..3; examples at every step, only step 1's readable
NEG = "neg"  # 2 classes; steps 1 (negatives), 2 (a row summing to 0) and 3 (uint64 max) unreadable
GOOD_STEPS = [0, 1, 2, 3]
NEG_READABLE = {0: [[4, 1], [2, 3]], 4: [[7, 0], [1, 9]]}
#: A run and a tag whose names the Rust data server's blob keys cannot carry.
QUOTE_RUN = 'lr="0.1" \\ sweep'
QUOTE_TAG = 'confusion/"test"\\'
#: Tags never listed: the routes cannot take such names as parameters.
BAD_NAMES = ["tab\there", "new\nline", "nul\x00byte", "x" * 5000]
#: (tag, problem the warnings and 404s name) of series never listed.
UNLISTED = [
    ("zero", "declares 0 classes"),
    ("huge", "declares 10000 classes"),
    ("floats", "float32, not integer counts"),
    ("strings", "not integer counts"),
]


def class_names(n: int) -> List[str]:
    return [f"c{i}" for i in range(n)]


def raw_value(writer: SummaryWriter, tag: str, step: int, value: Any, meta: summary_pb2.SummaryMetadata) -> None:
    """``value`` under ``tag`` at ``step`` with ``meta``, unchecked."""
    proto = summary_pb2.Summary()
    proto.value.add(tag=tag, metadata=meta).tensor.CopyFrom(tensor_util.make_tensor_proto(value))
    writer._get_file_writer().add_summary(proto, step)


def matrix_meta(content: Dict[str, Any]) -> summary_pb2.SummaryMetadata:
    """Matrix metadata with hand-written ``content`` (e.g. a bad class count)."""
    meta = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_TENSOR)
    meta.plugin_data.plugin_name = metadata.PLUGIN_NAME
    meta.plugin_data.content = json.dumps({"version": 1, "kind": metadata.KIND_MATRIX, **content}).encode()
    return meta


def png(width: int = 8, height: int = 8) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width), 200, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def raw_examples(writer: SummaryWriter, matrix_tag: str, step: int, index: Dict[str, Any], tag: str = "") -> None:
    """An examples value whose index is ``index`` (JSON, NaN allowed)."""
    meta = metadata.create_examples_metadata(class_names(4), matrix_tag)
    blobs = np.array([json.dumps(index).encode(), png()], dtype=np.object_)
    raw_value(writer, tag or metadata.examples_tag(matrix_tag), step, blobs, meta)


def index(**changes: Any) -> Dict[str, Any]:
    """A readable examples index of one 8x8 tile, with ``changes``."""
    base = {"version": 1, "tile_height": 8, "tile_width": 8, "channels": 1, "columns": 1, "bits": 8,
            "true": [0], "predicted": [1], "confidence": [0.5], "index": [7]}
    return {**base, **changes}


def write(root: str, examples: Dict[str, np.ndarray]) -> None:
    """The untrusted logdir under ``root``; ``examples`` are valid example
    images and labels of 4 classes (``write_cell_examples`` keywords)."""
    writer = SummaryWriter(os.path.join(root, RUN))
    for step in GOOD_STEPS:
        summary.write_confusion_matrix(writer, GOOD, np.eye(4, dtype=int) * (step + 1), step)
    raw_examples(writer, GOOD, 0, index(true=[99]))  # not a class index (was a TypeError)
    summary.write_cell_examples(writer, GOOD, step=1, num_classes=4, **examples)
    raw_examples(writer, GOOD, 2, index(confidence=[float("nan")]))  # NaN (was a JSON encoder error)
    raw_examples(writer, GOOD, 3, index(tile_width=2.5))  # not an integer (was a TypeError)
    raw_examples(writer, GOOD, 1, index(), tag="other/examples")  # names GOOD, is not GOOD/examples

    names2 = matrix_meta({"num_classes": 2, "class_names": class_names(2)})
    summary.write_confusion_matrix(writer, NEG, np.array(NEG_READABLE[0]), 0)
    raw_value(writer, NEG, 1, np.array([[1, -3], [0, -50]], dtype=np.int32), names2)  # was served as 293, 246
    raw_value(writer, NEG, 2, np.array([[-3, 3], [1, 1]], dtype=np.int32), names2)  # row 0 sums to 0
    raw_value(writer, NEG, 3, np.array([[1, 2**64 - 1], [0, 1]], dtype=np.uint64), names2)  # was shown as 295
    summary.write_confusion_matrix(writer, NEG, np.array(NEG_READABLE[4]), 4)

    raw_value(writer, "zero", 0, np.zeros((0, 0), dtype=np.int32), matrix_meta({"num_classes": 0, "class_names": []}))
    huge = matrix_meta({"num_classes": 10_000, "class_names": class_names(10_000)})
    raw_value(writer, "huge", 0, np.array([0, 5], dtype=np.int32), huge)
    raw_value(writer, "floats", 0, np.eye(2, dtype=np.float32), names2)
    raw_value(writer, "strings", 0, np.array([b"a", b"b"], dtype=np.object_), names2)
    for name in BAD_NAMES:
        summary.write_confusion_matrix(writer, name, np.eye(2, dtype=int), 0)
    raw_value(writer, "", 0, np.eye(2, dtype=np.int32), names2)  # the writer refuses an empty tag
    writer.close()

    writer = SummaryWriter(os.path.join(root, QUOTE_RUN))
    summary.write_confusion_matrix(writer, QUOTE_TAG, np.eye(4, dtype=int), 5)
    summary.write_cell_examples(writer, QUOTE_TAG, step=5, num_classes=4, **examples)
    writer.close()
