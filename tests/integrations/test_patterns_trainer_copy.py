"""Copying and saving the model of a Hugging Face Trainer run (issue 17,
case 1): after ``train()`` the callback's evaluation hook stays on the model;
``deepcopy``, ``torch.save`` and ``AveragedModel`` still work, the copies
record nothing, and the next ``evaluate()`` is recorded."""
from __future__ import annotations

import copy
import io

import pytest
import torch

pytest.importorskip("transformers", reason="needs the [transformers] extra: pip install -e '.[transformers]'")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate: pip install -e '.[transformers]'")

from torch.optim.swa_utils import AveragedModel  # noqa: E402
from transformers import Trainer  # noqa: E402

from tb_fmnist_plugin.integrations.transformers import ConfusionCallback  # noqa: E402
from tests.integrations.integration_transformers_worker import PixelDataset, arguments, tiny_vit  # noqa: E402
from tests.support.hooks_helpers import load  # noqa: E402

pytestmark = pytest.mark.slow


def test_copies_after_train_work_and_the_next_evaluate_is_recorded(tmp_path, monkeypatch):
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    torch.manual_seed(0)
    model = tiny_vit()
    callback = ConfusionCallback(log_every=1)
    trainer = Trainer(model=model, args=arguments(str(tmp_path / "out"), max_steps=2, eval_strategy="no", report_to="none"),
                      train_dataset=PixelDataset(True, 64), eval_dataset=PixelDataset(False, 40), callbacks=[callback])
    trainer.train()
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    copies = [copy.deepcopy(model), AveragedModel(model).module, torch.load(buffer, weights_only=False)]
    data = PixelDataset(False, 8)
    for copied in copies:  # eval-mode forwards with labels, in no dataloader: nothing to record anyway
        copied.eval()
        with torch.no_grad():
            copied(pixel_values=data.pixels, labels=data.labels)
    copy_trainer = Trainer(model=copies[0], args=arguments(str(tmp_path / "copy"), report_to="none"),
                           eval_dataset=PixelDataset(False, 40))
    copy_trainer.evaluate()  # the copy's hook is inert: this evaluation is no one's
    trainer.evaluate()
    callback.remove()
    steps = [event.step for event in load(str(tmp_path / "tb")).Tensors("confusion/eval")]
    assert steps == [2], "one evaluate() of the hooked model, none of the copy"
