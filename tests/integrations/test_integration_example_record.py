"""The per-example record through the Lightning callback: a dict batch's
"index" is the identity, and the stored rows equal the model's predictions."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

pl = pytest.importorskip("lightning.pytorch", reason="needs the [lightning] extra: pip install -e '.[lightning]'")

from tb_fmnist_plugin.format import example_record as er  # noqa: E402
from tb_fmnist_plugin.integrations.lightning import ConfusionCallback  # noqa: E402
from tests.integrations.integration_lightning_worker import NAMES, Classifier, loaders, make_trainer, tensors  # noqa: E402
from tests.support.hooks_helpers import load  # noqa: E402

pytestmark = pytest.mark.slow


def test_lightning_dict_batches_with_index_record_every_row(tmp_path):
    class DictBatches(Classifier):
        def validation_step(self, batch, batch_idx):
            self(batch["pixels"])

    x, y = tensors(False, 64)
    rows = [{"pixels": x[i], "target": y[i], "index": torch.tensor(1000 + i)} for i in range(64)]
    loader = DataLoader(rows, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(1))
    callback = ConfusionCallback(class_names=NAMES, get_labels=lambda b: b["target"], get_images=lambda b: b["pixels"],
                                 log_graph=False)
    pl.seed_everything(0, verbose=False)
    module = DictBatches()
    trainer = make_trainer(str(tmp_path), [callback], limit_train_batches=2, num_sanity_val_steps=0, max_epochs=1)
    trainer.fit(module, loaders()[0], loader)
    acc = load(str(tmp_path))
    ids_event = acc.Tensors("confusion/val/example_ids")[-1]
    ids = er.decode_example_ids(ids_event.tensor_proto.string_val[0], 10, "index")
    assert ids["index"].tolist() == list(range(1000, 1064))
    np.testing.assert_array_equal(ids["label"], y.numpy())
    module.eval()
    with torch.no_grad():
        predicted = module(x).argmax(1).numpy()
    last = acc.Tensors("confusion/val/example_predictions")[-1]
    stored = er.decode_example_predictions(last.tensor_proto.string_val[0], 10, ids["label"])
    np.testing.assert_array_equal(stored["predicted"], predicted)
