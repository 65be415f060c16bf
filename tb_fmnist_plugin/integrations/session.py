"""What the framework callbacks do alike: one :func:`attach_hooks` monitor
driven by a trainer's events.

A :class:`HookSession` watches the model: a forward hook turns the model's
own forward calls during evaluation into ``monitor.record(...)``, a one-shot
forward pre-hook traces the graph from the first real training input, and
``end_eval``/``remove`` close evaluations and runs. The framework modules
(:mod:`.lightning_callback`, :mod:`.transformers`) subclass it and say where
the writer is, where a batch's labels and images are, and which forward call
is the model's own; they translate their trainer's events into the methods
here.
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from tb_fmnist_plugin.hooks import HookMonitor, HookOptions, attach_hooks, copy_safe

#: ``attach_hooks`` arguments besides the options that a callback passes on.
PASSED_ARGUMENTS = ("grad_scaler",)
#: ``attach_hooks`` options a callback sets itself, so users cannot pass them.
RESERVED_OPTIONS = ("class_names", "eval_name")
#: Options that switch training-side logging off, for a monitor used only to evaluate.
EVAL_ONLY = {"log_activations": False, "log_gradients": False, "log_weights": False, "log_updates": False, "log_graph": False}
#: The warning ``end_eval`` gives when nothing was recorded (silenced where that is expected).
NOTHING_RECORDED = "end_eval: nothing was recorded"

#: ``(logits, labels, images or None[, dataset indices or None])`` of one
#: evaluation batch, as ``record`` takes them.
EvalBatch = Tuple[Any, ...]
#: Keys of a dict batch holding each row's dataset index (``docs/integrations.md``).
INDEX_KEYS = ("index", "indices")


def batch_indices(batch: Any, count: int) -> Any:
    """The dataset indices a dict (``Mapping``) batch carries under
    :data:`INDEX_KEYS`, one per row of ``count``, or None (the per-example
    record then uses positions)."""
    if not isinstance(batch, Mapping):
        return None
    for key in INDEX_KEYS:
        value = batch.get(key)
        if isinstance(value, torch.Tensor) and value.dim() == 1 and value.shape[0] == count \
                and not value.is_floating_point():
            return value
    return None


def check_options(options: Dict[str, Any]) -> Dict[str, Any]:
    """The ``attach_hooks`` keyword options a callback was given; unknown or
    reserved names raise ``TypeError`` when the callback is built (values are
    checked by ``attach_hooks`` when it attaches)."""
    known = set(HookOptions.option_names() + PASSED_ARGUMENTS) - set(RESERVED_OPTIONS)
    unknown = sorted(set(options) - known)
    if unknown:
        raise TypeError(f"unknown attach_hooks option(s) {unknown}; known: {sorted(known)}")
    return dict(options)


def logits_from(output: Any) -> Any:
    """The logits in a model's output: ``output["logits"]`` of a dict (a
    Hugging Face ``ModelOutput``), the first 2-D tensor of a tuple (which may
    start with the loss), else the output itself."""
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    if isinstance(output, (tuple, list)):
        for item in output:
            if isinstance(item, torch.Tensor) and item.dim() == 2:
                return item
    return output


def as_image_batch(value: Any, count: int) -> Optional[torch.Tensor]:
    """``value`` if it looks like a batch of ``count`` images (a floating or
    uint8 tensor ``[count, C, H, W]`` or ``[count, H, W]``), else None."""
    if not isinstance(value, torch.Tensor) or value.dim() not in (3, 4) or value.shape[0] != count:
        return None
    return value if (value.is_floating_point() or value.dtype == torch.uint8) else None


class HookSession:
    """One run of hooks on one model, driven by a callback (see the module doc).

    Subclasses implement :meth:`writer`, :meth:`eval_batch` and
    :meth:`graph_input`, and may override :meth:`graph_module`.
    """

    def __init__(self, class_names: Optional[Sequence[str]], options: Dict[str, Any]) -> None:
        self.class_names = list(class_names) if class_names is not None else None
        self.options = check_options(options)
        self.log_graph = bool(self.options.pop("log_graph", True))
        self.model: Optional[nn.Module] = None
        self.monitor: Optional[HookMonitor] = None
        self.training = False  # the monitor logs training (else: evaluation only)
        self._eval_handles: List[Any] = []
        self._graph_handle: Optional[Any] = None
        self._eval_failed = False

    # --- what a framework provides ----------------------------------------------

    def writer(self) -> Any:
        """The ``SummaryWriter`` on rank 0 (or without ``torch.distributed``), else None."""
        raise NotImplementedError

    def eval_batch(self, module: nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any], output: Any) -> Optional[EvalBatch]:
        """What to record for this evaluation-mode forward call, or None to skip it."""
        raise NotImplementedError

    def graph_input(self, module: nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Optional[Tuple[Any, ...]]:
        """Positional inputs to trace the graph with from this training forward,
        ``()`` if the model's forward gets none, or None to wait for another call."""
        raise NotImplementedError

    def graph_module(self) -> nn.Module:
        """The module traced for the graph (the model; a view of it with a plain output)."""
        assert self.model is not None
        return self.model

    # --- life cycle ----------------------------------------------------------------

    def watch(self, model: nn.Module) -> None:
        """Capture evaluation predictions from ``model``'s forward (idempotent)."""
        if self.model is model and self._eval_handles:
            return
        self.remove()
        self.model = model
        self._eval_handles = [model.register_forward_hook(copy_safe(self._on_forward), with_kwargs=True)]

    def start_training(self, optimizer: Any, step: int) -> HookMonitor:
        """Attach the training hooks (``attach_hooks``) with ``optimizer``; a
        step is the trainer's global step, starting at ``step``."""
        assert self.model is not None, "watch(model) first"
        self.stop_training()
        self._drop_monitor()
        writer = self.writer()
        self.monitor = attach_hooks(self.model, writer, self.class_names, optimizer=optimizer, log_graph=False, **self.options)
        self.monitor.step = step
        self.training = True
        if self.log_graph and writer is not None:
            self._graph_handle = self.model.register_forward_pre_hook(
                copy_safe(self._on_training_forward), with_kwargs=True, prepend=True
            )
        return self.monitor

    def sync_step(self, step: int) -> None:
        """Make the monitor's step the trainer's (steps it skipped, resumed runs)."""
        if self.training and self.monitor is not None and self.monitor.step != step:
            self.monitor.step = step

    def end_eval(self, step: int, name: str, quiet: bool = False) -> None:
        """Write the evaluation recorded since the last one as ``<tag>/<name>``
        at ``step``. Every process of a distributed run calls it (the counts
        are reduced). ``quiet``: no warning when nothing was recorded."""
        if self.model is None:
            return
        monitor = self._eval_monitor()
        try:
            with warnings.catch_warnings():
                if quiet:
                    warnings.filterwarnings("ignore", message=NOTHING_RECORDED, category=RuntimeWarning)
                monitor.end_eval(step, name=name)
            monitor.flush()
        finally:
            self._eval_failed = False
            if not self.training:
                self._drop_monitor()

    def stop_training(self) -> None:
        """Remove the training hooks; evaluation capture stays (see :meth:`remove`)."""
        if self._graph_handle is not None:
            self._graph_handle.remove()
            self._graph_handle = None
        if self.training:
            self.training = False
            self._drop_monitor()

    def remove(self) -> None:
        """Remove every hook this session put on the model (idempotent)."""
        self.stop_training()
        self._drop_monitor()
        for handle in self._eval_handles:
            handle.remove()
        self._eval_handles = []
        self.model = None

    # --- internals -------------------------------------------------------------------

    def _drop_monitor(self) -> None:
        if self.monitor is not None:
            self.monitor.remove()
            self.monitor = None

    def _eval_monitor(self) -> HookMonitor:
        """The training monitor, or one that only evaluates (made on first use)."""
        if self.monitor is None:
            assert self.model is not None
            options = {**self.options, **EVAL_ONLY}
            self.monitor = attach_hooks(self.model, self.writer(), self.class_names, **options)
        return self.monitor

    def _on_forward(self, module: nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any], output: Any) -> None:
        if module.training or torch.jit.is_tracing():
            return
        self.record(lambda: self.eval_batch(module, args, kwargs, output))

    def record(self, make_batch: Callable[[], Optional[EvalBatch]]) -> None:
        """Record the batch ``make_batch()`` returns (None: nothing). An error
        warns and stops recording until the next evaluation, never raising
        into the evaluation loop."""
        if self._eval_failed:
            return
        try:
            batch = make_batch()
            if batch is not None:
                self._eval_monitor().record(*batch)
        except Exception as error:  # never raise into the evaluation loop
            self._eval_failed = True
            warnings.warn(
                f"tb_fmnist_plugin.integrations: evaluation batches are not recorded until the next evaluation: "
                f"{type(error).__name__}: {error}",
                RuntimeWarning,
                stacklevel=3,
            )

    def _on_training_forward(self, module: nn.Module, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        if not module.training or torch.jit.is_tracing():
            return
        inputs = self.graph_input(module, args, kwargs)
        if inputs is None:
            return
        self._graph_handle.remove()
        self._graph_handle = None
        if self.monitor is not None:
            self.monitor.log_graph(inputs, self.graph_module())  # warns, never raises


def optional_callable(value: Optional[Callable], name: str) -> Optional[Callable]:
    """``value`` if it is None or callable, else ``TypeError``."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be a callable taking the batch, got {type(value).__name__}")
    return value
