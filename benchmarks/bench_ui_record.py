"""Benchmark of the per-example record in the tab (issue 19): from a click
on a cell to the first thumbnails of its members drawn, at 10,000 examples.

It writes one run of ``--examples`` examples x ``--steps`` evaluations of
10 classes with the format's write API (ids, thumbnails of every example
within the default budget, per-step predictions and the matching matrices),
starts a real ``tensorboard`` (``--load_fast`` false, or both with
``--modes false,true``), opens the tab's page in headless Debian chromium
(``bench_ui``'s helpers) and clicks ``--cells`` different cells, each the
first time (no cached answer). The tab marks the click (``tbc-cell-click``,
app.ts) and measures ``tbc-cell-thumbs`` in the animation frame after the
first thumbnail of the members grid was drawn (card-members.ts). Reported:
the first click (it also fetches the thumbnail page PNGs) and the median and
largest of the others. Target: 300 ms.

Usage: python benchmarks/bench_ui_record.py [--examples 10000] [--steps 10] [--cells 10] [--modes false]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from typing import List

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: the tests' helpers

from tb_fmnist_plugin import summary  # noqa: E402
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402
from tests.ui import ui_browser as ub  # noqa: E402
from tests.ui import ui_record_data as rd  # noqa: E402

RUN = "record"


def write_logdir(logdir: str, n: int, steps: int) -> None:
    """One run of ``n`` examples of 10 classes evaluated ``steps`` times, with every thumbnail."""
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    label = rng.integers(0, rd.C, n)
    writer = SummaryWriter(os.path.join(logdir, RUN), flush_secs=1)
    pictures = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    summary.write_example_ids(writer, rd.TAG, np.arange(n), 0, labels=label, identity="index", class_names=rd.NAMES)
    summary.write_example_thumbnails(writer, rd.TAG, pictures, 0, rows=np.arange(n), class_names=rd.NAMES, num_rows=n)
    for step in range(steps):
        right = rng.random(n) < 0.5 + 0.4 * step / max(1, steps - 1)
        pred = np.where(right, label, (label + rng.integers(1, rd.C, n)) % rd.C)
        p = rng.random(n)
        summary.write_confusion_matrix(writer, rd.TAG, rd.matrix_of(label, pred), step, class_names=rd.NAMES)
        summary.write_example_predictions(writer, rd.TAG, pred, step, p_given=np.where(right, np.maximum(p, 0.5), p * 0.5),
                                          confidence=np.where(right, np.maximum(p, 0.5), 0.5 + p * 0.5), labels=label,
                                          ids_step=0, class_names=rd.NAMES)
    writer.close()


def wait_loaded(url: str, steps: int, timeout: float = 120.0) -> None:
    """Wait until TensorBoard lists every step of the run (it loads the 8 MB of thumbnails first)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/data/plugin/{ub.PLUGIN}/tags") as response:
                listed = json.load(response)["runs"].get(RUN, {}).get(rd.TAG, {})
            if len(listed.get("steps", [])) >= steps and "example_predictions" in listed.get("diagnostics", []):
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, "TensorBoard did not load the run"
        time.sleep(0.5)


def click_times(browser, url: str, cells: int) -> List[float]:
    """Milliseconds from the click on each of ``cells`` cells to its first thumbnails drawn."""
    context, page = ub.new_page(browser)
    try:
        ub.open_plugin(page, url)
        ub.select_runs(page, [RUN])
        out = []
        for k in range(cells):
            t, p = k % rd.C, (k * 3 + 1) % rd.C
            before = page.evaluate("performance.getEntriesByName('tbc-cell-thumbs').length")
            page.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first.click()
            page.wait_for_function("n => performance.getEntriesByName('tbc-cell-thumbs').length > n", arg=before, timeout=30000)
            out.append(page.evaluate("performance.getEntriesByName('tbc-cell-thumbs').slice(-1)[0].duration"))
        assert not page.errors, page.errors
        return out
    finally:
        context.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cells", type=int, default=10, help="cells clicked (each once)")
    parser.add_argument("--modes", default="false", help="comma-separated --load_fast modes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as logdir:
        started = time.perf_counter()
        write_logdir(logdir, args.examples, args.steps)
        print(f"wrote {args.examples:,} examples x {args.steps} evaluations in {time.perf_counter() - started:.1f} s\n")
        print("| --load_fast | first click -> thumbnails (ms) | next clicks: median (ms) | next clicks: max (ms) | target |")
        print("|---|---|---|---|---|")
        with ub.chromium() as browser:
            for mode in args.modes.split(","):
                with tensorboard_server(logdir, load_fast=mode == "true") as tb:
                    wait_loaded(tb.url, args.steps)
                    times = click_times(browser, tb.url, args.cells)
                rest = times[1:] or times
                print(f"| {mode} | {times[0]:.0f} | {statistics.median(rest):.0f} | {max(rest):.0f} | 300 |")


if __name__ == "__main__":
    main()
