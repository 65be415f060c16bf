"""Marks shared by every test folder: ``slow`` on what the inner loop
(``pytest -m "not slow"``) leaves out. Every browser test, every test that
starts a subprocess (the ``tensorboard`` command, torchrun, the training
module, ``torch.multiprocessing`` workers) and everything in ``tests/ui``
(headless Chromium, the frontend's npm builds) is slow here; the framework
runs (Lightning, transformers) and the other training runs carry an explicit
``slow`` mark.

Torch computes on one thread in the tests (and their subprocesses) unless
``OMP_NUM_THREADS`` says otherwise: the numbers the training tests assert
then do not depend on the machine's core count, and a loaded machine does not
slow two-thread kernels down several-fold (measured: a 3,000-image epoch took
6 s on one thread and 30-45 s on two while the 2 cores were shared)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: Folders whose every test is slow.
SLOW_FOLDERS = ("ui",)
#: Marks that make a test slow.
SLOW_MARKS = ("browser", "subprocess")


def pytest_configure(config):
    threads = os.environ.setdefault("OMP_NUM_THREADS", "1")
    if "torch" in sys.modules:  # imported before this file (by a plugin): set it there too
        sys.modules["torch"].set_num_threads(int(threads))


def pytest_collection_modifyitems(config, items):
    slow_dirs = [HERE / name for name in SLOW_FOLDERS]
    for item in items:
        path = Path(str(item.path)).resolve()
        if any(item.get_closest_marker(name) for name in SLOW_MARKS) or any(d in path.parents for d in slow_dirs):
            item.add_marker(pytest.mark.slow)
