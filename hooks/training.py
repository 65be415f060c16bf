"""Training-side hooks: which forwards and optimizer steps are steps, when a
step logs, and writing it.

Only a root-module forward pre/post hook and (with an optimizer) step pre/post
hooks stay registered; they check a counter and return on steps that do not
log. A logging step captures activations (:mod:`.activations`) and, without an
optimizer, adds per-parameter post-accumulate-grad hooks for that step only;
parameter statistics come from :mod:`.parameters`. Hook code runs outside
``torch.compile`` graphs (:func:`.forwards.outside_graph`).

Statistics are :class:`~tb_fmnist_plugin.hooks.rows.Row` s computed on the
device as the values appear; at the end of the logging step all rows go to the
CPU in one transfer per device and are written (:mod:`.rows`).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import torch
from torch import nn

from . import forwards, sharded, stats
from .activations import ActivationCapture
from .amp import ScalerWatch
from .graph import write_graph
from .options import HookOptions
from .parameters import ParameterStats
from .rows import Row, RowKind, write_rows

#: One-time warnings: key -> message.
WARNINGS = {
    "compiled without module hooks": (
        "activation statistics are not logged: the compiled model does not call the per-module hooks (code that "
        "torch.compile compiled before attach_hooks does not see hooks added afterwards). Call attach_hooks "
        "before torch.compile"
    ),
    "no forward": (
        "activation statistics and the graph are not logged: no training forward of the model reached the hooks "
        "before optimizer step {step}. Code that torch.compile compiled before attach_hooks (a compiled function "
        "calling the model, or a compiled torch.nn container such as nn.Sequential) does not call hooks added "
        "afterwards: call attach_hooks before torch.compile"
    ),
    "sharded without optimizer": (
        "gradients and update ratios are not logged: the model is sharded with FSDP2 (fully_shard) and no "
        "optimizer= was passed, and without it they would be read per rank before FSDP reduces and shards them. "
        "Pass optimizer= to attach_hooks"
    ),
    "sharded graph": (
        "graph not logged: the model is sharded with FSDP2 (fully_shard), and tracing it on rank 0 alone would "
        "run all-gathers that the other ranks do not join"
    ),
}


class TrainingHooks:
    """Registers and runs the training-side hooks of one monitor."""

    def __init__(
        self,
        root: nn.Module,
        writer_fn: Callable[[], Any],
        optimizer: Optional[torch.optim.Optimizer],
        options: HookOptions,
        example_input: Any = None,
        grad_scaler: Any = None,
    ) -> None:
        modules = options.select_modules(root)  # raises for unknown names, before any hook exists
        self.root = root
        self.writer_fn = writer_fn
        self.optimizer = optimizer
        self.options = options
        self.log_every = options.log_every
        self.bins = options.histogram_bins
        self.sample = options.histogram_sample
        self.enabled = {
            "activations": options.log_activations and bool(modules),
            "gradients": options.log_gradients,
            "weights": options.log_weights,
            "updates": options.log_updates,
            "graph": options.log_graph,
            "writing": True,
        }
        self.example_input = example_input
        self.step = 0
        self.graph_done = not options.log_graph
        self.removed = False
        self.nonfinite_reported = False
        self._warned: Set[str] = set()
        self._rows: List[Row] = []
        self._captured = False  # this step's activations are taken (optimizer mode: until its step)
        self._forward_seen = False  # a training forward reached the hooks since the last optimizer step
        self._stepped = False  # an optimizer step ran since the scaler's last update()
        self._pending_step: Optional[int] = None  # no-optimizer mode: the logging step being watched
        self._step_scale: Optional[torch.Tensor] = None  # the loss scale of the logging step's backward
        self._grad_handles: List[Any] = []
        self.activations = ActivationCapture(
            modules, self._summary_row, lambda row: self._rows.append(row), lambda e: self._fail("activations", e)
        )
        self.params = ParameterStats(root, self.bins, self.sample, self.enabled, self._fail)
        self.scaler = ScalerWatch(grad_scaler) if grad_scaler is not None else None
        self._handles: List[Any] = [
            root.register_forward_pre_hook(self._pre_hook),
            root.register_forward_hook(self._post_hook),
        ]
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(self._optimizer_pre))
            self._handles.append(optimizer.register_step_post_hook(self._optimizer_post))

    @property
    def _snapshot(self) -> Dict[str, torch.Tensor]:
        return self.params.snapshot

    # --- failure handling and warnings ---------------------------------------

    def _fail(self, part: str, error: BaseException) -> None:
        """Disable ``part`` after an error, with one warning; never raises."""
        if self.enabled.get(part, False):
            self.enabled[part] = False
            warnings.warn(
                f"tb_fmnist_plugin.hooks: {part} logging disabled after an error: {type(error).__name__}: {error}",
                RuntimeWarning,
                stacklevel=3,
            )
        if part in ("activations", "writing"):
            self.activations.stop()

    def _warn_once(self, key: str, **values: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"tb_fmnist_plugin.hooks: {WARNINGS[key].format(**values)}", RuntimeWarning, stacklevel=3)

    def _writing(self) -> bool:
        """Whether this rank computes and writes statistics (rank 0, writer alive)."""
        return self.enabled["writing"] and self.writer_fn() is not None

    def _sharded_without_optimizer(self) -> bool:
        if self.optimizer is not None or not (self.options.log_gradients or self.options.log_updates):
            return False
        if not (sharded.is_fsdp_model(self.root) or self.params.lockstep()):
            return False
        if self._writing():
            self._warn_once("sharded without optimizer")
        return True

    # --- root module hooks (outside compiled graphs) ---------------------------

    def _pre_hook(self, module: nn.Module, args: Tuple[Any, ...]) -> None:
        forwards.outside_graph(self._root_pre, module, args, forwards.is_compiling())

    def _post_hook(self, module: nn.Module, args: Tuple[Any, ...], output: Any) -> None:
        forwards.outside_graph(self._root_post, module)

    def _root_pre(self, module: nn.Module, args: Tuple[Any, ...], compiling: bool) -> None:
        if self.removed or not forwards.is_training_forward(module):
            return
        try:
            self._poll_scaler()
            self._forward_seen = True
            if self._pending_step is not None:
                self._finish_pending()
            if not self.graph_done:
                self._write_graph(args)
            if self.step % self.log_every == 0 and not self._captured:
                self._start_logging_forward(compiling)
        except Exception as error:  # never raise into the training loop
            self._fail("writing", error)

    def _start_logging_forward(self, compiling: bool) -> None:
        here = self._writing()
        if here and self.enabled["activations"]:
            if compiling and not self.activations.permanent:
                forwards.forget_compiled(self.root)
            self.activations.start(compiling)
        if self.optimizer is None:
            self._pending_step = self.step  # on every rank: sharded weights are gathered by all
            if self.options.log_updates and not self._sharded_without_optimizer():
                self.params.take_snapshot(here and self.enabled["updates"], all_trainable=True)

    def _root_post(self, module: nn.Module) -> None:
        if self.removed or not forwards.is_training_forward(module):
            return
        try:
            if self.activations.active:
                if not self.activations.stop() and self.activations.permanent:
                    self._warn_once("compiled without module hooks")
                    self.enabled["activations"] = False
                self._captured = True
            if self.optimizer is None:
                if self._pending_step == self.step:
                    here = self._writing()
                    if self.options.log_weights:
                        self._rows.extend(self.params.weights(here))
                    if here and self.enabled["gradients"] and not self._sharded_without_optimizer():
                        self._step_scale = self.scaler.scale() if self.scaler is not None else None
                        self._start_grad_capture()
                self.step += 1
                self._captured = False
        except Exception as error:
            self._fail("writing", error)

    # --- graph ------------------------------------------------------------------

    def _write_graph(self, args: Tuple[Any, ...]) -> None:
        self.graph_done = True
        if self.enabled["graph"]:
            self.trace_graph(self.example_input if self.example_input is not None else args, self.root, stacklevel=5)

    def trace_graph(self, inputs: Any, module: nn.Module, stacklevel: int) -> bool:
        """Write ``module``'s graph traced from ``inputs`` (a value or a tuple
        of positional inputs) on the writing rank; whether it was written.
        Never raises: a sharded model, no inputs or a failing trace warn."""
        self.graph_done = True
        writer = self.writer_fn()
        if writer is None:
            return False
        if sharded.is_fsdp_model(self.root) or self.params.lockstep():
            self._warn_once("sharded graph")
            return False
        if not isinstance(inputs, tuple):
            inputs = (inputs,)
        if not inputs:
            warnings.warn("tb_fmnist_plugin.hooks: no positional input to trace the graph with; graph skipped",
                          RuntimeWarning, stacklevel=stacklevel)
            return False
        try:
            write_graph(writer, module, inputs)
        except Exception as error:
            warnings.warn(
                f"tb_fmnist_plugin.hooks: could not trace the model graph ({type(error).__name__}: {error}); "
                "graph skipped, training continues",
                RuntimeWarning,
                stacklevel=stacklevel,
            )
            return False
        return True

    # --- statistics rows ------------------------------------------------------------

    def _summary_row(self, kind: RowKind, name: str, tensor: torch.Tensor) -> Row:
        return Row(kind, name, tensor.numel(), stats.summarize(tensor, self.bins, self.sample))

    def _start_grad_capture(self) -> None:
        self._stop_grad_capture()
        for name, param in self.params.trainable():
            self._grad_handles.append(param.register_post_accumulate_grad_hook(self._make_grad_hook(name)))

    def _stop_grad_capture(self) -> None:
        for handle in self._grad_handles:
            handle.remove()
        self._grad_handles = []

    def _make_grad_hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(param: torch.Tensor) -> None:
            if self.removed or not self.enabled["gradients"] or param.grad is None:
                return
            try:
                # Gradient accumulation: the last backward's (accumulated) gradient wins.
                self._rows = [r for r in self._rows if not (r.kind is RowKind.GRADIENT and r.name == name)]
                self._rows.extend(self.params.gradient(name, param.grad, self._step_scale))
            except Exception as error:
                self._fail("gradients", error)

        return hook

    def _finish_pending(self) -> None:
        """No-optimizer mode: close the previous logging step."""
        step, self._pending_step = self._pending_step, None
        self._stop_grad_capture()
        self._close_logging_step(step)

    def _close_logging_step(self, step: int) -> None:
        """Add the update ratios measured across the step and the scaler's
        rows, then write the step (rank 0)."""
        here = self._writing()
        try:
            if self.params.snapshot:
                self._rows.extend(self.params.updates(here))
        except Exception as error:
            self._fail("updates", error)
        self.params.clear()
        if self.scaler is not None:
            rows = self.scaler.rows(self._step_scale)
            if here:
                self._rows.extend(rows)
        self._step_scale = None
        self.flush(step)

    # --- optimizer hooks and the scaler ----------------------------------------------

    def _optimizer_pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self.removed or self.step % self.log_every:
            return
        try:
            here = self._writing()
            if not (here or self.params.lockstep()):
                return
            if here and not self._forward_seen and self.enabled["activations"]:
                self._warn_once("no forward", step=self.step)
            # A fused optimizer under a GradScaler unscales inside step(): its gradients are still scaled.
            fused_scale = getattr(optimizer, "grad_scale", None)
            fused_scale = fused_scale if isinstance(fused_scale, torch.Tensor) else None
            if self.options.log_gradients:
                self._rows.extend(self.params.gradients(here, fused_scale))
            if self.options.log_weights:
                self._rows.extend(self.params.weights(here))
            if self.options.log_updates:
                self.params.take_snapshot(here and self.enabled["updates"], all_trainable=False)
            if self.scaler is not None:
                self._step_scale = self.scaler.scale()
        except Exception as error:
            self._fail("gradients", error)

    def _optimizer_post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self.removed:
            return
        self._stepped = True
        self._end_iteration()

    def _end_iteration(self) -> None:
        """Optimizer mode: count the step; close it if it was a logging step."""
        step = self.step
        self.step = step + 1
        self._captured = False
        self._forward_seen = False
        if step % self.log_every == 0:
            self._close_logging_step(step)

    def _poll_scaler(self) -> None:
        """After ``scaler.update()``: with an optimizer, an iteration without
        an optimizer step was skipped by the scaler; it still counts as a step
        (and a logging step is written with what it has, alone)."""
        if self.scaler is None or not self.scaler.poll():
            return
        stepped, self._stepped = self._stepped, False
        if self.optimizer is not None and not stepped:
            self._end_iteration()

    # --- writing ------------------------------------------------------------------

    def pending(self) -> bool:
        return bool(self._rows) or self._pending_step is not None

    def flush_pending(self) -> None:
        """Write what a logging step still holds (end of training)."""
        if self.removed:
            return
        self._poll_scaler()
        if self._pending_step is not None:
            self._finish_pending()

    def flush(self, step: int) -> None:
        """Move every held row to the CPU (one transfer per device) and write."""
        rows, self._rows = self._rows, []
        writer = self.writer_fn()
        if not rows or writer is None or not self.enabled["writing"]:
            return
        try:
            self._write_rows(writer, rows, step)
        except Exception as error:
            self._fail("writing", error)

    def _write_rows(self, writer: Any, rows: List[Row], step: int) -> None:
        first_bad = write_rows(writer, rows, step, self.bins)
        if first_bad is not None and not self.nonfinite_reported:
            self.nonfinite_reported = True
            message = f"first non-finite (NaN/Inf) activation at step {step}: layer '{first_bad}' (first in forward order)"
            warnings.warn(f"tb_fmnist_plugin.hooks: {message}", RuntimeWarning, stacklevel=2)
            writer.add_text("nonfinite/first_layer", message, step)

    # --- teardown -------------------------------------------------------------------

    def remove(self) -> None:
        """Remove every hook and drop every held tensor (idempotent). Code
        compiled while the hooks were attached may still call them (dynamo
        does not guard on hooks): they return at once."""
        self.removed = True
        self.activations.remove()
        self._stop_grad_capture()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._rows = []
        self.params.clear()
        self._pending_step = None
        self._step_scale = None
        self.example_input = None
        stats.clear_cache()
