"""Training-side hooks: step counting, activation/gradient/weight statistics.

Only a root-module forward pre/post hook and (with an optimizer) step pre/post
hooks stay registered. On a logging step the per-module forward hooks (and,
without an optimizer, per-parameter post-accumulate-grad hooks) are added for
that step only and removed again, so a non-logging step costs a counter check.

Statistics are :class:`~tb_fmnist_plugin.hooks.rows.Row` s computed on the
device as the values appear; at the end of the logging step all rows go to the
CPU in one transfer per device and are written (:mod:`.rows`).
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

from . import stats
from .graph import write_graph
from .options import HookOptions
from .rows import Row, RowKind, write_rows


def _walk_tensors(value: Any, path: str = "") -> List[Tuple[str, torch.Tensor]]:
    """Floating-point tensors in a (nested) output with a path suffix each."""
    if isinstance(value, torch.Tensor):
        return [(path, value)] if value.is_floating_point() else []
    found: List[Tuple[str, torch.Tensor]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_walk_tensors(item, f"{path}/{key}"))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            found.extend(_walk_tensors(item, f"{path}/{index}"))
    return found


class TrainingHooks:
    """Registers and runs the training-side hooks of one monitor."""

    def __init__(
        self,
        root: nn.Module,
        writer_fn: Callable[[], Any],
        optimizer: Optional[torch.optim.Optimizer],
        options: HookOptions,
        example_input: Any = None,
    ) -> None:
        self.modules = options.select_modules(root)  # raises for unknown names, before any hook exists
        self.parameters = list(root.named_parameters())
        self.root = root
        self.writer_fn = writer_fn
        self.optimizer = optimizer
        self.log_every = options.log_every
        self.bins = options.histogram_bins
        self.sample = options.histogram_sample
        self.enabled = {
            "activations": options.log_activations and bool(self.modules),
            "gradients": options.log_gradients,
            "weights": options.log_weights,
            "updates": options.log_updates,
            "graph": options.log_graph,
            "writing": True,
        }
        self.example_input = example_input
        self.step = 0
        self.graph_done = not options.log_graph
        self.tracing = False
        self.nonfinite_reported = False
        self._rows: List[Row] = []
        self._snapshot: Dict[str, torch.Tensor] = {}
        self._capture_handles: List[Any] = []
        self._grad_handles: List[Any] = []
        self._calls: Dict[str, int] = {}
        self._captured = False
        self._pending_step: Optional[int] = None  # no-optimizer mode
        self._handles: List[Any] = [
            root.register_forward_pre_hook(self._root_pre),
            root.register_forward_hook(self._root_post),
        ]
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(self._optimizer_pre))
            self._handles.append(optimizer.register_step_post_hook(self._optimizer_post))

    # --- failure handling --------------------------------------------------

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
            self._stop_capture()

    def _writing(self) -> bool:
        return self.enabled["writing"] and self.writer_fn() is not None

    # --- root module hooks ---------------------------------------------------

    def _root_pre(self, module: nn.Module, args: Tuple[Any, ...]) -> None:
        if not module.training or self.tracing:
            return
        try:
            if self._pending_step is not None:
                self._finish_pending()
            if not self.graph_done:
                self._write_graph(args)
            if self.step % self.log_every == 0 and not self._captured and self._writing():
                if self.enabled["activations"]:
                    self._start_capture()
                if self.optimizer is None:
                    self._pending_step = self.step
                    if self.enabled["updates"]:
                        self._take_snapshot(all_trainable=True)
        except Exception as error:  # never raise into the training loop
            self._fail("writing", error)

    def _root_post(self, module: nn.Module, args: Tuple[Any, ...], output: Any) -> None:
        if not module.training or self.tracing:
            return
        try:
            if self._capture_handles:
                self._stop_capture()
                self._captured = True
            if self.optimizer is None:
                if self._pending_step == self.step:
                    if self.enabled["weights"]:
                        self._add_weight_rows()
                    if self.enabled["gradients"]:
                        self._start_grad_capture()
                self.step += 1
                self._captured = False
        except Exception as error:
            self._fail("writing", error)

    # --- graph ------------------------------------------------------------------

    def _write_graph(self, args: Tuple[Any, ...]) -> None:
        self.graph_done = True
        writer = self.writer_fn()
        if writer is None or not self.enabled["graph"]:
            return
        inputs = self.example_input if self.example_input is not None else args
        if not isinstance(inputs, tuple):
            inputs = (inputs,)
        if not inputs:
            warnings.warn("tb_fmnist_plugin.hooks: no positional input to trace the graph with; graph skipped", RuntimeWarning)
            return
        self.tracing = True
        try:
            write_graph(writer, self.root, inputs)
        except Exception as error:
            warnings.warn(
                f"tb_fmnist_plugin.hooks: could not trace the model graph ({type(error).__name__}: {error}); "
                "graph skipped, training continues",
                RuntimeWarning,
                stacklevel=4,
            )
        finally:
            self.tracing = False

    # --- activations ------------------------------------------------------------

    def _start_capture(self) -> None:
        self._stop_capture()
        self._calls = {}
        for name, module in self.modules:
            self._capture_handles.append(module.register_forward_hook(self._make_activation_hook(name)))

    def _stop_capture(self) -> None:
        for handle in self._capture_handles:
            handle.remove()
        self._capture_handles = []

    def _make_activation_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Tuple[Any, ...], output: Any) -> None:
            if self.tracing or not self.enabled["activations"]:
                return
            try:
                calls = self._calls.get(name, 0)
                self._calls[name] = calls + 1
                base = name if calls == 0 else f"{name}/call{calls}"
                for suffix, tensor in _walk_tensors(output):
                    self._rows.append(self._summary_row(RowKind.ACTIVATION, base + suffix, tensor))
            except Exception as error:
                self._fail("activations", error)

        return hook

    # --- parameters -------------------------------------------------------------

    def _trainable(self) -> List[Tuple[str, nn.Parameter]]:
        return [(n, p) for n, p in self.parameters if p.requires_grad]

    def _take_snapshot(self, all_trainable: bool) -> None:
        self._snapshot = {
            n: p.detach().clone()
            for n, p in self._trainable()
            if all_trainable or p.grad is not None
        }

    def _summary_row(self, kind: RowKind, name: str, tensor: torch.Tensor) -> Row:
        return Row(kind, name, tensor.numel(), stats.summarize(tensor, self.bins, self.sample))

    def _add_weight_rows(self) -> None:
        for name, param in self._trainable():
            self._rows.append(self._summary_row(RowKind.WEIGHT, name, param))

    def _add_update_rows(self) -> None:
        params = dict(self.parameters)
        for name, old in self._snapshot.items():
            self._rows.append(Row(RowKind.UPDATE, name, old.numel(), stats.update_norms(params[name], old)))
        self._snapshot = {}

    def _start_grad_capture(self) -> None:
        self._stop_grad_capture()
        for name, param in self._trainable():
            self._grad_handles.append(param.register_post_accumulate_grad_hook(self._make_grad_hook(name)))

    def _stop_grad_capture(self) -> None:
        for handle in self._grad_handles:
            handle.remove()
        self._grad_handles = []

    def _make_grad_hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(param: torch.Tensor) -> None:
            if not self.enabled["gradients"] or param.grad is None:
                return
            try:
                # Gradient accumulation: the last backward's (accumulated) gradient wins.
                self._rows = [r for r in self._rows if not (r.kind is RowKind.GRADIENT and r.name == name)]
                self._rows.append(self._summary_row(RowKind.GRADIENT, name, param.grad))
            except Exception as error:
                self._fail("gradients", error)

        return hook

    def _finish_pending(self) -> None:
        """No-optimizer mode: close the previous logging step."""
        step, self._pending_step = self._pending_step, None
        self._stop_grad_capture()
        self._close_logging_step(step)

    def _close_logging_step(self, step: int) -> None:
        """Add the update ratios measured across the step, then write it."""
        try:
            if self._snapshot and self.enabled["updates"]:
                self._add_update_rows()
        except Exception as error:
            self._fail("updates", error)
        self._snapshot = {}
        self.flush(step)

    # --- optimizer hooks --------------------------------------------------------

    def _optimizer_pre(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if self.step % self.log_every:
            return
        try:
            if not self._writing():
                return
            if self.enabled["gradients"]:
                for name, param in self._trainable():
                    if param.grad is not None:
                        self._rows.append(self._summary_row(RowKind.GRADIENT, name, param.grad))
            if self.enabled["weights"]:
                self._add_weight_rows()
            if self.enabled["updates"]:
                self._take_snapshot(all_trainable=False)
        except Exception as error:
            self._fail("gradients", error)

    def _optimizer_post(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        step = self.step
        self.step = step + 1
        self._captured = False
        if step % self.log_every:
            return
        self._close_logging_step(step)

    # --- writing ------------------------------------------------------------------

    def pending(self) -> bool:
        return bool(self._rows) or self._pending_step is not None

    def flush_pending(self) -> None:
        """Write what a no-optimizer logging step still holds (end of training)."""
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
        """Remove every hook and drop every held tensor (idempotent)."""
        self._stop_capture()
        self._stop_grad_capture()
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._rows = []
        self._snapshot = {}
        self._pending_step = None
        self.example_input = None
        stats.clear_cache()
