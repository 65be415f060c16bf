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
FIELDS = ("finite", "nonzero", "sum", "sum_squares", "min", "max", "sample_finite", "sample_min", "sample_max")
NUM_FIELDS = len(FIELDS)

#: Default number of elements the histogram of a large tensor is computed from.
DEFAULT_HISTOGRAM_SAMPLE = 16384

_SCRAMBLE = 2654435761  # odd multiplier spreading sample indices over the tensor
_sample_index: "dict[tuple, torch.Tensor]" = {}


def _sample_positions(numel: int, sample: int, device: torch.device) -> torch.Tensor:
    """``sample`` indices spread over ``[0, numel)``, cached per shape and device."""
    key = (numel, sample, device)
    index = _sample_index.get(key)
    if index is None:
        if len(_sample_index) >= 256:
            _sample_index.clear()
        index = torch.arange(sample, device=device, dtype=torch.long).mul_(_SCRAMBLE).remainder_(numel)
        _sample_index[key] = index
    return index


def row_dtype(device: torch.device) -> torch.dtype:
    """float64 where the device has it (MPS does not)."""
    return torch.float32 if device.type == "mps" else torch.float64


def row_length(bins: int) -> int:
    return NUM_FIELDS + bins


@torch.no_grad()
def summarize(tensor: torch.Tensor, bins: int, sample: int = DEFAULT_HISTOGRAM_SAMPLE) -> torch.Tensor:
    """One row of statistics of ``tensor``, computed on its device.

    Layout: ``[finite, nonzero, sum, sum_squares, min, max, sample_finite,
    sample_min, sample_max, hist[bins]]``. Counts, sums and range cover every
    element (a few reductions and two temporary copies). The histogram is computed
    from at most ``sample`` elements spread over the tensor (all of them when
    the tensor is smaller), non-finite ones left out.
    """
    x = tensor.detach().reshape(-1)
    if x.dtype not in (torch.float32, torch.float64):
        x = x.float()
    out_dtype = row_dtype(x.device)
    numel = x.numel()
    if numel == 0:
        return torch.zeros(row_length(bins), dtype=out_dtype, device=x.device)
    # None of these ops is on an autocast list; stay out of autocast anyway.
    if _autocast_on(x.device.type):
        with torch.autocast(device_type=x.device.type, enabled=False):
            return _summarize(x, bins, sample, out_dtype)
    return _summarize(x, bins, sample, out_dtype)


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has no device argument
        return True


def clear_cache() -> None:
    """Drop the cached sample positions."""
    _sample_index.clear()


def _summarize(x: torch.Tensor, bins: int, sample: int, out_dtype: torch.dtype) -> torch.Tensor:
    numel = x.numel()
    total = x.sum()
    squares = torch.dot(x, x)
    low, high = torch.aminmax(x)
    # x * 0 is 0 where x is finite and NaN where it is not.
    finite = (x * 0).add_(1).nansum()
    # ceil(min(|x|, 1)) is 1 for non-zero and infinite values, 0 for zeros;
    # NaN propagates through abs/clamp/ceil and is then counted as non-zero.
    # (torch.sign(NaN) is 0 on some CPUs, so sign cannot be used.)
    nonzero = x.abs().clamp_(max=1.0).ceil_().nan_to_num_(nan=1.0).sum()
    part = x.index_select(0, _sample_positions(numel, sample, x.device)) if numel > sample else x
    clean = torch.nan_to_num(part, nan=0.0, posinf=0.0, neginf=0.0)
    part_low, part_high = torch.aminmax(clean)
    hist = torch.histc(clean, bins=bins)
    head = torch.stack(
        [
            finite.to(x.dtype),
            nonzero.to(x.dtype),
            total,
            squares,
            low,
            high,
            torch.isfinite(part).sum().to(x.dtype),
            part_low,
            part_high,
        ]
    )
    return torch.cat([head.to(out_dtype), hist.to(out_dtype)])


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
    hist_min: float = math.nan
    hist_max: float = math.nan

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
    """Turn a row from :func:`summarize` (as numpy) into a :class:`Summary`.

    With non-finite values present, mean/std/sum/min/max are those of the
    finite values in the histogram sample (estimated from its bins).
    """
    finite = int(round(row[0]))
    nonzero = int(round(row[1]))
    total, total_sq, low, high = (float(v) for v in row[2:6])
    part_finite = int(round(row[6]))
    part_low, part_high = float(row[7]), float(row[8])
    hist = np.asarray(row[NUM_FIELDS:NUM_FIELDS + bins], dtype=np.float64).copy()
    nonfinite = numel - finite
    zeros = numel - nonzero
    part_size = int(round(hist.sum()))  # histc counted every sampled element
    # torch.histc widens an empty range by one on each side.
    h_low, h_high = (part_low - 1.0, part_high + 1.0) if part_low == part_high else (part_low, part_high)
    part_nonfinite = part_size - part_finite
    if part_nonfinite:
        # Non-finite sampled values were histogrammed as zeros: take them out.
        where = int((0.0 - h_low) / (h_high - h_low) * bins)
        hist[min(max(where, 0), bins - 1)] -= part_nonfinite
    hist = np.maximum(hist, 0.0)
    if finite == 0 or part_finite == 0:
        return Summary(numel, finite, zeros, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, None, None)
    if nonfinite:
        # Moments over the whole tensor are NaN/Inf: estimate from the sample.
        scale = finite / part_finite
        centers = h_low + (h_high - h_low) * (np.arange(bins) + 0.5) / bins
        total = float((hist * centers).sum() * scale)
        total_sq = float((hist * centers * centers).sum() * scale)
        low, high = part_low, part_high
    mean = total / finite
    var = max(total_sq / finite - mean * mean, 0.0)
    if part_finite != finite:
        hist *= finite / part_finite
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
        bucket_counts=hist,
        hist_min=part_low,
        hist_max=part_high,
    )
