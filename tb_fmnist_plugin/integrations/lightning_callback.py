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

import warnings
from collections import OrderedDict
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn
from torch.utils.hooks import RemovableHandle

from tb_fmnist_plugin.hooks import copy_safe

from .session import EvalBatch, HookSession, as_image_batch, batch_indices, optional_callable

#: The monitor's warning for a step without a training forward, which blames
#: torch.compile; replaced by :data:`NOT_CALLED` where the cause is known.
NO_FORWARD = "activation statistics and the graph are not logged: no training forward"
#: The warning when the steps never call the hooked module.
NOT_CALLED = (
    "ConfusionCallback: {when} called no forward of {what}, so {lost} not logged. The steps call another "
    "module (a network kept as an attribute, e.g. self.model(x))? Pass ConfusionCallback(network=\"<name>\") "
    "naming the submodule the steps call{candidates}, or call self(x) in the steps."
)


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
    real ``step()``. Every optimizer's step counts, as in ``global_step``.
    While ``quiet``, the monitor's step-without-forward warning is dropped
    (the callback said why, naming the fix: :data:`NOT_CALLED`)."""

    def __init__(self, optimizers: Sequence[torch.optim.Optimizer]) -> None:
        self.optimizers = list(optimizers)
        self.quiet = False
        self._pre_hooks: Dict[int, Callable] = OrderedDict()  # weak-referenceable, for RemovableHandle

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        handle = RemovableHandle(self._pre_hooks)
        self._pre_hooks[handle.id] = hook
        return handle

    def register_step_post_hook(self, hook: Callable) -> _Handles:
        def post(optimizer: Any, args: Any, kwargs: Any) -> None:
            self._call(hook, optimizer)

        return _Handles([optimizer.register_step_post_hook(copy_safe(post)) for optimizer in self.optimizers])

    def before_step(self, optimizer: Any) -> None:
        for hook in list(self._pre_hooks.values()):
            self._call(hook, optimizer)

    def _call(self, hook: Callable, optimizer: Any) -> None:
        if not self.quiet:
            hook(optimizer, (), {})
            return
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=f".*{NO_FORWARD}", category=RuntimeWarning)
            hook(optimizer, (), {})


class LightningSession(HookSession):
    """Hooks on a LightningModule; writer from the trainer's TensorBoardLogger."""

    def __init__(self, class_names, options, get_labels, get_images, logger_class: type, network: Optional[str] = None) -> None:
        super().__init__(class_names, options)
        self.get_labels = optional_callable(get_labels, "get_labels") or default_labels
        self.get_images = optional_callable(get_images, "get_images")
        if network is not None and not (isinstance(network, str) and network):
            raise TypeError(f"network must be the name of a submodule of the LightningModule, got {network!r}")
        self.network = network
        self.logger_class = logger_class
        self.what = "the LightningModule"  # the hooked module, as warnings name it
        self.candidates = ""  # the submodules network= could name, for the warnings
        self.forward_seen = False  # a training forward of the hooked module ran in this fit
        self.warned_not_called = False
        self.eval_batches = [0, 0]  # this evaluation's batches: [begun, recorded]
        self._seen_handle: Optional[Any] = None
        self.trainer: Any = None
        self.events: Optional[StepEvents] = None
        self.capturing = False  # inside a validation/test epoch that is recorded
        self.pending: Optional[Tuple[Any, Any, Any]] = None  # (labels, images, batch) of the current batch

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

    def hooked_module(self, pl_module: nn.Module, own_forward: bool) -> nn.Module:
        """The module to hook: ``network`` if given; the one child holding
        parameters of a LightningModule without a forward of its own (its
        steps cannot call ``self(x)``); else the LightningModule."""
        children = [name for name, child in pl_module.named_children() if any(True for _ in child.parameters())]
        self.candidates = f" (its submodules with parameters: {', '.join(map(repr, children))})" if children else ""
        name = self.network
        if name is None and not own_forward and len(children) == 1:
            name = children[0]
        if name is None:
            self.what = f"the LightningModule ({type(pl_module).__name__}.forward)"
            return pl_module
        try:
            module = pl_module.get_submodule(name)
        except AttributeError:
            raise ValueError(f"ConfusionCallback(network={name!r}): the LightningModule has no such submodule{self.candidates}") from None
        self.what = f"the network {name!r} ({type(module).__name__})"
        return module

    def watch_forwards(self) -> None:
        """Notice the hooked module's first training forward of this fit (see :meth:`check_called`)."""
        self.forward_seen = False
        if self._seen_handle is None and self.model is not None:
            self._seen_handle = self.model.register_forward_pre_hook(copy_safe(self._on_forward_seen))

    def _on_forward_seen(self, module: nn.Module, args: Tuple[Any, ...]) -> None:
        if module.training and torch.is_grad_enabled() and not is_redirected(module):
            self.forward_seen = True
            self.unwatch_forwards()

    def unwatch_forwards(self) -> None:
        if self._seen_handle is not None:
            self._seen_handle.remove()
            self._seen_handle = None

    def check_called(self) -> bool:
        """Before the first optimizer step of a fit: whether the steps called
        the hooked module; warns (:data:`NOT_CALLED`) once if not."""
        if self.forward_seen:
            return True
        if not self.warned_not_called:
            self.warned_not_called = True
            warnings.warn(
                NOT_CALLED.format(when="the training step", what=self.what, candidates=self.candidates,
                                  lost="activation statistics and the graph are"),
                RuntimeWarning, stacklevel=3,
            )
        return False

    def eval_batch(self, module, args, kwargs, output) -> Optional[EvalBatch]:
        if not self.capturing or self.pending is None or is_redirected(module):
            return None
        labels, images, batch = self.pending
        self.pending = None  # one forward per batch: the first
        self.eval_batches[1] += 1
        if images is None and self.get_images is None and args:
            images = as_image_batch(args[0], len(labels))
        return output, labels, images, batch_indices(batch, len(labels))

    def graph_input(self, module, args, kwargs) -> Optional[Tuple[Any, ...]]:
        return None if is_redirected(module) else tuple(args)

    def remove(self) -> None:
        self.unwatch_forwards()
        super().remove()

    def begin_batch(self, batch: Any) -> None:
        if self.capturing:
            self.eval_batches[0] += 1
            images = self.get_images(batch) if self.get_images is not None else None
            self.pending = (self.get_labels(batch), images, batch)


class LightningCallbackLogic:
    """Logging hooks and the Confusion tab for a LightningModule, in one line:
    ``Trainer(callbacks=[ConfusionCallback(class_names=names)], logger=TensorBoardLogger("runs"))``.

    Args:
      class_names: one name per class (default ``"0"``, ``"1"``, ...).
      get_labels: ``batch -> labels`` of a validation/test batch (default
        ``batch[1]``, or ``batch["label"]``/``batch["labels"]``).
      get_images: ``batch -> images`` for the example grids (default: the
        module's forward input, when it is an image batch).
      network: the name of the submodule the steps call (``"model"`` for
        ``self.model(x)``), hooked in place of the LightningModule. Default:
        the LightningModule, or, if it has no ``forward`` of its own, its one
        child holding parameters.
      log_every: log training statistics every this many global steps.
      **hook_options: any other keyword option of ``attach_hooks``
        (``modules``, ``histogram_bins``, ``image_mean``, ``log_graph``, ...).

    Combined with a Lightning ``Callback`` base in :mod:`.lightning` and
    :mod:`.pytorch_lightning` (see the module doc).
    """

    #: The TensorBoardLogger class of the package the callback is for.
    tensorboard_logger_class: type = type(None)
    #: Its LightningModule class (whose ``forward`` a module without its own has).
    lightning_module_class: type = type(None)

    def __init__(
        self,
        class_names: Optional[Sequence[str]] = None,
        *,
        get_labels: Optional[Callable[[Any], Any]] = None,
        get_images: Optional[Callable[[Any], Any]] = None,
        network: Optional[str] = None,
        log_every: int = 100,
        **hook_options: Any,
    ) -> None:
        self._session = LightningSession(
            class_names, dict(hook_options, log_every=log_every), get_labels, get_images, self.tensorboard_logger_class, network
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
        session.watch(self._hooked(pl_module))
        session.events = StepEvents(trainer.optimizers)
        session.start_training(session.events, trainer.global_step)
        session.watch_forwards()

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        self._session.sync_step(trainer.global_step)

    def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
        session = self._session
        if not (session.training and session.events is not None):
            return
        if not session.forward_seen and trainer.is_global_zero:
            session.events.quiet = not session.check_called()  # said better there: not torch.compile's doing
        session.events.before_step(optimizer)

    def _hooked(self, pl_module: Any) -> nn.Module:
        base_forward = getattr(self.lightning_module_class, "forward", None)
        return self._session.hooked_module(pl_module, own_forward=type(pl_module).forward is not base_forward)

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
            self._session.watch(self._hooked(pl_module))

    def _start_epoch(self, trainer: Any, name: str) -> None:
        if trainer.sanity_checking:
            return
        self._session.capturing = True
        self._session.eval_batches = [0, 0]
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
        session = self._session
        session.capturing = False
        session.pending = None
        (begun, recorded), session.eval_batches = session.eval_batches, [0, 0]
        if begun and not recorded:
            warnings.warn(
                NOT_CALLED.format(when=f"the {name} batches' step", what=session.what, candidates=session.candidates,
                                  lost=f"confusion/{name} is"),
                RuntimeWarning, stacklevel=2,
            )
        session.end_eval(trainer.global_step, name, quiet=begun > 0 and not recorded)

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
