"""The segmentation side of the dense-task integration tests: the tiny UNet
and synthetic shapes of ``examples/segmentation_shapes.py`` (loaded from its
file: examples are scripts, not a package) in a plain LightningModule."""
from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType
from typing import Any, Tuple

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "segmentation_shapes.py")
TRAIN_SIZE, VAL_SIZE, BATCH = 96, 40, 16  # 40 is no multiple of 16: the last batch is short


def example() -> ModuleType:
    """``examples/segmentation_shapes.py`` as a module (loaded once)."""
    name = "segmentation_shapes"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, EXAMPLE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def loaders() -> Tuple[DataLoader, DataLoader]:
    """Training and validation shapes: ``(images [N, 3, 32, 32], masks [N, 32, 32])`` batches."""
    shapes = example().shapes
    train = DataLoader(TensorDataset(*shapes(TRAIN_SIZE, seed=0)), batch_size=BATCH, shuffle=True)
    val = DataLoader(TensorDataset(*shapes(VAL_SIZE, seed=1)), batch_size=BATCH)
    return train, val


class Segmenter(pl.LightningModule):
    """The tiny UNet with per-pixel cross-entropy; nothing in it knows about the callback."""

    def __init__(self) -> None:
        super().__init__()
        self.net = example().TinyUNet()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        images, masks = batch
        return example().segmentation_loss(self(images), masks)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        images, masks = batch
        self.log("val_loss", example().segmentation_loss(self(images), masks))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=3e-3)
