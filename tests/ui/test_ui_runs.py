"""Browser tests of the Confusion tab's run table (issue 18, "Choosing runs"):
headless Debian chromium driven by Playwright against a real ``tensorboard``
over 60 runs of small 10-class matrices with different accuracies and wall
times, written with the project's own summary API. The expected orders are
computed here from the matrices written."""
from __future__ import annotations

import json
import os
import time

import numpy as np
import pytest

from tests.support.tensorboard_server import tensorboard_server
from tests.ui import ui_browser as ub

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

TAG = "confusion/test"
CLASSES = 10
OPTIMIZERS = ("adam", "sgd", "rmsprop")
RUNS = [f"{opt}/lr={k:02d}" for opt in OPTIMIZERS for k in range(20)]
#: The class whose recall the table is sorted by.
PICKED = 6


def final_matrix(i: int) -> np.ndarray:
    """Run ``RUNS[i]``'s matrix at its last step: its own accuracy and per-class recalls."""
    rng = np.random.default_rng(i)
    m = rng.integers(0, 8, size=(CLASSES, CLASSES))
    np.fill_diagonal(m, rng.integers(10, 200, size=CLASSES))
    return m


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """Two steps per run; the runs are written in a shuffled order of wall
    times, so the most recent ones are not the first by name."""
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin import summary

    logdir = str(tmp_path_factory.mktemp("run_table"))
    order = np.random.default_rng(7).permutation(len(RUNS))
    walls = {}
    for rank, i in enumerate(order):
        walls[RUNS[i]] = 1_700_000_000.0 + 60 * rank
        writer = SummaryWriter(os.path.join(logdir, RUNS[i]))
        summary.write_confusion_matrix(writer, TAG, np.eye(CLASSES, dtype=int) * 5, 0, walltime=walls[RUNS[i]] - 30)
        summary.write_confusion_matrix(writer, TAG, final_matrix(i), 1, walltime=walls[RUNS[i]])
        writer.close()
    return logdir, walls


@pytest.fixture(scope="module")
def server(logged):
    """TensorBoard once it lists both steps of every run (the default selection is of all of them)."""
    with tensorboard_server(logged[0], load_fast=False) as tb:
        deadline = time.monotonic() + 60
        while True:
            runs = tb.get_json(f"/data/plugin/{ub.PLUGIN}/tags")["runs"]
            if len(runs) == len(RUNS) and all(tags.get(TAG, {}).get("steps") == [0, 1] for tags in runs.values()):
                break
            assert time.monotonic() < deadline, f"TensorBoard listed {len(runs)} of {len(RUNS)} runs"
            time.sleep(0.5)
        yield tb


@pytest.fixture
def page(browser, server):
    context, p = ub.new_page(browser)
    ub.open_plugin(p, server.url)
    yield p
    context.close()
    assert not p.errors, p.errors


def runs_of(page):
    return page.evaluate("window.__tbConfusion.state().runs")


def row_names(page, count: int = 10):
    """The first ``count`` rows of the table as shown (the rows in view)."""
    return page.eval_on_selector_all(".run-row", f"rows => rows.sort((a, b) => a.offsetTop - b.offsetTop).slice(0, {count}).map(r => r.dataset.run)")


def counts(page) -> str:
    return page.locator("#tbc-run-counts").inner_text()


def ranked(values, descending: bool = True):
    """Run names by value (rounded like the API), ties by name."""
    sign = -1 if descending else 1
    return [run for _, run in sorted((sign * round(float(v), 6), run) for run, v in values.items())]


def test_default_selection_is_the_most_recent_runs_and_says_so(page, logged):
    _, walls = logged
    recent = sorted(sorted(walls, key=walls.get)[-4:])
    assert recent != sorted(RUNS)[:4]  # the old default (the first by name) would fail here
    assert runs_of(page) == recent
    assert page.locator("#tbc-run-default-note").inner_text() == "Showing the 4 most recent runs; tick others in the table."
    assert counts(page) == "60 of 60 runs shown, 4 selected"
    assert [p["run"] for p in page.evaluate("window.__tbConfusion.state().panels")] == recent


def test_filter_by_substring_and_regex_and_invalid_regex(page):
    box = page.locator("#tbc-run-filter")
    box.fill("ADAM/LR=1")  # case-insensitive substring
    want = [r for r in RUNS if "adam/lr=1" in r]
    assert counts(page) == f"{len(want)} of 60 runs shown, 4 selected"
    assert row_names(page, 60) == want
    box.fill("^(sgd|rmsprop)/lr=0[0-2]$")  # without the toggle: a literal substring, nothing matches
    assert counts(page).startswith("0 of 60")
    page.locator("#tbc-run-regex").check()
    assert row_names(page, 60) == ["rmsprop/lr=00", "rmsprop/lr=01", "rmsprop/lr=02", "sgd/lr=00", "sgd/lr=01", "sgd/lr=02"]
    error = page.locator("#tbc-run-filter-error")
    assert error.is_hidden()
    box.fill("lr=(")
    assert error.is_visible() and error.inner_text().startswith("Invalid regular expression")
    assert counts(page).startswith("60 of 60")  # an invalid expression filters nothing
    box.fill("SGD/LR=1\\d")
    assert error.is_hidden() and row_names(page, 60) == [f"sgd/lr={k}" for k in range(10, 20)]


def test_select_filtered_all_and_none(page):
    page.locator("#tbc-run-filter").fill("rmsprop/lr=0")
    before = ub.draws(page)
    page.locator("#tbc-runs-filtered").click()
    ub.wait_redraw(page, before)
    want = [f"rmsprop/lr=0{k}" for k in range(10)]
    assert runs_of(page) == want  # only the filtered runs, the earlier ones unticked
    assert counts(page) == "10 of 60 runs shown, 10 selected"
    assert page.locator("#tbc-run-default-note").is_hidden()
    page.locator("#tbc-runs-none").click()
    page.wait_for_function("window.__tbConfusion.state().runs.length === 0")
    assert counts(page) == "10 of 60 runs shown, 0 selected"
    page.locator("#tbc-runs-all").click()
    page.wait_for_function("window.__tbConfusion.state().runs.length === 60")
    assert counts(page) == "10 of 60 runs shown, 60 selected"  # all: every run with the tag, not only the filtered
    page.locator("#tbc-runs-none").click()
    page.wait_for_function("window.__tbConfusion.state().runs.length === 0")


def test_sort_by_accuracy_and_by_one_class_recall(page):
    accuracy = {run: np.trace(final_matrix(i)) / final_matrix(i).sum() for i, run in enumerate(RUNS)}
    recall = {run: final_matrix(i)[PICKED, PICKED] / final_matrix(i)[PICKED].sum() for i, run in enumerate(RUNS)}
    accuracy_header = page.locator(".run-head [data-sort=accuracy]")
    accuracy_header.click()  # numbers: largest first
    assert accuracy_header.get_attribute("aria-sort") == "descending"
    assert row_names(page) == ranked(accuracy)[:10]
    accuracy_header.click()
    assert row_names(page) == ranked(accuracy, descending=False)[:10]
    page.locator("#tbc-run-class").select_option(str(PICKED))
    page.locator(".run-head [data-sort=class]").click()
    assert row_names(page) == ranked(recall)[:10]
    shown = page.locator(f".run-row[data-run={json.dumps(ranked(recall)[0])}] .run-col-class").inner_text()
    assert shown == f"{max(recall.values()) * 100:.1f}%"
    page.locator(".run-head [data-sort=name]").click()
    assert row_names(page) == sorted(RUNS)[:10]


def test_a_run_has_the_same_colour_in_the_table_and_its_panel(page):
    """Compared as computed colours; a filter (here two different ones) changes no colour."""
    colours = {}
    for run in runs_of(page):
        colours[run] = ub.panel(page, run).locator("h3 .run-swatch").evaluate("el => getComputedStyle(el).backgroundColor")
        for text in (run, run.split("/")[0] + "/"):  # rows out of view are not drawn: filter to show it
            page.locator("#tbc-run-filter").fill(text)
            # read in one go: the rows are rebuilt when the table re-renders
            page.wait_for_function("""([run, colour]) => {
                const swatch = [...document.querySelectorAll('.run-row')].find((r) => r.dataset.run === run)?.querySelector('.run-swatch');
                return swatch && getComputedStyle(swatch).backgroundColor === colour;
            }""", arg=[run, colours[run]], timeout=5000)
    assert len(colours) == 4 and len(set(colours.values())) > 1


def test_selection_persists_across_reload(page):
    ub.select_runs(page, ["adam/lr=03", "sgd/lr=17"])
    assert runs_of(page) == ["adam/lr=03", "sgd/lr=17"]
    page.reload()
    ub.wait_ready(page)
    assert runs_of(page) == ["adam/lr=03", "sgd/lr=17"]
    assert page.locator("#tbc-run-default-note").is_hidden()
    assert counts(page) == "60 of 60 runs shown, 2 selected"


#: frontend/src/ui/state.ts MAX_PANELS: most matrix panels drawn at once.
MAX_PANELS = 24


def test_all_ticked_draws_at_most_max_panels_and_says_so(page):
    """Ticking All (60 runs here, 1,000 in a sweep) draws the first MAX_PANELS
    runs in the table's order, not one panel per run; a notice says so."""
    before = ub.draws(page)
    page.locator("#tbc-runs-all").click()
    ub.wait_redraw(page, before)
    assert len(runs_of(page)) == 60
    assert page.locator("section.panel").count() == MAX_PANELS
    notice = page.locator('#tbc-notices [data-notice="panel-cap"]')
    assert notice.inner_text().startswith(f"Showing the matrices of {MAX_PANELS} of the 60 ticked runs; ")
    drawn = [p["run"] for p in page.evaluate("window.__tbConfusion.state().panels")]
    assert drawn == sorted(RUNS)[:MAX_PANELS]  # the table sorts by name: its first rows
    # another sort picks other runs: the first ones by accuracy
    accuracy = {run: np.trace(final_matrix(i)) / final_matrix(i).sum() for i, run in enumerate(RUNS)}
    before = ub.draws(page)
    page.locator(".run-head [data-sort=accuracy]").click()
    ub.wait_redraw(page, before)
    drawn = [p["run"] for p in page.evaluate("window.__tbConfusion.state().panels")]
    assert drawn == sorted(ranked(accuracy)[:MAX_PANELS])
    assert page.locator("section.panel").count() == MAX_PANELS
    # back under the cap: every ticked run gets its panel, and the notice goes
    page.locator("#tbc-runs-none").click()
    page.wait_for_function("window.__tbConfusion.state().runs.length === 0")
    ub.select_runs(page, ["adam/lr=03", "sgd/lr=17"])
    assert page.locator("section.panel").count() == 2
    assert page.locator('#tbc-notices [data-notice="panel-cap"]').count() == 0


def test_none_persists_across_reload(page):
    """An explicit empty selection is remembered (a first visit still gets the default)."""
    assert len(runs_of(page)) == 4  # the default, on a first visit
    page.locator("#tbc-runs-none").click()
    page.wait_for_function("window.__tbConfusion.state().runs.length === 0")
    page.reload()
    ub.wait_ready(page)
    assert runs_of(page) == []
    assert page.locator(".run-row input:checked").count() == 0
    assert counts(page) == "60 of 60 runs shown, 0 selected"
    assert page.locator("#tbc-run-default-note").is_hidden()
    assert page.locator("section.panel").count() == 0
