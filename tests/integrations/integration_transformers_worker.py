"""A tiny Hugging Face image classifier (a ViT configured here, nothing
downloaded) on the synthetic Fashion-MNIST for the integration tests, and
their 2-process run:

    torchrun --nproc_per_node=2 tests/integration_transformers_worker.py OUTPUT_DIR

Rank 0 saves the weights to ``OUTPUT_DIR/model.pt``.
"""
from __future__ import annotations

import sys
from typing import Any, Dict, List

import torch
from torch.utils.data import Dataset
from transformers import Trainer, TrainingArguments, ViTConfig, ViTForImageClassification

from tb_fmnist_plugin.fmnist.synthetic import SyntheticFashionMNIST
from tb_fmnist_plugin.integrations.transformers import ConfusionCallback

NAMES: List[str] = list(SyntheticFashionMNIST.classes)


class PixelDataset(Dataset):
    """Synthetic Fashion-MNIST items as the Trainer feeds them to an image model."""

    def __init__(self, train: bool, size: int) -> None:
        data = SyntheticFashionMNIST(train=train, size=size)
        self.pixels = ((data.data.float() / 255 - 0.5) / 0.5).unsqueeze(1)
        self.labels = data.targets

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> Dict[str, torch.Tensor]:
        return {"pixel_values": self.pixels[index], "labels": self.labels[index]}


def tiny_vit() -> ViTForImageClassification:
    """A one-layer ViT for 28x28 grayscale images, labels named in its config."""
    config = ViTConfig(image_size=28, patch_size=7, num_channels=1, hidden_size=32, num_hidden_layers=1,
                       num_attention_heads=2, intermediate_size=64, num_labels=len(NAMES),
                       id2label=dict(enumerate(NAMES)), label2id={name: i for i, name in enumerate(NAMES)})
    return ViTForImageClassification(config)


def arguments(output_dir: str, **options: Any) -> TrainingArguments:
    settings = dict(max_steps=6, per_device_train_batch_size=16, per_device_eval_batch_size=32,
                    learning_rate=1e-3, eval_strategy="steps", eval_steps=3, logging_steps=1,
                    report_to=["tensorboard"], save_strategy="no", use_cpu=True, disable_tqdm=True, seed=0)
    settings.update(options)
    return TrainingArguments(output_dir=output_dir, **settings)


def main(output_dir: str) -> None:
    torch.manual_seed(0)
    model = tiny_vit()
    trainer = Trainer(model=model, args=arguments(output_dir, gradient_accumulation_steps=2),
                      train_dataset=PixelDataset(True, 256), eval_dataset=PixelDataset(False, 101),
                      callbacks=[ConfusionCallback(log_every=2)])
    trainer.train()
    if trainer.is_world_process_zero():
        torch.save(model.state_dict(), f"{output_dir}/model.pt")


if __name__ == "__main__":
    main(sys.argv[1])
