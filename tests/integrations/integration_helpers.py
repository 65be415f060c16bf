"""Shared by the Lightning and Hugging Face integration tests: the dashboards
``attach_hooks`` writes, the expected confusion matrix, a multi-process command."""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from tests.support.events import read_matrix
from tests.support.hooks_helpers import load


def expected_matrix(predicted: torch.Tensor, labels: torch.Tensor, num_classes: int) -> np.ndarray:
    counts = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(counts, (labels.numpy(), predicted.numpy()), 1)
    return counts


def leaf_names(model: nn.Module, prefix: str = "") -> List[str]:
    return [prefix + name for name, module in model.named_modules() if name and not any(True for _ in module.children())]


def assert_every_dashboard(logdir: str, set_name: str, layers: Iterable[str], params: Sequence[str],
                           class_names: Sequence[str], train_steps: Sequence[int]) -> Dict:
    """Every dashboard ``attach_hooks`` writes is in ``logdir``: per-layer and
    per-parameter statistics at ``train_steps``, the graph, and the
    evaluation tags of ``set_name``. Returns the reloaded accumulator."""
    acc = load(logdir)
    tags = acc.Tags()
    for layer in layers:
        assert f"activations/{layer}" in tags["histograms"], layer
        for stat in ("mean", "std", "zero_fraction", "nonfinite_fraction", "nonfinite"):
            assert sorted({e.step for e in acc.Scalars(f"activations/{layer}/{stat}")}) == list(train_steps), (layer, stat)
    ratios = []
    for name in params:
        assert f"gradients/{name}" in tags["histograms"] and f"weights/{name}" in tags["histograms"], name
        assert sorted({e.step for e in acc.Scalars(f"gradients/{name}/norm")}) == list(train_steps), name
        ratios += [e.value for e in acc.Scalars(f"updates/{name}/ratio")]
    assert len(ratios) >= len(list(params)) and max(ratios) > 0  # read across real updates
    assert sorted({e.step for e in acc.Scalars("gradients/global_norm")}) == list(train_steps)
    assert tags["graph"]
    assert f"confusion/{set_name}" in tags["tensors"] and f"confusion/{set_name}/examples" in tags["tensors"]
    assert f"misclassified/{set_name}" in tags["images"]
    assert f"accuracy/{set_name}" in tags["scalars"]
    safe = [name.replace("/", "_") for name in class_names]
    for key in ("precision", "recall", "f1", "support"):
        assert any(f"{key}/{set_name}/{name}" in tags["scalars"] for name in safe), key
    return acc


def last_matrix(logdir: str, tag: str, num_classes: int) -> np.ndarray:
    return read_matrix(load(logdir), tag, num_classes)


def run_process_group(command: List[str], timeout: float, env: Dict[str, str]) -> Tuple[int, str]:
    """``(exit code, output)`` of a command that starts worker processes. It
    runs in its own session; on timeout the whole group is killed, so no
    worker outlives the test, and the test fails with the output."""
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            code: Optional[int] = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        log.seek(0)
        output = log.read()
    assert code is not None, f"{command[:4]} timed out after {timeout} s:\n{output[-4000:]}"
    return code, output
