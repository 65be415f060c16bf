"""Display-ready example thumbnails, made when ``record`` keeps an image.

An evaluation keeps at most a few hundred example images (per-cell examples
and the misclassified grid), but at their input size they can cost hundreds
of megabytes (a 3x224x224 float image is 602 KB). So a kept image is mapped
back to [0, 1] (undoing ``Normalize``), shrunk so that its longer side is at
most ``thumbnail_size`` pixels, and stored as ``uint8`` (12 KB for 3x64x64).
Images already that small keep their size and their pixel values exactly.
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch.nn import functional

from .grid import Number, to_unit_range

#: Default longest side, in pixels, of a stored example thumbnail.
DEFAULT_THUMBNAIL_SIZE = 64
#: Images shrunk at a time (bounds the float temporaries of large images).
_CHUNK = 16
#: Float elements converted at a time when no shrinking is needed: torch's
#: intra-op grain size, below which elementwise work stays on the calling
#: thread (a hand-off to the intra-op threads costs more than it saves here,
#: and on a loaded machine waits for a thread to be scheduled).
_CHUNK_ELEMENTS = 32_768 - 1


def thumbnail_shape(height: int, width: int, size: int) -> Tuple[int, int]:
    """``(height, width)`` of the thumbnail: the image's own if its longer
    side is at most ``size``, else scaled down to ``size``, aspect kept."""
    longest = max(height, width)
    if longest <= size:
        return height, width
    return max(1, round(height * size / longest)), max(1, round(width * size / longest))


@torch.no_grad()
def make_thumbnails(
    images: torch.Tensor, size: int, mean: Number, std: Number, rows: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """``uint8`` thumbnails ``[n, C, h, w]`` of the ``[N, C, H, W]`` images
    (of those at ``rows`` ``[n]`` if given), on their device.

    An image larger than ``size`` is first shrunk (antialiased bilinear,
    straight from the batch, so no full-size copy is made); then values are
    mapped back to [0, 1] with ``mean``/``std`` (``uint8`` divided by 255),
    clamped (NaN as 0) and rounded to ``uint8``. Works a few large images (or
    up to :data:`_CHUNK_ELEMENTS` values of small ones) at a time, so
    temporaries stay small whatever ``n`` is.
    """
    _, channels, height, width = images.shape
    if rows is None:
        rows = torch.arange(images.shape[0], device=images.device)
    rows = rows.to(device=images.device, dtype=torch.long)
    shape = thumbnail_shape(height, width, size)
    resize = shape != (height, width)
    chosen = rows.tolist() if resize else []
    step = _CHUNK if resize else max(1, _CHUNK_ELEMENTS // (channels * height * width))
    out = torch.empty((rows.numel(), channels) + shape, dtype=torch.uint8, device=images.device)
    for start in range(0, rows.numel(), step):
        if resize:
            part = torch.cat([_shrink(images[r:r + 1], shape) for r in chosen[start:start + step]])
        else:
            part = images.index_select(0, rows[start:start + step])
        unit = part.float() / 255.0 if images.dtype == torch.uint8 else to_unit_range(part, mean, std)
        unit = torch.nan_to_num(unit, nan=0.0).clamp_(0.0, 1.0)
        out[start:start + step] = (unit * 255.0 + 0.5).to(torch.uint8)
    return out


def _shrink(image: torch.Tensor, shape: Tuple[int, int]) -> torch.Tensor:
    """One ``[1, C, H, W]`` image resized to ``shape`` (float; ``uint8`` stays 0-255)."""
    return functional.interpolate(image.float(), size=shape, mode="bilinear", antialias=True, align_corners=False)


class BatchThumbnails:
    """Thumbnails of one batch's rows, each made at most once: the per-cell
    store and the mistakes store often keep the same rows. Call with the
    ``[m]`` long rows wanted; returns ``[m, C, h, w]`` ``uint8`` on their device."""

    def __init__(self, images: torch.Tensor, size: int, mean: Number, std: Number) -> None:
        self._images, self._size, self._mean, self._std = images, size, mean, std
        self._slot: Optional[torch.Tensor] = None  # per batch row: index into _made, or -1
        self._made: Optional[torch.Tensor] = None

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        if self._slot is None:
            self._slot = torch.full((self._images.shape[0],), -1, dtype=torch.long, device=rows.device)
        missing = rows[self._slot[rows] < 0]
        if missing.numel():
            new = make_thumbnails(self._images, self._size, self._mean, self._std, missing).to(rows.device)
            made = 0 if self._made is None else self._made.shape[0]
            self._slot[missing] = torch.arange(made, made + missing.numel(), device=rows.device)
            self._made = new if self._made is None else torch.cat([self._made, new])
        return self._made[self._slot[rows]]
