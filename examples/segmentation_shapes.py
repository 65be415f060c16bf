"""Semantic segmentation with the hooks: a tiny UNet on synthetic shapes, per-pixel confusion and IoU per class.

    python examples/segmentation_shapes.py       # well under a minute on 2 CPU cores, no network
    tensorboard --logdir runs                    # tab "Confusion": pixel matrix, IoU column, overlay examples

Each 32x32 image holds a few coloured squares, discs and triangles on a noisy
background; the mask gives every pixel its class, and the outer ring of
pixels is labelled 255 ("don't care", as in Pascal VOC), which the hooks skip
with ``ignore_index=255``. Nothing here is specific to the hooks except
``attach_hooks(...)`` and ``monitor.record(logits, masks, images)``.
The tests (``tests/integrations/test_integration_dense.py``) and
``tools/ui_screenshots.py`` reuse :func:`shapes` and :class:`TinyUNet`.
"""
from __future__ import annotations

import argparse
import os
from typing import List, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

#: One name per class; 0 is the background.
CLASS_NAMES: List[str] = ["background", "square", "disc", "triangle"]
#: The label of pixels no loss and no count looks at (the image border here).
IGNORE_INDEX = 255
#: Each shape's base colour (RGB in [0, 1]); a random tint is added per shape.
COLOURS = {1: (0.9, 0.3, 0.2), 2: (0.2, 0.7, 0.9), 3: (0.9, 0.8, 0.2)}


def shapes(count: int, seed: int = 0, size: int = 32, border: int = 2) -> Tuple[torch.Tensor, torch.Tensor]:
    """``count`` images ``[N, 3, size, size]`` normalized to ``[-1, 1]``
    (mean 0.5, std 0.5: the hooks' default ``image_mean``/``image_std``)
    and their masks ``[N, size, size]`` (int64 class per pixel, ``border``
    pixels at the edge labelled :data:`IGNORE_INDEX`). Deterministic in ``seed``."""
    g = torch.Generator().manual_seed(seed)
    ys, xs = torch.meshgrid(torch.arange(size, dtype=torch.float32), torch.arange(size, dtype=torch.float32), indexing="ij")
    images = 0.35 + 0.15 * torch.rand(count, 3, size, size, generator=g)
    masks = torch.zeros(count, size, size, dtype=torch.int64)
    for i in range(count):
        for _ in range(int(torch.randint(1, 4, (1,), generator=g))):
            kind = int(torch.randint(1, len(CLASS_NAMES), (1,), generator=g))
            radius = float(torch.randint(3, size // 4, (1,), generator=g))
            cx, cy = (float(v) for v in torch.randint(int(radius), int(size - radius), (2,), generator=g))
            if kind == 1:
                inside = ((xs - cx).abs() <= radius) & ((ys - cy).abs() <= radius)
            elif kind == 2:
                inside = (xs - cx) ** 2 + (ys - cy) ** 2 <= radius ** 2
            else:
                inside = (ys >= cy - radius) & (ys <= cy + radius) & ((xs - cx).abs() <= (ys - cy + radius) / 2)
            tint = torch.tensor(COLOURS[kind]) + 0.15 * torch.randn(3, generator=g)
            images[i][:, inside] = tint.clamp(0, 1)[:, None]
            masks[i][inside] = kind
    if border:
        masks[:, :border, :] = masks[:, -border:, :] = IGNORE_INDEX
        masks[:, :, :border] = masks[:, :, -border:] = IGNORE_INDEX
    return (images - 0.5) / 0.5, masks


def conv_block(inputs: int, outputs: int) -> nn.Sequential:
    """Two 3x3 convolutions with batch norm and ReLU, size kept."""
    return nn.Sequential(
        nn.Conv2d(inputs, outputs, 3, padding=1), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True),
        nn.Conv2d(outputs, outputs, 3, padding=1), nn.BatchNorm2d(outputs), nn.ReLU(inplace=True),
    )


class TinyUNet(nn.Module):
    """A two-level UNet: encoder, max-pool, bottleneck, transposed-convolution
    up-sampling, skip connection, 1x1 head. ``[N, 3, H, W]`` (H, W even) to
    logits ``[N, num_classes, H, W]``."""

    def __init__(self, num_classes: int = len(CLASS_NAMES), channels: int = 3, width: int = 16) -> None:
        super().__init__()
        self.down = conv_block(channels, width)
        self.bottom = conv_block(width, 2 * width)
        self.up = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.decode = conv_block(2 * width, width)
        self.head = nn.Conv2d(width, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.down(x)
        deep = self.bottom(F.max_pool2d(skip, 2))
        return self.head(self.decode(torch.cat([skip, self.up(deep)], dim=1)))


def segmentation_loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    """Per-pixel cross-entropy, the ignored pixels left out."""
    return F.cross_entropy(logits, masks, ignore_index=IGNORE_INDEX)


def train(logdir: str, epochs: int = 3, train_size: int = 512, val_size: int = 128, batch: int = 32,
          seed: int = 0, writer: Optional[object] = None) -> nn.Module:
    """Train a :class:`TinyUNet` for ``epochs`` with the hooks attached,
    evaluating the validation set after each epoch (``confusion/val`` at the
    global step). Writes into ``logdir`` (or through ``writer``); returns the model."""
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin.hooks import attach_hooks

    torch.manual_seed(seed)
    train_x, train_y = shapes(train_size, seed=seed)
    val_x, val_y = shapes(val_size, seed=seed + 1)
    model = TinyUNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    own_writer = writer is None
    writer = SummaryWriter(logdir) if own_writer else writer
    monitor = attach_hooks(model, writer, CLASS_NAMES, optimizer=optimizer, ignore_index=IGNORE_INDEX,
                           eval_name="val", log_every=8,
                           # per-image parts, off for dense outputs anyway (else one warning says so)
                           log_label_issues=False, example_record=False, max_misclassified=0)
    try:
        for _ in range(epochs):
            model.train()
            order = torch.randperm(train_size)
            for start in range(0, train_size, batch):
                rows = order[start:start + batch]
                optimizer.zero_grad()
                segmentation_loss(model(train_x[rows]), train_y[rows]).backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                for start in range(0, val_size, batch):
                    images, masks = val_x[start:start + batch], val_y[start:start + batch]
                    monitor.record(model(images), masks, images)  # logits [N, C, H, W], masks [N, H, W]
            monitor.end_eval(step=monitor.step)
    finally:
        monitor.remove()
        if own_writer:
            writer.close()
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs", help="TensorBoard log directory (default: runs)")
    parser.add_argument("--epochs", type=int, default=4)
    args = parser.parse_args()
    logdir = os.path.join(args.logdir, "segmentation_shapes")
    train(logdir, epochs=args.epochs)
    print(f"Logged to {logdir}; view with: tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
