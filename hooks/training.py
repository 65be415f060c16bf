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
from .amp import ScalerWatch, loss_scale, running_scaler
from .gradients import GradientCapture, unchanged
from .graph import CopyError, write_graph
from .handles import copy_safe
from .options import HookOptions
from .parameters import ParameterStats
from .rows import Row, RowKind, write_rows
from .training_warnings import WARNINGS


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
        self._pre_ran = False  # optimizer mode: the logging step's optimizer step ran
        self._provisional: List[Row] = []  # gradients read at the step, where none were read after a backward
        self.activations = ActivationCapture(
            modules, self._summary_row, lambda row: self._rows.append(row), lambda e: self._fail("activations", e)
        )
        self.params = ParameterStats(root, self.bins, self.sample, self.enabled, self._fail)
        self.grads = GradientCapture(self.params, self.enabled, self._fail)
        self.scaler = ScalerWatch(grad_scaler) if grad_scaler is not None else None
        self._handles: List[Any] = [
            root.register_forward_pre_hook(copy_safe(self._pre_hook)),
            root.register_forward_hook(copy_safe(self._post_hook)),
        ]
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(copy_safe(self._optimizer_pre)))
            self._handles.append(optimizer.register_step_post_hook(copy_safe(self._optimizer_post)))

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
        forwards.outside_graph(self._root_pre, module, args, forwards.in_compiled_call())

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
            if self.step % self.log_every == 0 and not self._captured and self._pending_step is None:
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

    def _start_capture(self) -> None:
        """Optimizer mode: read the gradients after each backward until the
        step closes (rank 0; not for sharded parameters, whose gradients are
        complete only at the step)."""
        if self.options.log_gradients and self._writing() and not (sharded.is_fsdp_model(self.root) or self.params.lockstep()):
            self.grads.start(self.scaler.scale() if self.scaler is not None else None)

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
                    if here and (self.enabled["gradients"] or self.options.log_updates) and not self._sharded_without_optimizer():
                        self._step_scale = self.scaler.scale() if self.scaler is not None else None
                        self.grads.start(self._step_scale)
                self.step += 1
                self._captured = False
            elif self.step % self.log_every == 0 and not self.grads.active:
                self._start_capture()  # after the forward: hooking parameters makes compiled code recompile
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
        except CopyError as error:
            warnings.warn(
                f"tb_fmnist_plugin.hooks: graph not logged: could not copy the model to trace it without changing "
                f"its state ({error}). Make the model deep-copyable, or trace a module that is with "
                "monitor.log_graph(example_input, module=...), or pass log_graph=False",
                RuntimeWarning,
                stacklevel=stacklevel,
            )
            return False
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

    def _finish_pending(self) -> None:
        """No-optimizer mode: close the previous logging step."""
        step, self._pending_step = self._pending_step, None
        if self.grads.active and self.grads.backwards == 0:  # another training forward before any backward
            self._warn_once("forwards per step", step=step, why="the next training forward came before any backward")
            self.grads.clear()
            self.params.clear()
        self._close_logging_step(step)

    def _close_logging_step(self, step: int) -> None:
        """Add the step's gradients, the update ratios measured across the
        step and the scaler's rows, then write the step (rank 0)."""
        here = self._writing()
        gradients = self.grads.finish(stepped=self.optimizer is None or self._pre_ran) or self._provisional
        self._provisional = []
        try:
            updates = self.params.updates(here) if self.params.snapshot else []
            if self.optimizer is None and self.scaler is None and unchanged(updates):
                why = "no trainable parameter changed before the next training forward"
                self._warn_once("forwards per step", step=step, why=why)
                updates, gradients = [], []
            self._rows.extend(gradients + updates)
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
            self._pre_ran = True
            # A fused optimizer under a GradScaler unscales inside step(): its gradients are still scaled.
            fused_scale = getattr(optimizer, "grad_scale", None)
            fused_scale = fused_scale if isinstance(fused_scale, torch.Tensor) else None
            if self.options.log_gradients and self.grads.rows:  # read after the last backward: compare
                found = running_scaler() if self.scaler is None else None
                self.grads.at_step(loss_scale(found) if found is not None else None, fused_scale)
            elif self.options.log_gradients:  # none read after a backward yet: a closure's comes next
                self._provisional = self.params.gradients(here, fused_scale)
                if not self.grads.active:
                    self._start_capture()
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
        if self._pre_ran and not self._forward_seen and self.enabled["activations"] and self._writing():
            self._warn_once("no forward", step=self.step)
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
        self._pre_ran = False

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
        self.grads.stop()
        self.grads.clear()
        self._provisional = []
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._rows = []
        self.params.clear()
        self._pending_step = None
        self._step_scale = None
        self.example_input = None
        stats.clear_cache()
