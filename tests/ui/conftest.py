"""Fixtures shared by the browser tests: one headless chromium per module,
a fresh 1400x1000 page per test that fails the test on an uncaught script
error, and TensorBoard over the diagnoses' log directory
(:func:`tests.ui.ui_diagnostics_data.write_diagnostics_logdir`).

A file that needs a different page (another viewport, the plugin already
open) or server defines its own fixture of the same name, which wins."""
from __future__ import annotations

import pytest

from tests.support.tensorboard_server import tensorboard_server
from tests.ui import ui_browser as ub
from tests.ui import ui_diagnostics_data as dd


@pytest.fixture(scope="module")
def browser():
    with ub.chromium() as b:
        yield b


@pytest.fixture
def page(browser):
    context, p = ub.new_page(browser)
    yield p
    context.close()
    assert not p.errors, p.errors


@pytest.fixture(scope="module")
def diagnostics_server(tmp_path_factory):
    """TensorBoard over a fresh diagnoses log directory, one per test module."""
    logdir = str(tmp_path_factory.mktemp("ui_diagnostics_logs"))
    dd.write_diagnostics_logdir(logdir)
    with tensorboard_server(logdir, load_fast=False) as tb:
        yield tb
