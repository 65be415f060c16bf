"""On-device statistics rows decode to the numbers computed directly."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tb_fmnist_plugin.hooks import stats


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_summary_matches_direct_computation(dtype):
    torch.manual_seed(0)
    x = (torch.randn(3000) * 2 + 0.5).relu().to(dtype)
    row = stats.summarize(x, bins=20, sample=10_000)
    s = stats.decode(row.numpy(), x.numel(), 20)
    ref = x.double()
    assert s.finite == 3000 and s.nonfinite == 0
    assert s.zeros == int((ref == 0).sum())
    assert s.mean == pytest.approx(ref.mean().item(), rel=1e-5)
    assert s.std == pytest.approx(ref.std(unbiased=False).item(), rel=1e-4)
    assert s.norm == pytest.approx(ref.norm().item(), rel=1e-5)
    assert (s.min, s.max) == (ref.min().item(), ref.max().item())
    counts, _ = np.histogram(ref.numpy(), bins=20, range=(s.hist_min, s.hist_max))
    assert np.allclose(s.bucket_counts, counts, atol=2)  # edge rounding only
    assert s.bucket_counts.sum() == 3000


def test_nonfinite_values_are_counted_and_left_out():
    x = torch.tensor([0.0, 1.0, float("nan"), float("inf"), -float("inf"), 0.0, 3.0, 2.0])
    s = stats.decode(stats.summarize(x, bins=4).numpy(), x.numel(), 4)
    assert s.nonfinite == 3 and s.finite == 5
    assert s.zeros == 2
    assert s.bucket_counts.sum() == pytest.approx(5)
    assert 0.0 <= s.mean <= 3.0 and math.isfinite(s.std)
    assert (s.hist_min, s.hist_max) == (0.0, 3.0)


def test_large_tensor_histogram_is_sampled_but_counts_are_exact():
    torch.manual_seed(0)
    x = torch.randn(64, 32, 28, 28).relu()
    s = stats.decode(stats.summarize(x, bins=30, sample=4096).numpy(), x.numel(), 30)
    assert s.zeros == int((x == 0).sum())
    assert s.mean == pytest.approx(x.double().mean().item(), rel=1e-5)
    assert s.bucket_counts.sum() == pytest.approx(x.numel(), rel=1e-9)
    # The sample sees both halves of a ReLU output: about half the mass at zero.
    assert 0.4 < s.bucket_counts[0] / x.numel() < 0.6


def test_all_nonfinite_and_empty():
    s = stats.decode(stats.summarize(torch.full((4,), float("nan")), 5).numpy(), 4, 5)
    assert s.finite == 0 and s.bucket_counts is None and math.isnan(s.mean)
    s = stats.decode(stats.summarize(torch.zeros(0), 5).numpy(), 0, 5)
    assert s.numel == 0 and s.bucket_counts is None
