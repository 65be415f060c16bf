"""Cross-rank reduction of evaluation results when ``torch.distributed`` runs."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import torch

from .calibration import CalibrationResult
from .dense import DenseEval
from .diagnostics import DiagnosticsResult, EvalDiagnostics
from .evaluation import EvalAccumulator, EvalResult
from .label_issues import LabelIssueAccumulator
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
    store = TopKPerGroup(groups, k)
    for part in parts:
        payload = {name: value for name, value in part.items() if name not in ("score", "group")}
        store.update(part["group"], part["score"], **payload)
    return store.valid()


def reduce_eval(acc: EvalAccumulator) -> EvalResult:
    """All ranks: sum the counts (``all_reduce``, NaN rows included) and
    gather the example candidates. The matrix and the NaN-row count are
    returned on every rank; the candidates are only complete on rank 0
    (other ranks get ``{}``).
    """
    dist = torch.distributed
    world = dist.get_world_size()
    classes = [None] * world
    dist.all_gather_object(classes, acc.num_classes)
    known = {c for c in classes if c is not None}
    if not known:
        return EvalResult(None)
    if len(known) != 1:
        raise ValueError(f"ranks recorded different numbers of classes: {sorted(known)}")
    num_classes = known.pop()
    device = _collective_device()
    counts = (
        acc.counts.to(device)
        if acc.counts is not None
        else torch.zeros(num_classes * num_classes + 1, dtype=torch.long, device=device)
    )
    dist.all_reduce(counts, op=dist.ReduceOp.SUM)
    matrix = counts[:-1].reshape(num_classes, num_classes).cpu()
    nan_rows = int(counts[-1])
    local = acc.candidates()
    gathered = [None] * world if dist.get_rank() == 0 else None
    dist.gather_object(local, gathered, dst=0)
    if dist.get_rank() != 0:
        return EvalResult(matrix, nan_rows)
    merged = {
        "cells": _merge([g["cells"] for g in gathered], num_classes * num_classes, acc.examples_per_cell)
        if acc.examples_per_cell > 0
        else {},
        "mistakes": _merge([g["mistakes"] for g in gathered], 1, acc.max_misclassified)
        if acc.max_misclassified > 0
        else {},
    }
    return EvalResult(matrix, nan_rows, merged)


def sum_counts(value: torch.Tensor) -> torch.Tensor:
    """All ranks: the sum of an ``int64`` count tensor over ranks (a copy on
    the CPU; the dtype stays ``int64``, so the sums are exact)."""
    dist = torch.distributed
    total = value.to(device=_collective_device(), dtype=torch.long, copy=True)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total.cpu()


def any_rank(flag: bool) -> bool:
    """All ranks: whether ``flag`` is true on any rank."""
    value = torch.tensor([int(flag)], dtype=torch.long, device=_collective_device())
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return bool(value.item())


def collect(dense: DenseEval, acc: EvalAccumulator, diagnostics: EvalDiagnostics,
            ignored: int) -> Tuple[bool, EvalResult, int, Optional[DiagnosticsResult]]:
    """One evaluation over every rank (this process's without
    ``torch.distributed``): whether it is dense, its result, the labels
    ignored (``ignored``: this process's classification rows; a dense
    evaluation counts its own) and its diagnostics (None when nothing was
    recorded; no label issues for dense outputs, which are per image)."""
    dense.flush()
    if not is_distributed():
        is_dense = dense.active
        result, ignored = dense.result() if is_dense else (acc.result(), ignored)
    else:
        is_dense = any_rank(dense.active)
        local = dense.ignored if is_dense and dense.active else torch.tensor([0 if is_dense else ignored])
        result = reduce_eval(dense if is_dense else acc)
        ignored = int(sum_counts(local)[0])
    if result.matrix is None:
        return is_dense, result, ignored, None
    classes = result.matrix.shape[0]
    if is_distributed():
        found = reduce_diagnostics(diagnostics, classes)
    elif is_dense:
        found = DiagnosticsResult(diagnostics.calibration.result() if diagnostics.calibration is not None else None)
    else:
        found = diagnostics.result(classes)
    if is_dense:
        found.label_issues = None
    return is_dense, result, ignored, found


def reduce_diagnostics(diagnostics: EvalDiagnostics, num_classes: int) -> DiagnosticsResult:
    """All ranks: sum the calibration sums (``all_reduce``) and gather every
    rank's label-issue rows and candidates to rank 0, which finds the label
    issues as one process holding every row would. Complete on rank 0; other
    ranks get the calibration only."""
    dist = torch.distributed
    result = DiagnosticsResult()
    calibration = diagnostics.calibration
    if calibration is not None:
        flat = calibration.flat(num_classes, _collective_device())
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        result.calibration = CalibrationResult.from_flat(flat.cpu().numpy(), num_classes, calibration.bins)
    issues = diagnostics.label_issues
    if issues is not None:
        main = dist.get_rank() == 0
        gathered = [None] * dist.get_world_size() if main else None
        dist.gather_object(issues.state(), gathered, dst=0)
        if main:
            merged = LabelIssueAccumulator.from_states(gathered, issues.topk, issues.max_suspects)
            result.label_issues = merged.result(num_classes)
    return result


def gather_rows(local: Any) -> Optional[List[Any]]:
    """All ranks: every rank's per-example rows (``ExampleRecord.local_rows``)
    on rank 0, in rank order (None on the other ranks)."""
    dist = torch.distributed
    gathered = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(local, gathered, dst=0)
    return gathered
