"""Regenerate the README's dashboard screenshots from a real quick-start run:
``python tools/dashboard_screenshots.py``. Not a test: it trains the quick-start
command (about half a minute on 2 CPU cores), starts a real TensorBoard and
photographs each dashboard with headless chromium."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: the tests' browser and TensorBoard helpers

from ui_screenshots import save  # noqa: E402

from tests.support.tensorboard_server import tensorboard_server  # noqa: E402
from tests.ui import ui_browser as ub  # noqa: E402

QUICK_START = ["--epochs", "2", "--train-size", "10000", "--test-size", "2000", "--no-progress"]
DASHBOARDS = [
    ("timeseries", "dashboard-time-series.png"),
    ("images", "dashboard-images.png"),
    ("histograms", "dashboard-histograms.png"),
    ("graphs", "dashboard-graph.png"),
    ("hparams", "dashboard-hparams.png"),
]


def main() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        logdir = os.path.join(tmp, "runs")
        subprocess.run(
            [sys.executable, "-m", "tb_fmnist_plugin.train", *QUICK_START,
             "--logdir", os.path.join(logdir, "quickstart"), "--data-dir", os.path.join(tmp, "data")],
            check=True,
        )
        browser = ub.launch(playwright)
        with tensorboard_server(logdir, load_fast=False) as tb:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(tb.url + "/#" + ub.PLUGIN)
            frame = ub.plugin_frame(page)
            ub.wait_ready(frame)
            frame.locator(".hm-cell").first.wait_for()
            page.wait_for_timeout(1500)
            save(page, "quickstart-confusion-tab.png")
            for dashboard, name in DASHBOARDS:
                page.goto(tb.url + "/#" + dashboard)
                page.wait_for_load_state("networkidle")
                page.wait_for_timeout(8000)
                save(page, name)
        browser.close()


if __name__ == "__main__":
    main()
