"""The user's model and optimizer inside the wrappers frameworks put around them.

Hooks go on the innermost objects, so tags never carry a wrapper's prefix and
the optimizer's step hooks live where ``step()`` really runs. The model and
optimizer given to ``attach_hooks`` are checked here, once unwrapped.
"""
from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

#: How many ``.optimizer`` links :func:`unwrap_optimizer` follows at most.
MAX_OPTIMIZER_WRAPPERS = 8


def unwrap_model(model: nn.Module) -> nn.Module:
    """The user's module inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model._orig_mod, nn.Module):
            model = model._orig_mod
        else:
            return model


def unwrap_optimizer(optimizer: Any) -> Any:
    """The innermost ``torch.optim.Optimizer`` behind wrappers that keep it in
    ``.optimizer`` (accelerate's ``AcceleratedOptimizer``, Lightning's
    ``LightningOptimizer``, hand-written ones), or ``optimizer`` itself.

    Follows ``.optimizer`` at most :data:`MAX_OPTIMIZER_WRAPPERS` times. Some
    wrappers subclass ``Optimizer`` without its state, so the innermost
    ``Optimizer`` on the chain is taken, not the first.
    """
    chain = [optimizer]
    for _ in range(MAX_OPTIMIZER_WRAPPERS):
        inner = getattr(chain[-1], "optimizer", None)
        if inner is None or any(inner is seen for seen in chain):
            break
        chain.append(inner)
    optimizers = [o for o in chain if isinstance(o, torch.optim.Optimizer)]
    return optimizers[-1] if optimizers else optimizer


def check_model(model: Any) -> None:
    """An eager ``nn.Module``: TorchScript runs no Python hooks."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if isinstance(unwrap_model(model), torch.jit.ScriptModule):
        raise TypeError(
            f"model is a TorchScript module ({type(unwrap_model(model)).__name__}, made by torch.jit.script or "
            "torch.jit.trace), whose forward calls no Python hooks, so nothing could be logged. Pass the eager "
            "module to attach_hooks and script or trace a copy of it for export (torch.compile keeps the hooks)"
        )


def check_optimizer(optimizer: Any) -> Optional[torch.optim.Optimizer]:
    """The optimizer to hook (unwrapped), or None; raises for a non-optimizer."""
    if optimizer is None:
        return None
    inner = unwrap_optimizer(optimizer)
    if not (
        callable(getattr(inner, "register_step_pre_hook", None))
        and callable(getattr(inner, "register_step_post_hook", None))
    ):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    return inner
