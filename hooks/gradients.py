"""Gradients of a logging step, read when they are complete.

On a logging step every trainable parameter gets a post-accumulate-grad hook
(removed when the step closes). A hook only notes its parameter and, once
per backward pass, queues a callback at the end of that backward, which
queues the read itself: so the gradients are read after every other
end-of-backward callback (DistributedDataParallel's averaging among them),
once per backward, and the last backward of the step wins (gradient
accumulation: the accumulated gradient; ``optimizer.step(closure)``: the
closure's). That is before anything the user does between ``backward()`` and
``optimizer.step()``, such as ``clip_grad_norm_``, so ``gradients/*`` are the
gradients before clipping, and :meth:`GradientCapture.at_step` measures the
global norm the optimizer step sees, logged as
``gradients/clipped_global_norm`` where it differs.

Gradients scaled by a loss scale (a ``GradScaler``) are divided by it: the
scale passed (``grad_scaler=``), else that of a ``GradScaler.step`` running
the optimizer step (:func:`.amp.running_scaler`), else, when the step sees
the same gradients divided by an exact power of two, that factor.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, List, Optional, Set

import torch

from . import stats
from .handles import copy_safe
from .parameters import ParameterStats
from .rows import Row, RowKind

_SUM_SQUARES = stats.FIELDS.index("sum_squares")
#: Relative difference of squared global norms below which the step's gradients are the backward's.
SAME = 1e-6
_engine = torch.autograd.Variable._execution_engine
_current_graph_task = getattr(torch._C, "_current_graph_task_id", None)

CLIPPED_TAG = "gradients/clipped_global_norm"


def sum_squares(grads: List[torch.Tensor]) -> Optional[torch.Tensor]:
    """Sum of the squares of every gradient (float64 on the first one's
    device), reduced as :func:`.stats.summarize` reduces them; None without any."""
    total: Optional[torch.Tensor] = None
    for grad in grads:
        x = stats.flat_view(stats.stored_values(grad.detach()))
        for chunk in (x.split(stats.CHUNK) if x.numel() > stats.CHUNK else (x,)):
            chunk = chunk if chunk.dtype in (torch.float32, torch.float64) else chunk.float()
            part = torch.dot(chunk, chunk).to(torch.float64)
            total = part if total is None else total + part.to(total.device)
    return total


class GradientCapture:
    """The gradient rows of one logging step (see the module doc)."""

    def __init__(self, params: ParameterStats, enabled: Dict[str, bool], fail: Callable[[str, BaseException], None]) -> None:
        self.params = params
        self.enabled = enabled
        self.fail = fail
        self.rows: Dict[str, Row] = {}
        self.backwards = 0  # backward passes that reached the parameters since start()
        self.scale: Optional[torch.Tensor] = None  # the known loss scale of the step's backward
        self._order: Dict[str, int] = {}
        self._touched: Set[str] = set()
        self._queued: Set[int] = set()
        self._handles: List[Any] = []
        self._step_view: Optional[torch.Tensor] = None  # squared global norm at the optimizer step
        self._backward_view: Optional[torch.Tensor] = None  # squared global norm of the rows then
        self._step_scale: Optional[torch.Tensor] = None  # a scaler found at the step
        self._backwards_at_step = -1

    @property
    def active(self) -> bool:
        return bool(self._handles)

    def start(self, scale: Optional[torch.Tensor]) -> None:
        """Hook every trainable parameter until :meth:`finish`."""
        self.stop()
        self.clear()
        self.scale = scale
        named = self.params.trainable()
        self._order = {name: index for index, (name, _) in enumerate(named)}
        self._handles = [param.register_post_accumulate_grad_hook(copy_safe(self._make_hook(name))) for name, param in named]

    def stop(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def clear(self) -> None:
        self.rows = {}
        self.backwards = 0
        self.scale = None
        self._touched = set()
        self._queued = set()
        self._step_view = self._backward_view = self._step_scale = None
        self._backwards_at_step = -1

    def _make_hook(self, name: str) -> Callable[[torch.Tensor], None]:
        def hook(param: torch.Tensor) -> None:
            try:
                self._touched.add(name)
                task = _current_graph_task() if _current_graph_task is not None else -1
                if task not in self._queued:
                    self._queued.add(task)
                    _engine.queue_callback(lambda: _engine.queue_callback(lambda: self._read(task)))
            except Exception as error:
                self.fail("gradients", error)

        return hook

    def _read(self, task: int) -> None:
        """End of a backward: the row of every gradient it accumulated into."""
        try:
            self._queued.discard(task)
            self.backwards += 1
            touched, self._touched = self._touched, set()
            if not self.enabled["gradients"]:
                return
            params = dict(self.params.trainable())
            for name in touched:
                param = params.get(name)
                if param is not None and param.grad is not None:
                    for row in self.params.gradient(name, param.grad, self.scale):
                        self.rows[name] = row
        except Exception as error:
            self.fail("gradients", error)

    def at_step(self, scale_at_step: Optional[torch.Tensor], fused_scale: Optional[torch.Tensor]) -> None:
        """Optimizer step pre-hook: the squared global norm of the gradients
        the step sees (divided by ``fused_scale``, a fused optimizer's pending
        loss scale) and of the rows; ``scale_at_step``: the loss scale of a
        ``GradScaler`` found running the step, when none was passed."""
        if not self.rows:
            return
        try:
            params = dict(self.params.trainable())
            grads = [params[name].grad for name in self.rows if name in params and params[name].grad is not None]
            view = sum_squares(grads)
            if view is not None and fused_scale is not None:
                view = view / fused_scale.to(view.device, torch.float64).square()
            self._step_view = view
            self._backward_view = self._row_squares()
            self._step_scale = scale_at_step if self.scale is None else None
            self._backwards_at_step = self.backwards
        except Exception as error:
            self.fail("gradients", error)

    def _row_squares(self) -> Optional[torch.Tensor]:
        values = [row.values[_SUM_SQUARES] for row in self.rows.values()]
        return torch.stack([v.to(values[0].device) for v in values]).sum() if values else None

    def finish(self, stepped: bool) -> List[Row]:
        """The step's gradient rows (in parameter order) and, where the
        optimizer step saw other gradients, the clipped norm; clears.
        ``stepped``: whether the optimizer step ran (with an optimizer)."""
        self.stop()
        rows = [self.rows[name] for name in sorted(self.rows, key=lambda n: self._order.get(n, 0))] if stepped else []
        extra: List[Row] = []
        try:
            if rows and self._step_scale is not None:
                rows = [self._unscaled(row, self._step_scale) for row in rows]
            if rows and self._step_view is not None and self._backward_view is not None and self._backwards_at_step == self.backwards:
                rows, extra = self._compare(rows)
        except Exception as error:
            self.fail("gradients", error)
        self.clear()
        return rows + extra

    @staticmethod
    def _unscaled(row: Row, scale: torch.Tensor) -> Row:
        return Row(row.kind, row.name, row.numel, stats.unscale(row.values, scale))

    def _compare(self, rows: List[Row]) -> "tuple[List[Row], List[Row]]":
        """One transfer: the backward's and the step's squared global norms."""
        backward, step = self._backward_view, self._step_view
        assert backward is not None and step is not None
        if self._step_scale is not None:
            backward = backward / self._step_scale.to(backward.device, torch.float64).square()
        before, after = torch.stack([backward, step.to(backward.device)]).tolist()
        if not (math.isfinite(before) and math.isfinite(after)) or abs(before - after) <= SAME * max(before, after):
            return rows, []
        if self.scale is None and self._step_scale is None and after > 0:
            power = round(math.log(before / after, 4))
            if power >= 1 and abs(before / after / 4.0 ** power - 1) <= SAME:
                # A GradScaler nobody told us about unscaled the gradients between backward and step.
                factor = torch.tensor(2.0 ** power, dtype=torch.float64)
                return [self._unscaled(row, factor) for row in rows], []
        clipped = torch.tensor([math.sqrt(after)], dtype=torch.float64)
        return rows, [Row(RowKind.SCALAR, CLIPPED_TAG, 1, clipped)]


def unchanged(updates: List[Row]) -> bool:
    """Whether no parameter of these update rows changed (one transfer; False without rows)."""
    if not updates:
        return False
    deltas = torch.stack([row.values[0].to(updates[0].values.device) for row in updates])
    return not bool(deltas.count_nonzero())
