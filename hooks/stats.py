"""Tensor statistics computed on the tensor's own device.

:func:`summarize` turns a tensor into one small 1-D row (counts, moments,
range, histogram) with torch ops only, so nothing leaves the device and
nothing synchronizes. Rows of one logging step are concatenated and moved to
the CPU in a single transfer, then :func:`decode` turns each row back into
named numbers and a histogram. Every full-tensor reduction runs over chunks
of at most :data:`CHUNK` elements, so a statistic's temporaries are a few MB
even for the largest parameter.
"""
from __future__ import annotations

import math
import threading
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ContextManager, Optional, Sequence

import numpy as np
import torch

#: Leading fields of a summary row, before the histogram counts. ``min`` and
#: ``max`` are those of the finite values; ``sample_finite`` counts the finite
#: values the histogram was computed from.
FIELDS = ("finite", "nonzero", "sum", "sum_squares", "min", "max", "sample_finite")
NUM_FIELDS = len(FIELDS)

#: Default number of elements the histogram of a large tensor is computed from.
DEFAULT_HISTOGRAM_SAMPLE = 16384
#: Elements per chunk of the full-tensor reductions (2 MB as float32): the
#: temporaries of a statistic stay this size whatever the tensor's size.
CHUNK = 1 << 19
#: Tensors larger than this reuse per-thread buffers for their temporaries.
REUSE_FROM = 1 << 16

_SCRAMBLE = 2654435761  # odd multiplier spreading sample indices over the tensor
_sample_index: "dict[tuple, torch.Tensor]" = {}
_buffers: "dict[tuple, torch.Tensor]" = {}  # see _buffer


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


def flat_view(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` as 1-D in memory order: a view for contiguous and
    permuted-dense layouts (channels_last), a copy only for others."""
    if tensor.is_contiguous():
        return tensor.view(-1)
    order = sorted(range(tensor.dim()), key=lambda d: -tensor.stride(d))
    permuted = tensor.permute(order)
    return permuted.view(-1) if permuted.is_contiguous() else tensor.reshape(-1)


def _chunks(x: torch.Tensor) -> Sequence[torch.Tensor]:
    """Views of at most :data:`CHUNK` elements of the 1-D ``x``."""
    return x.split(CHUNK) if x.numel() > CHUNK else (x,)


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32


def _computable(x: torch.Tensor) -> torch.Tensor:
    return x if x.dtype in (torch.float32, torch.float64) else x.float()


def _buffer(slot: str, like: torch.Tensor) -> torch.Tensor:
    """A reused buffer for ``like.numel()`` (at most :data:`CHUNK`) elements
    in ``like``'s compute dtype, on its device and stream, one per thread
    (autograd runs gradient hooks on its own threads).

    Chunked statistics write their temporaries here instead of allocating
    fresh multi-MB tensors chunk after chunk: between those, the small
    per-chunk results fragment the C heap, which then keeps growing.
    """
    stream = torch.cuda.current_stream(like.device).cuda_stream if like.device.type == "cuda" else 0
    key = (slot, _compute_dtype(like), like.device, stream, threading.get_ident())
    buffer = _buffers.get(key)
    if buffer is None:
        if len(_buffers) >= 64:
            _buffers.clear()
        buffer = _buffers[key] = torch.empty(CHUNK, dtype=key[1], device=like.device)
    return buffer[: like.numel()]


def _in_buffer(slot: str, chunk: torch.Tensor) -> torch.Tensor:
    """``chunk`` in a compute dtype: itself, or converted into a reused buffer."""
    if chunk.dtype in (torch.float32, torch.float64):
        return chunk
    return _buffer(slot, chunk).copy_(chunk)


@torch.no_grad()
def summarize(tensor: torch.Tensor, bins: int, sample: int = DEFAULT_HISTOGRAM_SAMPLE) -> torch.Tensor:
    """One row of statistics of ``tensor``, computed on its device.

    Layout: ``[finite, nonzero, sum, sum_squares, min, max, sample_finite,
    hist[bins]]``. Counts, sums and range (``min``/``max`` of the finite
    values) cover every element; they are reduced in chunks of :data:`CHUNK`
    elements, so the temporaries stay a few MB whatever the tensor's size. The
    histogram spans that true range (as ``torch.histc`` would, widened by one
    on each side when min == max); its counts come from at most ``sample``
    elements spread over the tensor (all of them when the tensor is smaller),
    non-finite ones left out. A sparse tensor: see :func:`stored_values`.
    """
    x = flat_view(stored_values(tensor.detach()))
    out_dtype = row_dtype(x.device)
    if x.numel() == 0:
        return torch.zeros(row_length(bins), dtype=out_dtype, device=x.device)
    # None of these ops is on an autocast list; stay out of autocast anyway.
    with _no_autocast(x.device.type):
        return _summarize(x, bins, sample, out_dtype)


def _no_autocast(device_type: str) -> ContextManager[Any]:
    """Autocast switched off where it is on, else nothing (cheaper)."""
    return torch.autocast(device_type=device_type, enabled=False) if _autocast_on(device_type) else nullcontext()


def _autocast_on(device_type: str) -> bool:
    try:
        return torch.is_autocast_enabled(device_type)
    except TypeError:  # torch < 2.4 has no device argument
        return True


def clear_cache() -> None:
    """Drop the cached sample positions and the reused buffers."""
    _sample_index.clear()
    _buffers.clear()


def _moments(chunk: torch.Tensor, out_dtype: torch.dtype, reuse: bool) -> torch.Tensor:
    """``[finite, nonzero, sum, sum_squares, min, max]`` of one chunk, min and
    max of its finite values (+inf/-inf if none; temporaries in reused
    buffers if ``reuse``)."""
    x = _in_buffer("x", chunk) if reuse else _computable(chunk)
    work = _buffer("work", x) if reuse else None
    # Non-finite values made neutral for the reduction: +inf for min, -inf for max.
    low = torch.nan_to_num(x, nan=math.inf, posinf=math.inf, neginf=math.inf, out=work).amin()
    high = torch.nan_to_num(x, nan=-math.inf, posinf=-math.inf, neginf=-math.inf, out=work).amax()
    # x * 0 is 0 where x is finite and NaN where it is not.
    finite = torch.mul(x, 0, out=work).add_(1).nansum()
    # ceil(min(|x|, 1)) is 1 for non-zero and infinite values, 0 for zeros;
    # NaN propagates through abs/clamp/ceil and is then counted as non-zero.
    # (torch.sign(NaN) is 0 on some CPUs, so sign cannot be used.)
    nonzero = torch.abs(x, out=work).clamp_(max=1.0).ceil_().nan_to_num_(nan=1.0).sum()
    return torch.stack([finite.to(x.dtype), nonzero.to(x.dtype), x.sum(), torch.dot(x, x), low, high]).to(out_dtype)


def _summarize(x: torch.Tensor, bins: int, sample: int, out_dtype: torch.dtype) -> torch.Tensor:
    numel = x.numel()
    chunks = _chunks(x)
    reuse = numel > REUSE_FROM
    if len(chunks) == 1:
        moments = _moments(x, out_dtype, reuse)
    else:
        parts = torch.stack([_moments(chunk, out_dtype, reuse) for chunk in chunks])
        moments = torch.cat([parts[:, :4].sum(0), parts[:, 4].amin().view(1), parts[:, 5].amax().view(1)])
    part = x.index_select(0, _sample_positions(numel, sample, x.device)) if numel > sample else x
    finite = torch.isfinite(part).to(out_dtype)
    hist = _histogram(part.to(out_dtype), finite, moments[4], moments[5], bins)
    return torch.cat([moments, finite.sum().view(1), hist])


def _histogram(part: torch.Tensor, weights: torch.Tensor, low: torch.Tensor, high: torch.Tensor,
               bins: int) -> torch.Tensor:
    """Counts of ``part`` weighted by ``weights`` (0 for its non-finite
    values) in ``bins`` equal buckets over ``[low, high]`` (device tensors:
    no synchronization), widened by one on each side where ``low == high``
    as ``torch.histc`` does; the last bucket includes ``high``."""
    same = low == high
    low, high = torch.where(same, low - 1, low), torch.where(same, high + 1, high)
    position = (part - low).mul_(bins / (high - low)).floor_()
    index = position.nan_to_num_(nan=0.0, posinf=bins - 1, neginf=0.0).clamp_(0, bins - 1).long()
    return torch.zeros(bins, dtype=weights.dtype, device=weights.device).index_add_(0, index, weights)


def stored_values(tensor: torch.Tensor) -> torch.Tensor:
    """The values a sparse tensor stores (a COO tensor coalesced first, so
    that values at a repeated index are summed), the tensor itself if
    strided. Their sum of squares is the whole tensor's (its other elements
    are zero); their count is what a sparse row's ``numel`` must be."""
    if tensor.layout == torch.strided:
        return tensor
    if tensor.layout == torch.sparse_coo:
        return tensor.coalesce().values()
    return tensor.values()  # compressed layouts store each index once


#: Fields of a summarize row that scale with the tensor (sum_squares with its square).
_LINEAR_FIELDS = [FIELDS.index(name) for name in ("sum", "min", "max")]


@torch.no_grad()
def unscale(row: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The :func:`summarize` row of ``tensor / scale`` from that of ``tensor``
    (``scale > 0``, e.g. a ``GradScaler``'s loss scale), on the device.

    Sums and extremes are divided (the histogram's bins with its range);
    counts are unchanged. Exact for a power-of-two scale.
    """
    inverse = scale.detach().to(row.device, row.dtype).reshape(1).reciprocal()
    factor = torch.ones_like(row)
    factor[_LINEAR_FIELDS] = inverse
    factor[FIELDS.index("sum_squares")] = inverse.square().squeeze(0)
    return row * factor


@torch.no_grad()
def update_squares(new: torch.Tensor, old: torch.Tensor) -> torch.Tensor:
    """Row ``[sum((new - old)^2), sum(old^2)]`` on the device, reduced in
    chunks (no full-size temporary)."""
    a, b = new.detach(), old.detach()
    if a.stride() != b.stride():
        a, b = a.reshape(-1), b.reshape(-1)
    a, b = flat_view(a), flat_view(b)
    out_dtype = row_dtype(a.device)
    reuse = a.numel() > REUSE_FROM
    with _no_autocast(a.device.type):
        parts = []
        for chunk_a, chunk_b in zip(_chunks(a), _chunks(b)):
            if reuse:
                chunk_a, chunk_b = _in_buffer("x", chunk_a), _in_buffer("y", chunk_b)
                delta = torch.sub(chunk_a, chunk_b, out=_buffer("work", chunk_a))
            else:
                chunk_a, chunk_b = _computable(chunk_a), _computable(chunk_b)
                delta = chunk_a - chunk_b
            parts.append(torch.stack([torch.dot(delta, delta), torch.dot(chunk_b, chunk_b)]).to(out_dtype))
        if not parts:
            return torch.zeros(2, dtype=out_dtype, device=a.device)
        return parts[0] if len(parts) == 1 else torch.stack(parts).sum(0)


def update_ratio(delta_squares: float, before_squares: float) -> float:
    """The update ratio from an :func:`update_squares` row:
    ``||w_after - w_before|| / ||w_before||``; for a weight that was all
    zeros before (e.g. a zero-initialised bias), ``||w_after - w_before|| /
    ||w_after||``, which is 1 if the step moved it and 0 if it stayed zero.
    NaN if either sum is not finite."""
    if not (math.isfinite(delta_squares) and math.isfinite(before_squares)):
        return math.nan
    delta, before = math.sqrt(max(delta_squares, 0.0)), math.sqrt(max(before_squares, 0.0))
    if before > 0:
        return delta / before
    return 1.0 if delta > 0 else 0.0  # w_after == w_after - w_before


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

    ``min``/``max`` (and the histogram's range) are those of every finite
    value. With non-finite values present, mean/std/sum are those of the
    finite values in the histogram sample (estimated from its bins).
    """
    finite = int(round(row[0]))
    nonzero = int(round(row[1]))
    total, total_sq, low, high = (float(v) for v in row[2:6])
    part_finite = int(round(row[6]))
    hist = np.asarray(row[NUM_FIELDS:NUM_FIELDS + bins], dtype=np.float64).copy()
    nonfinite = numel - finite
    zeros = numel - nonzero
    # The histogram's range, widened by one on each side when empty (see _histogram).
    h_low, h_high = (low - 1.0, high + 1.0) if low == high else (low, high)
    if finite == 0 or part_finite == 0:
        return Summary(numel, finite, zeros, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, None, None)
    if nonfinite:
        # Moments over the whole tensor are NaN/Inf: estimate from the sample.
        scale = finite / part_finite
        centers = h_low + (h_high - h_low) * (np.arange(bins) + 0.5) / bins
        total = float((hist * centers).sum() * scale)
        total_sq = float((hist * centers * centers).sum() * scale)
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
        hist_min=low,
        hist_max=high,
    )
