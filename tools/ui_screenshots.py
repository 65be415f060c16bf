"""Regenerate the screenshots in docs/screenshots/ (used by docs/ui.md and the
README): ``python tools/ui_screenshots.py``. Not a test; it reuses the test
helpers, writes its own log directories and starts a real TensorBoard."""
from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))  # the browser and TensorBoard helpers of the tests

import ui_browser as ub  # noqa: E402
import ui_data as ud  # noqa: E402
from tensorboard_server import tensorboard_server  # noqa: E402

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


def main() -> None:
    from playwright.sync_api import sync_playwright

    os.makedirs(OUT, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = ub.launch(playwright)
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
        browser.close()


if __name__ == "__main__":
    main()
