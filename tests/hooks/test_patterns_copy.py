"""Copying and saving a hooked model (issue 17, case 1): ``copy.deepcopy``,
``pickle``, ``torch.save`` and ``AveragedModel`` (EMA, mean teacher, SWA,
whole-model checkpoints) work while the hooks are attached; the copy logs
nothing, the original keeps logging, and a saved model loads where this
package cannot be imported."""
from __future__ import annotations

import copy
import io
import pickle
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks, copy_safe
from tb_fmnist_plugin.hooks.handles import INERT
from tests.support.hooks_helpers import hook_counts, load


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _step(model: nn.Module, optimizer=None) -> None:
    model.train()
    x, y = torch.randn(6, 4), torch.randint(0, 3, (6,))
    nn.functional.cross_entropy(model(x), y).backward()
    if optimizer is not None:
        optimizer.step()
        optimizer.zero_grad()


COPIES = {
    "deepcopy": copy.deepcopy,
    "pickle": lambda m: pickle.loads(pickle.dumps(m)),
    "torch.save": lambda m: torch.load(_saved(m), weights_only=False),
    "AveragedModel": lambda m: AveragedModel(m).module,
}


def _saved(model: nn.Module) -> io.BytesIO:
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize("with_optimizer", [True, False], ids=["optimizer", "no-optimizer"])
@pytest.mark.parametrize("how", list(COPIES))
def test_copies_work_log_nothing_and_the_original_keeps_logging(tmp_path, how, with_optimizer):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer if with_optimizer else None, log_every=1, log_graph=False)
    _step(model, optimizer)
    _step(model)  # no-optimizer mode: the parameters hold this logging step's gradient hooks now
    copied = COPIES[how](model)
    copied_optimizer = torch.optim.SGD(copied.parameters(), lr=0.1)
    step = monitor.step
    for _ in range(3):
        _step(copied, copied_optimizer)
    assert monitor.step == step, "the copy's forwards and steps are not counted"
    writer.flush()
    before = {tag: len(load(str(tmp_path)).Scalars(tag)) for tag in load(str(tmp_path)).Tags()["scalars"]}
    _step(model, optimizer)
    assert monitor.step == step + 1, "the original still counts"
    monitor.flush()
    after = load(str(tmp_path))
    for tag in ("activations/1/mean", "gradients/global_norm"):
        assert len(after.Scalars(tag)) > before.get(tag, 0), tag
    monitor.remove()
    assert hook_counts(model, optimizer) == 0
    writer.close()


def test_a_copied_optimizer_does_not_step_the_monitor(tmp_path):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with SummaryWriter(str(tmp_path)) as writer, attach_hooks(model, writer, optimizer=optimizer, log_every=1) as monitor:
        _step(model, optimizer)
        twin = copy.deepcopy({"model": model, "optimizer": optimizer})
        _step(twin["model"], twin["optimizer"])
        assert monitor.step == 1


def test_copies_of_a_hook_are_inert_and_need_no_import_of_the_package():
    calls = []
    hook = copy_safe(lambda *args, **kwargs: calls.append(args) or "changed")
    assert hook(1, x=2) == "changed" and calls == [(1,)]
    for copied in (copy.deepcopy(hook), copy.copy(hook), pickle.loads(pickle.dumps(hook))):
        assert copied is INERT and copied(nn.Linear(1, 1), (torch.ones(1),), {}, torch.ones(1)) is None
    assert b"tb_fmnist_plugin" not in pickle.dumps(hook)
    assert calls == [(1,)]


@pytest.mark.subprocess
def test_a_saved_whole_model_loads_and_runs_where_the_package_is_not_installed(tmp_path):
    model = _model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with SummaryWriter(str(tmp_path / "tb")) as writer, attach_hooks(model, writer, optimizer=optimizer, log_every=1):
        _step(model, optimizer)
        torch.save(model, tmp_path / "model.pt")
        expected = model(torch.ones(2, 4))
    script = (
        "import sys\n"
        "sys.modules['tb_fmnist_plugin'] = None  # importing it (or anything under it) raises ImportError\n"
        "import torch\n"
        f"model = torch.load({str(tmp_path / 'model.pt')!r}, weights_only=False)\n"
        "print(model(torch.ones(2, 4)).tolist())\n"
        "assert not [m for m in sys.modules if m.startswith('tb_fmnist_plugin.')]\n"
    )
    done = subprocess.run([sys.executable, "-I", "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert torch.allclose(torch.tensor(eval(done.stdout.strip())), expected)


def test_a_copy_compiles_without_graph_breaks(tmp_path):
    model = _model()
    with SummaryWriter(str(tmp_path)) as writer, attach_hooks(model, writer, log_every=1):
        copied = copy.deepcopy(model)
    compiled = torch.compile(copied, fullgraph=True, backend="eager")  # fullgraph: a graph break raises
    assert torch.allclose(compiled(torch.ones(2, 4)), copied(torch.ones(2, 4)))
