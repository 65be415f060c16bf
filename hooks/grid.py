"""Labeled image grids for the Images dashboard."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

Number = Union[float, Sequence[float]]


def to_unit_range(images: torch.Tensor, mean: Number, std: Number) -> torch.Tensor:
    """Undo ``Normalize(mean, std)`` and clamp to [0, 1] (uint8 is divided by 255)."""
    if images.dtype == torch.uint8:
        return images.float() / 255.0
    x = images.detach().float()
    channels = x.shape[1]

    def per_channel(value: Number) -> torch.Tensor:
        t = torch.as_tensor(value, dtype=torch.float32, device=x.device).reshape(-1)
        if t.numel() == 1:
            t = t.expand(channels)
        if t.numel() != channels:
            raise ValueError(f"image mean/std has {t.numel()} values for {channels} channels")
        return t.reshape(1, channels, 1, 1)

    return (x * per_channel(std) + per_channel(mean)).clamp_(0.0, 1.0)


def _fit(draw, text: str, font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while len(text) > 1 and draw.textlength(text + "...", font=font) > width:
        text = text[:-1]
    return text + "..."


def _tile_pixels(images: torch.Tensor, labels: Sequence[str], min_width: int) -> np.ndarray:
    """``uint8`` tiles ``[N, H', W', 3]`` (see :func:`label_tiles`)."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    count, channels, height, width = images.shape
    scale = max(1, -(-min_width // width))
    tile_w, image_h = width * scale, height * scale
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    box = probe.textbbox((0, 0), "Ag(0.9)->", font=font)
    line_h = box[3] - box[1] + 3
    text_h = 2 * line_h + 2
    pixels = images.detach().cpu()
    if pixels.dtype != torch.uint8:
        pixels = (pixels.clamp(0, 1) * 255 + 0.5).to(torch.uint8)
    tiles = np.zeros((count, text_h + image_h, tile_w, 3), dtype=np.uint8)
    for i in range(count):
        array = pixels[i].permute(1, 2, 0).numpy()
        picture = Image.fromarray(array[:, :, 0] if channels == 1 else array).convert("RGB")
        picture = picture.resize((tile_w, image_h), Image.NEAREST)
        tile = Image.new("RGB", (tile_w, text_h + image_h), (0, 0, 0))
        tile.paste(picture, (0, text_h))
        draw = ImageDraw.Draw(tile)
        label = labels[i]
        if draw.textlength(label, font=font) <= tile_w - 4:
            lines = [label]
        elif " -> " in label:
            head, tail = label.split(" -> ", 1)
            lines = [_fit(draw, head + " ->", font, tile_w - 4), _fit(draw, tail, font, tile_w - 4)]
        else:
            lines = [_fit(draw, label, font, tile_w - 4)]
        for j, line in enumerate(lines):
            draw.text((2, 1 + j * line_h), line, fill=(255, 255, 255), font=font)
        tiles[i] = np.asarray(tile)
    return tiles


def label_tiles(images: torch.Tensor, labels: Sequence[str], min_width: int = 112) -> torch.Tensor:
    """Tiles ``[N, 3, H', W']``: each image (float in [0, 1], or ``uint8``)
    scaled up by an integer factor to at least ``min_width`` pixels wide, under
    two lines of label text drawn with Pillow's default font."""
    return torch.from_numpy(_tile_pixels(images, labels, min_width)).permute(0, 3, 1, 2).float() / 255.0


#: What a ``uint8`` value of a tile becomes when ``SummaryWriter.add_image``
#: writes the float grid ``value / 255`` (it multiplies by 255 and truncates,
#: so a few values come out one lower); the gaps (0.5) become 127.
_AS_ADD_IMAGE = ((torch.arange(256, dtype=torch.uint8).float() / 255.0).numpy() * 255).clip(0, 255).astype(np.uint8)
_GAP = 127


def labeled_grid(images: torch.Tensor, labels: Sequence[str], nrow: int = 8) -> np.ndarray:
    """One ``uint8`` ``[H, W, 3]`` grid of labeled tiles, ``nrow`` per row,
    2-pixel grey gaps and border: the layout of
    ``torchvision.utils.make_grid`` (without importing torchvision, seconds
    at the first evaluation), with the pixels that ``add_image`` stored for
    the float grid of earlier versions."""
    tiles = _AS_ADD_IMAGE[_tile_pixels(images, labels, 112)]
    count, height, width, channels = tiles.shape
    if count == 1:  # as make_grid: a lone tile without border
        return tiles[0]
    columns = max(1, min(nrow, count))
    rows = max(1, -(-count // columns))
    grid = np.full((rows * (height + 2) + 2, columns * (width + 2) + 2, channels), _GAP, dtype=np.uint8)
    for i in range(count):
        top, left = 2 + (i // columns) * (height + 2), 2 + (i % columns) * (width + 2)
        grid[top:top + height, left:left + width] = tiles[i]
    return grid


#: zlib level of the grid's PNG (:meth:`~tb_fmnist_plugin.hooks.output.StepWriter.image`).
#: TensorBoard's ``add_image`` uses 6, which on noisy thumbnails takes 2.5x as
#: long for the same size (0.34 s against 0.13 s for 64 tiles of 3x64x64); on
#: smooth ones 4 writes up to ~20% more bytes.
GRID_PNG_LEVEL = 4
