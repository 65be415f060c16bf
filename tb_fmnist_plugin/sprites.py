"""Thumbnail sprites of the format: image batches checked and turned into
``uint8`` tiles, tiles packed into one PNG sprite sheet, and the byte-budget
rule every value with thumbnails follows (per-cell examples, suspected label
errors). The layout of a sprite is described in ``docs/format.md``."""
from __future__ import annotations

import io
import math
from typing import Any, Callable, List, Optional, Sequence, Tuple

import numpy as np
from tensorboard.compat.proto import summary_pb2

from tb_fmnist_plugin.checks import check_array

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
    at 4 bits; else the largest prefix, found by bisection, at the last bits
    tried, after calling ``on_drop(keep)``. The one budget rule of every value
    with thumbnails. ``ValueError`` if not even ``keep = 0`` fits.

    ``guess`` (e.g. the budget over a tile's raw size) only saves work: when
    that prefix is already too big, the full set is not encoded at the last
    bits (a longer prefix is never smaller), which for large noisy tiles is
    most of the time spent here."""

    def fits(summary: summary_pb2.Summary) -> bool:
        return summary.ByteSize() + EVENT_OVERHEAD_BYTES <= max_bytes

    modes = (8, 4) if grey else (8,)
    for bits in modes[:-1]:
        candidate = build(count, bits)
        if fits(candidate):
            return candidate
    built: dict = {}

    def fits_at(keep: int) -> bool:
        if keep not in built:
            built[keep] = build(keep, modes[-1])
        return fits(built[keep])

    start = count if guess is None or not 0 < guess < count else guess
    low, high = (start, count) if fits_at(start) else (0, start - 1)
    while low == start and low < high:  # grow from a fitting guess, by its bytes per thumbnail
        probe = min(high, max(low + 1, low * max_bytes // max(1, built[low].ByteSize())))
        if fits_at(probe):
            low = start = probe
        else:
            high = probe - 1
    if low == count:
        return built[count]
    while low < high:
        middle = (low + high + 1) // 2
        if fits_at(middle):
            low = middle
        else:
            high = middle - 1
    if not fits_at(low):
        raise ValueError(f"max_bytes={max_bytes} cannot hold even the index and class names")
    on_drop(low)
    return built[low]
