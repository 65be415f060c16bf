"""Fixtures of the training job's tests: the one honest training run and the
one torchrun run that several tests read (each started once per session)."""
from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from types import SimpleNamespace

import pytest

from tb_fmnist_plugin.fmnist import cli

#: The quick start's run with 5% label noise (docs/training.md): big enough for
#: the reference CNN to learn the synthetic classes and for the suspected label
#: errors to find the flipped labels.
QUICK_START_TRAIN_SIZE = 10_000
QUICK_START_TEST_SIZE = 2_000
QUICK_START_EPOCHS = 2
QUICK_START_LABEL_NOISE = 0.05


@pytest.fixture(scope="session")
def quick_start(tmp_path_factory):
    """One honest run, shared by every test that reads it: 2 epochs on 10,000
    synthetic images, 5% of the 2,000 test labels flipped, all logging on
    (the training subset evaluated too), the final weights saved, on one
    thread (``tests/conftest.py``): the numbers its tests assert were measured
    so (seeds 0-4: suspects' recall 74-78%, precision 73-78%). Returns
    ``result`` (the ``RunResult``), ``out`` (the console output) and
    ``root`` (holding ``run/`` and ``model.pt``), with ``train_size``,
    ``test_size`` and ``label_noise`` as run."""
    root = tmp_path_factory.mktemp("quick_start")
    args = cli.build_parser().parse_args([
        "--epochs", str(QUICK_START_EPOCHS), "--train-size", str(QUICK_START_TRAIN_SIZE),
        "--test-size", str(QUICK_START_TEST_SIZE), "--label-noise", str(QUICK_START_LABEL_NOISE),
        "--log-every", "50", "--logdir", str(root / "run"), "--data-dir", str(root / "data"), "--no-progress",
        "--save-model", str(root / "model.pt"),
    ])
    out = io.StringIO()
    result = cli.run(args, out=out)
    return SimpleNamespace(result=result, out=out.getvalue(), root=root, train_size=QUICK_START_TRAIN_SIZE,
                           test_size=QUICK_START_TEST_SIZE, label_noise=QUICK_START_LABEL_NOISE)


def _run_in_own_session(command: list, timeout: float, env: dict) -> subprocess.CompletedProcess:
    """Run ``command`` in a new session; on timeout kill its whole process
    group, so no torchrun worker outlives the test."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun timed out after {timeout} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.fixture(scope="session")
def torchrun_run(tmp_path_factory):
    """One ``torchrun --nproc_per_node=2`` run of the command on CPU, shared:
    1 epoch on 1,280 images, 501 test images (odd: the ranks hold different
    numbers of images) with 5% of their labels flipped, the final weights
    saved. Returns ``proc`` (its ``CompletedProcess``), ``root`` (holding
    ``run/`` and ``model.pt``), ``train_size``, ``test_size`` and ``label_noise``."""
    root = tmp_path_factory.mktemp("torchrun")
    train_size, test_size, label_noise = 1280, 501, 0.05
    proc = _run_in_own_session(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "tb_fmnist_plugin.train", "--epochs", "1", "--train-size", str(train_size), "--test-size",
         str(test_size), "--label-noise", str(label_noise), "--device", "cpu", "--logdir", str(root / "run"),
         "--data-dir", str(root / "data"), "--save-model", str(root / "model.pt"), "--no-progress"],
        timeout=400, env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    return SimpleNamespace(proc=proc, root=root, train_size=train_size, test_size=test_size, label_noise=label_noise)
