"""The framework callbacks built without a framework run (the inner loop's
view of the integrations): each is its framework's callback, writes through
its package's TensorBoardLogger, checks its options when built, and says
what is missing before any work. The runs themselves are in
``test_integration_lightning.py`` and ``test_integration_transformers.py``."""
from __future__ import annotations

import importlib
from types import SimpleNamespace

import pytest
from torch import nn

#: Integration module -> the package it is for.
LIGHTNING = {"lightning": "lightning.pytorch", "pytorch_lightning": "pytorch_lightning"}


@pytest.mark.parametrize("name", sorted(LIGHTNING))
def test_lightning_callbacks_are_their_packages_callback(name):
    package = pytest.importorskip(LIGHTNING[name], reason=f"{LIGHTNING[name]} is not installed")
    module = importlib.import_module(f"tb_fmnist_plugin.integrations.{name}")
    callback = module.ConfusionCallback(class_names=["a", "b"], log_every=5, histogram_bins=8)
    assert isinstance(callback, package.Callback)
    assert module.ConfusionCallback.tensorboard_logger_class is package.loggers.TensorBoardLogger
    assert callback.monitor is None
    callback.remove()  # nothing attached yet: nothing to do
    with pytest.raises(TypeError, match=r"unknown attach_hooks option\(s\) \['writer'\]"):
        module.ConfusionCallback(writer=None)
    with pytest.raises(ValueError, match=r"no logger \(logger=False\)") as error:
        callback.setup(SimpleNamespace(loggers=[]), None, "fit")
    assert f"from {LIGHTNING[name]}.loggers import TensorBoardLogger" in str(error.value)
    callback.setup(SimpleNamespace(loggers=[]), None, "predict")  # predicting logs nothing: no logger needed


def test_transformers_callback_is_a_trainer_callback():
    transformers = pytest.importorskip("transformers", reason="needs the [transformers] extra")
    pytest.importorskip("accelerate", reason="the Trainer needs accelerate")
    from tb_fmnist_plugin.integrations.transformers import ConfusionCallback, id2label_names

    callback = ConfusionCallback(log_every=5, examples_per_cell=2)
    assert isinstance(callback, transformers.TrainerCallback)
    assert callback.monitor is None and callback.log_dir is None
    callback.remove()  # nothing attached yet: nothing to do
    with pytest.raises(TypeError, match=r"unknown attach_hooks option\(s\) \['eval_name'\]"):
        ConfusionCallback(eval_name="val")  # set by the Trainer's metric prefix

    model = nn.Linear(2, 3)
    model.config = SimpleNamespace(id2label={2: "c", 0: "a", 1: "b"})
    assert id2label_names(model) == ["a", "b", "c"]
    model.config.id2label = {0: "a", 2: "c"}  # not 0..n-1: not class names
    assert id2label_names(model) is None
    assert id2label_names(nn.Linear(2, 2)) is None
