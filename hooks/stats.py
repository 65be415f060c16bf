"""Tensor statistics computed on the tensor's own device.

:func:`summarize` turns a tensor into one small 1-D row (counts, moments,
range, histogram) with torch ops only, so nothing leaves the device and
nothing synchronizes. Rows of one logging step are concatenated and moved to
the CPU in a single transfer, then :func:`decode` turns each row back into
named numbers and a histogram.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

#: Leading fields of a summary row, before the histogram counts.
FIELDS = ("finite", "zeros", "mean", "var", "min", "max")
NUM_FIELDS = len(FIELDS)


def row_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (MPS does not)."""
    return torch.float32 if device.type == "mps" else torch.float64


def row_length(bins: int) -> int:
    return NUM_FIELDS + bins


@torch.no_grad()
def summarize(tensor: torch.Tensor, bins: int) -> torch.Tensor:
    """One row ``[finite, zeros, mean, var, min, max, hist[bins]]`` on the device.

    Non-finite values are replaced by 0 for the moments and the histogram;
    :func:`decode` removes their contribution again using the finite count.
    """
    x = tensor.detach().reshape(-1)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    out_dtype = row_dtype(x.device)
    if x.numel() == 0:
        return torch.zeros(row_length(bins), dtype=out_dtype, device=x.device)
    with torch.autocast(device_type=x.device.type, enabled=False):
        finite = torch.isfinite(x)
        clean = torch.where(finite, x, torch.zeros((), dtype=x.dtype, device=x.device))
        var, mean = torch.var_mean(clean, correction=0)
        low, high = torch.aminmax(clean)
        head = torch.stack(
            [
                finite.sum().to(x.dtype),
                (x == 0).sum().to(x.dtype),
                mean,
                var,
                low,
                high,
            ]
        )
        hist = torch.histc(clean, bins=bins)
        return torch.cat([head, hist.to(x.dtype)]).to(out_dtype)


@torch.no_grad()
def update_norms(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Row ``[||new - old||, ||old||]`` on the device (float)."""
    a = new.detach().float() if new.dtype not in (torch.float32, torch.float64) else new.detach()
    b = old.float() if old.dtype not in (torch.float32, torch.float64) else old
    with torch.autocast(device_type=a.device.type, enabled=False):
        return torch.stack([torch.linalg.vector_norm(a - b), torch.linalg.vector_norm(b)]).to(row_dtype(a.device))


@dataclass
class Summary:
    """CPU-side view of one :func:`summarize` row."""

    numel: int
    finite: int
    zeros: int
    mean: float
    std: float
    min: float
    max: float
    sum: float
    sum_squares: float
    bucket_limits: Optional[np.ndarray]
    bucket_counts: Optional[np.ndarray]

    @property
    def nonfinite(self) -> int:
        return self.numel - self.finite

    @property
    def zero_fraction(self) -> float:
        return self.zeros / self.numel if self.numel else math.nan

    @property
    def nonfinite_fraction(self) -> float:
        return self.nonfinite / self.numel if self.numel else math.nan

    @property
    def norm(self) -> float:
        """L2 norm of the finite values."""
        return math.sqrt(max(self.sum_squares, 0.0))


def decode(row: np.ndarray, numel: int, bins: int) -> Summary:
    """Turn a row from :func:`summarize` (as numpy) into a :class:`Summary`."""
    finite = int(round(row[0]))
    zeros = int(round(row[1]))
    mean_all, var_all, low, high = (float(v) for v in row[2:6])
    hist = np.asarray(row[NUM_FIELDS:NUM_FIELDS + bins], dtype=np.float64).copy()
    total = mean_all * numel
    total_sq = (var_all + mean_all * mean_all) * numel
    nonfinite = numel - finite
    if finite == 0:
        return Summary(numel, 0, zeros, math.nan, math.nan, math.nan, math.nan, 0.0, 0.0, None, None)
    if nonfinite:
        mean = total / finite
        var = max(total_sq / finite - mean * mean, 0.0)
    else:
        mean, var = mean_all, max(var_all, 0.0)
    # torch.histc widens an empty range by one on each side.
    h_low, h_high = (low - 1.0, high + 1.0) if low == high else (low, high)
    if nonfinite:
        # Non-finite values were counted as zeros: take them out of 0's bin.
        where = int((0.0 - h_low) / (h_high - h_low) * bins)
        hist[min(max(where, 0), bins - 1)] -= nonfinite
    limits = h_low + (h_high - h_low) * np.arange(1, bins + 1, dtype=np.float64) / bins
    return Summary(
        numel=numel,
        finite=finite,
        zeros=zeros,
        mean=mean,
        std=math.sqrt(var),
        min=low,
        max=high,
        sum=total,
        sum_squares=total_sq,
        bucket_limits=limits,
        bucket_counts=np.maximum(hist, 0.0),
    )
