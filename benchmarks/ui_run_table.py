"""The run table's rows of ``bench_ui.py`` (issue 18): on a sweep, the click
on the Confusion tab until both the first matrix and the run table are drawn,
and each keystroke in the table's filter (the ``tbc-run-filter`` measure,
from the input event to the next animation frame after the table updated)."""
from __future__ import annotations

import statistics
from typing import Callable, List

#: The run table's targets on a sweep (issue 18): click on the tab -> table and first matrix drawn; a filter keystroke.
RUN_TABLE_FIRST_MS = 1000
RUN_TABLE_KEY_MS = 50
#: Typed in the run table's filter one key at a time, then erased: each keystroke is timed.
_FILTER_KEYS = "lr=09"


def type_in_filter(page, frame) -> List[float]:
    """Type ``_FILTER_KEYS`` into the run table's filter and erase it, key by
    key; per keystroke the ``tbc-run-filter`` measure (input event -> the
    next animation frame after the table updated), in ms."""
    frame.locator("#tbc-run-filter").click()
    keys = list(_FILTER_KEYS) + ["Backspace"] * len(_FILTER_KEYS)
    for key in keys:
        before = frame.evaluate("performance.getEntriesByName('tbc-run-filter').length")
        page.keyboard.press(key)
        frame.wait_for_function("n => performance.getEntriesByName('tbc-run-filter').length > n", arg=before, timeout=60000)
    return frame.evaluate("performance.getEntriesByName('tbc-run-filter').map(e => e.duration)")


def measure_run_table(click_tab: Callable[..., float], browser, url: str, repeats: int):
    """The run table on a sweep: ms from the click on the tab until both the
    table showed its rows and the first matrix was drawn (``click_tab``:
    bench_ui's, from the Scalars dashboard), and every filter keystroke's ms."""
    firsts: List[float] = []
    keys: List[float] = []
    for _ in range(repeats):
        firsts.append(click_tab(browser, url, marks=("tbc-first-draw", "tbc-run-table"),
                                then=lambda page, frame: keys.extend(type_in_filter(page, frame))))
    return firsts, keys


def print_run_table(rows, repeats: int) -> None:
    """The run table's rows: first draw with the table, and filter keystrokes."""
    if not rows:
        return
    print()
    print(f"Run table on the sweeps, median of {repeats} tab openings; {len(_FILTER_KEYS) * 2} filter keystrokes each:")
    print()
    print("| log directory | load_fast | click on the tab → table and first matrix drawn (ms) | filter keystroke → table updated, median / max (ms) | target | met |")
    print("|---|---|---|---|---|---|")
    for label, mode, firsts, keys in rows:
        first, key = statistics.median(firsts), statistics.median(keys)
        met = first < RUN_TABLE_FIRST_MS and max(keys) < RUN_TABLE_KEY_MS
        print(f"| {label} | {mode} | {first:.0f} | {key:.1f} / {max(keys):.1f} | < {RUN_TABLE_FIRST_MS:,} ms, keystroke < {RUN_TABLE_KEY_MS} ms | {'yes' if met else 'no'} |")
