"""PyTorch Lightning patterns of real training code (issue 17): steps that
call the network as an attribute (``self.model(x)``, case 7), and callbacks
that copy or save the module during ``fit`` (EMA, SWA, checkpoints, case 1)."""
from __future__ import annotations

import copy
import io
import warnings

import pytest
import torch
import torch.nn.functional as F

pl = pytest.importorskip("lightning.pytorch", reason="needs the [lightning] extra: pip install -e '.[lightning]'")

from torch.optim.swa_utils import AveragedModel  # noqa: E402

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN  # noqa: E402
from tb_fmnist_plugin.integrations.lightning import ConfusionCallback  # noqa: E402
from tests.integrations.integration_helpers import leaf_names  # noqa: E402
from tests.integrations.integration_lightning_worker import NAMES, Classifier, loaders, make_trainer  # noqa: E402
from tests.support.hooks_helpers import hook_counts, load  # noqa: E402

pytestmark = pytest.mark.slow
SHORT = dict(max_epochs=1, limit_train_batches=2, limit_val_batches=2, num_sanity_val_steps=0)


class AttributeSteps(Classifier):
    """Steps call ``self.model(x)``; ``forward`` exists (for inference) but the steps do not use it."""

    def training_step(self, batch, batch_idx):
        x, y = batch
        return F.cross_entropy(self.model(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.cross_entropy(self.model(x), y))


class NoForward(AttributeSteps):
    """No ``forward`` of its own: the steps can only call the network."""

    forward = pl.LightningModule.forward


def _fit(tmp_path, module, callbacks):
    pl.seed_everything(0, verbose=False)
    trainer = make_trainer(str(tmp_path), callbacks, **SHORT)
    trainer.fit(module, *loaders(train_size=64, val_size=64))
    return trainer


def _assert_logged(tmp_path):
    tags = load(str(tmp_path)).Tags()
    for layer in leaf_names(FashionMNISTCNN()):
        assert f"activations/{layer}" in tags["histograms"], layer
    assert tags["graph"] and "confusion/val" in tags["tensors"] and "gradients/global_norm" in tags["scalars"]


@pytest.mark.parametrize("module, options", [(AttributeSteps, {"network": "model"}), (NoForward, {})],
                         ids=["network=model", "no-forward-detected"])
def test_steps_that_call_the_network_attribute_log_everything(tmp_path, module, options):
    with warnings.catch_warnings():
        warnings.filterwarnings("error", category=RuntimeWarning, module="tb_fmnist_plugin.*")
        _fit(tmp_path, module(), [ConfusionCallback(class_names=NAMES, log_every=1, **options)])
    _assert_logged(tmp_path)


def test_steps_that_skip_the_hooked_module_warn_naming_network(tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _fit(tmp_path, AttributeSteps(), [ConfusionCallback(class_names=NAMES, log_every=1)])
    messages = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    mine = [m for m in messages if "ConfusionCallback(network=" in m]
    assert any(m.startswith("ConfusionCallback: the training step called no forward") for m in mine), messages
    assert any("confusion/val is not logged" in m and "'model'" in m for m in mine), messages
    assert not [m for m in messages if "torch.compile" in m or "nothing was recorded" in m], messages


def test_a_network_name_that_is_no_submodule_raises(tmp_path):
    with pytest.raises(ValueError, match=r"network='net'.*no such submodule.*'model'"):
        _fit(tmp_path, AttributeSteps(), [ConfusionCallback(network="net")])


class CopyingCallback(pl.Callback):
    """EMA / SWA / whole-model checkpoints of the user's, during fit."""

    def __init__(self):
        self.copies = []

    def on_fit_start(self, trainer, pl_module):
        self.copies.append(copy.deepcopy(pl_module))
        self.copies.append(AveragedModel(pl_module))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        buffer = io.BytesIO()
        torch.save(pl_module, buffer)
        buffer.seek(0)
        self.copies.append(torch.load(buffer, weights_only=False))


def test_callbacks_that_copy_and_save_the_module_during_fit(tmp_path):
    callback, user = ConfusionCallback(class_names=NAMES, log_every=1), CopyingCallback()
    module = Classifier()
    trainer = _fit(tmp_path, module, [callback, user])  # ours first: the copies are made with our hooks attached
    assert len(user.copies) == 4 and hook_counts(module, trainer.optimizers[0]) == 0
    tags = load(str(tmp_path)).Tags()
    assert "confusion/val" in tags["tensors"] and f"activations/{leaf_names(FashionMNISTCNN(), 'model.')[0]}" in tags["histograms"]
    written = {e.step for e in load(str(tmp_path)).Scalars("gradients/global_norm")}
    x = torch.randn(4, 1, 28, 28)
    for copied in user.copies:  # a copy's forwards log nothing
        copied.train()
        copied(x).sum().backward()
    assert {e.step for e in load(str(tmp_path)).Scalars("gradients/global_norm")} == written == {0, 1}
