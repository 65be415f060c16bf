"""``attach_hooks`` on a TorchScript module (issue 17, case 12): a
``TypeError`` that says why and what to do, before any hook is registered."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks


def _scripted() -> nn.Module:
    return torch.jit.script(nn.Sequential(nn.Linear(4, 3), nn.ReLU()))


def _traced() -> nn.Module:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # trace is deprecated in recent torch
        return torch.jit.trace(nn.Sequential(nn.Linear(4, 3), nn.ReLU()), torch.ones(2, 4))


@pytest.mark.parametrize("make", [_scripted, _traced], ids=["script", "trace"])
def test_a_torchscript_model_raises_a_type_error_naming_the_fix(tmp_path, make):
    model = make()
    with SummaryWriter(str(tmp_path)) as writer:
        with pytest.raises(TypeError, match=r"TorchScript module .*calls no Python hooks.*Pass the eager module"):
            attach_hooks(model, writer)
    assert not model._forward_pre_hooks and not model._forward_hooks
