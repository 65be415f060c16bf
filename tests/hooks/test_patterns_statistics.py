"""Statistics in the patterns real training code uses (issue 17): sparse
embedding gradients, zero-initialised parameters, histograms of sampled
tensors. Expected numbers are computed directly with torch/numpy."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks, stats
from tests.support.hooks_helpers import load, scalars


def _histogram(acc, tag: str, step: int = 0):
    return next(event.histogram_value for event in acc.Histograms(tag) if event.step == step)


# --- 8. sparse gradients (nn.Embedding(sparse=True) with SparseAdam) ---------------------------


class _Bag(nn.Module):
    """An embedding with sparse gradients feeding a dense head."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(50, 8, sparse=True)
        self.fc = nn.Linear(8, 3)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.fc(self.emb(tokens).mean(1))


def _sparse_batch():
    generator = torch.Generator().manual_seed(1)
    tokens = torch.randint(0, 12, (4, 6), generator=generator)  # repeated tokens: an uncoalesced gradient
    return tokens, torch.randint(0, 3, (4,), generator=generator)


@pytest.mark.parametrize("with_optimizer", [True, False])
def test_sparse_gradient_is_logged_and_counted_in_the_global_norm(tmp_path, with_optimizer):
    torch.manual_seed(0)
    model = _Bag()
    sparse_opt = torch.optim.SparseAdam(list(model.emb.parameters()), lr=0.1)
    dense_opt = torch.optim.Adam(model.fc.parameters(), lr=0.1)
    writer = SummaryWriter(str(tmp_path))
    tokens, labels = _sparse_batch()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is switched off
        monitor = attach_hooks(model, writer, optimizer=sparse_opt if with_optimizer else None, log_every=1,
                               log_graph=False)
        sparse_opt.zero_grad()
        dense_opt.zero_grad()
        nn.functional.cross_entropy(model(tokens), labels).backward()
        grads = {name: p.grad.to_dense().double().clone() for name, p in model.named_parameters()}
        sparse_opt.step()
        dense_opt.step()
        monitor.remove()
    writer.close()
    assert model.emb.weight.grad.is_sparse
    acc = load(tmp_path)
    for name, grad in grads.items():
        assert scalars(acc, f"gradients/{name}/norm")[0] == pytest.approx(grad.norm().item(), rel=1e-5)
    true_global = math.sqrt(sum(g.pow(2).sum().item() for g in grads.values()))
    assert scalars(acc, "gradients/global_norm")[0] == pytest.approx(true_global, rel=1e-5)
    # The sparse gradient's histogram is of its stored values: the rows the batch touched.
    stored = grads["emb.weight"][tokens.unique()].reshape(-1)
    hist = _histogram(acc, "gradients/emb.weight")
    assert hist.num == stored.numel() == 8 * tokens.unique().numel()
    assert (hist.min, hist.max) == pytest.approx((stored.min().item(), stored.max().item()))
    assert hist.sum_squares == pytest.approx(stored.pow(2).sum().item(), rel=1e-5)
    dense_hist = _histogram(acc, "gradients/fc.weight")
    assert dense_hist.num == grads["fc.weight"].numel()


def test_stored_values_of_a_sparse_tensor_are_coalesced():
    index = torch.tensor([[0, 2, 0], [1, 1, 1]])
    values = torch.tensor([1.0, -2.0, 3.0])  # (0, 1) twice: it holds 1 + 3
    sparse = torch.sparse_coo_tensor(index, values, (3, 2), check_invariants=True)
    assert sorted(stats.stored_values(sparse).tolist()) == [-2.0, 4.0]
    dense = torch.randn(3, 2)
    assert stats.stored_values(dense) is dense


# --- 9. zero-initialised parameters: the update ratio is defined ------------------------------


def test_update_ratio_of_a_zero_initialised_parameter(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3))
    nn.init.zeros_(model[0].bias)  # as every Transformer bias
    still = nn.Parameter(torch.zeros(2))  # zero, and its gradient is zero: it does not move
    model.register_parameter("still", still)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(str(tmp_path))
    x, y = torch.randn(5, 4), torch.randint(0, 3, (5,))
    before = {name: p.detach().double().clone() for name, p in model.named_parameters()}
    with attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y) + 0.0 * still.sum()
        loss.backward()
        optimizer.step()
    writer.close()
    after = {name: p.detach().double() for name, p in model.named_parameters()}
    acc = load(tmp_path)
    ratios = {name: scalars(acc, f"updates/{name}/ratio")[0] for name in before}
    # ||w_after - w_before|| / ||w_before||, and for a weight that was all zeros ||w_after - w_before|| / ||w_after||.
    weight_ratio = (after["0.weight"] - before["0.weight"]).norm() / before["0.weight"].norm()
    assert ratios["0.weight"] == pytest.approx(weight_ratio.item(), rel=1e-5)
    assert before["0.bias"].norm() == 0 and after["0.bias"].norm() > 0
    bias_ratio = (after["0.bias"] - before["0.bias"]).norm() / after["0.bias"].norm()
    assert ratios["0.bias"] == pytest.approx(bias_ratio.item()) == 1.0
    assert ratios["still"] == 0.0  # zero before and after: nothing moved


def test_update_ratio_formula():
    assert stats.update_ratio(4.0, 16.0) == pytest.approx(0.5)
    assert stats.update_ratio(4.0, 0.0) == 1.0
    assert stats.update_ratio(0.0, 0.0) == 0.0
    assert math.isnan(stats.update_ratio(float("nan"), 1.0))
    assert math.isnan(stats.update_ratio(1.0, float("inf")))


# --- 10. histograms of sampled tensors span the whole tensor's range ---------------------------


def _counts_of_whole(x: np.ndarray, low: float, high: float, bins: int) -> np.ndarray:
    return np.histogram(x, bins=bins, range=(low, high))[0].astype(np.float64)


def test_sampled_histogram_uses_the_true_extremes():
    torch.manual_seed(0)
    x = torch.randn(100_000)
    bins = 30
    s = stats.decode(stats.summarize(x, bins, sample=16384).numpy(), x.numel(), bins)
    low, high = x.min().item(), x.max().item()
    assert (s.min, s.max) == (low, high)
    assert (s.hist_min, s.hist_max) == (low, high)
    expected_limits = low + (high - low) * np.arange(1, bins + 1) / bins
    assert np.allclose(s.bucket_limits, expected_limits, rtol=0, atol=1e-9)
    assert s.bucket_limits[-1] == pytest.approx(high)
    # Counts still come from the sample, scaled to the whole tensor.
    assert s.bucket_counts.sum() == pytest.approx(x.numel())
    whole = _counts_of_whole(x.numpy(), low, high, bins)
    assert np.abs(s.bucket_counts - whole).max() < 0.01 * x.numel()


def test_sampled_histogram_with_nonfinite_values_uses_the_finite_extremes():
    torch.manual_seed(0)
    x = torch.randn(50_000).abs() + 1.0  # every finite value is > 1: zero is out of range
    x[::7] = float("nan")
    x[3::11] = float("inf")
    x[5::13] = -float("inf")
    bins = 20
    s = stats.decode(stats.summarize(x, bins, sample=4096).numpy(), x.numel(), bins)
    finite = x[torch.isfinite(x)].double()
    low, high = finite.min().item(), finite.max().item()
    assert s.finite == finite.numel()
    assert (s.min, s.max) == (low, high)
    assert (s.hist_min, s.hist_max) == (low, high)
    assert s.bucket_limits[-1] == pytest.approx(high)
    assert s.bucket_counts.sum() == pytest.approx(finite.numel())
    whole = _counts_of_whole(finite.numpy(), low, high, bins)
    assert np.abs(s.bucket_counts - whole).max() < 0.02 * finite.numel()


def test_small_tensor_histogram_is_exact():
    x = torch.tensor([0.5, -1.0, 2.0, 2.0, 0.0, 1.5, float("nan")])
    s = stats.decode(stats.summarize(x, 3).numpy(), x.numel(), 3)
    assert (s.hist_min, s.hist_max) == (-1.0, 2.0)
    assert s.bucket_counts.tolist() == [1.0, 2.0, 3.0]  # [-1, 0) [0, 1) [1, 2]
    constant = stats.decode(stats.summarize(torch.full((5,), 3.0), 4).numpy(), 5, 4)
    assert (constant.hist_min, constant.hist_max) == (3.0, 3.0)
    assert constant.bucket_counts.sum() == 5


def test_logged_histogram_of_a_large_weight_spans_its_range(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(200, 100))  # 20,000 weights > histogram_sample
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    weight = model[0].weight.detach().clone()
    writer = SummaryWriter(str(tmp_path))
    with attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False, histogram_sample=1000):
        optimizer.zero_grad()
        model(torch.randn(3, 200)).sum().backward()
        optimizer.step()
    writer.close()
    hist = _histogram(load(tmp_path), "weights/0.weight")
    low, high = weight.min().item(), weight.max().item()
    assert (hist.min, hist.max) == pytest.approx((low, high), rel=1e-7)
    assert hist.bucket_limit[-1] == pytest.approx(high, rel=1e-7)
    assert sum(hist.bucket) == pytest.approx(weight.numel())
