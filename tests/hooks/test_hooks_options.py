"""The options value, wrapped optimizers, and the shared argument checks."""
from __future__ import annotations

import dataclasses
import inspect
import os
import re
import warnings

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.format.checks import check_int
from tb_fmnist_plugin.hooks import HookMonitor, HookOptions, attach_hooks
from tests.support.hooks_helpers import batches, hook_counts, load, scalars, train
from tests.support.python import run_python


class _AcceleratorStyleOptimizer(torch.optim.Optimizer):
    """Like accelerate's AcceleratedOptimizer: an Optimizer subclass that never
    runs Optimizer.__init__ (so it has no hook registries of its own) and
    forwards to the optimizer it holds in ``.optimizer``."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        return self.optimizer.step(closure)


class _PlainWrapper:
    """A wrapper that is no Optimizer at all (as some trainers write)."""

    def __init__(self, optimizer) -> None:
        self.optimizer = optimizer

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def step(self) -> None:
        self.optimizer.step()


def test_wrapped_optimizer_is_unwrapped_and_hooked(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    inner = torch.optim.SGD(model.parameters(), lr=0.01)
    wrapped = _PlainWrapper(_AcceleratorStyleOptimizer(inner))
    before = hook_counts(model, inner)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(model, writer, optimizer=wrapped, log_every=2, log_graph=False)
    assert len(inner._optimizer_step_pre_hooks) == len(inner._optimizer_step_post_hooks) == 1
    train(model, wrapped, batches(3, batch=2))
    assert monitor.step == 3  # optimizer steps, counted on the inner optimizer
    monitor.remove()
    writer.close()
    assert hook_counts(model, inner) == before
    acc = load(tmp_path)
    assert sorted(scalars(acc, "gradients/global_norm")) == [0, 2]
    assert "updates/classifier.4.weight/ratio" in acc.Tags()["scalars"]


def test_optimizer_chain_without_an_optimizer_is_refused(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    model = nn.Linear(2, 2)
    looped = _PlainWrapper(None)
    looped.optimizer = looped  # a cycle ends the walk
    for bad in (_PlainWrapper(object()), looped):
        with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer, got _PlainWrapper"):
            attach_hooks(model, writer, optimizer=bad)
    assert hook_counts(model) == 0
    writer.close()


def test_options_are_checked_normalized_and_frozen(tmp_path):
    options = HookOptions(class_names=["a", "b"], modules="features.0", image_mean=[0.1, 0.2, 0.3], log_every=np.int64(5))
    assert options.class_names == ("a", "b") and options.num_classes == 2
    assert options.modules == ("features.0",)
    assert options.image_mean == (0.1, 0.2, 0.3)
    assert options.log_every == 5 and type(options.log_every) is int
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.log_every = 1  # type: ignore[misc]
    for kwargs, error, fragment in [
        (dict(class_names=["a", "a"]), ValueError, "duplicates"),
        (dict(class_names=["a", ""]), TypeError, "non-empty"),
        (dict(class_names=[]), ValueError, "empty"),
        (dict(class_names=[str(i) for i in range(4097)]), ValueError, "at most 4096"),
        (dict(histogram_bins=True), ValueError, "histogram_bins"),
        (dict(max_misclassified=-1), ValueError, "max_misclassified must be an integer >= 0"),
        (dict(eval_name=""), ValueError, "eval_name"),
    ]:
        with pytest.raises(error, match=fragment):
            HookOptions(**kwargs)
    # attach_hooks hands its keyword options over whole.
    writer = SummaryWriter(str(tmp_path))
    with attach_hooks(FashionMNISTCNN(), writer, grid_columns=3) as monitor:
        assert monitor.options == HookOptions(grid_columns=3)
    writer.close()


def test_check_int():
    assert check_int(np.int32(7), "n") == 7 and type(check_int(np.int32(7), "n")) is int
    assert check_int(3, "n", minimum=1, maximum=3) == 3
    for value in (True, 1.0, "2", None):
        with pytest.raises(ValueError, match="n must be an integer >= 0, got"):
            check_int(value, "n")
    with pytest.raises(ValueError, match=r"n must be an integer in \[1, 3\], got 4"):
        check_int(4, "n", minimum=1, maximum=3)
    with pytest.raises(TypeError, match="step must be an integer, got float"):
        check_int(1.5, "step", type_error=True)
    with pytest.raises(ValueError, match="step must be an integer >= 0, got -1"):
        check_int(-1, "step", type_error=True)


def test_package_root_imports_neither_hooks_nor_torch_until_a_name_is_used():
    """TensorBoard imports the root when loading the plugin and must not pay
    for torch; ``from tb_fmnist_plugin import attach_hooks`` (PEP 562) still
    works and only then loads the hooks."""
    code = (
        "import sys, tb_fmnist_plugin\n"
        "print(sorted(m for m in ('torch', 'tb_fmnist_plugin.hooks') if m in sys.modules))\n"
        "from tb_fmnist_plugin import attach_hooks, HookMonitor, HookOptions\n"
        "import tb_fmnist_plugin.hooks as hooks\n"
        "assert attach_hooks is hooks.attach_hooks and HookMonitor is hooks.HookMonitor\n"
        "assert HookOptions is hooks.HookOptions and 'attach_hooks' in dir(tb_fmnist_plugin)\n"
        "print(sorted(m for m in ('torch', 'tb_fmnist_plugin.hooks') if m in sys.modules))\n"
    )
    assert run_python(code).split("\n")[:2] == ["[]", "['tb_fmnist_plugin.hooks', 'torch']"]
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        import tb_fmnist_plugin

        tb_fmnist_plugin.nonexistent  # noqa: B018


#: attach_hooks' parameters that are not options (what it hooks or holds, and a HookOptions to start from).
NOT_OPTIONS = ("model", "writer", "optimizer", "example_input", "grad_scaler", "options")
HOOKS_DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "hooks.md")


def _documented_options():
    """The option names in docs/hooks.md: the first column of the table headed
    ``| Option |``, and the keywords of the signature block under ``## Options``."""
    with open(HOOKS_DOC, encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("## Options\n"):text.index("## The monitor\n")]
    block = section[section.index("```python\n"):section.index("```\n", section.index("```python\n") + 3)]
    signature = re.findall(r"(\w+)=", block)
    table = section[section.index("| Option |"):].split("\n\n")[0].splitlines()[2:]
    rows = [name for line in table for name in re.findall(r"`(\w+)`", line.split("|")[1])]
    return signature, rows


def test_signature_fields_and_docs_list_the_same_options():
    fields = [field.name for field in dataclasses.fields(HookOptions)]
    assert list(HookOptions.option_names()) == fields
    parameters = inspect.signature(attach_hooks).parameters
    options = [name for name in parameters if name not in NOT_OPTIONS]
    assert sorted(options) == sorted(fields)
    for field in dataclasses.fields(HookOptions):
        assert parameters[field.name].default == field.default, field.name
    assert [name for name in parameters if name in NOT_OPTIONS] == list(NOT_OPTIONS[:4]) + ["grad_scaler", "options"]
    signature, rows = _documented_options()
    assert rows == fields, "docs/hooks.md's option table: one row per HookOptions field, in field order"
    assert [name for name in signature if name not in NOT_OPTIONS] == options
    assert "histogram_bins: int = 30" in str(inspect.signature(attach_hooks))


def test_readme_shows_the_same_signature_and_every_option():
    with open(os.path.join(os.path.dirname(HOOKS_DOC), "..", "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text[text.index("### `attach_hooks`\n"):]
    block = section[section.index("```python\n"):section.index("```\n", section.index("```python\n") + 3)]
    table = section[section.index("| Option |"):].split("\n\n")[0].splitlines()[2:]
    rows = {name for line in table for name in re.findall(r"`(\w+)`", line.split("|")[1])}
    assert re.findall(r"(\w+)=", block) == _documented_options()[0]
    assert {field.name for field in dataclasses.fields(HookOptions)} <= rows


def test_positional_and_keyword_calls_and_options_value(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    with attach_hooks(model, writer, ["a", "b"], optimizer, 7, None, log_graph=False) as monitor:
        assert monitor.options.class_names == ("a", "b") and monitor.log_every == 7
    base = HookOptions(log_every=3, grid_columns=2)
    with attach_hooks(model, writer, options=base, grid_columns=5) as monitor:
        assert monitor.options == HookOptions(log_every=3, grid_columns=5)
    with pytest.raises(TypeError, match="multiple values for argument 'class_names'"):
        attach_hooks(model, writer, ["a"], class_names=["b"])
    with pytest.raises(ValueError, match="log_every"):
        attach_hooks(model, writer, options=base, log_every=0)  # the replaced values are checked again
    assert hook_counts(model, optimizer) == 0
    writer.close()


def test_unknown_option_is_a_type_error_naming_it_and_the_options(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    model = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"attach_hooks\(\) got an unexpected keyword argument 'histogram_bin'; "
                                        r"its options are: class_names, log_every, modules, histogram_bins,"):
        attach_hooks(model, writer, histogram_bin=3)
    with pytest.raises(TypeError, match="unexpected keyword argument 'histogram_bin'"):
        HookOptions.from_keywords({"histogram_bin": 3})
    with pytest.raises(TypeError, match="options must be a tb_fmnist_plugin.hooks.HookOptions, got dict"):
        attach_hooks(model, writer, options={"log_every": 2})
    assert hook_counts(model) == 0
    writer.close()


def test_monitor_built_directly_checks_its_arguments(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    model = nn.Linear(2, 2)
    for kwargs, error, fragment in [
        (dict(options={"log_every": 0}), TypeError, "options must be a tb_fmnist_plugin.hooks.HookOptions, got dict"),
        (dict(options=dataclasses.asdict(HookOptions())), TypeError, "options must be"),
        (dict(optimizer=object()), TypeError, "optimizer must be a torch.optim.Optimizer"),
        (dict(grad_scaler=object()), TypeError, "grad_scaler"),
        (dict(options=HookOptions(modules=["nope"])), ValueError, "modules not found"),
    ]:
        with pytest.raises(error, match=fragment):
            HookMonitor(model, writer, **kwargs)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        HookMonitor(lambda x: x, writer)
    with pytest.raises(ValueError, match="writer is None"):
        HookMonitor(model, None)
    assert hook_counts(model) == 0
    with HookMonitor(model, writer) as monitor:  # no options: the defaults
        assert monitor.options == HookOptions()
    writer.close()


def test_log_graph_traces_once_from_the_given_input(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    writer = SummaryWriter(str(tmp_path))
    traced = []
    add_graph = writer.add_graph
    writer.add_graph = lambda *args, **kwargs: (traced.append(args[0]), add_graph(*args, **kwargs))
    monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1)
    assert monitor.log_graph(torch.zeros(1, 1, 28, 28)) is True
    assert model.training, "the training flag is restored"
    train(model, optimizer, batches(2, batch=2))
    assert len(traced) == 1 and type(traced[0]) is type(model), "traced once (on a copy); the automatic trace is skipped"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert monitor.log_graph(()) is False
    assert any("no positional input" in str(w.message) for w in caught)
    monitor.remove()
    writer.close()
    with pytest.raises(RuntimeError, match="removed"):
        monitor.log_graph(torch.zeros(1, 1, 28, 28))
    acc = load(tmp_path)
    assert acc.Tags()["graph"]
