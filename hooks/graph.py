"""Writing the model graph once, without disturbing training.

While a trace runs, :func:`tracing` is true, and every monitor's hooks (not
only the tracing monitor's) ignore the forwards it makes.
"""
from __future__ import annotations

import warnings
from typing import Any, Tuple

import torch
from torch import nn

_traces = 0  # graph traces running now, of any monitor


def tracing() -> bool:
    """Whether a graph trace runs now: hooks of every monitor stay silent."""
    return _traces > 0


def _device_of(model: nn.Module) -> torch.device:
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


def _to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, device) for v in value)
    return value


def write_graph(writer: Any, model: nn.Module, inputs: Tuple[Any, ...]) -> None:
    """``writer.add_graph(model, inputs)`` in eval mode, on the model's device,
    without autocast, gradients or RNG side effects; every module's training
    flag is restored afterwards; :func:`tracing` is true meanwhile. Raises
    whatever tracing raises."""
    global _traces
    device = _device_of(model)
    inputs = _to_device(tuple(inputs), device)
    modes = [(m, m.training) for m in model.modules()]
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    _traces += 1
    try:
        model.eval()
        with torch.random.fork_rng(devices=devices), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autocast(device_type=device.type, enabled=False):
                writer.add_graph(model, inputs[0] if len(inputs) == 1 else inputs)
    finally:
        _traces -= 1
        for module, mode in modes:
            module.training = mode
