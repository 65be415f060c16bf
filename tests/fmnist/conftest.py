"""Fixtures of the training job's tests: the one honest training run that
several tests read, and running torchrun in its own process group."""
from __future__ import annotations

import io
import os
import signal
import subprocess
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
    (the training subset evaluated too), the final weights saved. Returns
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


@pytest.fixture
def run_in_own_session():
    """``run(command, timeout, env)``: a ``CompletedProcess``; the command runs
    in its own session and, past ``timeout`` seconds, its whole process group
    is killed (no torchrun worker outlives the test) and the test fails."""
    return _run_in_own_session

