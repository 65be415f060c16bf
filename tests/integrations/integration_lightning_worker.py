"""A tiny Lightning classifier on the synthetic Fashion-MNIST for the
integration tests, and their 2-process DDP run:

    python tests/integration_lightning_worker.py LOGDIR

(Lightning's ``strategy="ddp"`` starts the second process by running this
script again.) Rank 0 saves the weights to ``LOGDIR/model.pt``.
"""
from __future__ import annotations

import sys
from typing import Any, List, Tuple

import lightning.pytorch as pl
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.fmnist.synthetic import SyntheticFashionMNIST
from tb_fmnist_plugin.integrations.lightning import ConfusionCallback

NAMES: List[str] = list(SyntheticFashionMNIST.classes)
TRAIN_SIZE, VAL_SIZE, BATCH = 256, 100, 32


def tensors(train: bool, size: int) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalized images ``[N, 1, 28, 28]`` and labels of the synthetic set."""
    data = SyntheticFashionMNIST(train=train, size=size)
    return ((data.data.float() / 255 - 0.5) / 0.5).unsqueeze(1), data.targets


def loaders(train_size: int = TRAIN_SIZE, val_size: int = VAL_SIZE) -> Tuple[DataLoader, DataLoader]:
    train = DataLoader(TensorDataset(*tensors(True, train_size)), batch_size=BATCH, shuffle=True)
    val = DataLoader(TensorDataset(*tensors(False, val_size)), batch_size=BATCH)
    return train, val


class Classifier(pl.LightningModule):
    """The reference CNN; ``validation_step``/``test_step`` know nothing of the callback."""

    def __init__(self) -> None:
        super().__init__()
        self.model = FashionMNISTCNN()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return F.cross_entropy(self(x), y)

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", F.cross_entropy(self(x), y), sync_dist=True)

    test_step = validation_step

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-3)


def make_trainer(logdir: str, callbacks: list, **options: Any) -> pl.Trainer:
    """A quiet CPU trainer logging with TensorBoard into ``logdir`` itself."""
    settings = dict(accelerator="cpu", devices=1, max_epochs=1, enable_progress_bar=False,
                    enable_model_summary=False, enable_checkpointing=False, log_every_n_steps=1)
    settings.update(options)
    return pl.Trainer(logger=TensorBoardLogger(logdir, name="", version=""), callbacks=callbacks, **settings)


def main(logdir: str) -> None:
    pl.seed_everything(0, verbose=False)
    model = Classifier()
    train, val = loaders(val_size=200)  # divisible by 2: DistributedSampler adds no repeated samples
    trainer = make_trainer(logdir, [ConfusionCallback(class_names=NAMES, log_every=2)], strategy="ddp", devices=2)
    trainer.fit(model, train, val)
    if trainer.is_global_zero:
        torch.save(model.state_dict(), f"{logdir}/model.pt")


if __name__ == "__main__":
    main(sys.argv[1])
