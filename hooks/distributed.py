"""Cross-rank reduction of evaluation results when ``torch.distributed`` runs."""
from __future__ import annotations

from typing import Dict, Optional, Tuple

import torch

from .evaluation import EvalAccumulator
from .topk import TopKPerGroup


def is_distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def rank() -> int:
    return torch.distributed.get_rank() if is_distributed() else 0


def _collective_device() -> torch.device:
    if torch.distributed.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _merge(parts: list, groups: int, k: int) -> Dict[str, torch.Tensor]:
    """Re-select the top ``k`` per group from every rank's candidates."""
    parts = [p for p in parts if p and p["score"].numel()]
    if not parts:
        return {}
    buffer = TopKPerGroup(groups, k)
    for part in parts:
        group = part["_group"]
        payload = {name: value for name, value in part.items() if name not in ("score", "group", "_group")}
        buffer.update(group, part["score"], **payload)
    return buffer.valid()


def reduce_eval(acc: EvalAccumulator) -> Tuple[Optional[torch.Tensor], Dict[str, Dict[str, torch.Tensor]]]:
    """All ranks: sum the counts (``all_reduce``) and gather the example
    candidates. Returns ``(matrix [C, C] on CPU or None, candidates)``; the
    candidates are only complete on rank 0 (other ranks get ``{}``).
    """
    dist = torch.distributed
    world = dist.get_world_size()
    classes = [None] * world
    dist.all_gather_object(classes, acc.num_classes)
    known = {c for c in classes if c is not None}
    if not known:
        return None, {}
    if len(known) != 1:
        raise ValueError(f"ranks recorded different numbers of classes: {sorted(known)}")
    num_classes = known.pop()
    device = _collective_device()
    counts = (
        acc.counts.to(device)
        if acc.counts is not None
        else torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
    )
    dist.all_reduce(counts, op=dist.ReduceOp.SUM)
    matrix = counts.reshape(num_classes, num_classes).cpu()
    local = acc.candidates()
    for name in ("cells", "mistakes"):
        part = local.get(name) or {}
        if part:
            part["_group"] = part["true"] * num_classes + part["predicted"] if name == "cells" else torch.zeros_like(part["true"])
    gathered = [None] * world if dist.get_rank() == 0 else None
    dist.gather_object(local, gathered, dst=0)
    if dist.get_rank() != 0:
        return matrix, {}
    merged = {
        "cells": _merge([g["cells"] for g in gathered], num_classes * num_classes, acc.examples_per_cell)
        if acc.examples_per_cell > 0
        else {},
        "mistakes": _merge([g["mistakes"] for g in gathered], 1, acc.max_misclassified)
        if acc.max_misclassified > 0
        else {},
    }
    return matrix, merged
