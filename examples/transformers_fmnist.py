"""Fashion-MNIST with the Hugging Face Trainer; the hooks and the Confusion tab are one callback.

    python examples/transformers_fmnist.py       # about a minute on 2 CPU cores, no network
    tensorboard --logdir runs                    # tab "Confusion"; the Trainer's losses in the same run

The reference CNN is wrapped as a small ``PreTrainedModel`` (any image
classifier from the Hub works the same way: its ``config.id2label`` names
the classes) and trained on the built-in synthetic Fashion-MNIST.
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from transformers import PretrainedConfig, PreTrainedModel, Trainer, TrainingArguments
from transformers.modeling_outputs import ImageClassifierOutput

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.fmnist.synthetic import SyntheticFashionMNIST
from tb_fmnist_plugin.integrations.transformers import ConfusionCallback


class FashionCNNConfig(PretrainedConfig):
    model_type = "fashion-mnist-cnn"


class FashionCNNForImageClassification(PreTrainedModel):
    """The reference CNN with the Trainer's interface: ``pixel_values`` and ``labels`` in, loss and logits out."""

    config_class = FashionCNNConfig
    main_input_name = "pixel_values"

    def __init__(self, config: FashionCNNConfig) -> None:
        super().__init__(config)
        self.cnn = FashionMNISTCNN(config.num_labels)

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor = None) -> ImageClassifierOutput:
        logits = self.cnn(pixel_values)
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)


class PixelDataset(Dataset):
    """Items as image models take them: ``{"pixel_values": [1, 28, 28] normalized, "labels": int}``."""

    def __init__(self, train: bool, size: int) -> None:
        data = SyntheticFashionMNIST(train=train, size=size)
        self.pixels = ((data.data.float() / 255 - 0.5) / 0.5).unsqueeze(1)
        self.labels = data.targets
        self.classes = data.classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        return {"pixel_values": self.pixels[index], "labels": self.labels[index]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="runs/transformers",
                        help="Trainer output_dir; TensorBoard logs go to <output-dir>/runs/<date>_<host> (default: runs/transformers)")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=10000)
    parser.add_argument("--eval-size", type=int, default=2000)
    args = parser.parse_args()

    train_set = PixelDataset(True, args.train_size)
    eval_set = PixelDataset(False, args.eval_size)
    config = FashionCNNConfig(id2label=dict(enumerate(train_set.classes)),
                              label2id={name: i for i, name in enumerate(train_set.classes)})
    torch.manual_seed(0)
    model = FashionCNNForImageClassification(config)

    training_args = TrainingArguments(
        output_dir=args.output_dir,
        num_train_epochs=args.epochs,
        per_device_train_batch_size=64,
        per_device_eval_batch_size=256,
        learning_rate=1e-3,
        eval_strategy="epoch",
        logging_steps=20,
        report_to="tensorboard",  # the Trainer's losses and learning rate, in the same run
        save_strategy="no",
        seed=0,
    )
    callback = ConfusionCallback()  # class names from config.id2label
    trainer = Trainer(model=model, args=training_args, train_dataset=train_set, eval_dataset=eval_set,
                      callbacks=[callback])  # the one line
    trainer.train()
    print(f"Logged to {callback.log_dir}; view with: tensorboard --logdir {args.output_dir.split('/')[0]}")


if __name__ == "__main__":
    main()
