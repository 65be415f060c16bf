"""JSON text of the routes' answers, with fast encoders for numeric arrays.

Large numeric payloads (a 1,000-class matrix is 1M numbers; a metrics series
500 x n x 4 ratios) are formatted with numpy into bytes instead of going
through ``json.dumps`` number by number, which dominated server time.
Everything else goes through ``json.dumps`` (ASCII, compact, no NaN).
"""
from __future__ import annotations

import json
from typing import Any, Callable, Collection, Dict, List, Optional

import numpy as np

#: Ratios (precision, recall, F1, accuracy, shares) are given with this many
#: decimals: exact enough for display, and fast to format.
RATIO_DECIMALS = 6
_RATIO_SCALE = 10**RATIO_DECIMALS


def dumps(value: Any) -> bytes:
    """Compact ASCII JSON of a JSON-able value; NaN is refused."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode("ascii")


def _ratio_ints(values: Any) -> np.ndarray:
    """Ratios in [0, 1] as integers in units of 1e-6; NaN -> -1."""
    x = np.asarray(values, dtype=np.float64)
    nan = np.isnan(x)
    scaled = np.rint(np.clip(np.where(nan, 0.0, x), 0.0, 1.0) * _RATIO_SCALE).astype(np.int64)
    return np.where(nan, -1, scaled)


def ratios(values: Any) -> List[Optional[float]]:
    """Ratios as a flat list rounded like :func:`ratios_json`, NaN -> None."""
    return [None if v < 0 else v / _RATIO_SCALE for v in _ratio_ints(values).reshape(-1).tolist()]


def _array_json(values: np.ndarray, cells: Callable[[np.ndarray], np.ndarray]) -> bytes:
    """JSON of a 1-D or 2-D array. ``cells`` turns the array as ``[rows, cols]``
    into ``[rows, cols, slot]`` bytes, each slot one number and a comma; bytes
    equal to 0 are left out (unused leading digit slots)."""
    one_dimensional = values.ndim == 1
    if one_dimensional:
        values = values[None, :]
    rows, cols = values.shape
    if rows == 0 or (cols == 0 and one_dimensional):
        return b"[]"
    if cols == 0:
        return b"[" + b",".join([b"[]"] * rows) + b"]"
    tokens = cells(values)
    if one_dimensional:
        data = tokens.reshape(-1)
    else:
        slot = tokens.shape[2]
        tokens[:, -1, slot - 1] = ord("]")
        out = np.empty((rows, cols * slot + 2), dtype=np.uint8)
        out[:, 0] = ord("[")
        out[:, 1:-1] = tokens.reshape(rows, -1)
        out[:, -1] = ord(",")
        data = out.reshape(-1)
    return b"[" + data[data != 0][:-1].tobytes() + b"]"


def _ratio_cells(v: np.ndarray) -> np.ndarray:
    """Every ratio (units of 1e-6, -1 for NaN) as ``d.dddddd,`` or ``null,``,
    trailing zero decimals (and a bare ``.``) left out as 0 bytes: ``0.93,``,
    ``1,`` (a long series' metrics are a third smaller)."""
    rows, cols = v.shape
    width = RATIO_DECIMALS + 2
    tokens = np.empty((rows, cols, width + 1), dtype=np.uint8)
    positive = np.maximum(v, 0)
    tokens[:, :, 0] = 48 + positive // _RATIO_SCALE
    tokens[:, :, 1] = ord(".")
    for d in range(RATIO_DECIMALS):
        tokens[:, :, width - 1 - d] = 48 + (positive // 10**d) % 10
    decimals = tokens[:, :, 2:width]
    trailing = np.logical_and.accumulate(decimals[:, :, ::-1] == ord("0"), axis=2)[:, :, ::-1]
    decimals[trailing] = 0
    tokens[:, :, 1][trailing[:, :, 0]] = 0
    tokens[v < 0, :width] = np.frombuffer(b"null" + bytes(width - 4), dtype=np.uint8)
    tokens[:, :, width] = ord(",")
    return tokens


def _int_cells(m: np.ndarray) -> np.ndarray:
    """Every integer's digits, right-aligned in slots as wide as the largest
    number's, leading unused bytes 0, then a comma."""
    rows, cols = m.shape
    top = int(m.max())
    width = len(str(top))
    v = m.astype(np.uint32) if top < 2**32 else m.astype(np.uint64)
    slots = np.zeros((rows, cols, width + 1), dtype=np.uint8)
    for d in range(width):
        power = v.dtype.type(10**d)
        digits = ((v // power) % 10).astype(np.uint8) + 48
        if d == 0:
            slots[:, :, width - 1] = digits
        else:
            np.copyto(slots[:, :, width - 1 - d], digits, where=v >= power)
    slots[:, :, width] = ord(",")
    return slots


def ratios_json(values: Any) -> bytes:
    """JSON of a 1-D or 2-D array of ratios in [0, 1] (NaN -> ``null``).

    Every number is written in a fixed-width slot ``d.dddddd`` (``null`` in
    the same width), so the text is built with array operations; unused
    bytes (trailing zero decimals, padding) are then dropped.
    """
    return _array_json(_ratio_ints(values), _ratio_cells)


def ints_json(values: Any) -> bytes:
    """Compact JSON of a 1-D or 2-D array of non-negative integers.

    Digits are computed for all cells at once into fixed-width slots, and the
    unused leading slots removed in one pass; the result equals
    ``json.dumps(values.tolist(), separators=(",", ":"))``.
    """
    return _array_json(np.asarray(values, dtype=np.int64), _int_cells)


def encode(
    payload: Dict[str, Any], *, int_arrays: Collection[str] = (), ratio_arrays: Collection[str] = ()
) -> bytes:
    """JSON object of ``payload``, fields in order.

    Fields named in ``int_arrays`` (non-negative integers) and
    ``ratio_arrays`` (ratios, see :func:`ratios_json`) are 1-D or 2-D numpy
    arrays written by the fast encoders; every other field by ``json.dumps``.
    """
    if not int_arrays and not ratio_arrays:
        return dumps(payload)
    parts = []
    for name, value in payload.items():
        if name in int_arrays:
            text = ints_json(value)
        elif name in ratio_arrays:
            text = ratios_json(value)
        else:
            text = dumps(value)
        parts.append(dumps(name) + b":" + text)
    return b"{" + b",".join(parts) + b"}"
