"""Benchmark of the confusion tab in a real browser against a real TensorBoard.

For a 10-class and a 1,000-class log directory, and a hyper-parameter sweep
of 200 runs x 50 steps x 10 classes (``plugin_scale.write_sweep``, in both
``--load_fast`` modes; the tab ticks 4 of the runs), all written with the
project's summary API, it opens TensorBoard on the tab
(``/#tb_fmnist_confusion``) in headless Debian chromium and reads the
performance marks the tab sets:

- first draw: ``tbc-first-draw`` (set in the animation frame after the first
  matrix is in the DOM / on the canvas). Reported from the click on the
  Confusion tab (starting on the Scalars dashboard; the headline figure
  compared with the target), from the start of the tab's iframe, and from
  the start of a cold TensorBoard page load opened on the tab;
- slider redraw: ``tbc-slider-redraw`` measures, from the slider's input
  event to the animation frame after the redraw, for successive slider steps
  (the 10-class tab has fetched every step in the background by then; the
  1,000-class tab fetches each step on demand, so that figure includes the
  HTTP round trip and JSON parsing).

Usage: python benchmarks/bench_ui.py [--repeats 5] [--slider-moves 10]
[--sweeps 200] [--sweep-modes false,true] [--scale-dir DIR] [--no-base]
Prints a Markdown table. ``--scale-dir`` keeps the sweep's log directory
(writing it takes a while) for later runs, as in ``bench_plugin.py``.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import plugin_scale  # noqa: E402
import ui_browser as ub  # noqa: E402
import ui_data as ud  # noqa: E402
from tensorboard_server import tensorboard_server  # noqa: E402

#: The tab's first matrix on a sweep of up to 200 runs, from the click on the tab (issue 10).
SWEEP_FIRST_DRAW_MS = 1000


def write_small(logdir: str, steps: int) -> None:
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin import summary

    writer = SummaryWriter(os.path.join(logdir, "fmnist"))
    for step in range(steps):
        summary.write_confusion_matrix(writer, ud.MAIN_TAG, ud.matrix(1, step % 5), step, class_names=ud.FMNIST)
    writer.close()


def add_scalar(logdir: str) -> None:
    """A scalar, so TensorBoard also has a Scalars tab to start from."""
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(os.path.join(logdir, "scalars"))
    for step in range(3):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.close()


def click_tab(browser, url: str) -> float:
    """Start on the Scalars dashboard, click the Confusion tab; ms from the
    click to the tab's first matrix drawn (both clocks mapped to epoch time)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(url + "/#scalars")
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        tab = page.get_by_role("tab", name="Confusion")
        if tab.count() == 0:
            tab = page.locator("text=/^\\s*Confusion\\s*$/i")
        clicked = page.evaluate("performance.timeOrigin + performance.now()")
        tab.first.click()
        frame = ub.plugin_frame(page, timeout=60000)
        frame.wait_for_function("performance.getEntriesByName('tbc-first-draw').length > 0", timeout=60000)
        drawn = frame.evaluate("performance.timeOrigin + performance.getEntriesByName('tbc-first-draw')[0].startTime")
        return drawn - clicked
    finally:
        context.close()


def measure(browser, url: str, repeats: int, slider_moves: int):
    first_tab, first_page, first_click, redraws = [], [], [], []
    for repeat in range(repeats):
        first_click.append(click_tab(browser, url))
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url + "/#" + ub.PLUGIN)
        frame = ub.plugin_frame(page, timeout=60000)
        frame.wait_for_function("performance.getEntriesByName('tbc-first-draw').length > 0", timeout=60000)
        mark = frame.evaluate("performance.getEntriesByName('tbc-first-draw')[0].startTime")
        offset = frame.evaluate("performance.timeOrigin") - page.evaluate("performance.timeOrigin")
        first_tab.append(mark)
        first_page.append(mark + offset)
        if repeat == 0 and slider_moves > 0:
            time.sleep(1.0)  # let the background prefetch of small matrices finish
            slider = frame.locator("#tbc-step")
            slider.focus()
            frame.evaluate("document.querySelector('#tbc-step').value = 0; document.querySelector('#tbc-step').dispatchEvent(new Event('input'))")
            frame.wait_for_function("performance.getEntriesByName('tbc-slider-redraw').length >= 1", timeout=60000)
            for _ in range(slider_moves):
                before = frame.evaluate("performance.getEntriesByName('tbc-slider-redraw').length")
                page.keyboard.press("ArrowRight")
                frame.wait_for_function("n => performance.getEntriesByName('tbc-slider-redraw').length > n", arg=before, timeout=60000)
            entries = frame.evaluate("performance.getEntriesByName('tbc-slider-redraw').map(e => e.duration)")
            redraws = entries[1:]
        context.close()
    return first_click, first_tab, first_page, redraws


def sweep_logdir(root: str, runs: int) -> str:
    """The ``runs``-run sweep under ``root`` (written once), with a scalar to start from."""
    logdir = plugin_scale.ensure(os.path.join(root, f"sweep{runs}"), lambda d: plugin_scale.write_sweep(d, runs))
    if not os.path.isdir(os.path.join(logdir, "scalars")):
        add_scalar(logdir)
    return logdir


def measure_sweep(browser, logdir: str, runs: int, load_fast: bool, repeats: int):
    """First draws on the sweep once TensorBoard lists every run (no slider rows)."""
    with tensorboard_server(logdir, load_fast=load_fast, extra_args=plugin_scale.RELOAD_ARGS, reload_wait_s=1800) as tb:
        plugin_scale.wait_listed(tb, runs, plugin_scale.SWEEP_STEPS)
        return measure(browser, tb.url, repeats, slider_moves=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="tab openings per size (median reported)")
    parser.add_argument("--slider-moves", type=int, default=10)
    parser.add_argument("--sweeps", default="200", help="comma-separated run counts of the sweep rows ('' for none)")
    parser.add_argument("--sweep-modes", default="false,true", help="--load_fast modes of the sweep rows")
    parser.add_argument("--scale-dir", default=None, help="where the sweep log directories are kept (default: a temporary one)")
    parser.add_argument("--no-base", action="store_true", help="only the sweep rows (not the 10- and 1,000-class ones)")
    args = parser.parse_args()
    sweeps = [int(n) for n in args.sweeps.split(",") if n.strip()]
    sweep_modes = [m.strip() == "true" for m in args.sweep_modes.split(",") if m.strip()]

    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        browser = ub.launch(playwright)
        small, big = os.path.join(tmp, "small"), os.path.join(tmp, "big")
        if not args.no_base:
            write_small(small, steps=args.slider_moves + 2)
            ud.write_big_logdir(big, n=1000, steps=tuple(range(args.slider_moves + 2)))
            add_scalar(small)
            add_scalar(big)
        base = [("1 run, 10 classes", small, 300, 50), ("1 run, 1,000 classes", big, 1000, None)]
        for label, logdir, first_target, redraw_target in ([] if args.no_base else base):
            with tensorboard_server(logdir, load_fast=False, reload_wait_s=180) as tb:
                first_click, first_tab, first_page, redraws = measure(browser, tb.url, args.repeats, args.slider_moves)
            rows.append((label, "false", first_click, first_tab, first_page, redraws, first_target, redraw_target))
        for runs in sweeps:
            logdir = sweep_logdir(args.scale_dir or tmp, runs)
            for load_fast in sweep_modes:
                first_click, first_tab, first_page, _ = measure_sweep(browser, logdir, runs, load_fast, args.repeats)
                label = f"{runs:,} runs x {plugin_scale.SWEEP_STEPS} steps, 10 classes"
                rows.append((label, str(load_fast).lower(), first_click, first_tab, first_page, [], SWEEP_FIRST_DRAW_MS, None))
                print(f"measured the {runs}-run sweep, load_fast={load_fast}", file=sys.stderr, flush=True)
        browser.close()

    def ms(values):
        return f"{statistics.median(values):.0f}" if values else "–"

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print()
    print(f"Confusion tab, headless chromium, real tensorboard; "
          f"median of {args.repeats} tab openings, {args.slider_moves} slider steps; "
          f"{os.cpu_count()} CPUs, load average at the end {load}.")
    print()
    print("| log directory | load_fast | click on the tab → first matrix drawn (ms) | tab iframe start → first matrix drawn (ms) | TensorBoard page load → first matrix drawn (ms) | slider step → redrawn, median / max (ms) | target | met |")
    print("|---|---|---|---|---|---|---|---|")
    for label, mode, first_click, first_tab, first_page, redraws, first_target, redraw_target in rows:
        first = statistics.median(first_click)
        met = first < first_target
        target = f"first draw < {first_target:,} ms"
        if redraw_target is not None:
            target += f", slider < {redraw_target} ms"
            met = met and bool(redraws) and statistics.median(redraws) < redraw_target
        redraw = f"{ms(redraws)} / {max(redraws):.0f}" if redraws else "–"
        print(f"| {label} | {mode} | {ms(first_click)} | {ms(first_tab)} | {ms(first_page)} | {redraw} | {target} | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
