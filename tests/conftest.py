"""Marks shared by every test folder: ``slow`` on what the inner loop
(``pytest -m "not slow"``) leaves out. Every browser test, every test that
starts a subprocess (the ``tensorboard`` command, torchrun, the training
module, ``torch.multiprocessing`` workers) and everything in ``tests/ui``
(headless Chromium, the frontend's npm builds) is slow here; the framework
runs (Lightning, transformers) and the other training runs carry an explicit
``slow`` mark."""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
#: Folders whose every test is slow.
SLOW_FOLDERS = ("ui",)
#: Marks that make a test slow.
SLOW_MARKS = ("browser", "subprocess")


def pytest_collection_modifyitems(config, items):
    slow_dirs = [HERE / name for name in SLOW_FOLDERS]
    for item in items:
        path = Path(str(item.path)).resolve()
        if any(item.get_closest_marker(name) for name in SLOW_MARKS) or any(d in path.parents for d in slow_dirs):
            item.add_marker(pytest.mark.slow)
