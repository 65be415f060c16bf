"""Dense tasks under the framework callbacks, against reference implementations:
a tiny UNet under the Lightning callback (``ignore_index=255`` borders) and a
tiny BERT token classifier under the Hugging Face Trainer callback
(``class_dim=-1``, the collator's -100 labels). The logged pixel/token
matrices equal torchmetrics' ``MulticlassConfusionMatrix`` (and sklearn's
``confusion_matrix`` on the flattened non-ignored arrays); the IoU scalars
equal ``MulticlassJaccardIndex(average=None)``."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

pl = pytest.importorskip("lightning.pytorch", reason="needs the [lightning] extra: pip install -e '.[lightning]'")
pytest.importorskip("transformers", reason="needs the [transformers] extra: pip install -e '.[transformers]'")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate: pip install -e '.[transformers]'")
pytest.importorskip("torchmetrics", reason="the reference: pip install -e '.[test]'")
pytest.importorskip("sklearn", reason="the reference (comes with cleanlab): pip install -e '.[test]'")

from sklearn.metrics import confusion_matrix  # noqa: E402
from torchmetrics.classification import MulticlassConfusionMatrix, MulticlassJaccardIndex  # noqa: E402
from transformers import DataCollatorForTokenClassification, Trainer  # noqa: E402

from tb_fmnist_plugin.format import example_record as er  # noqa: E402
from tb_fmnist_plugin.format import metadata  # noqa: E402
from tb_fmnist_plugin.integrations.lightning import ConfusionCallback as LightningCallback  # noqa: E402
from tb_fmnist_plugin.integrations.transformers import ConfusionCallback as TrainerCallback  # noqa: E402
from tests.integrations.dense_models import Segmenter, example, loaders  # noqa: E402
from tests.integrations.integration_lightning_worker import make_trainer  # noqa: E402
from tests.integrations.integration_transformers_worker import arguments  # noqa: E402
from tests.integrations.token_models import IGNORED, TAGS, TaggedSentences, tiny_bert, tokenizer  # noqa: E402
from tests.support.events import read_examples_index, read_matrix  # noqa: E402
from tests.support.hooks_helpers import load, scalars  # noqa: E402

#: Every test here runs a framework: out of the inner loop (``pytest -m "not slow"``).
pytestmark = pytest.mark.slow
EVAL_BATCH = 8


def _unit(acc, tag: str) -> str:
    return metadata.matrix_unit(metadata.parse_plugin_content(acc.PluginTagToContent(metadata.PLUGIN_NAME)[tag]))


def _assert_dense_scalars(acc, name: str, names, matrix: np.ndarray, iou_reference: np.ndarray, ignored: int) -> None:
    """The per-class IoU scalars equal the reference; mean, frequency-weighted
    IoU, pixel accuracy and the ignored count follow from the matrix."""
    assert all(not np.isnan(v) for v in iou_reference)  # every class occurs: no undefined IoU
    for i, class_name in enumerate(names):  # the names are tag-safe
        assert _last(acc, f"iou/{name}/{class_name}") == pytest.approx(float(iou_reference[i]), abs=1e-6), class_name
    rows, total = matrix.sum(1), matrix.sum()
    assert _last(acc, f"mean_iou/{name}") == pytest.approx(float(iou_reference.mean()), abs=1e-6)
    assert _last(acc, f"frequency_weighted_iou/{name}") == pytest.approx(float((rows / total * iou_reference).sum()), abs=1e-6)
    assert _last(acc, f"pixel_accuracy/{name}") == pytest.approx(float(np.trace(matrix) / total), abs=1e-6)
    assert _last(acc, f"ignored_labels/{name}") == ignored


def _last(acc, tag: str) -> float:
    values = scalars(acc, tag)
    return values[max(values)]


# --- segmentation under the Lightning callback -------------------------------------------


@pytest.fixture(scope="module")
def segmentation(tmp_path_factory):
    """Two epochs of the tiny UNet with the callback (``ignore_index=255``)."""
    logdir = str(tmp_path_factory.mktemp("segmentation"))
    pl.seed_everything(0, verbose=False)
    module = Segmenter()
    callback = LightningCallback(class_names=example().CLASS_NAMES, ignore_index=example().IGNORE_INDEX, log_every=4)
    trainer = make_trainer(logdir, [callback], max_epochs=2)
    train, val = loaders()
    trainer.fit(module, train, val)
    module.eval()
    with torch.no_grad():
        batches = [(module(images).argmax(1), masks) for images, masks in val]
    return dict(logdir=logdir, trainer=trainer, predicted=torch.cat([p for p, _ in batches]), masks=torch.cat([m for _, m in batches]))


def test_lightning_unet_pixel_matrix_equals_torchmetrics(segmentation):
    names, ignore = example().CLASS_NAMES, example().IGNORE_INDEX
    acc = load(segmentation["logdir"])
    steps = [e.step for e in acc.Tensors("confusion/val")]
    assert steps == [segmentation["trainer"].global_step // 2, segmentation["trainer"].global_step]  # one per epoch
    logged = read_matrix(acc, "confusion/val", len(names))
    predicted, masks = segmentation["predicted"], segmentation["masks"]
    reference = MulticlassConfusionMatrix(num_classes=len(names), ignore_index=ignore)(predicted, masks).numpy()
    counted = masks != ignore
    assert logged.sum() == int(counted.sum()) and logged.dtype == np.int64
    np.testing.assert_array_equal(logged, reference)
    np.testing.assert_array_equal(logged, confusion_matrix(masks[counted].numpy(), predicted[counted].numpy(), labels=range(len(names))))
    assert np.trace(logged) < logged.sum()  # the model is not perfect: off-diagonal cells are compared too
    assert _unit(acc, "confusion/val") == "pixels"


def test_lightning_unet_iou_equals_torchmetrics_jaccard(segmentation):
    names, ignore = example().CLASS_NAMES, example().IGNORE_INDEX
    acc = load(segmentation["logdir"])
    predicted, masks = segmentation["predicted"], segmentation["masks"]
    iou = MulticlassJaccardIndex(num_classes=len(names), average=None, ignore_index=ignore)(predicted, masks).numpy()
    matrix = read_matrix(acc, "confusion/val", len(names))
    _assert_dense_scalars(acc, "val", names, matrix, iou.astype(np.float64), ignored=int((masks == ignore).sum()))
    # accuracy/<name> keeps its meaning (the fraction of counted positions right): the same as pixel accuracy
    assert _last(acc, "accuracy/val") == pytest.approx(_last(acc, "pixel_accuracy/val"), abs=1e-6)


def test_lightning_unet_examples_are_overlays_of_cells(segmentation):
    """Segmentation with images has examples per cell (the overlays), within
    the same tags as classification; the per-example record is off."""
    acc = load(segmentation["logdir"])
    tensors = acc.Tags()["tensors"]
    assert "confusion/val/examples" in tensors
    index = read_examples_index(acc, "confusion/val/examples")
    assert len(index["true"]) > 0 and any(t != p for t, p in zip(index["true"], index["predicted"]))
    assert er.record_tag("confusion/val", "example_ids") not in tensors


# --- token classification under the Hugging Face Trainer callback -------------------------


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    """A few steps of the tiny BERT with ``class_dim=-1``, evaluated at the end;
    the model's own predictions over the same collated batches."""
    folder = tmp_path_factory.mktemp("tokens")
    tok = tokenizer(str(folder))
    torch.manual_seed(0)
    model = tiny_bert(tok.vocab_size)
    collator = DataCollatorForTokenClassification(tok)
    eval_set = TaggedSentences(tok, 37, seed=1)  # 37: the last batch is short
    callback = TrainerCallback(class_dim=-1, log_every=100, log_graph=False)
    trainer = Trainer(model=model, args=arguments(str(folder / "out"), max_steps=8, eval_steps=4, per_device_train_batch_size=8,
                                                  per_device_eval_batch_size=EVAL_BATCH, learning_rate=5e-3),
                      train_dataset=TaggedSentences(tok, 64, seed=0), eval_dataset=eval_set, data_collator=collator,
                      callbacks=[callback])
    trainer.train()
    log_dir = callback.log_dir
    callback.remove()
    model.eval()
    predicted, labels = [], []
    with torch.no_grad():
        for batch in DataLoader(eval_set, batch_size=EVAL_BATCH, collate_fn=collator):
            predicted.append(model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits.argmax(-1).flatten())
            labels.append(batch["labels"].flatten())
    return dict(logdir=log_dir, predicted=torch.cat(predicted), labels=torch.cat(labels))


def test_trainer_token_matrix_equals_torchmetrics_and_sklearn(tokens):
    acc = load(tokens["logdir"])
    assert [e.step for e in acc.Tensors("confusion/eval")] == [4, 8]
    logged = read_matrix(acc, "confusion/eval", len(TAGS))
    predicted, labels = tokens["predicted"], tokens["labels"]
    reference = MulticlassConfusionMatrix(num_classes=len(TAGS), ignore_index=IGNORED)(predicted, labels).numpy()
    np.testing.assert_array_equal(logged, reference)
    counted = labels != IGNORED
    np.testing.assert_array_equal(logged, confusion_matrix(labels[counted].numpy(), predicted[counted].numpy(), labels=range(len(TAGS))))
    assert logged.sum() == int(counted.sum()) and np.trace(logged) < logged.sum()
    assert _unit(acc, "confusion/eval") == "tokens"


def test_trainer_token_iou_and_ignored_count(tokens):
    acc = load(tokens["logdir"])
    predicted, labels = tokens["predicted"], tokens["labels"]
    iou = MulticlassJaccardIndex(num_classes=len(TAGS), average=None, ignore_index=IGNORED)(predicted, labels).numpy()
    matrix = read_matrix(acc, "confusion/eval", len(TAGS))
    _assert_dense_scalars(acc, "eval", TAGS, matrix, iou.astype(np.float64), ignored=int((labels == IGNORED).sum()))
    # token tasks have no images: no examples per cell
    assert "confusion/eval/examples" not in acc.Tags()["tensors"]
