"""Probabilities passed to ``record()`` as logits (issue 17, case 11): one
warning naming the fix; logits and log-probabilities pass without one."""
from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.hooks_helpers import load, scalars

PROBABILITIES = r"record\(\) got outputs that look like probabilities.*torch\.log\(probabilities\)"


def _evaluation(seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(200, 10, generator=generator) * 3
    labels = torch.where(torch.rand(200, generator=generator) < 0.7, logits.argmax(1), torch.randint(0, 10, (200,), generator=generator))
    return logits, labels


def _ece(tmp_path, outputs_of, evaluations: int = 1):
    logits, labels = _evaluation()
    with SummaryWriter(str(tmp_path)) as writer, attach_hooks(nn.Linear(1, 1), writer, log_graph=False) as monitor:
        for step in range(evaluations):
            for start in range(0, 200, 50):
                monitor.record(outputs_of(logits[start:start + 50]), labels[start:start + 50])
            monitor.end_eval(step)
    return scalars(load(str(tmp_path)), "calibration/test/ece")[0]


def test_probabilities_warn_once_naming_the_fix(tmp_path):
    with pytest.warns(RuntimeWarning, match=PROBABILITIES) as caught:
        _ece(tmp_path, lambda x: torch.softmax(x, dim=1), evaluations=2)
    assert len([w for w in caught if "look like probabilities" in str(w.message)]) == 1


@pytest.mark.parametrize("outputs_of", [lambda x: x, lambda x: torch.log_softmax(x, dim=1), lambda x: x.abs() * 0.01],
                         ids=["logits", "log-probabilities", "small-positive-logits"])
def test_logits_and_log_probabilities_give_no_warning(tmp_path, outputs_of):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        _ece(tmp_path, outputs_of)


def test_the_named_fix_gives_the_true_calibration(tmp_path):
    true = _ece(tmp_path / "logits", lambda x: x)
    fixed = _ece(tmp_path / "log", lambda x: torch.log(torch.softmax(x, dim=1)))
    assert fixed == pytest.approx(true, abs=1e-5)


def test_half_precision_probabilities_are_noticed(tmp_path):
    with pytest.warns(RuntimeWarning, match=PROBABILITIES):
        _ece(tmp_path, lambda x: torch.softmax(x.half(), dim=1))
