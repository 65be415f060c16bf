"""Regenerate the screenshots in docs/screenshots/ (used by docs/ui.md and the
README): ``python tools/ui_screenshots.py`` (``... diagnostics [LOGDIR]`` for
only diagnostics*.png, which runs the training quick start unless LOGDIR holds it). Not a test; it reuses
the test helpers, writes its own log directories and starts a real TensorBoard."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: the tests' browser and TensorBoard helpers

from tests.support.tensorboard_server import tensorboard_server  # noqa: E402
from tests.ui import ui_browser as ub  # noqa: E402
from tests.ui import ui_data as ud  # noqa: E402

OUT = os.path.join(os.path.dirname(HERE), "docs", "screenshots")


def write_logdir(logdir: str) -> None:
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin import summary

    for run, seed in (("cnn_baseline", 1), ("cnn_wider", 2)):
        writer = SummaryWriter(os.path.join(logdir, run))
        for step in range(5):
            m = ud.matrix(seed, step)
            summary.write_confusion_matrix(writer, ud.MAIN_TAG, m, step, class_names=ud.FMNIST)
            if run == "cnn_baseline":
                ud._examples(writer, ud.MAIN_TAG, step, ud.FMNIST, m, seed=step)
        writer.close()


def save(target, name: str, crop_height: int = 0, **kwargs) -> None:
    from PIL import Image

    path = os.path.join(OUT, name)
    target.screenshot(path=path, **kwargs)
    image = Image.open(path).convert("RGB")
    if crop_height:
        image = image.crop((0, 0, image.width, min(image.height, crop_height)))
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    print(path, os.path.getsize(path))


def clip_of(target, selectors, pad: int = 6) -> dict:
    """The page area (CSS px) covering the elements of ``selectors``."""
    boxes = [target.locator(sel).bounding_box() for sel in selectors]
    left, top = min(b["x"] for b in boxes), min(b["y"] for b in boxes)
    right, bottom = max(b["x"] + b["width"] for b in boxes), max(b["y"] + b["height"] for b in boxes)
    return {"x": max(0, left - pad), "y": max(0, top - pad), "width": right - left + 2 * pad, "height": bottom - top + 2 * pad}


def diagnostics(browser, tmp: str, logdir: str = "") -> None:
    """docs/screenshots/diagnostics*.png from the README's quick start with
    ``--label-noise 0.05`` (trained into ``tmp`` unless ``logdir`` holds it):
    the suspects and calibration cards next to a cell's examples, and the
    train-versus-test difference with the recall gap."""
    if not logdir:
        logdir = os.path.join(tmp, "quickstart")
        subprocess.run([sys.executable, "-m", "tb_fmnist_plugin.train", "--epochs", "2", "--train-size", "10000",
                        "--test-size", "2000", "--label-noise", "0.05", "--no-progress",
                        "--logdir", os.path.join(logdir, "quickstart_label_noise")], check=True)
    with tensorboard_server(logdir, load_fast=False) as tb:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        ub.open_plugin(page, tb.url)
        ub.click_and_redraw(page, "#tbc-colour-confidence")
        # the given -> suggested pair with the most listed suspects, from the suspects card's own matrix
        page.locator("#tbc-suspects-matrix button.suspect-pair").first.wait_for()
        cell = page.locator("#tbc-suspects-matrix button.suspect-pair").evaluate_all(
            "els => els.sort((a, b) => b.dataset.count - a.dataset.count).map(e => [e.dataset.given, e.dataset.suggested])[0]")
        before = ub.draws(page)
        page.locator(f'.hm-cell[data-true-index="{cell[0]}"][data-pred-index="{cell[1]}"]').first.click()
        ub.wait_redraw(page, before)
        pair = f'#tbc-suspects-matrix button.suspect-pair[data-given="{cell[0]}"][data-suggested="{cell[1]}"]'
        page.locator(pair).click()
        page.locator(pair + '[aria-pressed="true"]').wait_for()
        for sel in ("#tbc-examples .thumb", "#tbc-suspects .thumb.suspect", '#tbc-calibration figure[data-scope="all"] + figure',
                    "#tbc-calibration-trend svg.chart"):
            page.locator(sel).first.wait_for()
        page.mouse.move(5, 5)
        save(page, "diagnostics.png", full_page=True, clip=clip_of(page, ["#tbc-panels", "#tbc-examples", "#tbc-suspects", "#tbc-calibration"]))

        ub.click_and_redraw(page, "#tbc-mode-diff")
        before = ub.draws(page)
        page.locator("#tbc-diff-kind").select_option("sets")
        ub.wait_redraw(page, before)  # opens normalized by true class
        page.locator('#tbc-classes td[data-col="gap"]').first.wait_for()
        page.mouse.move(5, 5)
        save(page, "diagnostics-sets.png", full_page=True, clip=clip_of(page, ["#tbc-diffbar", "#tbc-panels", "#tbc-classes"]))
        context.close()


def main() -> None:
    from playwright.sync_api import sync_playwright

    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = ub.launch(playwright)
        if sys.argv[1:2] == ["diagnostics"]:  # optional: a log directory that already holds the quick start
            diagnostics(browser, tmp, *sys.argv[2:3])
            browser.close()
            return
        logdir = os.path.join(tmp, "runs")
        write_logdir(logdir)
        with tensorboard_server(logdir, load_fast=False) as tb:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.goto(tb.url + "/#" + ub.PLUGIN)
            frame = ub.plugin_frame(page)
            ub.set_step(frame, 2)
            save(page, "two-runs.png")

            ub.select_runs(frame, ["cnn_baseline"])
            ub.click_and_redraw(frame, "#tbc-norm-true")
            # hover the largest confusion (found from the tab's own list)
            top = frame.locator("#tbc-top li button").first
            t, p = top.get_attribute("data-true-index"), top.get_attribute("data-pred-index")
            frame.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first.hover()
            frame.locator("#tbc-tooltip").wait_for(state="visible")
            save(page, "heatmap-tooltip.png")

            ub.click_and_redraw(frame, "#tbc-norm-counts")
            frame.locator("#tbc-top li button").first.click()
            frame.locator("#tbc-examples .thumb").first.wait_for()
            frame.locator("#tbc-cell-trend svg.chart").wait_for()
            frame.locator("#tbc-details").scroll_into_view_if_needed()
            page.mouse.move(5, 5)
            save(frame.locator("#tbc-details"), "details.png")

            ub.click_and_redraw(frame, "#tbc-mode-diff")
            before = ub.draws(frame)
            frame.locator("#tbc-diff-step-a").select_option("0")
            ub.wait_redraw(frame, before)
            frame.evaluate("window.scrollTo(0, 0)")
            save(page, "difference.png")
            context.close()

            context = browser.new_context(viewport={"width": 1280, "height": 860}, color_scheme="dark")
            page = context.new_page()
            page.goto(tb.url + "/#" + ub.PLUGIN)
            frame = ub.plugin_frame(page)
            frame.wait_for_function("document.documentElement.dataset.theme === 'dark'")
            save(page, "dark-mode.png")
            context.close()

        big = os.path.join(tmp, "big")
        ud.write_big_logdir(big, n=1000, steps=(0, 1))
        with tensorboard_server(big, load_fast=False) as tb:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            ub.open_plugin(page, tb.url)
            canvas = page.locator("canvas.hm-canvas")
            canvas.focus()
            for _ in range(4):
                page.keyboard.press("+")
            for _ in range(6):
                page.keyboard.press("ArrowDown")
                page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.mouse.move(5, 5)
            save(page, "thousand-classes.png", crop_height=1150, full_page=True)
            context.close()
        diagnostics(browser, tmp)
        browser.close()


if __name__ == "__main__":
    main()
