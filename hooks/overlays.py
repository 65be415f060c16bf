"""Example thumbnails of a segmentation cell: the image with the pixels of
one (true, predicted) pair marked.

An overlay is the image's thumbnail (:func:`~tb_fmnist_plugin.hooks.thumbnails.make_thumbnails`)
as RGB, where every thumbnail pixel covering at least one position of the
pair (:func:`pair_masks`) is
blended half-and-half with :data:`HIGHLIGHT` and every other pixel is dimmed
to :data:`DIM` of its brightness. So a marked pixel has red and blue of at
least 128 and an unmarked one has every channel at most 77: the two never
look alike, whatever the image.
"""
from __future__ import annotations

from typing import Dict

import torch
from torch.nn import functional

from .grid import Number
from .thumbnails import make_thumbnails

#: RGB colour blended into the pair's pixels (magenta: rare in photographs).
HIGHLIGHT = (255, 0, 255)
#: Brightness kept by the pixels outside the pair.
DIM = 0.3


@torch.no_grad()
def pair_masks(cell_map: torch.Tensor, image_rows: torch.Tensor, cells: torch.Tensor, shape: tuple) -> torch.Tensor:
    """``[e, h, w]`` bool: where entry ``i``'s pair ``cells[i]`` (``true * C +
    predicted``) occurs in the ``[N, H, W]`` ``cell_map`` of image
    ``image_rows[i]``, on a ``shape`` grid: thumbnail pixel ``(r, c)`` covers
    the positions ``(y, x)`` with ``y * h // H == r`` and ``x * w // W == c``
    and is marked when any of them holds the pair (a label map smaller than
    the thumbnail is marked at its own size, then enlarged, nearest).

    Per image, one ``bincount`` of (entry, pixel) over its positions finds
    every entry's pixels, so the cost is that of the images, not of the
    number of entries times the image size."""
    _, height, width = cell_map.shape
    h, w = min(shape[0], height), min(shape[1], width)
    device = cell_map.device
    block = ((torch.arange(height, device=device) * h // height)[:, None] * w
             + (torch.arange(width, device=device) * w // width)[None, :]).reshape(-1)
    out = torch.zeros((cells.numel(), h * w), dtype=torch.bool, device=device)
    slot = torch.full((int(cell_map.max()) + 1,), -1, dtype=torch.long, device=device)
    for image in torch.unique(image_rows).tolist():
        entries = torch.nonzero(image_rows == image)[:, 0]
        count = entries.numel()
        slot[cells[entries]] = torch.arange(count, device=device)
        local = slot.index_select(0, cell_map[image].reshape(-1))  # each position's entry of this image, or -1
        key = torch.where(local >= 0, local * (h * w) + block, count * h * w)  # the last bin: no entry
        found = torch.bincount(key, minlength=count * h * w + 1)[:-1]
        out[entries] = found.reshape(count, h * w) > 0
        slot[cells[entries]] = -1
    out = out.reshape(-1, h, w)
    if (h, w) != tuple(shape):
        out = functional.interpolate(out[:, None].float(), size=tuple(shape), mode="nearest")[:, 0] > 0
    return out


@torch.no_grad()
def overlay_thumbnails(
    images: torch.Tensor,
    cell_map: torch.Tensor,
    image_rows: torch.Tensor,
    cells: torch.Tensor,
    size: int,
    mean: Number,
    std: Number,
) -> torch.Tensor:
    """``[e, 3, h, w]`` ``uint8`` overlays (see the module) on ``cell_map``'s
    device: entry ``i`` is image ``image_rows[i]`` of the ``[N, c, H, W]``
    ``images`` with the positions of pair ``cells[i]`` marked. Each image's
    thumbnail is made once however many entries use it."""
    device = cell_map.device
    unique, inverse = torch.unique(image_rows, return_inverse=True)
    base = make_thumbnails(images, size, mean, std, unique.to(images.device)).to(device)[inverse]
    if base.shape[1] == 1:
        base = base.expand(-1, 3, -1, -1)
    marked = pair_masks(cell_map, image_rows.to(device), cells.to(device), tuple(base.shape[-2:]))[:, None]
    colour = torch.tensor(HIGHLIGHT, dtype=torch.int32, device=device)[None, :, None, None]
    highlighted = ((base.int() + colour + 1) // 2).to(torch.uint8)
    dimmed = (base.float() * DIM + 0.5).to(torch.uint8)
    return torch.where(marked, highlighted, dimmed)


def cell_payload(
    images: torch.Tensor,
    cell_map: torch.Tensor,
    image_rows: torch.Tensor,
    cells: torch.Tensor,
    indices: torch.Tensor,
    num_classes: int,
    size: int,
    mean: Number,
    std: Number,
) -> Dict[str, torch.Tensor]:
    """The per-cell store's payload of entries (image row, pair): the
    overlay thumbnail, true and predicted class and dataset index."""
    return {
        "images": overlay_thumbnails(images, cell_map, image_rows, cells, size, mean, std),
        "true": cells // num_classes,
        "predicted": cells % num_classes,
        "index": indices[image_rows],
    }
