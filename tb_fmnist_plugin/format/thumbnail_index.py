"""The JSON index of a thumbnail sprite: blob 0 of the cell examples and of
the suspects values (``docs/format.md``). Its fields are the format version
and the sprite layout (tile size, channels, columns, grey bits), then one list
entry per tile (and the kind's other fields). The serialization and the
reader's checks are shared here; each kind (:mod:`.metadata` for the
examples, :mod:`.diagnostics_metadata` for the suspects) names its fields and
their checks. A leaf module: it imports nothing of the package.
"""
from __future__ import annotations

import json
import math
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

#: Blob positions in an examples or suspects value.
INDEX_BLOB = 0
SPRITE_BLOB = 1


def encode(version: int, *, tile_height: int, tile_width: int, channels: int, columns: int, bits: int,
           **fields: Any) -> bytes:
    """Compact UTF-8 JSON of an index: ``version``, the sprite layout, then
    ``fields`` in the order given."""
    index = {
        "version": version,
        "tile_height": int(tile_height),
        "tile_width": int(tile_width),
        "channels": int(channels),
        "columns": int(columns),
        "bits": int(bits),
        **fields,
    }
    return json.dumps(index, separators=(",", ":")).encode("utf-8")


def decode(
    blob: bytes, what: str, *, scalars: Dict[str, Callable[[int], bool]], lists: Dict[str, Callable[[Any], bool]],
    required: Sequence[str] = (),
) -> Dict[str, Any]:
    """Parse an index; ``ValueError`` naming the ``what`` index unless it is
    a JSON object with the ``required`` fields, the ``scalars`` (integers
    passing their check) and the ``lists`` (of one length, each entry passing
    its check)."""
    try:
        index = json.loads(bytes(blob).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"unreadable {what} index: {error}") from None
    if not isinstance(index, dict) or any(key not in index for key in (*scalars, *lists, *required)):
        raise ValueError(f"{what} index is missing fields")
    for key, valid in scalars.items():
        if not (is_int(index[key]) and valid(index[key])):
            raise ValueError(f"{what} index: {key} is not a valid integer")
    if not all(isinstance(index[key], list) for key in lists) or len({len(index[key]) for key in lists}) != 1:
        raise ValueError(f"{what} index has lists of different lengths")
    for key, valid in lists.items():
        if not all(valid(v) for v in index[key]):
            raise ValueError(f"{what} index: {key} holds an invalid entry")
    return index


def ints(values: Sequence[Any]) -> list:
    """``values`` as a list of Python ints, for an index list."""
    return [int(v) for v in values]


def is_int(value: Any) -> bool:
    """A JSON integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite JSON number (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_class_index(num_classes: Optional[int]) -> Callable[[Any], bool]:
    """The check of a stored class index: an integer in ``[0, num_classes)``
    (any non-negative integer when ``num_classes`` is None)."""
    classes = math.inf if num_classes is None else num_classes
    return lambda v: is_int(v) and 0 <= v < classes


def is_dataset_index(value: Any) -> bool:
    """The check of a stored dataset index: an integer >= -1 (-1: unknown)."""
    return is_int(value) and value >= -1


def sprite_grid(index: Dict[str, Any]) -> Tuple[int, int, int]:
    """``(tile_width, tile_height, columns)`` of the sprite that a decoded
    index describes."""
    return int(index["tile_width"]), int(index["tile_height"]), max(1, int(index["columns"]))


def tile_offset(index: Dict[str, Any], tile: int) -> Tuple[int, int]:
    """Pixel offset ``(x, y)`` of tile ``tile`` in the sprite: column
    ``tile % columns``, row ``tile // columns``."""
    width, height, columns = sprite_grid(index)
    return (tile % columns) * width, (tile // columns) * height
