"""Playwright helpers for the browser tests and the UI benchmark: Debian's
chromium (Playwright's own browser download cannot work here), the plugin page
and the tab inside TensorBoard, reading cell values from the tab's DOM."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from typing import Dict, List, Optional, Tuple

PLUGIN = "tb_fmnist_confusion"
ENTRY = f"/data/plugin_entry.html?name={PLUGIN}"
ARTIFACTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test-artifacts")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def chromium_path() -> Optional[str]:
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and os.path.exists(candidate):
            return candidate
    return None


def launch(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)


@contextlib.contextmanager
def chromium():
    """Debian's chromium driven by Playwright, closed when the block exits."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, **options):
    """``(context, page)``: a page in a fresh 1400x1000 context; the page's
    uncaught script errors collect in ``page.errors``."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, **options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    return context, page


def wait_ready(target, draws: int = 1, timeout: float = 20000) -> None:
    """Wait until the tab drew at least ``draws`` times (``target``: page or frame)."""
    target.wait_for_function(
        "n => window.__tbConfusion && window.__tbConfusion.ready && window.__tbConfusion.draws >= n",
        arg=draws,
        timeout=timeout,
    )


def draws(target) -> int:
    return target.evaluate("window.__tbConfusion ? window.__tbConfusion.draws : 0")


def wait_redraw(target, before: int, timeout: float = 10000) -> None:
    target.wait_for_function("n => window.__tbConfusion.draws > n", arg=before, timeout=timeout)


def open_plugin(page, url: str, clear_storage: bool = True) -> None:
    """Open the plugin's own page (what TensorBoard puts in the tab's iframe)."""
    page.goto(url + ENTRY)
    if clear_storage:
        page.evaluate("localStorage.clear()")
        page.reload()
    wait_ready(page)


def plugin_frame(page, timeout: float = 30000):
    """The tab's iframe inside TensorBoard's UI, once the tab drew."""
    page.wait_for_selector(f'iframe[src*="plugin_entry.html?name={PLUGIN}"]', timeout=timeout)
    deadline = time.monotonic() + timeout / 1000
    while True:  # the element can exist a moment before its frame navigates
        frame = next((f for f in page.frames if "plugin_entry.html" in f.url), None)
        if frame is not None:
            break
        assert time.monotonic() < deadline, "the plugin iframe never loaded"
        page.wait_for_timeout(20)
    wait_ready(frame, timeout=timeout)
    return frame


def select_runs(target, runs: List[str]) -> None:
    """Check exactly ``runs`` in the run table (waiting for each redraw).
    Only the rows in the table's view are in the DOM: a run ticked or wanted
    outside it is first shown by typing its name in the table's filter."""
    for run in sorted(set(target.evaluate("window.__tbConfusion.state().runs")) | set(runs)):
        box = target.locator(f".run-row input[type=checkbox][value={json.dumps(run)}]")
        filtered = box.count() == 0
        if filtered:
            target.locator("#tbc-run-filter").fill(run)
        if box.is_checked() != (run in runs):
            before = draws(target)
            box.set_checked(run in runs)
            wait_redraw(target, before)
        if filtered:
            target.locator("#tbc-run-filter").fill("")


def set_step(target, step: int) -> None:
    steps = target.evaluate("window.__tbConfusion.state().steps")
    index = steps.index(step)
    before = draws(target)
    target.locator("#tbc-step").fill(str(index))
    if target.evaluate("window.__tbConfusion.state().targetStep") != step or draws(target) == before:
        wait_redraw(target, before)


def click_and_redraw(target, selector: str) -> None:
    before = draws(target)
    target.locator(selector).click()
    wait_redraw(target, before)


def panel(target, run: str):
    return target.locator(f"section.panel[data-run={json.dumps(run)}]").first


def grid_cells(target, run_panel) -> Dict[Tuple[str, str], Dict[str, str]]:
    """``{(true name, predicted name): {"text", "value", "count"}}`` of a grid heatmap."""
    cells = run_panel.locator(".hm-cell").evaluate_all(
        "els => els.map(e => [e.dataset.true, e.dataset.pred, e.textContent, e.dataset.value, e.dataset.count])"
    )
    return {(t, p): {"text": text, "value": value, "count": count} for t, p, text, value, count in cells}


def screenshot(target_page, name: str) -> str:
    os.makedirs(ARTIFACTS, exist_ok=True)
    path = os.path.join(ARTIFACTS, name)
    target_page.screenshot(path=path, full_page=True)
    return path
