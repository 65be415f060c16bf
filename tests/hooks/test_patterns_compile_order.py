"""torch.compile after other compiled models (order dependence): a hooked
model compiled in the same process earlier must not change what a later
compiled model logs or says.

Every hook of this package runs through one ``CopySafeHook.__call__``;
dynamo compiles that frame at each hook's graph break, up to its recompile
limit (8 variants), and then runs it, and the hook code it calls, without
tracing it. Compile detection that relies on the hook's own frame being
traced then took the later compiled model for an eager one: activations not
logged, and no warning either. Both runs are here, in the order that failed,
so the case is covered whatever order the tests run in."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks, forwards
from tb_fmnist_plugin.hooks.handles import CopySafeHook
from tests.hooks.test_hooks_hard_training import _data, _Net, _sgd_steps, _train_compiled
from tests.support.hooks_helpers import load, scalars


def _attach_after_a_compiled_run(logdir):
    """A compiled model run once, then hooked (optimizer mode, every step logs)."""
    model = _Net()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    compiled = torch.compile(model, backend="aot_eager")
    data = _data(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _sgd_steps(model, compiled, optimizer, data[:1])
        writer = SummaryWriter(str(logdir))
        monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
        _sgd_steps(model, compiled, optimizer, data[1:])
        monitor.remove()
        writer.close()
    ours = [str(w.message) for w in caught if str(w.message).startswith("tb_fmnist_plugin.hooks")]
    acc = load(logdir)
    assert sorted(scalars(acc, "gradients/global_norm")) == [0, 1, 2]
    return ours, acc


def _hook_frame_variants_used_up() -> bool:
    """Whether dynamo holds as many variants of the hooks' shared frame as
    its recompile limit allows (True where this torch does not tell)."""
    entries = getattr(getattr(torch._C, "_dynamo", None), "eval_frame", None)
    entries = getattr(entries, "_debug_get_cache_entry_list", None)
    limit = getattr(torch._dynamo.config, "recompile_limit", None) or getattr(torch._dynamo.config, "cache_size_limit", None)
    if entries is None or not isinstance(limit, int):
        return True
    return len(entries(CopySafeHook.__call__.__code__)) >= limit


@pytest.fixture
def fresh_dynamo():
    """Dynamo's caches empty before and after (the same start whichever
    tests ran before; code compiled here for ``_Net`` with hooks is not
    reused by another test's ``_Net``)."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


def test_attach_after_compiling_warns_or_logs_after_another_compiled_model(tmp_path, monkeypatch, fresh_dynamo):
    # First: a model hooked before torch.compile, without an optimizer (its hooks use up the shared frame's variants).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _train_compiled(True, tmp_path / "first", False)
    assert sorted(scalars(load(tmp_path / "first"), "activations/features.0/mean")) == [0, 2]
    assert _hook_frame_variants_used_up()
    # Then a model compiled and run before attach_hooks, its compiled forward not dropped: one warning, not silence.
    with monkeypatch.context() as patch:
        patch.setattr(forwards, "forget_compiled", lambda module: None)
        ours, acc = _attach_after_a_compiled_run(tmp_path / "not recompiled")
    assert len(ours) == 1 and "activation statistics are not logged" in ours[0] and "before torch.compile" in ours[0]
    assert not any(tag.startswith("activations/") for tag in acc.Tags()["scalars"])
    # And where its compiled forward is dropped: compiled again with the hooks, every step's activations logged.
    ours, acc = _attach_after_a_compiled_run(tmp_path / "model")
    assert ours == [] and sorted(scalars(acc, "activations/body.0/mean")) == [0, 1, 2]
