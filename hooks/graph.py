"""Writing the model graph once, without disturbing training.

The trace runs on a copy of the model (:func:`trace_copy`): ``torch.jit.trace``
runs the forward several times, and a forward with side effects (a counter
buffer, a hidden state kept on the module, BatchNorm statistics) would
otherwise change the training. While a trace runs, :func:`tracing` is true,
and every monitor's hooks (not only the tracing monitor's) ignore the
forwards it makes.
"""
from __future__ import annotations

import copy
import warnings
from collections import OrderedDict
from typing import Any, Dict, Tuple

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


class CopyError(RuntimeError):
    """The model could not be copied for tracing (the original is untouched)."""


def _is_hook_dict(name: str, value: Any) -> bool:
    return isinstance(value, dict) and name.startswith("_") and ("_hooks" in name)


def trace_copy(model: nn.Module) -> nn.Module:
    """A deep copy of ``model`` to trace: buffers and Python attributes
    (hidden states, counters) copied, so the trace's forwards change only the
    copy; parameters shared (the trace only reads them, under ``no_grad``);
    no module hooks (neither the user's nor any monitor's run or count) and no
    compiled call; what a module's ``__getstate__`` leaves out (a
    LightningModule's trainer) is shared. Raises :class:`CopyError` when something in the model
    cannot be deep-copied."""
    memo: Dict[int, Any] = {}
    for module in model.modules():
        for param in module._parameters.values():
            if param is not None:
                memo[id(param)] = param
        for name, value in module.__dict__.items():
            if _is_hook_dict(name, value):
                memo[id(value)] = type(value)() if type(value) in (dict, OrderedDict) else OrderedDict()
            elif name == "_compiled_call_impl" and value is not None:
                memo[id(value)] = None
            elif isinstance(value, torch.Tensor) and not value.is_leaf:
                memo[id(value)] = value.detach().clone()  # a state kept from a forward with gradients
    try:
        copied = copy.deepcopy(model, memo)
    except Exception as error:
        raise CopyError(f"{type(error).__name__}: {error}") from error
    for original, twin in zip(model.modules(), copied.modules()):
        for name, value in original.__dict__.items():
            # What a module's __getstate__ leaves out (Lightning's trainer) is shared, not dropped.
            if value is not None and twin.__dict__.get(name) is None and name != "_compiled_call_impl":
                twin.__dict__[name] = value
    return copied


def write_graph(writer: Any, model: nn.Module, inputs: Tuple[Any, ...]) -> None:
    """``writer.add_graph`` of a :func:`trace_copy` of ``model`` in eval mode,
    on the model's device, without autocast, gradients or RNG side effects;
    :func:`tracing` is true meanwhile. Raises :class:`CopyError` when the
    model cannot be copied, else whatever tracing raises."""
    global _traces
    device = _device_of(model)
    inputs = _to_device(tuple(inputs), device)
    devices = [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    _traces += 1
    try:
        traced = trace_copy(model).eval()
        with torch.random.fork_rng(devices=devices), torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with torch.autocast(device_type=device.type, enabled=False):
                writer.add_graph(traced, inputs[0] if len(inputs) == 1 else inputs)
    finally:
        _traces -= 1
