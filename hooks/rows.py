"""The statistics rows of one logging step, and how they become tags.

A :class:`Row` holds a tensor's statistics on its device (a
:func:`~tb_fmnist_plugin.hooks.stats.summarize` row; for an update the
:func:`~tb_fmnist_plugin.hooks.stats.update_squares` pair; for a scalar its
one value). :func:`write_rows`
moves every row to the CPU in one transfer per device and writes the step as
one event (:class:`~tb_fmnist_plugin.hooks.output.StepWriter`).
"""
from __future__ import annotations

import math
from enum import Enum
from typing import Any, Dict, List, NamedTuple, Optional, Sequence

import numpy as np
import torch

from . import stats
from .output import StepWriter


class RowKind(Enum):
    """What a row measures; the value is its tags' first component."""

    ACTIVATION = "activations"
    GRADIENT = "gradients"
    WEIGHT = "weights"
    UPDATE = "updates"
    SCALAR = ""  # one value; the row's name is its whole tag


class Row(NamedTuple):
    """Statistics of one tensor, still on its device."""

    kind: RowKind
    name: str
    numel: int
    values: torch.Tensor


def _to_host(rows: Sequence[Row]) -> List[np.ndarray]:
    """Every row's values as float64 numpy, one device-to-CPU copy per device."""
    by_device: Dict[torch.device, List[int]] = {}
    for index, row in enumerate(rows):
        by_device.setdefault(row.values.device, []).append(index)
    host: List[Optional[np.ndarray]] = [None] * len(rows)
    for indices in by_device.values():
        flat = torch.cat([rows[i].values.reshape(-1) for i in indices]).to("cpu", torch.float64).numpy()
        offset = 0
        for i in indices:
            length = rows[i].values.numel()
            host[i] = flat[offset:offset + length]
            offset += length
    return host  # type: ignore[return-value]


def write_rows(writer: Any, rows: Sequence[Row], step: int, bins: int) -> Optional[str]:
    """Write ``rows`` at ``step`` as scalars and histograms (one event with a
    real SummaryWriter). Returns the first layer, in forward order, whose
    activations held NaN/Inf, or None."""
    out = StepWriter(writer, step)
    global_sq, global_bad, first_bad = 0.0, False, None
    for row, values in zip(rows, _to_host(rows)):
        prefix = f"{row.kind.value}/{row.name}"
        if row.kind is RowKind.SCALAR:
            out.scalar(row.name, float(values[0]))
            continue
        if row.kind is RowKind.UPDATE:
            out.scalar(f"{prefix}/ratio", stats.update_ratio(float(values[0]), float(values[1])))
            continue
        summary = stats.decode(values, row.numel, bins)
        if row.kind is RowKind.ACTIVATION:
            out.scalar(f"{prefix}/mean", summary.mean)
            out.scalar(f"{prefix}/std", summary.std)
            out.scalar(f"{prefix}/zero_fraction", summary.zero_fraction)
            out.scalar(f"{prefix}/nonfinite_fraction", summary.nonfinite_fraction)
            out.scalar(f"{prefix}/nonfinite", summary.nonfinite)
            if summary.nonfinite and first_bad is None:
                first_bad = row.name
        elif row.kind is RowKind.GRADIENT:
            global_sq += summary.sum_squares
            global_bad |= bool(summary.nonfinite)
            out.scalar(f"{prefix}/norm", summary.norm if not summary.nonfinite else math.nan)
        _histogram(out, prefix, summary)
    if any(row.kind is RowKind.GRADIENT for row in rows):
        out.scalar("gradients/global_norm", math.nan if global_bad else math.sqrt(global_sq))
    out.close()
    return first_bad


def _histogram(out: StepWriter, tag: str, summary: stats.Summary) -> None:
    if summary.bucket_counts is None:
        return
    out.histogram(
        tag,
        summary.hist_min,
        summary.hist_max,
        summary.finite,
        summary.sum,
        summary.sum_squares,
        summary.bucket_limits.tolist(),
        summary.bucket_counts.tolist(),
    )
