"""``ConfusionCallback`` for PyTorch Lightning under the ``lightning`` import name.

    from lightning.pytorch import Trainer
    from lightning.pytorch.loggers import TensorBoardLogger
    from tb_fmnist_plugin.integrations.lightning import ConfusionCallback

    trainer = Trainer(callbacks=[ConfusionCallback(class_names=names)], logger=TensorBoardLogger("runs"))

For ``import pytorch_lightning`` use :mod:`tb_fmnist_plugin.integrations.pytorch_lightning`.
See ``docs/integrations.md``.
"""
from . import missing_framework

try:
    from lightning.pytorch import Callback, LightningModule
    from lightning.pytorch.loggers import TensorBoardLogger
except ImportError as error:
    raise missing_framework(__name__, "PyTorch Lightning (the lightning package)", '"tb-fmnist-plugin[lightning]"', error) from error

from .lightning_callback import LightningCallbackLogic

__all__ = ["ConfusionCallback"]


class ConfusionCallback(LightningCallbackLogic, Callback):
    __doc__ = LightningCallbackLogic.__doc__
    tensorboard_logger_class = TensorBoardLogger
    lightning_module_class = LightningModule
