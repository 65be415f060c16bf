"""Which forwards of the watched model are training steps, and running hook
code outside ``torch.compile`` graphs.

A forward is a training step's when the model is in training mode, gradients
are on, no graph trace runs (:func:`.graph.tracing`) and the autograd engine
is not running a backward pass (activation checkpointing recomputes the
forward there). The one no-grad forward that is a step: the first forward of
``torch.utils.checkpoint.checkpoint(..., use_reentrant=True)``, which runs
under ``no_grad`` by design.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional

import torch
from torch import nn
from torch.utils import checkpoint as _checkpoint

from . import graph

#: Frames searched upwards for the reentrant checkpoint's forward.
MAX_CHECKPOINT_FRAMES = 16
_REENTRANT_CODE = getattr(getattr(getattr(_checkpoint, "CheckpointFunction", None), "forward", None), "__code__", None)
_current_graph_task = getattr(torch._C, "_current_graph_task_id", None)
#: The calling thread's dynamo frame callback (torch >= 2.5; a C call, no dynamo import).
_frame_callback = getattr(getattr(getattr(torch._C, "_dynamo", None), "eval_frame", None), "get_eval_frame_callback", None)
_eager_runner: Optional[Callable[..., Any]] = None


def is_compiling() -> bool:
    """True while ``torch.compile`` traces the calling code (then a constant in its graph)."""
    check = getattr(torch.compiler, "is_compiling", None)
    if check is not None:
        return check()
    return bool(torch._dynamo.is_compiling())  # torch < 2.3


def in_compiled_call() -> bool:
    """True while the calling code runs under a ``torch.compile``'d call:
    traced (:func:`is_compiling`), or run untraced from compiled code, where
    the model's own frames still run code compiled earlier.

    The second case is a hook called at a graph break whose frame dynamo does
    not compile again: ``torch.compile`` compiles a frame per code object, up
    to ``torch._dynamo.config.recompile_limit`` (8) variants, then runs that
    code and every frame it calls without tracing it (run-only: dynamo's frame
    callback is ``False``, not ``None`` as in eager code or under
    ``torch.compiler.disable``). Every hook of this package is called through
    one ``CopySafeHook.__call__``, so a few compiled models with hooks use up
    its variants, and :func:`is_compiling` alone would take a later compiled
    model for an eager one. Cheap (a C call) where not traced; a constant in
    a graph."""
    if is_compiling():
        return True
    return _frame_callback is not None and _frame_callback() is not None


def _call(fn: Callable[..., Any], *args: Any) -> Any:
    return fn(*args)


def outside_graph(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)``, run eagerly also when called from code that
    ``torch.compile`` traces (a graph break there), so hook code with side
    effects (counters, writing) runs on every call instead of being traced once.

    The dynamo-disabled runner is made on first use under compile: importing
    dynamo costs seconds, and eager calls do not need it.
    """
    global _eager_runner
    if not is_compiling():
        return fn(*args)
    if _eager_runner is None:
        disable = getattr(torch.compiler, "disable", None) or torch._dynamo.disable
        _eager_runner = disable(_call)
    return _eager_runner(fn, *args)


def forget_compiled(module: nn.Module) -> None:
    """Drop the code ``torch.compile`` compiled for ``type(module).forward``,
    so its next call is compiled again and sees hooks added since: dynamo does
    not guard on hooks, so code compiled before them (for this module or
    another instance of its class) would keep running without them."""
    reset_code = getattr(torch._dynamo, "reset_code", None)
    code = getattr(getattr(type(module), "forward", None), "__code__", None)
    if reset_code is not None and code is not None:
        reset_code(code)


def in_backward() -> bool:
    """Whether the autograd engine runs a backward pass on this thread."""
    return _current_graph_task is not None and _current_graph_task() != -1


def in_reentrant_checkpoint() -> bool:
    """Whether this call runs inside ``checkpoint(..., use_reentrant=True)``'s
    first (no-grad) forward."""
    frame = sys._getframe(1)
    for _ in range(MAX_CHECKPOINT_FRAMES):
        if frame is None or _REENTRANT_CODE is None:
            return False
        if frame.f_code is _REENTRANT_CODE:
            return True
        frame = frame.f_back
    return False


def is_training_forward(module: nn.Module) -> bool:
    """Whether a forward of ``module`` starting or ending now is a training
    step's (see the module docstring). Cheap: a few flag reads."""
    if not module.training or graph.tracing() or in_backward():
        return False
    return torch.is_grad_enabled() or in_reentrant_checkpoint()
