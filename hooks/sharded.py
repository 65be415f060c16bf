"""Parameters sharded by FSDP2 (``torch.distributed.fsdp.fully_shard``).

Their parameters and gradients are ``DTensor`` s: each rank holds a shard.
Statistics of the full tensor need every rank: :func:`full` all-gathers one
tensor (every rank calls it, in the same order), :func:`sum_over_shards` adds
per-shard partial sums. Everything else here is local.
"""
from __future__ import annotations

import sys
from typing import Any, Iterable

import torch
from torch import nn

#: Modules defining ``DTensor`` (new, old torch). Looked up in ``sys.modules``
#: only: a DTensor exists only once one of them was imported, and importing
#: them costs seconds.
_DTENSOR_MODULES = ("torch.distributed.tensor", "torch.distributed._tensor")


def _dtensor_module() -> Any:
    for name in _DTENSOR_MODULES:
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "DTensor"):
            return module
    return None


def is_sharded(tensor: Any) -> bool:
    """Whether ``tensor`` is a ``DTensor`` (a shard on each rank)."""
    module = _dtensor_module() if isinstance(tensor, torch.Tensor) else None
    return module is not None and isinstance(tensor, module.DTensor)


def any_sharded(tensors: Iterable[Any]) -> bool:
    return any(is_sharded(t) for t in tensors)


def is_fsdp_model(root: nn.Module) -> bool:
    """Whether ``fully_shard`` was applied to ``root`` or a submodule: its
    parameter objects change between sharded and unsharded around forwards."""
    fsdp = sys.modules.get("torch.distributed.fsdp")
    module_type = getattr(fsdp, "FSDPModule", None)
    return module_type is not None and any(isinstance(m, module_type) for m in root.modules())


def full(tensor: torch.Tensor) -> torch.Tensor:
    """The full tensor: an all-gather for a ``DTensor`` (collective: every
    rank must call it), ``tensor`` itself otherwise."""
    return tensor.full_tensor() if is_sharded(tensor) else tensor


def local(tensor: torch.Tensor) -> torch.Tensor:
    """This rank's shard of a ``DTensor``, ``tensor`` itself otherwise."""
    return tensor.to_local() if is_sharded(tensor) else tensor


def sum_over_shards(value: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``value``, a partial sum over this rank's shard of ``like``, summed over
    the ranks holding the other shards (an all-reduce over the sharded mesh
    dimensions; collective). Replicated dimensions are not summed again."""
    module = _dtensor_module()
    partial = getattr(module, "Partial", None) or module._Partial  # torch < 2.4: _Partial
    placements = [partial() if placement.is_shard() else module.Replicate() for placement in like.placements]
    return module.DTensor.from_local(value, like.device_mesh, placements, run_check=False).full_tensor()
