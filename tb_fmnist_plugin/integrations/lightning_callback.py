"""The PyTorch Lightning callback's logic, for both import names.

It imports neither ``lightning`` nor ``pytorch_lightning``: :mod:`.lightning`
and :mod:`.pytorch_lightning` combine :class:`LightningCallbackLogic` with
their package's ``Callback`` and ``TensorBoardLogger``, because Lightning
accepts only callbacks of its own package.

Lightning runs the training step inside ``optimizer.step(closure)``, so an
optimizer's own step pre-hook fires before the forward and backward. The
monitor therefore gets :class:`StepEvents`: its "before the step" moment is
Lightning's ``on_before_optimizer_step`` (after backward and accumulation,
before gradient clipping), and its "after the step" the real optimizers'
step post-hooks.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from .session import EvalBatch, HookSession, as_image_batch, optional_callable


def default_labels(batch: Any) -> Any:
    """The labels of a batch: ``batch["label"]``/``batch["labels"]`` of a
    dict, else ``batch[1]`` of a tuple or list; ``ValueError`` otherwise."""
    if isinstance(batch, Mapping):
        for key in ("label", "labels"):
            if key in batch:
                return batch[key]
    elif isinstance(batch, (tuple, list)) and len(batch) >= 2:
        return batch[1]
    described = f"a dict with keys {sorted(map(str, batch))}" if isinstance(batch, Mapping) else type(batch).__name__
    raise ValueError(
        f"ConfusionCallback: cannot find the labels in a validation batch ({described}); the default is "
        'batch[1] or batch["label"]/batch["labels"]. Pass get_labels=lambda batch: ... to the callback.'
    )


def is_redirected(module: nn.Module) -> bool:
    """Whether this call of ``module`` is Lightning's forward redirection
    (under DDP and similar strategies ``training_step``/``validation_step``
    run through the wrapper's forward), not the module's own forward."""
    forward = module.__dict__.get("forward")
    return forward is not None and "_ForwardRedirection" in getattr(forward, "__qualname__", "")


class _Handles:
    """Several hook handles removed as one."""

    def __init__(self, handles: List[Any]) -> None:
        self.handles = handles

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []


class StepEvents:
    """The trainer's optimizers as the optimizer ``attach_hooks`` hooks: step
    pre-hooks run at :meth:`before_step` (Lightning's
    ``on_before_optimizer_step``), step post-hooks after every optimizer's
    real ``step()``. Every optimizer's step counts, as in ``global_step``."""

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer]) -> None:
        self.optimizers = list(optimizers)
        self._pre_hooks: Dict[int, Callable] = OrderedDict()  # weak-referenceable, for RemovableHandle

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        handle = RemovableHandle(self._pre_hooks)
        self._pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> _Handles:
        return _Handles([optimizer.register_step_post_hook(hook) for optimizer in self.optimizers])

    def before_step(self, optimizer: Any) -> None:
        for hook in list(self._pre_hooks.values()):
            hook(optimizer, (), {})


class LightningSession(HookSession):
    """Hooks on a LightningModule; writer from the trainer's TensorBoardLogger."""

    def __init__(self, class_names, options, get_labels, get_images, logger_class: type) -> None:
        super().__init__(class_names, options)
        self.get_labels = optional_callable(get_labels, "get_labels") or default_labels
        self.get_images = optional_callable(get_images, "get_images")
        self.logger_class = logger_class
        self.trainer: Any = None
        self.events: Optional[StepEvents] = None
        self.capturing = False  # inside a validation/test epoch that is recorded
        self.pending: Optional[Tuple[Any, Any]] = None  # (labels, images) of the current batch

    def tensorboard_logger(self, trainer: Any) -> Any:
        """The trainer's TensorBoardLogger; ``ValueError`` naming the fix if it has none."""
        for logger in trainer.loggers:
            if isinstance(logger, self.logger_class):
                return logger
        names = ", ".join(type(logger).__name__ for logger in trainer.loggers)
        has = f"only {names}" if names else "no logger (logger=False)"
        example = f"[{type(trainer.loggers[0]).__name__}(...), TensorBoardLogger('runs')]" if names else "TensorBoardLogger('runs')"
        module = self.logger_class.__module__.rsplit(".", 1)[0]
        raise ValueError(
            f"ConfusionCallback writes through the trainer's TensorBoardLogger, and this trainer has {has}. "
            f"Add one: Trainer(logger={example}, ...) with `from {module} import TensorBoardLogger`."
        )

    def writer(self) -> Any:
        logger = self.tensorboard_logger(self.trainer)
        return logger.experiment if self.trainer.is_global_zero else None

    def eval_batch(self, module, args, kwargs, output) -> Optional[EvalBatch]:
        if not self.capturing or self.pending is None or is_redirected(module):
            return None
        labels, images = self.pending
        self.pending = None  # one forward per batch: the first
        if images is None and self.get_images is None and args:
            images = as_image_batch(args[0], len(labels))
        return output, labels, images

    def graph_input(self, module, args, kwargs) -> Optional[Tuple[Any, ...]]:
        return None if is_redirected(module) else tuple(args)

    def begin_batch(self, batch: Any) -> None:
        if self.capturing:
            images = self.get_images(batch) if self.get_images is not None else None
            self.pending = (self.get_labels(batch), images)


class LightningCallbackLogic:
    """Logging hooks and the Confusion tab for a LightningModule, in one line:
    ``Trainer(callbacks=[ConfusionCallback(class_names=names)], logger=TensorBoardLogger("runs"))``.

    Args:
      class_names: one name per class (default ``"0"``, ``"1"``, ...).
      get_labels: ``batch -> labels`` of a validation/test batch (default
        ``batch[1]``, or ``batch["label"]``/``batch["labels"]``).
      get_images: ``batch -> images`` for the example grids (default: the
        module's forward input, when it is an image batch).
      log_every: log training statistics every this many global steps.
      **hook_options: any other keyword option of ``attach_hooks``
        (``modules``, ``histogram_bins``, ``image_mean``, ``log_graph``, ...).

    Combined with a Lightning ``Callback`` base in :mod:`.lightning` and
    :mod:`.pytorch_lightning` (see the module doc).
    """

    #: The TensorBoardLogger class of the package the callback is for.
    tensorboard_logger_class: type = type(None)

    def __init__(
        self,
        class_names: Optional[Sequence[str]] = None,
        *,
        get_labels: Optional[Callable[[Any], Any]] = None,
        get_images: Optional[Callable[[Any], Any]] = None,
        log_every: int = 100,
        **hook_options: Any,
    ) -> None:
        self._session = LightningSession(
            class_names, dict(hook_options, log_every=log_every), get_labels, get_images, self.tensorboard_logger_class
        )
        self._eval_name: Optional[str] = None
        self._dataloader = 0

    @property
    def monitor(self) -> Any:
        """The :class:`~tb_fmnist_plugin.hooks.HookMonitor` while attached, else None."""
        return self._session.monitor

    def remove(self) -> None:
        """Remove every hook now (also done at the end of fit, validate and test, and on exceptions)."""
        self._session.remove()
        self._session.capturing = False
        self._session.pending = None
        self._eval_name = None

    # --- fit ---------------------------------------------------------------------------

    def setup(self, trainer: Any, pl_module: Any, stage: str) -> None:
        if stage != "predict":
            self._session.tensorboard_logger(trainer)  # a missing logger fails before any work

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        session = self._session
        session.trainer = trainer
        session.watch(pl_module)
        session.events = StepEvents(trainer.optimizers)
        session.start_training(session.events, trainer.global_step)

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._session.sync_step(trainer.global_step)

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        if self._session.training and self._session.events is not None:
            self._session.events.before_step(optimizer)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self.remove()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self.remove()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self.remove()

    # --- evaluation --------------------------------------------------------------------

    def _start_stage(self, trainer: Any, pl_module: Any) -> None:
        """trainer.validate / trainer.test: hooks for evaluation only."""
        if not self._session.training:
            self._session.trainer = trainer
            self._session.watch(pl_module)

    def _start_epoch(self, trainer: Any, name: str) -> None:
        if trainer.sanity_checking:
            return
        self._session.capturing = True
        self._eval_name = name
        self._dataloader = 0

    def _start_batch(self, trainer: Any, batch: Any, dataloader_idx: int) -> None:
        if self._session.capturing and dataloader_idx != self._dataloader:
            self._end(trainer)  # each extra dataloader is its own set: <name>_<index>
            self._session.capturing = True
            self._dataloader = dataloader_idx
        self._session.begin_batch(batch)

    def _end(self, trainer: Any) -> None:
        if not self._session.capturing or self._eval_name is None:
            return
        name = self._eval_name if self._dataloader == 0 else f"{self._eval_name}_{self._dataloader}"
        self._session.capturing = False
        self._session.pending = None
        self._session.end_eval(trainer.global_step, name)

    def on_validation_start(self, trainer: Any, pl_module: Any) -> None:
        self._start_stage(trainer, pl_module)

    def on_validation_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._start_epoch(trainer, "test" if trainer.testing else "val")

    def on_validation_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._start_batch(trainer, batch, dataloader_idx)

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        self._end(trainer)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if not self._session.training:
            self.remove()

    # trainer.test: the same, as set "test"
    on_test_start = on_validation_start
    on_test_epoch_start = on_validation_epoch_start
    on_test_batch_start = on_validation_batch_start
    on_test_epoch_end = on_validation_epoch_end
    on_test_end = on_validation_end
