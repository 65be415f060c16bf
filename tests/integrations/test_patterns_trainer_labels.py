"""Hugging Face Trainer set-ups that take the labels out of the inputs before
the model's forward (issue 17, case 6): ``label_smoothing_factor``,
``compute_loss_func`` and a ``compute_loss`` that pops ``"labels"``. The
evaluation is recorded once ``callback.attach(trainer)`` lets the callback
read the labels in ``prediction_step``; without it, and where there are no
labels, the warning names the cause and the fix."""
from __future__ import annotations

import warnings

import pytest
import torch

pytest.importorskip("transformers", reason="needs the [transformers] extra: pip install -e '.[transformers]'")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate: pip install -e '.[transformers]'")

from transformers import Trainer  # noqa: E402

from tb_fmnist_plugin.integrations.transformers import ConfusionCallback  # noqa: E402
from tests.integrations.integration_helpers import expected_matrix, last_matrix  # noqa: E402
from tests.integrations.integration_transformers_worker import PixelDataset, arguments, tiny_vit  # noqa: E402
from tests.support.hooks_helpers import load  # noqa: E402

pytestmark = pytest.mark.slow
EVAL_SIZE = 40


class PoppingTrainer(Trainer):
    """The custom ``compute_loss`` of the Trainer's documentation: it pops the labels."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        outputs = model(**inputs)
        loss = torch.nn.functional.cross_entropy(outputs["logits"], labels)
        return (loss, outputs) if return_outputs else loss


def _loss_func(outputs, labels, num_items_in_batch=None):
    return torch.nn.functional.cross_entropy(outputs["logits"], labels)


SETUPS = {
    "label_smoothing_factor": (Trainer, {"label_smoothing_factor": 0.1}, {}),
    "compute_loss_func": (Trainer, {}, {"compute_loss_func": _loss_func}),
    "compute_loss pops labels": (PoppingTrainer, {}, {}),
}


@pytest.mark.parametrize("setup", list(SETUPS))
def test_the_evaluation_is_recorded_when_the_labels_are_taken_out(tmp_path, monkeypatch, setup):
    kind, args, extra = SETUPS[setup]
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    torch.manual_seed(0)
    callback = ConfusionCallback(log_every=2)
    trainer = kind(model=tiny_vit(), args=arguments(str(tmp_path / "out"), max_steps=2, eval_strategy="no",
                                                     report_to="none", **args),
                   train_dataset=PixelDataset(True, 64), eval_dataset=PixelDataset(False, EVAL_SIZE),
                   callbacks=[callback], **extra)
    with pytest.warns(RuntimeWarning, match=r"without labels.*compute_loss took them out.*callback\.attach\(trainer\)"):
        trainer.evaluate()  # not attached: the cause and the fix
    callback.attach(trainer)
    trainer.train()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        trainer.evaluate()
    prediction = trainer.predict(PixelDataset(False, EVAL_SIZE))
    callback.remove()
    assert "prediction_step" not in vars(trainer), "remove() restores the Trainer's method"
    expected = expected_matrix(torch.as_tensor(prediction.predictions).argmax(1), torch.as_tensor(prediction.label_ids), 10)
    logged = last_matrix(str(tmp_path / "tb"), "confusion/eval", 10)
    assert logged.sum() == EVAL_SIZE and (logged == expected).all()


def test_an_evaluation_without_labels_names_the_cause(tmp_path, monkeypatch):
    class Unlabeled(PixelDataset):
        def __getitem__(self, index):
            return {"pixel_values": self.pixels[index]}

    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(tmp_path / "tb"))
    callback = ConfusionCallback()
    trainer = Trainer(model=tiny_vit(), args=arguments(str(tmp_path / "out"), report_to="none"),
                      eval_dataset=Unlabeled(False, EVAL_SIZE), callbacks=[callback])
    with pytest.warns(RuntimeWarning, match=r"without labels.*confusion/eval is not written.*get_labels="):
        trainer.evaluate()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        trainer.predict(Unlabeled(False, EVAL_SIZE))  # predict() on unlabeled data: expected, no warning
    callback.remove()
    assert "confusion/eval" not in load(str(tmp_path / "tb")).Tags()["tensors"]
