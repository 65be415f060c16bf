"""The per-example record through the Hugging Face Trainer callback: eval rows
carrying "index" (kept with remove_unused_columns=False, accepted by the
model's forward) are the identity, else positions; the stored predictions
equal the model's own."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

pytest.importorskip("transformers", reason="needs the [transformers] extra: pip install -e '.[transformers]'")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate: pip install -e '.[transformers]'")

from transformers import Trainer, ViTForImageClassification  # noqa: E402

from tb_fmnist_plugin.format import example_record as er  # noqa: E402
from tb_fmnist_plugin.integrations.transformers import ConfusionCallback  # noqa: E402
from tests.integrations.integration_transformers_worker import PixelDataset, arguments, tiny_vit  # noqa: E402
from tests.support.hooks_helpers import load  # noqa: E402

pytestmark = pytest.mark.slow
EVAL_SIZE = 48
OFFSET = 500  # dataset indices that are not positions


class IndexedPixels(PixelDataset):
    """Eval rows with their dataset index (``OFFSET + i``)."""

    def __getitem__(self, index):
        return {**super().__getitem__(index), "index": torch.tensor(OFFSET + index)}


class IndexedViTForImageClassification(ViTForImageClassification):  # the name picks the loss
    """The tiny ViT, whose forward accepts (and ignores) the "index" column."""

    def forward(self, pixel_values=None, labels=None, index=None, **kwargs):
        return super().forward(pixel_values=pixel_values, labels=labels, **kwargs)


def _record(tmp_path, eval_dataset, model):
    """Train 2 steps, evaluate once at the end; the stored ids and last predictions, and the model's."""
    callback = ConfusionCallback(log_every=100, log_graph=False)
    trainer = Trainer(model=model, args=arguments(str(tmp_path), max_steps=2, eval_steps=2, remove_unused_columns=False),
                      train_dataset=PixelDataset(True, 32), eval_dataset=eval_dataset, callbacks=[callback])
    trainer.train()
    log_dir = callback.log_dir
    callback.remove()
    acc = load(log_dir)
    ids_tag, predictions_tag = (er.record_tag("confusion/eval", kind) for kind in ("example_ids", "example_predictions"))
    content = acc.SummaryMetadata(ids_tag).plugin_data.content
    ids_value = acc.Tensors(ids_tag)[-1].tensor_proto.string_val[0]
    model.eval()
    with torch.no_grad():
        predicted = model(pixel_values=eval_dataset.pixels).logits.argmax(1).numpy()
    return acc, content, ids_value, acc.Tensors(predictions_tag)[-1].tensor_proto.string_val[0], predicted


def test_trainer_eval_rows_with_index_are_the_identity(tmp_path):
    torch.manual_seed(0)
    model = IndexedViTForImageClassification(tiny_vit().config)
    dataset = IndexedPixels(False, EVAL_SIZE)
    acc, content, ids_value, last, predicted = _record(tmp_path, dataset, model)
    assert json.loads(content)["identity"] == er.IDENTITY_INDEX
    ids = er.decode_example_ids(ids_value, 10, er.IDENTITY_INDEX)
    assert ids["index"].tolist() == list(range(OFFSET, OFFSET + EVAL_SIZE))
    np.testing.assert_array_equal(ids["label"], dataset.labels.numpy())
    np.testing.assert_array_equal(er.decode_example_predictions(last, 10, ids["label"])["predicted"], predicted)
    assert "confusion/eval/example_thumbnails" in acc.Tags()["tensors"]


def test_trainer_eval_rows_without_index_use_positions(tmp_path):
    torch.manual_seed(0)
    model = tiny_vit()
    dataset = PixelDataset(False, EVAL_SIZE)
    _, content, ids_value, last, predicted = _record(tmp_path, dataset, model)
    assert json.loads(content)["identity"] == er.IDENTITY_POSITION
    ids = er.decode_example_ids(ids_value, 10, er.IDENTITY_POSITION)
    assert ids["index"].tolist() == list(range(EVAL_SIZE))
    np.testing.assert_array_equal(ids["label"], dataset.labels.numpy())
    np.testing.assert_array_equal(er.decode_example_predictions(last, 10, ids["label"])["predicted"], predicted)
