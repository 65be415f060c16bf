"""``ConfusionCallback`` for the ``pytorch_lightning`` import name: the same
callback as :mod:`tb_fmnist_plugin.integrations.lightning`, based on
``pytorch_lightning.Callback`` and writing through
``pytorch_lightning.loggers.TensorBoardLogger``."""
from . import missing_framework

try:
    from pytorch_lightning import Callback, LightningModule
    from pytorch_lightning.loggers import TensorBoardLogger
except ImportError as error:
    raise missing_framework(
        __name__,
        "PyTorch Lightning under the pytorch_lightning name",
        'pytorch-lightning (or use tb_fmnist_plugin.integrations.lightning: pip install "tb-fmnist-plugin[lightning]")',
        error,
    ) from error

from .lightning_callback import LightningCallbackLogic

__all__ = ["ConfusionCallback"]


class ConfusionCallback(LightningCallbackLogic, Callback):
    __doc__ = LightningCallbackLogic.__doc__
    tensorboard_logger_class = TensorBoardLogger
    lightning_module_class = LightningModule
