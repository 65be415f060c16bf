"""The user's model and optimizer inside the wrappers frameworks put around them.

Hooks go on the innermost objects, so tags never carry a wrapper's prefix and
the optimizer's step hooks live where ``step()`` really runs.
"""
from __future__ import annotations

from typing import Any

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
