"""Issue 17, cases 3-5: several forwards per step, ``optimizer.step(closure)``
and gradient clipping. ``gradients/*`` are always the step's own gradients
before clipping (what ``clip_grad_norm_`` returns); the clipped norm has its
own tag; where the hooks cannot measure a step, one warning names the fix."""
from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.hooks_helpers import load, scalars


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3))


def _data(count: int):
    generator = torch.Generator().manual_seed(3)
    return [(torch.randn(4, 6, generator=generator), torch.randint(0, 3, (4,), generator=generator)) for _ in range(count)]


def _norm(grads) -> float:
    return math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads))


def _ratio(before, after) -> float:
    return float((after - before).norm() / before.norm())


def _watched_without_optimizer(tmp_path):
    """An MLP, its SGD optimizer, a writer, and a monitor not told of the optimizer."""
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    writer = SummaryWriter(str(tmp_path))
    return model, optimizer, writer, attach_hooks(model, writer, log_every=1, log_graph=False)


def _ours(caught):
    return [str(w.message) for w in caught if str(w.message).startswith("tb_fmnist_plugin.hooks")]


# --- 3. several training forwards per optimizer step, without optimizer= ---------------


def test_two_forwards_per_step_without_optimizer_warn_once_and_never_log_zero_ratios(tmp_path):
    model, optimizer, writer, monitor = _watched_without_optimizer(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, y in _data(4):  # a siamese / consistency loss: two forwards, one backward, one step
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x), y) + nn.functional.cross_entropy(model(x.flip(0)), y.flip(0))
            loss.backward()
            optimizer.step()
        monitor.remove()
    writer.close()
    ours = _ours(caught)
    assert len(ours) == 1 and "several training forwards make one optimizer step" in ours[0] and "optimizer=" in ours[0]
    acc = load(tmp_path)
    ratios = scalars(acc, "updates/0.weight/ratio")
    assert ratios and all(value > 0 for value in ratios.values())  # never 0.0 for parameters that changed


def test_gradient_accumulation_without_optimizer_warns_instead_of_zero_ratios(tmp_path):
    model, optimizer, writer, monitor = _watched_without_optimizer(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i, (x, y) in enumerate(_data(6)):
            nn.functional.cross_entropy(model(x), y).backward()
            if i % 2 == 1:
                optimizer.step()
                optimizer.zero_grad()
        monitor.remove()
    writer.close()
    ours = _ours(caught)
    assert len(ours) == 1 and "no trainable parameter changed" in ours[0] and "optimizer=" in ours[0]
    ratios = scalars(load(tmp_path), "updates/0.weight/ratio")
    assert ratios and all(value > 0 for value in ratios.values())


def test_gan_discriminator_with_optimizer_counts_iterations_and_logs_true_ratio(tmp_path):
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
    befores, grads = [], []
    for x, y in _data(4):
        optimizer.zero_grad()
        real = nn.functional.cross_entropy(model(x), y)
        fake = nn.functional.cross_entropy(model(torch.tanh(x)), (y + 1) % 3)
        (real + fake).backward()
        befores.append(model[0].weight.detach().clone())
        grads.append([p.grad.clone() for p in model.parameters()])
        optimizer.step()
    assert monitor.step == 4
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    norms, ratios = scalars(acc, "gradients/global_norm"), scalars(acc, "updates/0.weight/ratio")
    afters = befores[1:] + [model[0].weight.detach()]
    for step in range(4):
        assert norms[step] == pytest.approx(_norm(grads[step]), rel=1e-5)
        assert ratios[step] == pytest.approx(_ratio(befores[step], afters[step]), rel=1e-4)


# --- 4. optimizer.step(closure) ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["sgd", "lbfgs"])
def test_closure_steps_log_their_own_gradients(tmp_path, kind):
    model = _mlp()
    if kind == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    else:
        optimizer = torch.optim.LBFGS(model.parameters(), lr=0.1, max_iter=1)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
    own = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for x, y in _data(3):
            def closure(x=x, y=y):
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(x), y)
                loss.backward()
                own.append(_norm(p.grad for p in model.parameters()))
                return loss

            optimizer.step(closure)
        monitor.remove()
    writer.close()
    assert _ours(caught) == []  # no "no training forward" warning: the closure's forward counts
    norms = scalars(load(tmp_path), "gradients/global_norm")
    assert sorted(norms) == [0, 1, 2]  # step 0 too
    for step in range(3):
        assert norms[step] == pytest.approx(own[step], rel=1e-5)


# --- 5. gradient clipping: one meaning -------------------------------------------------------


def _clipped_run(tmp_path, optimizer_mode: bool, accumulate: int = 1, scaler=None, pass_scaler: bool = True):
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer if optimizer_mode else None, log_every=1, log_graph=False,
                           grad_scaler=scaler if pass_scaler else None)
    returned = []
    data = _data(3 * accumulate)
    for i, (x, y) in enumerate(data):
        loss = nn.functional.cross_entropy(model(x * 20), y) / accumulate
        (scaler.scale(loss) if scaler is not None else loss).backward()
        if (i + 1) % accumulate:
            continue
        if scaler is not None:
            scaler.unscale_(optimizer)
        returned.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5)))
        if scaler is not None:
            scaler.step(optimizer)
            scaler.update()
        else:
            optimizer.step()
        optimizer.zero_grad()
    monitor.remove()
    writer.close()
    return load(tmp_path), returned


@pytest.mark.parametrize("accumulate", [1, 3])
def test_clipping_with_optimizer_logs_the_norm_before_and_the_clipped_norm(tmp_path, accumulate):
    acc, returned = _clipped_run(tmp_path, True, accumulate)
    norms, clipped = scalars(acc, "gradients/global_norm"), scalars(acc, "gradients/clipped_global_norm")
    assert all(value > 1.0 for value in returned)  # every step clipped
    for step in range(3):
        assert norms[step] == pytest.approx(returned[step], rel=1e-5)  # what clip_grad_norm_ returned
        assert clipped[step] == pytest.approx(0.5, rel=1e-4)


def test_clipping_without_optimizer_logs_the_norm_before(tmp_path):
    acc, returned = _clipped_run(tmp_path, False)
    norms = scalars(acc, "gradients/global_norm")
    for step in range(3):
        assert norms[step] == pytest.approx(returned[step], rel=1e-5)


@pytest.mark.parametrize("pass_scaler", [True, False])
def test_clipping_under_a_grad_scaler_logs_unscaled_norms(tmp_path, pass_scaler):
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1000)
    acc, returned = _clipped_run(tmp_path, True, scaler=scaler, pass_scaler=pass_scaler)
    norms, clipped = scalars(acc, "gradients/global_norm"), scalars(acc, "gradients/clipped_global_norm")
    for step in range(3):
        assert norms[step] == pytest.approx(returned[step], rel=1e-5)
        assert clipped[step] == pytest.approx(0.5, rel=1e-4)


def test_no_clipping_no_clipped_tag(tmp_path):
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
    for x, y in _data(2):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1e6)  # clips nothing
        optimizer.step()
    monitor.remove()
    writer.close()
    tags = load(tmp_path).Tags()["scalars"]
    assert "gradients/global_norm" in tags and "gradients/clipped_global_norm" not in tags
