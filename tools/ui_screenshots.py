"""Regenerate the screenshots in docs/screenshots/ (used by docs/ui.md and the
README): ``python tools/ui_screenshots.py`` (``... diagnostics [LOGDIR]`` for
only diagnostics*.png, ``... record [LOGDIR]`` for only record.png; both run the training quick start unless LOGDIR holds it;
``... segmentation`` for only segmentation.png, from ``examples/segmentation_shapes.py``). Not a test; it reuses
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


#: The README's quick start (``tb-fmnist-train`` on the synthetic set), as tools/dashboard_screenshots.py runs it.
QUICK_START = ["--epochs", "2", "--train-size", "10000", "--test-size", "2000", "--no-progress"]


def train_quick_start(logdir: str) -> str:
    """Two quick-start runs in ``logdir`` (unless it holds them): ``quickstart``
    and ``quickstart_label_noise`` (``--label-noise 0.05``, for the suspects)."""
    for run, extra in (("quickstart", []), ("quickstart_label_noise", ["--label-noise", "0.05"])):
        if not os.path.isdir(os.path.join(logdir, run)):
            subprocess.run([sys.executable, "-m", "tb_fmnist_plugin.train", *QUICK_START, *extra,
                            "--logdir", os.path.join(logdir, run)], check=True)
    return logdir


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


def open_run(browser, url: str, run: str):
    """``(context, page)``: the plugin's page at 1280x900 with only ``run`` ticked."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    ub.open_plugin(page, url)
    ub.select_runs(page, [run])
    return context, page


def diagnostics(browser, tmp: str, logdir: str = "") -> None:
    """docs/screenshots/diagnostics*.png from the README's quick start with
    ``--label-noise 0.05`` (trained into ``tmp`` unless ``logdir`` holds it):
    the suspects and calibration cards next to a cell's examples, and the
    train-versus-test difference with the recall gap."""
    logdir = logdir or train_quick_start(os.path.join(tmp, "quickstart"))
    with tensorboard_server(logdir, load_fast=False) as tb:
        context, page = open_run(browser, tb.url, "quickstart_label_noise")
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
        for sel in ("#tbc-examples .thumb, #tbc-examples .rec-tile", "#tbc-suspects .thumb.suspect", '#tbc-calibration figure[data-scope="all"] + figure',
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


def record(browser, tmp: str, logdir: str = "") -> None:
    """docs/screenshots/record.png from the README's quick start (trained into
    ``tmp`` unless ``logdir`` holds it; the hooks keep the per-example record
    by default): every member of the largest confusion with one example's
    history, and the forgetting counts and data map under them."""
    logdir = logdir or train_quick_start(os.path.join(tmp, "quickstart"))
    with tensorboard_server(logdir, load_fast=False) as tb:
        context, page = open_run(browser, tb.url, "quickstart")
        # the largest off-diagonal cell, from the tab's own counts
        counts = page.evaluate("window.__tbConfusion.panel('quickstart').counts")
        t, p = max(((t, p) for t in range(len(counts)) for p in range(len(counts)) if t != p), key=lambda c: counts[c[0]][c[1]])
        before = ub.draws(page)
        page.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first.click()
        ub.wait_redraw(page, before)
        page.locator("#tbc-members .rec-tile").first.wait_for()
        page.locator("#tbc-members .rec-tile").first.click()
        for sel in ("#tbc-history .rec-step", "#tbc-history svg.chart", "#tbc-data-map-canvas", "#tbc-forgetting tbody tr"):
            page.locator(sel).first.wait_for()
        page.wait_for_function("() => document.querySelectorAll('#tbc-members canvas.rec-thumb[data-drawn]').length > 0")
        # only the two cards shown, side by side under the matrix
        page.add_style_tag(content="#tbc-details > .card:not(#tbc-examples):not(#tbc-data-map) { display:none !important; }")
        page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar in its place
        page.mouse.move(5, 5)
        save(page, "record.png", full_page=True, clip=clip_of(page, ["#tbc-panels", "#tbc-examples", "#tbc-data-map"]))
        context.close()


def segmentation(browser, tmp: str) -> None:
    """docs/screenshots/segmentation.png: ``examples/segmentation_shapes.py``
    (a tiny UNet on synthetic shapes, the hooks with ``ignore_index=255``)
    trained for a few epochs into ``tmp``, then the tab on its pixel matrix:
    the per-class table with the IoU column, and the overlay examples of the
    largest confusion."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("segmentation_shapes", os.path.join(os.path.dirname(HERE), "examples", "segmentation_shapes.py"))
    shapes = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shapes)
    logdir = os.path.join(tmp, "segmentation")
    shapes.train(os.path.join(logdir, "segmentation_shapes"), epochs=4)
    with tensorboard_server(logdir, load_fast=False) as tb:
        context, page = open_run(browser, tb.url, "segmentation_shapes")
        # the largest off-diagonal cell, from the tab's own counts
        counts = page.evaluate("window.__tbConfusion.panel('segmentation_shapes').counts")
        t, p = max(((t, p) for t in range(len(counts)) for p in range(len(counts)) if t != p), key=lambda c: counts[c[0]][c[1]])
        before = ub.draws(page)
        page.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first.click()
        ub.wait_redraw(page, before)
        for sel in ("#tbc-examples .thumb", '#tbc-classes td[data-col="iou"]', "#tbc-examples .overlay-caption"):
            page.locator(sel).first.wait_for()
        page.add_style_tag(content="#tbc-details > .card:not(#tbc-examples):not(#tbc-classes) { display:none !important; }")
        page.evaluate("window.scrollTo(0, 0)")
        page.mouse.move(5, 5)
        save(page, "segmentation.png", full_page=True, clip=clip_of(page, ["#tbc-panels", "#tbc-classes", "#tbc-examples"]))
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
        if sys.argv[1:2] == ["segmentation"]:  # only segmentation.png (trains its own small run)
            segmentation(browser, tmp)
            browser.close()
            return
        if sys.argv[1:2] == ["record"]:  # optional: a log directory that already holds the quick start
            record(browser, tmp, *sys.argv[2:3])
            browser.close()
            return
        logdir = train_quick_start(os.path.join(tmp, "quickstart"))
        with tensorboard_server(logdir, load_fast=False) as tb:
            context = browser.new_context(viewport={"width": 1280, "height": 860})
            page = context.new_page()
            page.goto(tb.url + "/#" + ub.PLUGIN)
            frame = ub.plugin_frame(page)
            ub.set_step(frame, 2)
            save(page, "two-runs.png")

            ub.select_runs(frame, ["quickstart"])
            ub.click_and_redraw(frame, "#tbc-norm-true")
            # hover the largest confusion (found from the tab's own list)
            top = frame.locator("#tbc-top li button").first
            t, p = top.get_attribute("data-true-index"), top.get_attribute("data-pred-index")
            frame.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first.hover()
            frame.locator("#tbc-tooltip").wait_for(state="visible")
            save(page, "heatmap-tooltip.png")

            ub.click_and_redraw(frame, "#tbc-norm-counts")
            frame.locator("#tbc-top li button").first.click()
            frame.locator("#tbc-examples .thumb, #tbc-examples .rec-tile").first.wait_for()  # today's examples, or the record's members
            frame.locator("#tbc-cell-trend svg.chart").wait_for()
            frame.locator("#tbc-details").scroll_into_view_if_needed()
            page.mouse.move(5, 5)
            save(frame.locator("#tbc-details"), "details.png")

            ub.click_and_redraw(frame, "#tbc-mode-diff")
            before = ub.draws(frame)
            frame.locator("#tbc-diff-step-a").select_option("1")
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
        ud.write_planted_logdir(big, ud.planted_matrix()[0])
        with tensorboard_server(big, load_fast=False) as tb:
            context = browser.new_context(viewport={"width": 1280, "height": 1000})
            page = context.new_page()
            ub.open_plugin(page, tb.url)
            # the whole matrix, fitted to the card, in the cluster order
            before = ub.draws(page)
            page.locator("#tbc-order").select_option("cluster")
            ub.wait_redraw(page, before)
            page.mouse.move(5, 5)
            save(page, "thousand-classes.png", crop_height=1150, full_page=True)
            context.close()
        diagnostics(browser, tmp)
        record(browser, tmp)
        segmentation(browser, tmp)
        browser.close()


if __name__ == "__main__":
    main()
