"""Shared helpers for the hooks tests: tiny models, a training loop, reading
event files back through TensorBoard's EventAccumulator."""
from __future__ import annotations

from typing import Dict, List

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

SIZE_GUIDANCE = {"scalars": 0, "histograms": 0, "images": 0, "tensors": 0, "compressedHistograms": 0}


def load(logdir: str) -> EventAccumulator:
    accumulator = EventAccumulator(str(logdir), size_guidance=SIZE_GUIDANCE)
    accumulator.Reload()
    return accumulator


def scalars(acc: EventAccumulator, tag: str) -> Dict[int, float]:
    return {event.step: event.value for event in acc.Scalars(tag)}


def batches(count: int, batch: int = 8, seed: int = 0, shape=(1, 28, 28), classes: int = 10) -> List:
    generator = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(batch, *shape, generator=generator), torch.randint(0, classes, (batch,), generator=generator))
        for _ in range(count)
    ]


def train(model: nn.Module, optimizer, data, accumulate: int = 1, loss_of=None, autocast: bool = False):
    """Plain training loop; returns (outputs, losses, grads after each step)."""
    loss_of = loss_of or (lambda out, y: nn.functional.cross_entropy(out, y))
    outputs, losses, grads = [], [], []
    model.train()
    for i, (x, y) in enumerate(data):
        if i % accumulate == 0:
            optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
            out = model(x)
            loss = loss_of(out, y)
        (loss / accumulate).backward()
        outputs.append(out.detach().clone() if isinstance(out, torch.Tensor) else out)
        losses.append(loss.detach().clone())
        if (i + 1) % accumulate == 0:
            grads.append([p.grad.clone() if p.grad is not None else None for p in model.parameters()])
            optimizer.step()
    return outputs, losses, grads


def hook_counts(model: nn.Module, optimizer=None) -> int:
    """Every hook registered on the model's modules, parameters and optimizer."""
    total = 0
    for module in model.modules():
        for name in ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks"):
            total += len(getattr(module, name))
    for param in model.parameters():
        total += len(getattr(param, "_post_accumulate_grad_hooks", None) or {})
        total += len(getattr(param, "_backward_hooks", None) or {})
    if optimizer is not None:
        total += len(optimizer._optimizer_step_pre_hooks) + len(optimizer._optimizer_step_post_hooks)
    return total
