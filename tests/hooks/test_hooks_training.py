"""Training-side hooks: identical computation, what gets logged, robustness.

Why one file of ~400 lines: the plain-loop promises of the training hooks in
one place; the hard set-ups are in test_hooks_hard_training.py and the
patterns of issue 17 in test_patterns_*.py."""
from __future__ import annotations

import math
import os
import warnings

import pytest
import torch
import torchvision
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.events import free_port
from tests.support.hooks_helpers import batches, hook_counts, load, scalars, train


@pytest.fixture(autouse=True)
def _deterministic():
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(previous)


def _run(make_model, data, hooks: bool, tmp_path, log_every=1, **train_kwargs):
    torch.manual_seed(0)
    model = make_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    writer = monitor = None
    if hooks:
        writer = SummaryWriter(str(tmp_path))
        monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=log_every)
    torch.manual_seed(1)
    result = train(model, optimizer, data, **train_kwargs)
    params = [p.detach().clone() for p in model.parameters()]
    if monitor is not None:
        monitor.remove()
        writer.close()
    return result, params


def _assert_identical(a, b):
    (out_a, loss_a, grads_a), params_a = a
    (out_b, loss_b, grads_b), params_b = b
    for x, y in zip(out_a, out_b):
        assert torch.equal(x, y)
    for x, y in zip(loss_a, loss_b):
        assert torch.equal(x, y)
    assert len(grads_a) == len(grads_b) > 0
    for step_a, step_b in zip(grads_a, grads_b):
        for x, y in zip(step_a, step_b):
            assert (x is None and y is None) or torch.equal(x, y)
    for x, y in zip(params_a, params_b):
        assert torch.equal(x, y)


def test_cnn_bitwise_identical_and_logs_every_statistic(tmp_path):
    data = batches(3, batch=16)
    plain = _run(FashionMNISTCNN, data, False, tmp_path)
    hooked = _run(FashionMNISTCNN, data, True, tmp_path, log_every=2)
    _assert_identical(plain, hooked)

    acc = load(tmp_path)
    tags = acc.Tags()
    leaf = ["features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
            "classifier.0", "classifier.1", "classifier.2", "classifier.3", "classifier.4"]
    for name in leaf:
        for stat in ("mean", "std", "zero_fraction", "nonfinite_fraction", "nonfinite"):
            assert sorted(scalars(acc, f"activations/{name}/{stat}")) == [0, 2]
        assert f"activations/{name}" in tags["histograms"]
    params = [n for n, _ in FashionMNISTCNN().named_parameters()]
    for name in params:
        assert f"gradients/{name}/norm" in tags["scalars"]
        assert f"gradients/{name}" in tags["histograms"]
        assert f"weights/{name}" in tags["histograms"]
        assert f"updates/{name}/ratio" in tags["scalars"]
    assert sorted(scalars(acc, "gradients/global_norm")) == [0, 2]
    assert acc.Tags()["graph"]

    # Values match statistics computed directly from the plain run.
    (_, _, grads), _ = plain
    step0 = grads[0]
    for (name, _), grad in zip(FashionMNISTCNN().named_parameters(), step0):
        assert scalars(acc, f"gradients/{name}/norm")[0] == pytest.approx(grad.norm().item(), rel=1e-4)
    total = math.sqrt(sum(g.double().pow(2).sum().item() for g in step0))
    assert scalars(acc, "gradients/global_norm")[0] == pytest.approx(total, rel=1e-4)
    # ReLU outputs: zero fraction between 0 and 1, histogram holds every element.
    zero = scalars(acc, "activations/features.1/zero_fraction")[0]
    assert 0.2 < zero < 0.8
    hist = acc.Histograms("activations/features.0")[0].histogram_value
    assert hist.num == 16 * 32 * 28 * 28
    assert sum(hist.bucket) == pytest.approx(hist.num, rel=1e-6)
    ratio = scalars(acc, "updates/classifier.4.bias/ratio")[0]
    assert 0 < ratio < 10


def test_update_ratio_matches_manual(tmp_path):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
    x, y = torch.randn(5, 4), torch.randint(0, 3, (5,))
    before = model.weight.detach().clone()
    nn.functional.cross_entropy(model(x), y).backward()
    optimizer.step()
    expected = ((model.weight - before).norm() / before.norm()).item()
    monitor.remove()
    writer.close()
    assert scalars(load(tmp_path), "updates/weight/ratio")[0] == pytest.approx(expected, rel=1e-5)


def test_resnet18_inplace_relu_and_residual_bitwise_identical(tmp_path):
    make = lambda: torchvision.models.resnet18(num_classes=10)  # noqa: E731
    data = batches(2, batch=2, shape=(3, 32, 32))
    plain = _run(make, data, False, tmp_path)
    hooked = _run(make, data, True, tmp_path)
    _assert_identical(plain, hooked)
    tags = load(tmp_path).Tags()
    assert "activations/layer1.0.relu/mean" in tags["scalars"]
    assert "activations/layer1.0.relu/call1/mean" in tags["scalars"]  # relu is called twice per block
    assert "gradients/fc.weight/norm" in tags["scalars"]


def test_logging_steps_and_settable_step(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=3, log_graph=False)
    train(model, optimizer, batches(7, batch=2))
    assert monitor.step == 7
    # Between logging steps only the root module's two hooks exist.
    assert sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in model.modules()) == 2
    assert all(not getattr(p, "_post_accumulate_grad_hooks", None) for p in model.parameters())
    monitor.step = 30
    train(model, optimizer, batches(2, batch=2))
    assert monitor.step == 32
    with pytest.raises(ValueError):
        monitor.step = -1
    monitor.remove()
    writer.close()
    assert sorted(scalars(load(tmp_path), "activations/features.0/mean")) == [0, 3, 6, 30]


class _Twice(nn.Module):
    """Returns a dict, calls one submodule twice, and has a frozen layer."""

    def __init__(self) -> None:
        super().__init__()
        self.frozen = nn.Linear(6, 6)
        self.frozen.requires_grad_(False)
        self.shared = nn.Linear(6, 6)
        self.pair = _Pair()
        self.head = nn.Linear(6, 10)

    def forward(self, x):
        h = self.shared(self.shared(self.frozen(x.flatten(1)[:, :6])))
        a, b = self.pair(h)
        return {"logits": self.head(a + b), "features": h}


class _Pair(nn.Module):
    def forward(self, x):
        return x.relu(), x.tanh()


def test_dict_outputs_reuse_frozen_accumulation_and_graph_failure(tmp_path):
    torch.manual_seed(0)
    model = _Twice()
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1)
    data = batches(4, batch=4)
    loss_of = lambda out, y: nn.functional.cross_entropy(out["logits"], y)  # noqa: E731
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, _, grads = train(model, optimizer, data, accumulate=2, loss_of=loss_of)
    graph_warnings = [w for w in caught if "graph" in str(w.message)]
    assert len(graph_warnings) <= 1
    assert monitor.step == 2  # optimizer steps, not forwards
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    tags = acc.Tags()["scalars"]
    assert "activations/shared/mean" in tags and "activations/shared/call1/mean" in tags
    assert "activations/pair/0/mean" in tags and "activations/pair/1/mean" in tags
    assert not any(t.startswith("gradients/frozen") for t in tags)
    assert not any(t.startswith("updates/frozen") for t in tags)
    # Gradient accumulation: the logged norm is that of the accumulated gradient.
    assert scalars(acc, "gradients/head.weight/norm")[0] == pytest.approx(grads[0][-2].norm().item(), rel=1e-4)


def test_eval_under_no_grad_is_not_counted(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
    model.eval()
    with torch.no_grad():
        for x, _ in batches(3, batch=2):
            model(x)
    assert monitor.step == 0
    monitor.remove()
    writer.close()
    assert "activations/features.0/mean" not in load(tmp_path).Tags()["scalars"]


def test_without_optimizer_counts_forwards_and_logs_gradients(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, log_every=2, log_graph=False)
    _, _, grads = train(model, optimizer, batches(3, batch=2))
    assert monitor.step == 3
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    assert sorted(scalars(acc, "activations/features.0/mean")) == [0, 2]
    assert scalars(acc, "gradients/classifier.4.weight/norm")[0] == pytest.approx(grads[0][-2].norm().item(), rel=1e-4)
    assert 0 in scalars(acc, "updates/classifier.4.weight/ratio")


def test_autocast_bfloat16(tmp_path):
    data = batches(2, batch=4)
    plain = _run(FashionMNISTCNN, data, False, tmp_path, autocast=True)
    hooked = _run(FashionMNISTCNN, data, True, tmp_path, autocast=True)
    _assert_identical(plain, hooked)
    acc = load(tmp_path)
    assert math.isfinite(scalars(acc, "activations/features.0/mean")[0])


class _NaNAt(nn.Module):
    def forward(self, x):
        x = x.clone()
        x[0, 0] = float("nan")
        x[1, 1] = float("inf")
        return x


def test_nonfinite_first_layer_named_once_and_counted(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), _NaNAt(), nn.ReLU(), nn.Linear(4, 2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1, log_graph=False)
    with pytest.warns(RuntimeWarning, match="layer '1'") as record:
        train(model, optimizer, batches(3, batch=3, shape=(4,), classes=2))
    assert sum("non-finite" in str(w.message) for w in record) == 1
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    assert scalars(acc, "activations/0/nonfinite")[0] == 0
    assert scalars(acc, "activations/1/nonfinite")[0] == 2
    assert scalars(acc, "activations/1/nonfinite_fraction")[0] == pytest.approx(2 / 12)
    text = acc.Tensors("nonfinite/first_layer/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "'1'" in text


class _BrokenTextWriter(SummaryWriter):
    """A real writer whose add_text and add_graph fail (fault injection)."""

    def add_text(self, *args, **kwargs):
        raise OSError("disk full")

    def add_graph(self, *args, **kwargs):
        raise RuntimeError("tracer exploded")


def test_hook_errors_never_reach_the_training_loop(tmp_path):
    make = lambda: nn.Sequential(nn.Linear(4, 4), _NaNAt(), nn.Linear(4, 2))  # noqa: E731
    data = batches(3, batch=3, shape=(4,), classes=2)
    torch.manual_seed(0)
    reference_model = make()
    reference = train(reference_model, torch.optim.SGD(reference_model.parameters(), lr=0.1), data)
    torch.manual_seed(0)
    model = make()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = _BrokenTextWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(model, optimizer, data)
    messages = [str(w.message) for w in caught]
    assert sum("tracer exploded" in m for m in messages) == 1
    assert sum("disk full" in m for m in messages) == 1
    for a, b in zip(reference[1], result[1]):
        assert torch.equal(a, b) or (a.isnan() and b.isnan())
    monitor.remove()
    writer.close()


def test_remove_is_complete_idempotent_and_reattach_works(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    before = hook_counts(model, optimizer)
    writer = SummaryWriter(str(tmp_path / "a"))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1)
    assert hook_counts(model, optimizer) > before
    train(model, optimizer, batches(2, batch=2))
    # Nothing of a finished step is held.
    assert monitor._training._rows == [] and monitor._training._snapshot == {}
    monitor.remove()
    monitor.remove()
    assert hook_counts(model, optimizer) == before
    with pytest.raises(RuntimeError, match="removed"):
        monitor.record(torch.zeros(1, 10), torch.zeros(1, dtype=torch.long))
    writer.close()
    # No-optimizer mode holds nothing after remove either.
    writer = SummaryWriter(str(tmp_path / "b"))
    with attach_hooks(model, writer, log_every=1, log_graph=False) as second:
        train(model, optimizer, batches(2, batch=2))
        assert second._training._pending_step is not None
    assert second._training._rows == [] and second._training._snapshot == {}
    assert hook_counts(model, optimizer) == before
    writer.close()
    assert "activations/features.0/mean" in load(tmp_path / "b").Tags()["scalars"]


def test_bad_arguments_raise_at_the_call(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    model = FashionMNISTCNN()
    with pytest.raises(TypeError, match="torch.nn.Module"):
        attach_hooks(lambda x: x, writer)
    with pytest.raises(TypeError, match="SummaryWriter-like"):
        attach_hooks(model, object())
    with pytest.raises(ValueError, match="writer is None"):
        attach_hooks(model, None)
    with pytest.raises(ValueError, match="log_every"):
        attach_hooks(model, writer, log_every=0)
    with pytest.raises(TypeError, match="class_names"):
        attach_hooks(model, writer, class_names="abc")
    with pytest.raises(ValueError, match="modules not found"):
        attach_hooks(model, writer, modules=["nope"])
    with pytest.raises(TypeError, match="optimizer"):
        attach_hooks(model, writer, optimizer=object())
    with pytest.raises(ValueError, match="image_std"):
        attach_hooks(model, writer, image_std="x")
    assert hook_counts(model) == 0
    monitor = attach_hooks(model, writer, class_names=[str(i) for i in range(9)])
    with pytest.raises(ValueError, match="9 classes"):
        monitor.record(torch.zeros(2, 10), torch.zeros(2, dtype=torch.long))
    monitor.remove()
    writer.close()


def test_distributed_data_parallel_single_process(tmp_path):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{free_port()}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = nn.parallel.DistributedDataParallel(FashionMNISTCNN())
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
        writer = SummaryWriter(str(tmp_path))
        monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1)
        train(model, optimizer, batches(2, batch=2))
        monitor.remove()
        writer.close()
    finally:
        dist.destroy_process_group()
    tags = load(tmp_path).Tags()["scalars"]
    assert "activations/features.0/mean" in tags
    assert "gradients/classifier.4.weight/norm" in tags


@pytest.mark.parametrize(
    "backend",
    [
        "aot_eager",
        pytest.param(
            "inductor",
            marks=pytest.mark.skipif(
                os.environ.get("TB_FMNIST_TEST_INDUCTOR") != "1",
                reason="inductor compiles C++ for about a minute on 2 CPU cores; set TB_FMNIST_TEST_INDUCTOR=1",
            ),
        ),
    ],
)
def test_attach_before_torch_compile(tmp_path, backend):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=2)
    compiled = torch.compile(model, backend=backend)
    data = batches(3, batch=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train(compiled, optimizer, data)
    assert monitor.step == 3
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    assert sorted(scalars(acc, "gradients/global_norm")) == [0, 2]
    # Activations at every logging step, not only the first.
    for tag in ("activations/features.0/mean", "activations/classifier.4/mean"):
        assert sorted(scalars(acc, tag)) == [0, 2], tag
