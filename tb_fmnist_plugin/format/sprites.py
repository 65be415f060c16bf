"""Thumbnail sprites of the format: image batches checked and turned into
``uint8`` tiles, tiles packed into one PNG sprite sheet, and the byte-budget
rule every value with thumbnails follows (per-cell examples, suspected label
errors). The layout of a sprite is described in ``docs/format.md``."""
from __future__ import annotations

import io
import math
import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tensorboard.compat.proto import summary_pb2

from tb_fmnist_plugin.format.checks import check_array

# Series tags already warned about dropping thumbnails for the byte budget.
_tags_warned_budget: set = set()

#: Bytes an event record adds around a summary (framing, step, walltime).
EVENT_OVERHEAD_BYTES = 64


def image_batch_shape(shape: Sequence[int], count: int) -> Tuple[int, int, int, int]:
    """``[N, C, H, W]`` of an image batch given as ``[N, C, H, W]`` or ``[N, H, W]``.

    The one check of image shapes (format writer and hooks): raises
    ``ValueError`` unless there are ``count`` images of 1 or 3 channels.
    """
    dims = tuple(int(size) for size in shape)
    full = dims[:1] + (1,) + dims[1:] if len(dims) == 3 else dims
    if len(full) != 4:
        raise ValueError(f"images must be [N, C, H, W] or [N, H, W], got shape {dims}")
    if full[0] != count:
        raise ValueError(f"images must be one per label: got {full[0]} images for {count} labels")
    if full[1] not in (1, 3):
        raise ValueError(f"images must have 1 or 3 channels, got {full[1]}")
    return full  # type: ignore[return-value]


def images_to_uint8(images: Any, count: int) -> np.ndarray:
    """Images as ``uint8`` ``[N, H, W, C]`` with ``C`` in (1, 3)."""
    array = check_array(images, "images")
    array = array.reshape(image_batch_shape(array.shape, count))
    if array.dtype == np.uint8:
        scaled = array
    elif np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer):
        as_float = np.nan_to_num(array.astype(np.float32), nan=0.0, posinf=1.0, neginf=0.0)
        scaled = (np.clip(as_float, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    else:
        raise TypeError(f"images must be float in [0, 1] or uint8, got dtype {array.dtype}")
    return np.ascontiguousarray(scaled.transpose(0, 2, 3, 1))


def encode_sprite(tiles: np.ndarray, bits: int) -> Tuple[bytes, int]:
    """PNG sprite sheet of ``tiles`` ``[N, H, W, C]``; returns (png, columns)."""
    from PIL import Image  # Pillow ships with torchvision

    count, height, width, channels = tiles.shape
    columns = max(1, math.ceil(math.sqrt(count)))
    rows = max(1, math.ceil(count / columns))
    sheet = np.zeros((rows * height, columns * width, channels), dtype=np.uint8)
    for i in range(count):
        r, c = divmod(i, columns)
        sheet[r * height:(r + 1) * height, c * width:(c + 1) * width] = tiles[i]
    buffer = io.BytesIO()
    if channels == 1 and bits == 4:
        levels = ((sheet[:, :, 0].astype(np.uint16) * 15 + 127) // 255).astype(np.uint8)
        image = Image.fromarray(levels, mode="P")
        palette: List[int] = []
        for level in range(16):
            palette.extend([level * 17] * 3)
        image.putpalette(palette)
        image.save(buffer, format="PNG", optimize=True, bits=4)
    else:
        image = Image.fromarray(sheet[:, :, 0] if channels == 1 else sheet, mode="L" if channels == 1 else "RGB")
        image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), columns


def warn_dropped_once(series_tag: str, what: str) -> None:
    """One ``RuntimeWarning`` per series tag and process when the byte budget
    drops thumbnails (``what`` says which and how to avoid it), attributed to
    the first caller outside the format package."""
    if series_tag in _tags_warned_budget:
        return
    _tags_warned_budget.add(series_tag)
    frame, level, here = sys._getframe(0), 1, os.path.dirname(__file__)
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == here:
        frame, level = frame.f_back, level + 1
    warnings.warn(f"tb_fmnist_plugin: {series_tag} {what} Not repeated for this tag.", RuntimeWarning, stacklevel=level)


def fit_to_budget(
    build: Callable[[int, int], summary_pb2.Summary],
    count: int,
    *,
    grey: bool,
    max_bytes: int,
    on_drop: Callable[[int], None],
    guess: Optional[int] = None,
) -> summary_pb2.Summary:
    """The fullest ``build(keep, bits)`` (a summary of the first ``keep`` of
    ``count`` thumbnails in the caller's priority order, at ``bits``) that
    fits ``max_bytes`` with its event record: all at 8 bits; (grey only) all
    at 4 bits; else the largest prefix at the last bits tried, after calling
    ``on_drop(keep)``. The one budget rule of every value with thumbnails.
    ``ValueError`` if not even ``keep = 0`` fits.

    A summary never shrinks when its prefix grows, so the answer is found
    with few encodes (:func:`_largest_prefix`), each of about the budget's
    size: a prefix that is already too big proves that the full set is too,
    so a hopeless full set is never encoded. ``guess`` (e.g. the budget over
    a tile's raw size at the last bits) is where the search starts; without
    it, the bytes of an empty and a one-thumbnail summary predict it."""
    room = max_bytes - EVENT_OVERHEAD_BYTES
    modes = (8, 4) if grey else (8,)
    for bits in modes:
        size, built = _sizes(build, bits)
        last = bits == modes[-1]
        if guess is not None and 0 < guess:
            start, slack = guess * modes[-1] // bits, 4  # fewer bits, more thumbnails; raw sizes
        else:
            per_tile = size(min(1, count)) - size(0)
            start, slack = ((room - size(0)) // per_tile + 1 if per_tile > 0 else count), 2
        # Within the slack of the predicted fit, the whole set is tried at once (it may compress better).
        start = count if start * slack > count or start < 0 else start
        keep = _largest_prefix(size, count, room, max(0, start), whole=not last)
        if keep == count:
            return built[count]
        if last:
            if keep < 0:
                raise ValueError(f"max_bytes={max_bytes} cannot hold even the index and class names")
            on_drop(keep)
            return built[keep]
    raise AssertionError("unreachable: the last bit depth always returns")


def _sizes(build: Callable[[int, int], summary_pb2.Summary], bits: int) -> Tuple[Callable[[int], int], Dict[int, summary_pb2.Summary]]:
    """``size(keep)``: bytes of ``build(keep, bits)``, each prefix built once
    (kept in the returned dict)."""
    built: Dict[int, summary_pb2.Summary] = {}

    def size(keep: int) -> int:
        if keep not in built:
            built[keep] = build(keep, bits)
        return built[keep].ByteSize()

    return size, built


def _largest_prefix(size: Callable[[int], int], count: int, room: int, start: int, *, whole: bool) -> int:
    """The largest ``keep`` in [0, ``count``] with ``size(keep) <= room``
    (-1 if none), for ``size`` non-decreasing in ``keep``, probing ``start``
    first. With ``whole``, only whether ``count`` fits matters: stops at the
    first prefix that does not (returning -1)."""
    low, high = -1, count + 1  # size(low) fits, size(high) does not (-1, count + 1: not known yet)
    probe, steps = min(start, count), 0
    while True:
        if size(probe) <= room:
            low = probe
        elif whole:
            return -1
        else:
            high = probe
        if high - low <= 1:
            return low
        steps += 1
        if high > count:  # grow from a fitting prefix: the line through size(0) and size(low)
            probe = low + (room - size(low)) * low // max(1, size(low) - size(0))
            probe = min(count, max(low + 1, probe))
        elif low < 0:  # shrink from a prefix too big, likewise (rounded to the fitting side)
            probe = high - -(-(size(high) - room) * high // max(1, size(high) - size(0)))
            probe = min(high - 1, max(0, probe))
        elif steps % 3:  # between the two: interpolate, bisecting every third step
            low_size, high_size = size(low), size(high)
            probe = low + (room - low_size) * (high - low) // max(1, high_size - low_size)
            probe = min(high - 1, max(low + 1, probe))
        else:
            probe = (low + high) // 2
