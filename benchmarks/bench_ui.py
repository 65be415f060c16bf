"""Benchmark of the confusion tab in a real browser against a real TensorBoard.

For a 10-class and a 1,000-class log directory, hyper-parameter sweeps of
200 and 1,000 runs x 50 steps x 10 classes (``plugin_scale.write_sweep``;
the tab ticks 4 of the runs) and a long run of 5,000 steps x 100 classes
(``plugin_scale.write_long``), the sweeps and the long run in both
``--load_fast`` modes, all written with the project's summary API, it opens
TensorBoard on the tab (``/#tb_fmnist_confusion``) in headless Debian
chromium and reads the performance marks the tab sets:

- first draw: ``tbc-first-draw`` (set in the animation frame after the first
  matrix is in the DOM / on the canvas). Reported from the click on the
  Confusion tab (starting on the Scalars dashboard; the headline figure
  compared with the target), from the start of the tab's iframe, and from
  the start of a cold TensorBoard page load opened on the tab;
- slider redraw: ``tbc-slider-redraw`` measures, from the slider's input
  event to the animation frame after the redraw, for successive slider steps
  (the 10-class tab has fetched every step in the background by then; the
  1,000-class tab fetches each step on demand, so that figure includes the
  HTTP round trip and JSON parsing; on the long run each step's matrix
  too);
- run table (sweeps): from the click on the tab until both the first
  matrix (``tbc-first-draw``) and the run table's rows (``tbc-run-table``,
  the frame after they first showed) are drawn, and per keystroke typed into
  its filter, ``tbc-run-filter``: from the input event to the next animation
  frame after the table updated;
- 1,000-class overview (issue 18), per class order (``--large-orders``, on
  the tab's own page): from the matrix in hand (``tbc-matrix-loaded``, its
  JSON parsed) to the frame after the fitted overview is drawn
  (``tbc-first-draw``), and ``tbc-slider-redraw`` of successive steps.

On the long run it also times, in the tab's page, ``fetch`` +
``response.json()`` of ``metrics_series`` (13 MB of JSON by default, and
with ``metrics=recall`` or one class): what the browser pays for the trend
cards.

Usage: python benchmarks/bench_ui.py [--repeats 5] [--slider-moves 10]
[--sweeps 200,1000] [--no-long] [--sweep-modes false,true] [--scale-dir DIR]
[--no-base] [--large-orders original,cluster]. Prints Markdown tables. ``--scale-dir`` keeps the sweeps' and
the long run's log directories (writing them takes minutes) for later runs,
as in ``bench_plugin.py`` (the same directory serves both).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: the tests' helpers

import plugin_scale  # noqa: E402
import ui_run_table  # noqa: E402

from tests.support.tensorboard_server import tensorboard_server  # noqa: E402
from tests.ui import ui_browser as ub  # noqa: E402
from tests.ui import ui_data as ud  # noqa: E402

#: The tab's first matrix on a sweep of up to 200 runs, from the click on the tab (issue 10);
#: the 1,000-run sweep and the 5,000-step run are reported against it too.
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


def click_tab(browser, url: str, marks=("tbc-first-draw",), then=None) -> float:
    """Start on the Scalars dashboard, click the Confusion tab; ms from the
    click to the tab's first matrix drawn (both clocks mapped to epoch time),
    or to the last of ``marks``; ``then(page, frame)`` runs before the page closes."""
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
        drawn = 0.0
        for mark in marks:
            frame.wait_for_function("m => performance.getEntriesByName(m).length > 0", arg=mark, timeout=60000)
            drawn = max(drawn, frame.evaluate("m => performance.timeOrigin + performance.getEntriesByName(m)[0].startTime", mark))
        if then is not None:
            then(page, frame)
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


def scale_logdir(root: str, name: str) -> str:
    """``sweep<runs>`` or ``long`` under ``root`` (written once, as
    ``bench_plugin.py`` writes it), with a scalar to start from."""
    if name == "long":
        write = plugin_scale.write_long
    else:
        def write(d: str) -> None:
            plugin_scale.write_sweep(d, int(name[len("sweep"):]))
    logdir = plugin_scale.ensure(os.path.join(root, name), write)
    if not os.path.isdir(os.path.join(logdir, "scalars")):
        add_scalar(logdir)
    return logdir


#: ``fetch`` + ``json()`` of one URL in the page, in ms (run in the tab's frame).
_FETCH_JS = """async (url) => {
  const start = performance.now();
  const body = await (await fetch(url)).json();
  return [performance.now() - start, Object.keys(body).length];
}"""


def fetch_in_page(browser, url: str, paths: Dict[str, str], repeats: int) -> Dict[str, float]:
    """Median ms of ``fetch(path).then(r => r.json())`` in the tab's frame
    for each of ``paths`` (``{label: path relative to the plugin}``)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(url + "/#" + ub.PLUGIN)
        frame = ub.plugin_frame(page, timeout=60000)
        frame.wait_for_function("performance.getEntriesByName('tbc-first-draw').length > 0", timeout=60000)
        page.wait_for_timeout(1000)
        times: Dict[str, List[float]] = {label: [] for label in paths}
        for _ in range(repeats):
            for label, path in paths.items():
                times[label].append(frame.evaluate(_FETCH_JS, path)[0])
        return {label: statistics.median(values) for label, values in times.items()}
    finally:
        context.close()


def measure_scale(browser, logdir: str, name: str, load_fast: bool, repeats: int, slider_moves: int):
    """First draws (and slider steps on the long run) once TensorBoard lists
    every run, and on the long run the in-page ``metrics_series`` fetches."""
    with tensorboard_server(logdir, load_fast=load_fast, extra_args=plugin_scale.RELOAD_ARGS, reload_wait_s=1800) as tb:
        if name == "long":
            plugin_scale.wait_listed(tb, 1, plugin_scale.LONG_STEPS)
        else:
            plugin_scale.wait_listed(tb, int(name[len("sweep"):]), plugin_scale.SWEEP_STEPS)
        found = measure(browser, tb.url, repeats, slider_moves if name == "long" else 0)
        fetches = fetch_in_page(browser, tb.url, LONG_FETCHES, repeats) if name == "long" else {}
        table = ui_run_table.measure_run_table(click_tab, browser, tb.url, repeats) if name != "long" else None
        return found, fetches, table


_SERIES = "metrics_series?run=long&tag=" + plugin_scale.TAG.replace("/", "%2F")
#: The in-page fetches timed on the long run: the default answer, and what the trend cards need.
LONG_FETCHES = {
    "`metrics_series` (default: every metric and class)": _SERIES,
    "`metrics_series?metrics=recall` (the classes table's sparklines)": _SERIES + "&metrics=recall",
    "`metrics_series?classes=17` (one class's trend)": _SERIES + "&classes=17",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="tab openings per size (median reported)")
    parser.add_argument("--slider-moves", type=int, default=10)
    parser.add_argument("--sweeps", default="200,1000", help="comma-separated run counts of the sweep rows ('' for none)")
    parser.add_argument("--no-long", action="store_true", help="skip the 5,000-step x 100-class rows")
    parser.add_argument("--sweep-modes", default="false,true", help="--load_fast modes of the sweep and long-run rows")
    parser.add_argument("--scale-dir", default=None, help="where the sweep log directories are kept (default: a temporary one)")
    parser.add_argument("--no-base", action="store_true", help="only the sweep rows (not the 10- and 1,000-class ones)")
    parser.add_argument("--large-orders", default="original,cluster",
                        help="class orders of the 1,000-class overview rows (issue 18; '' for none; needs the base rows)")
    args = parser.parse_args()
    scales = [f"sweep{int(n)}" for n in args.sweeps.split(",") if n.strip()] + ([] if args.no_long else ["long"])
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
        large_orders = [o.strip() for o in args.large_orders.split(",") if o.strip()] if not args.no_base else []
        large_rows = measure_large_matrix(browser, big, large_orders, args.repeats, args.slider_moves)
        fetch_rows = []
        table_rows = []
        for name in scales:
            logdir = scale_logdir(args.scale_dir or tmp, name)
            for load_fast in sweep_modes:
                (first_click, first_tab, first_page, redraws), fetches, table = measure_scale(
                    browser, logdir, name, load_fast, args.repeats, args.slider_moves)
                if name == "long":
                    label = f"1 run x {plugin_scale.LONG_STEPS:,} steps, {plugin_scale.LONG_CLASSES} classes"
                else:
                    label = f"{int(name[len('sweep'):]):,} runs x {plugin_scale.SWEEP_STEPS} steps, 10 classes"
                mode = str(load_fast).lower()
                rows.append((label, mode, first_click, first_tab, first_page, redraws, SWEEP_FIRST_DRAW_MS, None))
                fetch_rows += [(mode, label, elapsed) for label, elapsed in fetches.items()]
                if table is not None:
                    table_rows.append((label, mode) + table)
                print(f"measured {name}, load_fast={load_fast}; load average {os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
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
    ui_run_table.print_run_table(table_rows, args.repeats)
    print_large_matrix(large_rows, args.repeats, args.slider_moves)
    if fetch_rows:
        print()
        print(f"In-page `fetch` + `response.json()` on the long run, median of {args.repeats}:")
        print()
        print("| load_fast | request | ms |")
        print("|---|---|---:|")
        for mode, label, elapsed in fetch_rows:
            print(f"| {mode} | {label} | {elapsed:.0f} |")


# ---------------------------------------------------------------- 1,000-class overview (issue 18)

#: The 1,000-class overview drawn this soon after its matrix is in hand, and a slider step redrawn this soon.
LARGE_OVERVIEW_MS = 300
LARGE_SLIDER_MS = 100
_SETTINGS_KEY = "tb_fmnist_confusion.settings.v1"


def overview_and_slider(browser, url: str, order: str, slider_moves: int):
    """Open the tab's own page with class order ``order``; ms from the matrix
    in hand (``tbc-matrix-loaded``, set once the JSON is parsed) to the frame
    after the first draw (``tbc-first-draw``), and ``tbc-slider-redraw`` of
    ``slider_moves`` steps (each step's matrix prefetched as the tab does)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(url + ub.ENTRY)
        ub.wait_ready(page, timeout=60000)  # it saves its settings once drawn: set the order after that
        page.evaluate("([k, o]) => localStorage.setItem(k, JSON.stringify({order: o}))", [_SETTINGS_KEY, order])
        page.reload()
        page.wait_for_function("performance.getEntriesByName('tbc-first-draw').length > 0", timeout=60000)
        assert page.evaluate("window.__tbConfusion.state().order") == order
        overview = page.evaluate("performance.getEntriesByName('tbc-first-draw')[0].startTime"
                                 " - performance.getEntriesByName('tbc-matrix-loaded')[0].startTime")
        redraws: List[float] = []
        if slider_moves > 0:
            page.wait_for_timeout(1000)
            page.evaluate("document.querySelector('#tbc-step').value = 0; document.querySelector('#tbc-step').dispatchEvent(new Event('input'))")
            page.wait_for_function("performance.getEntriesByName('tbc-slider-redraw').length >= 1", timeout=60000)
            page.locator("#tbc-step").focus()
            for _ in range(slider_moves):
                before = page.evaluate("performance.getEntriesByName('tbc-slider-redraw').length")
                page.keyboard.press("ArrowRight")
                page.wait_for_function("n => performance.getEntriesByName('tbc-slider-redraw').length > n", arg=before, timeout=60000)
            redraws = page.evaluate("performance.getEntriesByName('tbc-slider-redraw').map(e => e.duration)")[1:]
        return overview, redraws
    finally:
        context.close()


def measure_large_matrix(browser, logdir: str, orders: List[str], repeats: int, slider_moves: int):
    """Per class order: the overview times of ``repeats`` openings, and the slider steps of the first."""
    rows = []
    if not orders:
        return rows
    with tensorboard_server(logdir, load_fast=False, reload_wait_s=180) as tb:
        for order in orders:
            overviews, redraws = [], []
            for repeat in range(repeats):
                overview, steps = overview_and_slider(browser, tb.url, order, slider_moves if repeat == 0 else 0)
                overviews.append(overview)
                redraws += steps
            rows.append((order, overviews, redraws))
    return rows


def print_large_matrix(rows, repeats: int, slider_moves: int) -> None:
    """The 1,000-class rows: matrix in hand → fitted overview drawn, and slider steps."""
    if not rows:
        return
    print()
    print(f"1 run, 1,000 classes, the tab's own page: median of {repeats} openings, {slider_moves} slider steps; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}:")
    print()
    print("| class order | matrix in hand → overview drawn, median / max (ms) | slider step → redrawn, median / max (ms) | target | met |")
    print("|---|---|---|---|---|")
    for order, overviews, redraws in rows:
        met = max(overviews) < LARGE_OVERVIEW_MS and bool(redraws) and statistics.median(redraws) < LARGE_SLIDER_MS
        slider = f"{statistics.median(redraws):.0f} / {max(redraws):.0f}" if redraws else "–"
        print(f"| {order} | {statistics.median(overviews):.0f} / {max(overviews):.0f} | {slider} | "
              f"overview < {LARGE_OVERVIEW_MS} ms, slider < {LARGE_SLIDER_MS} ms | {'yes' if met else 'no'} |")


if __name__ == "__main__":
    main()
