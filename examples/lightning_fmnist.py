"""Fashion-MNIST with PyTorch Lightning; the hooks and the Confusion tab are one callback.

    python examples/lightning_fmnist.py          # about a minute on 2 CPU cores, no network
    tensorboard --logdir runs                    # tab "Confusion"; Scalars, Histograms, Images, Graphs

Trains the reference CNN on the built-in synthetic Fashion-MNIST (for the
real one, pass ``torchvision.datasets.FashionMNIST(root, train=..., download=True)``
to ``normalized``: same ``.data``, ``.targets`` and ``.classes``).
"""
from __future__ import annotations

import argparse
from typing import Any

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.fmnist.synthetic import SyntheticFashionMNIST
from tb_fmnist_plugin.integrations.lightning import ConfusionCallback


class FashionClassifier(pl.LightningModule):
    """A plain LightningModule: nothing in it knows about the callback."""

    def __init__(self, lr: float = 1e-3) -> None:
        super().__init__()
        self.model = FashionMNISTCNN()
        self.lr = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        loss = F.cross_entropy(self(images), labels)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        images, labels = batch
        logits = self(images)
        self.log("val_loss", F.cross_entropy(logits, labels))
        self.log("val_acc", (logits.argmax(1) == labels).float().mean())

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr)


def normalized(data: Any) -> TensorDataset:
    """``(image [1, 28, 28], label)`` pairs normalized with mean 0.5, std 0.5, as
    ``transforms.Compose([ToTensor(), Normalize((0.5,), (0.5,))])`` gives them
    (computed once here: per-item PIL transforms would cost more than the training)."""
    images = ((data.data.float() / 255 - 0.5) / 0.5).unsqueeze(1)
    return TensorDataset(images, data.targets)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs", help="TensorBoard log directory (default: runs)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--val-size", type=int, default=2000)
    args = parser.parse_args()

    pl.seed_everything(0)
    train_set = normalized(SyntheticFashionMNIST(train=True, size=args.train_size))
    val_set = normalized(SyntheticFashionMNIST(train=False, size=args.val_size))

    logger = TensorBoardLogger(args.logdir, name="lightning")
    trainer = pl.Trainer(
        max_epochs=args.epochs,
        accelerator="auto",
        logger=logger,
        callbacks=[ConfusionCallback(class_names=SyntheticFashionMNIST.classes)],  # the one line
    )
    trainer.fit(
        FashionClassifier(),
        DataLoader(train_set, batch_size=64, shuffle=True),
        DataLoader(val_set, batch_size=256),
    )
    print(f"Logged to {logger.log_dir}; view with: tensorboard --logdir {args.logdir}")


if __name__ == "__main__":
    main()
