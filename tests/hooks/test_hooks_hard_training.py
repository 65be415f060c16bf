"""Hard training-side cases (issue 9): FSDP2, torch.compile, GradScaler,
activation checkpointing, two monitors and no-grad forwards, bounded
statistics memory. Each case logs correctly or warns once, naming what is
not logged and why; training stays bit-identical."""
from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest
import torch
from torch import nn
from torch.utils.checkpoint import checkpoint
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.events import free_port
from tests.support.hooks_helpers import batches, load, scalars


def _mlp() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))


def _data(count: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return [(torch.randn(4, 6, generator=generator), torch.randint(0, 3, (4,), generator=generator)) for _ in range(count)]


def _global_norm(grads) -> float:
    return math.sqrt(sum(float(g.double().pow(2).sum()) for g in grads))


def _messages(caught) -> list:
    return [str(w.message) for w in caught]


# --- 1. FSDP2 ----------------------------------------------------------------------


@pytest.mark.subprocess
def test_fsdp2_two_processes_log_full_unsharded_statistics(tmp_path):
    import torch.multiprocessing as mp

    from tests.hooks.hooks_fsdp_worker import STEPS, worker

    if not hasattr(pytest.importorskip("torch.distributed.fsdp"), "fully_shard"):
        pytest.skip("this torch has no FSDP2 (torch.distributed.fsdp.fully_shard, torch >= 2.6)")

    result_file = str(tmp_path / "result.pt")
    mp.spawn(worker, args=(2, free_port(), str(tmp_path), result_file), nprocs=2, join=True)
    record = torch.load(result_file)
    acc = load(tmp_path / "optimizer")
    for step in range(STEPS):
        grads, before, after = record["grads"][step], record["before"][step], record["after"][step]
        for name in ("0.weight", "2.weight", "2.bias"):
            assert scalars(acc, f"gradients/{name}/norm")[step] == pytest.approx(grads[name].norm().item(), rel=1e-5)
            ratio = (after[name] - before[name]).norm() / before[name].norm()
            assert scalars(acc, f"updates/{name}/ratio")[step] == pytest.approx(ratio.item(), rel=1e-4)
        assert scalars(acc, "gradients/global_norm")[step] == pytest.approx(_global_norm(grads.values()), rel=1e-5)
        weight = next(e for e in acc.Histograms("weights/0.weight") if e.step == step).histogram_value
        assert weight.num == before["0.weight"].numel() == 54  # the full 9x6 weight, not a 5x6 or 4x6 shard
        assert weight.sum == pytest.approx(before["0.weight"].sum().item(), abs=1e-5)
        assert (weight.min, weight.max) == pytest.approx((before["0.weight"].min().item(), before["0.weight"].max().item()))
    assert sorted(scalars(acc, "activations/0/mean")) == list(range(STEPS))
    messages = record["warnings"]
    assert sum("graph not logged" in m and "FSDP2" in m for m in messages) == 1
    # Without optimizer=: full weights logged, gradients and updates not, with one warning saying so.
    acc = load(tmp_path / "no_optimizer")
    weight = acc.Histograms("weights/0.weight")[0].histogram_value
    assert weight.num == 54 and weight.sum == pytest.approx(record["no_optimizer_weights"]["0.weight"].sum().item(), abs=1e-5)
    assert not any(t.startswith(("gradients/", "updates/")) for t in acc.Tags()["scalars"])
    assert sum("gradients and update ratios are not logged" in m and "optimizer=" in m for m in messages) == 1


# --- 2. torch.compile --------------------------------------------------------------------


def _train_compiled(hooks: bool, tmp_path, optimizer_hooks: bool, steps: int = 3):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    writer = monitor = None
    if hooks:
        writer = SummaryWriter(str(tmp_path))
        monitor = attach_hooks(model, writer, optimizer=optimizer if optimizer_hooks else None, log_every=2)
    compiled = torch.compile(model, backend="aot_eager")
    losses = []
    torch.manual_seed(1)
    for x, y in batches(steps, batch=2):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(compiled(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.detach())
    step = monitor.step if monitor is not None else None
    if monitor is not None:
        monitor.remove()
        writer.close()
    return losses, [p.detach().clone() for p in model.parameters()], step


def test_compile_without_optimizer_logs_every_logging_step_bit_identically(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain_losses, plain_params, _ = _train_compiled(False, tmp_path, False)
        losses, params, step = _train_compiled(True, tmp_path, False)
    assert step == 3
    assert all(torch.equal(a, b) for a, b in zip(plain_losses, losses))
    assert all(torch.equal(a, b) for a, b in zip(plain_params, params))
    acc = load(tmp_path)
    for tag in ("activations/features.0/mean", "activations/classifier.4/mean", "gradients/global_norm",
                "updates/classifier.4.weight/ratio"):
        assert sorted(scalars(acc, tag)) == [0, 2], tag
    assert not any("/call1" in t for t in acc.Tags()["scalars"])


class _Net(nn.Module):
    """A model with its own forward (``torch.compile`` runs the hooks of a
    torch.nn container such as ``nn.Sequential`` inside the compiled code)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = _mlp()

    def forward(self, x):
        return self.body(x)


def _sgd_steps(model, step_fn, optimizer, data):
    for x, y in data:
        optimizer.zero_grad()
        nn.functional.cross_entropy(step_fn(x), y).backward()
        optimizer.step()


def test_attach_after_compiling_logs_activations_or_warns_once(tmp_path, monkeypatch):
    from tb_fmnist_plugin.hooks import forwards

    def attach_after_a_compiled_run(name: str, compile_function: bool = False):
        model = _Net()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        compiled = torch.compile((lambda x: model(x)) if compile_function else model, backend="aot_eager")
        data = _data(4)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _sgd_steps(model, compiled, optimizer, data[:1])
            writer = SummaryWriter(str(tmp_path / name))
            monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
            _sgd_steps(model, compiled, optimizer, data[1:])
            monitor.remove()
            writer.close()
        ours = [m for m in _messages(caught) if m.startswith("tb_fmnist_plugin.hooks")]
        acc = load(tmp_path / name)
        assert sorted(scalars(acc, "gradients/global_norm")) == [0, 1, 2]
        return ours, acc

    # Where the compiled forward cannot be dropped (a torch without reset_code): one warning naming what is missing.
    with monkeypatch.context() as patch:
        patch.setattr(forwards, "forget_compiled", lambda module: None)
        ours, acc = attach_after_a_compiled_run("not recompiled")
    assert len(ours) == 1 and "activation statistics are not logged" in ours[0] and "before torch.compile" in ours[0]
    # A compiled model that already ran: its forward is compiled again, with the hooks.
    ours, acc = attach_after_a_compiled_run("model")
    assert ours == [] and sorted(scalars(acc, "activations/body.0/mean")) == [0, 1, 2]
    # A compiled function around the model runs without any of its hooks: said at the first logging step.
    ours, acc = attach_after_a_compiled_run("function", compile_function=True)
    assert len(ours) == 1 and "no training forward of the model reached the hooks" in ours[0]


# --- 4. mixed precision with a GradScaler ----------------------------------------------


def _amp_loop(model, optimizer, scaler, data, overflow_at=(), record=None):
    """bfloat16 autocast and a GradScaler; the loss overflows at the iterations in ``overflow_at``."""
    for i, (x, y) in enumerate(data):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(x)
        loss = nn.functional.cross_entropy(out.float(), y)
        if i in overflow_at:
            loss = loss * float("inf")
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        if record is not None:
            record.append(([p.grad.clone() for p in model.parameters()], out.detach().float()))
        scaler.step(optimizer)
        scaler.update()


def _scaler() -> torch.amp.GradScaler:
    return torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1000)


def test_grad_scaler_without_optimizer_logs_unscaled_gradients_and_counts_skips(tmp_path):
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = _scaler()
    writer = SummaryWriter(str(tmp_path))
    with pytest.raises(TypeError, match="grad_scaler must be a torch.amp.GradScaler"):
        attach_hooks(model, writer, grad_scaler=object())
    monitor = attach_hooks(model, writer, log_every=1, log_graph=False, grad_scaler=scaler)
    record = []
    _amp_loop(model, optimizer, scaler, _data(3), overflow_at=(1,), record=record)
    assert monitor.step == 3
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    norms = scalars(acc, "gradients/global_norm")
    for step in (0, 2):  # the true (unscaled) norm, not 1024x it
        assert norms[step] == pytest.approx(_global_norm(record[step][0]), rel=1e-5)
    assert math.isnan(norms[1])  # the overflowing step's gradients hold inf
    assert scalars(acc, "amp/skipped_steps") == {0: 0.0, 1: 1.0, 2: 1.0}
    assert scalars(acc, "amp/loss_scale") == {0: 1024.0, 1: 1024.0, 2: 512.0}


def test_grad_scaler_with_optimizer_counts_skipped_steps_without_mixing_iterations(tmp_path):
    plain = _mlp()
    plain_optimizer = torch.optim.SGD(plain.parameters(), lr=0.1)
    _amp_loop(plain, plain_optimizer, _scaler(), _data(5), overflow_at=(2,))
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = _scaler()
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=2, log_graph=False, grad_scaler=scaler)
    record = []
    _amp_loop(model, optimizer, scaler, _data(5), overflow_at=(2,), record=record)
    monitor.flush()
    assert monitor.step == 5  # the skipped iteration counts
    monitor.remove()
    writer.close()
    assert all(torch.equal(a, b) for a, b in zip(plain.parameters(), model.parameters()))
    acc = load(tmp_path)
    assert sorted(scalars(acc, "activations/2/mean")) == [0, 2, 4]
    for step in (0, 2, 4):  # each logging step's activations are its own iteration's
        assert scalars(acc, "activations/2/mean")[step] == pytest.approx(record[step][1].mean().item(), rel=1e-5)
    # Step 2 was skipped: no gradients under it, and step 4's are step 4's own.
    assert sorted(scalars(acc, "gradients/global_norm")) == [0, 4]
    assert scalars(acc, "gradients/global_norm")[4] == pytest.approx(_global_norm(record[4][0]), rel=1e-5)
    assert scalars(acc, "amp/skipped_steps") == {0: 0.0, 2: 1.0, 4: 1.0}


# --- 5. whole-model activation checkpointing ---------------------------------------------


@pytest.mark.parametrize("use_reentrant", [True, False])
def test_checkpointed_model_without_optimizer_one_step_per_iteration(tmp_path, use_reentrant):
    def run(hooks: bool):
        model = _mlp()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        writer = SummaryWriter(str(tmp_path)) if hooks else None
        monitor = attach_hooks(model, writer, log_every=1, log_graph=False) if hooks else None
        grads = []
        for x, y in _data(3):
            optimizer.zero_grad()
            out = checkpoint(model, x.requires_grad_(), use_reentrant=use_reentrant)
            nn.functional.cross_entropy(out, y).backward()
            grads.append([p.grad.clone() for p in model.parameters()])
            optimizer.step()
        step = monitor.step if monitor is not None else None
        if monitor is not None:
            monitor.remove()
            writer.close()
        return grads, list(model.parameters()), step

    plain_grads, plain_params, _ = run(False)
    grads, params, step = run(True)
    assert step == 3  # the recomputation in backward is not a step
    assert all(torch.equal(a, b) for a, b in zip(plain_params, params))
    acc = load(tmp_path)
    assert not any("/call1" in t for t in acc.Tags()["scalars"])  # nor logged twice
    assert sorted(scalars(acc, "activations/0/mean")) == [0, 1, 2]
    assert sorted(scalars(acc, "updates/0.weight/ratio")) == [0, 1, 2]
    norms = scalars(acc, "gradients/global_norm")
    assert sorted(norms) == [0, 1, 2]
    for step, step_grads in enumerate(grads):
        assert norms[step] == pytest.approx(_global_norm(step_grads), rel=1e-5)


# --- 8. two monitors; forwards without grad -----------------------------------------------


def test_second_monitor_graph_trace_does_not_reach_the_first_monitor(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    first_writer, second_writer = SummaryWriter(str(tmp_path / "a")), SummaryWriter(str(tmp_path / "b"))
    first = attach_hooks(model, first_writer, optimizer=optimizer, log_every=1, log_graph=False)
    second = attach_hooks(model, second_writer, optimizer=optimizer, log_every=1)  # traces the graph
    (x, y), = batches(1, batch=4)
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    for monitor, writer in ((first, first_writer), (second, second_writer)):
        monitor.remove()
        writer.close()
    a, b = load(tmp_path / "a"), load(tmp_path / "b")
    assert not any("/call" in t for t in a.Tags()["scalars"])
    for tag in b.Tags()["scalars"]:
        if tag.startswith("activations/"):  # dropout included: the training forward's, not the eval trace's
            assert scalars(a, tag) == scalars(b, tag), tag


def test_forwards_without_grad_are_not_training_steps(tmp_path):
    torch.manual_seed(0)
    model = _mlp()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    (x, y), (other, _) = _data(2)
    expected = model[0](x).mean().item()
    writer = SummaryWriter(str(tmp_path / "optimizer"))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
    with torch.no_grad():
        model(other)  # e.g. a validation pass without model.eval()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    monitor.remove()
    writer.close()
    assert scalars(load(tmp_path / "optimizer"), "activations/0/mean") == {0: pytest.approx(expected, rel=1e-6)}
    # Without an optimizer, no_grad and inference_mode forwards are not counted either.
    writer = SummaryWriter(str(tmp_path / "forwards"))
    with attach_hooks(model, writer, log_every=1, log_graph=False) as monitor:
        with torch.no_grad():
            model(other)
        with torch.inference_mode():
            model(other)
        nn.functional.cross_entropy(model(x), y).backward()
        assert monitor.step == 1
    writer.close()


# --- 9. bounded statistics memory ------------------------------------------------------

_PEAK_SCRIPT = """
import resource, torch
from tb_fmnist_plugin.hooks import stats
torch.set_num_threads(1)
x = torch.randn(16 * 2**20)                # 64 MB
y = x + 1                                   # 64 MB
half = x.bfloat16()                         # 32 MB
stats.summarize(torch.randn(2**20), 30)     # warm the allocator up
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stats.summarize(x, 30)
stats.summarize(half, 30)
stats.update_squares(y, x)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) / 1024)
"""


def test_statistics_of_a_large_tensor_need_a_few_mb_only():
    done = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT], capture_output=True, text=True, check=True)
    extra_mb = float(done.stdout.split()[-1])
    assert extra_mb < 16, f"statistics of a 64 MB tensor raised the peak by {extra_mb:.1f} MB"
