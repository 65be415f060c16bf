"""Browser tests of the confusion tab: headless Debian chromium driven by
Playwright against a real ``tensorboard`` subprocess over log directories
written with the project's own summary API (tests/ui/ui_data.py).

Screenshots of the main states go to test-artifacts/.

Why one file of ~700 lines: every test here shares the module-scoped
``tensorboard`` server and browser page over one logdir (starting them costs
several seconds each); the diagnostics cards, with a logdir of their own, are
in test_ui_diagnostics.py.
"""
from __future__ import annotations

import csv
import io
import json
import math
import re
import time

import numpy as np
import pytest

from tests.support.tensorboard_server import tensorboard_server
from tests.ui import ui_browser as ub
from tests.ui import ui_data as ud

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("ui_logs"))
    matrices = ud.write_main_logdir(logdir)
    return logdir, matrices


@pytest.fixture(scope="module")
def server(logged):
    logdir, _ = logged
    with tensorboard_server(logdir, load_fast=False) as tb:
        yield tb


@pytest.fixture
def page(browser):
    """The shared page (``tests/ui/conftest.py``), accepting downloads."""
    context, p = ub.new_page(browser, accept_downloads=True)
    yield p
    context.close()
    assert not p.errors, p.errors


@pytest.fixture
def tab(page, server):
    """The plugin page with only run ``baseline`` selected, at its last step."""
    ub.open_plugin(page, server.url)
    ub.select_runs(page, [ud.RUN_A])
    ub.set_step(page, 3)
    return page


def expected(matrices, run, step):
    return matrices[run][step]


def assert_cells(cells, m, names, transform=None, atol=1e-9):
    values = m.astype(float) if transform is None else transform(m)
    for t, tn in enumerate(names):
        for p, pn in enumerate(names):
            cell = cells[(tn, pn)]
            assert int(float(cell["count"])) == m[t, p], (tn, pn)
            want = values[t, p]
            got = float(cell["value"])
            if math.isnan(want):
                assert math.isnan(got)
            else:
                assert abs(got - want) <= atol, (tn, pn, got, want)


# ---------------------------------------------------------------- tests


def test_tab_appears_in_tensorboard_ui(page, server):
    page.goto(server.url + "/#" + ub.PLUGIN)
    frame = ub.plugin_frame(page)
    # the tab is listed in TensorBoard's header, selected
    tab_label = page.get_by_role("tab", name="Confusion")
    assert tab_label.count() == 1 and tab_label.get_attribute("aria-selected") == "true"
    assert frame.locator("section.panel").count() >= 1
    assert frame.locator("#tbc-tag").input_value() == ud.MAIN_TAG
    ub.screenshot(page, "01-tab-in-tensorboard.png")


def test_tab_works_behind_path_prefix(page, tmp_path):
    """Relative URLs only: the tab loads and draws under --path_prefix."""
    logdir = str(tmp_path / "prefixed")
    writer_matrices = {0: ud.matrix(3, 0)}
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin import summary

    writer = SummaryWriter(f"{logdir}/run")
    summary.write_confusion_matrix(writer, ud.MAIN_TAG, writer_matrices[0], 0, class_names=ud.FMNIST)
    writer.close()
    with tensorboard_server(logdir, load_fast=False, path_prefix="/some/prefix") as server:
        page.goto(server.url + server.path_prefix + "/#" + ub.PLUGIN)
        frame = ub.plugin_frame(page)
        assert "/some/prefix/data/plugin_entry.html" in frame.url
        assert_cells(ub.grid_cells(frame, ub.panel(frame, "run")), writer_matrices[0], ud.FMNIST)


def test_cell_counts_equal_logged(tab, logged):
    _, matrices = logged
    cells = ub.grid_cells(tab, ub.panel(tab, ud.RUN_A))
    m = expected(matrices, ud.RUN_A, 3)
    assert_cells(cells, m, ud.FMNIST)
    for (t, p), cell in cells.items():
        assert cell["text"] == str(m[ud.FMNIST.index(t), ud.FMNIST.index(p)])
    # tooltip: true, predicted, count, row and column share
    shirt, tshirt = ud.FMNIST.index("Shirt"), ud.FMNIST.index("T-shirt/top")
    cell = tab.locator(f'.hm-cell[data-true-index="{shirt}"][data-pred-index="{tshirt}"]').first
    cell.hover()
    tip = tab.locator("#tbc-tooltip")
    tip.wait_for(state="visible")
    text = tip.inner_text()
    count = m[shirt, tshirt]
    assert "True: Shirt" in text and "Predicted: T-shirt/top" in text and f"Count: {count}" in text
    assert f"{100 * count / m[shirt].sum():.1f}%" in text
    assert f"{100 * count / m[:, tshirt].sum():.1f}%" in text
    ub.screenshot(tab, "02-matrix-counts-tooltip.png")


def test_each_normalization(tab, logged, page):
    _, matrices = logged
    m = expected(matrices, ud.RUN_A, 3).astype(float)
    transforms = {
        "true": lambda x: x / x.sum(axis=1, keepdims=True),
        "pred": lambda x: x / x.sum(axis=0, keepdims=True),
        "total": lambda x: x / x.sum(),
        "counts": lambda x: x,
    }
    for norm, fn in transforms.items():
        ub.click_and_redraw(tab, f"#tbc-norm-{norm}")
        cells = ub.grid_cells(tab, ub.panel(tab, ud.RUN_A))
        assert_cells(cells, m.astype(np.int64), ud.FMNIST, transform=lambda x, fn=fn: fn(x.astype(float)))
        shown = cells[("Shirt", "Shirt")]["text"]
        want = fn(m)[6, 6]
        assert shown == (str(int(want)) if norm == "counts" else f"{want * 100:.1f}".rstrip()), (norm, shown)
        if norm == "true":
            ub.screenshot(tab, "03-normalized-by-true-class.png")
    # the choice survives a reload
    ub.click_and_redraw(tab, "#tbc-norm-pred")
    page.reload()
    ub.wait_ready(page)
    assert page.locator("#tbc-norm-pred").is_checked()
    assert page.evaluate("window.__tbConfusion.state().norm") == "pred"


def test_hide_diagonal_puts_scale_on_errors(tab):
    before = tab.locator(".hm-cell.hm-hidden").count()
    ub.click_and_redraw(tab, "#tbc-hide-diagonal")
    assert before == 0
    assert tab.locator(".hm-cell.hm-hidden").count() == len(ud.FMNIST)
    assert tab.locator(".hm-cell.hm-hidden").first.inner_text() == ""


def test_slider_changes_step_nearest_per_run_and_play(page, server, logged):
    _, matrices = logged
    ub.open_plugin(page, server.url)
    ub.select_runs(page, [ud.RUN_A, ud.RUN_B])
    assert page.evaluate("window.__tbConfusion.state().steps") == [0, 1, 2, 3, 4]
    for step, nearest_b in ((1, 0), (2, 2), (3, 2), (4, 4)):
        ub.set_step(page, step)
        a, b = ub.panel(page, ud.RUN_A), ub.panel(page, ud.RUN_B)
        assert b.get_attribute("data-step") == str(nearest_b)
        assert_cells(ub.grid_cells(page, b), expected(matrices, ud.RUN_B, nearest_b), ud.FMNIST)
        step_a = min(step, 3)
        assert a.get_attribute("data-step") == str(step_a)
        assert_cells(ub.grid_cells(page, a), expected(matrices, ud.RUN_A, step_a), ud.FMNIST)
        assert page.locator("#tbc-step-label").inner_text() == f"step {step}"
    assert "nearest to 3" in ub.panel(page, ud.RUN_B).inner_text() or True
    ub.set_step(page, 3)
    assert "nearest to 3" in ub.panel(page, ud.RUN_B).locator(".step-note").inner_text()
    ub.screenshot(page, "04-two-runs-one-slider.png")
    # play runs through the steps to the end and stops
    ub.set_step(page, 0)
    page.locator("#tbc-play").click()
    page.wait_for_function("window.__tbConfusion.state().targetStep === 4", timeout=15000)
    page.wait_for_function("document.querySelector('#tbc-play').getAttribute('aria-pressed') === 'false'", timeout=5000)


def test_cell_click_shows_thumbnails(tab, logged):
    _, matrices = logged
    m = expected(matrices, ud.RUN_A, 3)
    t, p = ud.FMNIST.index("Shirt"), ud.FMNIST.index("Sneaker")
    assert m[t, p] > 0
    tab.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first.click()
    thumbs = tab.locator("#tbc-examples .thumb")
    thumbs.first.wait_for()
    assert thumbs.count() == min(int(m[t, p]), 3)
    title = tab.locator("#tbc-examples-title").inner_text()
    assert "True Shirt" in title and "predicted Sneaker" in title
    confidences = [float(x) for x in thumbs.evaluate_all("els => els.map(e => e.dataset.confidence)")]
    assert confidences == sorted(confidences, reverse=True) and all(0.3 <= c <= 0.99 for c in confidences)
    assert "conf " in thumbs.first.inner_text()
    # the tile really is drawn from the sprite: the bar of the true class is bright
    lit = tab.evaluate("""() => {
        const c = document.querySelector('#tbc-examples .thumb canvas');
        const d = c.getContext('2d').getImageData(10, 2 + 2 * %d + 1, 1, 1).data;
        return d[0];
    }""" % t)
    assert lit > 50
    ub.screenshot(tab, "05-cell-examples.png")
    # keyboard: the clicked cell has focus; ArrowLeft + Enter selects its neighbour
    tab.keyboard.press("ArrowLeft")
    focused = tab.evaluate("[document.activeElement.dataset.trueIndex, document.activeElement.dataset.predIndex]")
    assert focused == [str(t), str(p - 1)]
    assert "Predicted:" in tab.evaluate("document.activeElement.getAttribute('aria-label')")
    before = ub.draws(tab)
    tab.keyboard.press("Enter")
    ub.wait_redraw(tab, before)
    assert f"predicted {ud.FMNIST[p - 1]}" in tab.locator("#tbc-examples-title").inner_text()


def test_top_confusions_list_and_class_table(tab, logged):
    _, matrices = logged
    m = expected(matrices, ud.RUN_A, 3).copy()
    np.fill_diagonal(m, 0)
    flat = sorted(((-m[t, p], t, p) for t in range(10) for p in range(10) if m[t, p] > 0))[:10]
    items = tab.locator("#tbc-top li button")
    assert items.count() == len(flat)
    first = items.first.inner_text()
    _, t, p = flat[0]
    assert first.startswith(f"{ud.FMNIST[t]} → {ud.FMNIST[p]}: {m[t, p]}")
    items.first.click()
    tab.locator("#tbc-examples .thumb").first.wait_for()
    assert tab.locator(f'.hm-cell.hm-selected[data-true-index="{t}"][data-pred-index="{p}"]').count() == 1
    # per-class table, sorted by recall ascending then descending
    full = expected(matrices, ud.RUN_A, 3)
    recall = np.diag(full) / full.sum(axis=1)
    tab.locator('th button[data-sort="recall"]').click()
    names = tab.locator("table.classes tbody tr td:first-child").all_text_contents()  # rendered or not (content-visibility)
    order = sorted(range(10), key=lambda i: (-recall[i], i))
    assert names == [ud.FMNIST[i] for i in order]
    tab.locator('th button[data-sort="recall"]').click()
    names = tab.locator("table.classes tbody tr td:first-child").all_text_contents()  # rendered or not (content-visibility)
    assert names == [ud.FMNIST[i] for i in sorted(range(10), key=lambda i: (recall[i], i))]
    assert tab.locator('th[aria-sort="ascending"] button[data-sort="recall"]').count() == 1
    # trends: per-class chart and per-cell chart
    tab.locator("#tbc-class-trend svg.chart").wait_for()
    tab.locator("#tbc-cell-trend svg.chart").wait_for()
    ub.screenshot(tab, "06-details-top-table-trends.png")


def test_difference_mode_deltas(tab, logged):
    _, matrices = logged
    ub.click_and_redraw(tab, "#tbc-mode-diff")
    before = ub.draws(tab)
    tab.locator("#tbc-diff-run").select_option(ud.RUN_A)
    tab.locator("#tbc-diff-step-a").select_option("0")
    ub.wait_redraw(tab, before)
    diff_panel = tab.locator("section.panel").first
    want = expected(matrices, ud.RUN_A, 3) - expected(matrices, ud.RUN_A, 0)
    cells = ub.grid_cells(tab, diff_panel)
    for t, tn in enumerate(ud.FMNIST):
        for p, pn in enumerate(ud.FMNIST):
            assert float(cells[(tn, pn)]["value"]) == want[t, p]
            text = cells[(tn, pn)]["text"]
            assert text == (f"+{want[t, p]}" if want[t, p] > 0 else str(want[t, p]))
    ub.screenshot(tab, "07-difference-steps.png")
    # run A vs run B at one step
    before = ub.draws(tab)
    tab.locator("#tbc-diff-kind").select_option("runs")
    ub.wait_redraw(tab, before)
    before = ub.draws(tab)
    tab.locator("#tbc-diff-run-a").select_option(ud.RUN_A)
    tab.locator("#tbc-diff-run-b").select_option(ud.RUN_B)
    ub.set_step(tab, 2)
    want = expected(matrices, ud.RUN_B, 2) - expected(matrices, ud.RUN_A, 2)
    got = tab.evaluate("window.__tbConfusion.panel('')")
    assert np.array_equal(np.array(got["values"]), want)
    cells = ub.grid_cells(tab, tab.locator("section.panel").first)
    assert float(cells[("Shirt", "T-shirt/top")]["value"]) == want[6, 0]


def test_export_csv_and_json(tab, logged):
    _, matrices = logged
    m = expected(matrices, ud.RUN_A, 3).astype(float)
    ub.click_and_redraw(tab, "#tbc-norm-true")
    with tab.expect_download() as info:
        tab.locator("#tbc-export-csv").click()
    download = info.value
    assert download.suggested_filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(open(download.path(), encoding="utf-8").read())))
    assert rows[0] == ["true \\ predicted"] + ud.FMNIST
    want = m / m.sum(axis=1, keepdims=True)
    for i, row in enumerate(rows[1:]):
        assert row[0] == ud.FMNIST[i]
        assert np.allclose([float(x) for x in row[1:]], want[i])
    with tab.expect_download() as info:
        tab.locator("#tbc-export-json").click()
    data = json.load(open(info.value.path(), encoding="utf-8"))
    assert data["run"] == ud.RUN_A and data["tag"] == ud.MAIN_TAG and data["step"] == 3
    assert data["normalization"] == "true" and data["class_names"] == ud.FMNIST
    assert np.allclose(np.array(data["matrix"]), want)
    # a filtered, reordered view exports exactly what is shown
    tab.locator("#tbc-order").select_option("alpha")
    before = ub.draws(tab)
    tab.locator("#tbc-subset").fill("shirt, coat, t-sh")  # exact names, or a part of one
    ub.wait_redraw(tab, before)
    with tab.expect_download() as info:
        tab.locator("#tbc-export-json").click()
    data = json.load(open(info.value.path(), encoding="utf-8"))
    names = ["Coat", "Shirt", "T-shirt/top"]
    assert data["class_names"] == names
    idx = [ud.FMNIST.index(n) for n in names]
    assert np.allclose(np.array(data["matrix"]), want[np.ix_(idx, idx)])


def test_ordering_and_filtering(tab, logged):
    _, matrices = logged
    m = expected(matrices, ud.RUN_A, 3)
    tab.locator("#tbc-order").select_option("error")
    tab.wait_for_function("window.__tbConfusion.state().order === 'error'")
    errors = m.sum(axis=1) - np.diag(m)
    want = [ud.FMNIST[i] for i in sorted(range(10), key=lambda i: (-errors[i], i))]
    tab.wait_for_function("w => JSON.stringify(window.__tbConfusion.panel('baseline').classes) === w", arg=json.dumps(want, separators=(',', ':')))
    rows = tab.locator(".hm-rowhead").all_inner_texts()
    assert rows == want
    before = ub.draws(tab)
    tab.locator("#tbc-topk").fill("3")
    tab.locator("#tbc-topk").press("Enter")
    ub.wait_redraw(tab, before)
    off = m.copy()
    np.fill_diagonal(off, 0)
    # top-k: both ends of the k largest off-diagonal cells (ties by flat index)
    cells = sorted((c for c in range(100) if off.flat[c] > 0), key=lambda c: (-off.flat[c], c))[:3]
    top3 = {c // 10 for c in cells} | {c % 10 for c in cells}
    assert tab.evaluate("window.__tbConfusion.panel('baseline').classes") == [n for n in want if ud.FMNIST.index(n) in top3]


def test_dark_mode_follows_tensorboard(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
    page = context.new_page()
    try:
        page.goto(server.url + "/#" + ub.PLUGIN)
        frame = ub.plugin_frame(page)
        page.wait_for_function("document.body.classList.contains('dark-mode')", timeout=10000)
        frame.wait_for_function("document.documentElement.dataset.theme === 'dark'", timeout=5000)
        bg = frame.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(32, 33, 36)", bg
        ub.screenshot(page, "08-dark-mode.png")
        # TensorBoard's own switch (class on its <body>) is followed live
        page.evaluate("document.body.classList.remove('dark-mode')")
        frame.wait_for_function("document.documentElement.dataset.theme === 'light'", timeout=5000)
        assert frame.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(255, 255, 255)"
    finally:
        context.close()


def test_markup_in_names_renders_as_text(page, server):
    page.goto(server.url + "/#" + ub.PLUGIN)
    frame = ub.plugin_frame(page)
    ub.select_runs(frame, [ud.XSS_RUN])
    p = ub.panel(frame, ud.XSS_RUN)
    assert p.locator("h3").inner_text() == ud.XSS_RUN
    assert ud.XSS_CLASS in frame.locator(".hm-rowhead").all_inner_texts()
    cells = ub.grid_cells(frame, p)
    assert (ud.XSS_CLASS, "cat") in cells and cells[(ud.XSS_CLASS, "cat")]["count"] == "2"
    # the other tag's name has markup too
    frame.locator("#tbc-tag").select_option(ud.XSS_TAG)
    ub.wait_ready(frame)
    frame.locator('.hm-cell[data-true-index="1"][data-pred-index="0"]').first.click()
    frame.locator("#tbc-examples").wait_for()
    page.wait_for_timeout(300)
    assert frame.locator("img").count() == 0
    assert frame.locator("b").count() == 0
    assert frame.evaluate("window.__pwned") is None
    assert page.evaluate("window.__pwned") is None
    ub.screenshot(page, "09-markup-names-as-text.png")


def test_empty_error_missing_step_and_sampling_states(page, server):
    # no data: the two lines of code that log a matrix
    page.route("**/data/plugin/tb_fmnist_confusion/tags", lambda r: r.fulfill(status=200, content_type="application/json", body='{"runs": {}}'))
    page.goto(server.url + ub.ENTRY)
    state = page.locator("#tbc-state[data-state=empty]")
    state.wait_for()
    text = state.inner_text()
    assert "monitor = attach_hooks(model, writer, class_names=" in text
    assert "monitor.record(outputs, labels, images)" in text and "monitor.end_eval(step=epoch)" in text
    assert 'summary.write_confusion_matrix(writer, "confusion/test", matrix, step)' in text
    ub.screenshot(page, "10-empty-state.png")
    # server error: says what happened and offers a retry that works
    page.unroute("**/data/plugin/tb_fmnist_confusion/tags")
    page.route("**/data/plugin/tb_fmnist_confusion/tags", lambda r: r.fulfill(status=500, content_type="application/json", body='{"error": "reader exploded"}'))
    page.reload()
    err = page.locator("#tbc-state[data-state=error]")
    err.wait_for()
    assert "HTTP 500" in err.inner_text() and "reader exploded" in err.inner_text() and "terminal" in err.inner_text()
    ub.screenshot(page, "11-server-error.png")
    page.unroute("**/data/plugin/tb_fmnist_confusion/tags")
    page.locator("#tbc-retry").click()
    ub.wait_ready(page)
    assert page.locator("#tbc-state").get_attribute("data-state") == "ok"
    # a remembered step that no longer exists
    page.evaluate("""() => {
        const s = JSON.parse(localStorage.getItem('tb_fmnist_confusion.settings.v1') || '{}');
        s.step = 77; s.runs = ['baseline']; s.tag = 'confusion/test';
        localStorage.setItem('tb_fmnist_confusion.settings.v1', JSON.stringify(s));
    }""")
    page.reload()
    ub.wait_ready(page)
    notice = page.locator("#tbc-notices .notice.warn").first
    assert "Step 77 no longer exists" in notice.inner_text() and "nearest step, 3" in notice.inner_text()
    # a step that disappears between listing and fetching (404 from the server)
    page.route("**/data/plugin/tb_fmnist_confusion/matrix?*", lambda r: r.fulfill(status=404, content_type="application/json", body='{"error": "no step 2"}'))
    before = ub.draws(page)
    page.locator("#tbc-reload").click()  # drops cached matrices, lists runs again
    ub.wait_redraw(page, before)
    assert "no longer exists on the server" in page.locator("#tbc-notices").inner_text()
    page.unroute("**/data/plugin/tb_fmnist_confusion/matrix?*")
    # sampling warning names the flag
    def sampled(route):
        response = route.fetch()
        body = response.json()
        body["runs"]["baseline"]["confusion/test"]["possibly_sampled"] = True
        body["runs"]["baseline"]["confusion/test"]["samples_limit"] = 4
        route.fulfill(response=response, body=json.dumps(body))
    page.route("**/data/plugin/tb_fmnist_confusion/tags", sampled)
    page.reload()
    ub.wait_ready(page)
    warn = page.locator("#tbc-notices [data-notice=sampled]")
    assert "--samples_per_plugin" in warn.inner_text()
    ub.screenshot(page, "12-sampling-and-missing-step.png")


def test_thousand_classes_canvas(browser, tmp_path):
    logdir = str(tmp_path / "big")
    ud.write_big_logdir(logdir, n=1000, steps=(0, 1))
    with tensorboard_server(logdir, load_fast=False) as tb:
        context = browser.new_context(viewport={"width": 1400, "height": 1100})
        page = context.new_page()
        try:
            ub.open_plugin(page, tb.url)
            canvas = page.locator("canvas.hm-canvas")
            assert canvas.count() == 1
            first = page.evaluate("performance.getEntriesByName('tbc-first-draw')[0].startTime")
            got = page.evaluate("window.__tbConfusion.panel('big')")
            want = ud.big_matrix(1000, 1)
            assert len(got["classes"]) == 1000 and got["counts"][5][6] == want[5, 6] and got["counts"][999][0] == want[999, 0]
            # hover shows the cell's tooltip
            box = canvas.bounding_box()
            page.mouse.move(box["x"] + 120 + 300, box["y"] + 120 + 150)  # cells are < 1 px here
            tip = page.locator("#tbc-tooltip")
            tip.wait_for(state="visible")
            text = tip.inner_text()
            assert re.search(r"True: class_0\d\d\d", text) and re.search(r"Predicted: class_0\d\d\d", text), text
            assert "Share of row" in text and "Share of column" in text
            # keyboard cursor and zoom
            canvas.focus()
            page.keyboard.press("ArrowRight")
            assert "Predicted: class_0001" in page.locator(".hm-canvas-wrap [aria-live]").inner_text()
            for _ in range(5):
                page.keyboard.press("+")
            page.keyboard.press("Enter")
            page.locator("#tbc-examples").wait_for()
            ub.screenshot(page, "13-thousand-classes-zoomed.png")
            print(f"1000-class first draw {first:.0f} ms after the page started")
            assert first < 5000  # generous on a loaded 2-core CI box; the benchmark measures properly
        finally:
            context.close()


@pytest.fixture(scope="module")
def switch_server(tmp_path_factory):
    """A 60-class and a 10-class tag in run ``wide``, the 10-class one in run ``narrow`` too."""
    logdir = str(tmp_path_factory.mktemp("ui_switch_logs"))
    ud.write_switch_logdir(logdir)
    with tensorboard_server(logdir, load_fast=False) as tb:
        yield tb


def selection(target):
    return target.evaluate("window.__tbConfusion.state().selection")


def pick_tag(target, tag: str) -> None:
    before = ub.draws(target)
    target.locator("#tbc-tag").select_option(tag)
    ub.wait_redraw(target, before)


def test_switching_tag_run_or_step_clears_stale_selection(page, switch_server):
    """Issue 10, case 9: a class and a cell picked in a 60-class tag must not
    follow the tab into a 10-class tag (the trend card asked for cell 30/59
    there and showed a 400); a run no longer shown drops its cell; another
    step keeps the selection, which still applies."""
    refused = []
    page.on("response", lambda r: refused.append((r.status, r.url)) if r.status >= 400 else None)
    ub.open_plugin(page, switch_server.url)
    assert page.evaluate("window.__tbConfusion.state().tag") == ud.MAIN_TAG
    pick_tag(page, ud.MANY_TAG)
    # keyboard cursor on the canvas: PageDown (half of 60 rows), End (last column), Enter selects
    page.locator("canvas.hm-canvas").focus()
    page.keyboard.press("PageDown")
    page.keyboard.press("End")
    before = ub.draws(page)
    page.keyboard.press("Enter")
    ub.wait_redraw(page, before)
    page.wait_for_function("(document.querySelector('#tbc-cell-trend') || {}).textContent?.includes('true class 30 predicted as class 59')")
    page.locator('table.classes tr[data-class-index="46"] button.linklike').click()
    page.wait_for_function("(document.querySelector('#tbc-class-trend svg.chart') || {}).textContent?.includes('class 46: precision')")
    page.mouse.move(0, 0)
    # another tag: nothing of the selection applies
    pick_tag(page, ud.MAIN_TAG)
    page.locator("#tbc-class-trend svg.chart").wait_for()
    page.wait_for_timeout(500)  # any request for the old selection would have been sent by now
    assert refused == []
    assert page.locator("#tbc-details .notice.error").count() == 0, page.locator("#tbc-details").inner_text()
    assert "Hover or select a cell to see its trend." in page.locator("#tbc-cell-trend").inner_text()
    class_title = page.locator("#tbc-class-trend").inner_text()
    assert "class 46" not in class_title and any(f"{name}: precision" in class_title for name in ud.FMNIST), class_title
    assert "Click a cell" in page.locator("#tbc-examples").inner_text()
    assert selection(page) == {"tag": ud.MAIN_TAG, "cell": None, "cls": None, "hovered": None}
    # back to the 60-class tag: the old selection does not come back
    pick_tag(page, ud.MANY_TAG)
    assert selection(page) == {"tag": ud.MANY_TAG, "cell": None, "cls": None, "hovered": None}
    pick_tag(page, ud.MAIN_TAG)
    # another run: a cell of a run that is no longer shown is dropped
    ub.select_runs(page, [ud.RUN_NARROW, ud.RUN_WIDE])
    ub.click_and_redraw(page, f'section.panel[data-run="{ud.RUN_NARROW}"] .hm-cell[data-true-index="3"][data-pred-index="4"]')
    assert selection(page)["cell"] == {"run": ud.RUN_NARROW, "t": 3, "p": 4}
    page.mouse.move(0, 0)
    ub.select_runs(page, [ud.RUN_WIDE])
    assert selection(page)["cell"] is None
    ub.select_runs(page, [ud.RUN_NARROW, ud.RUN_WIDE])
    assert ub.panel(page, ud.RUN_NARROW).locator(".hm-cell.hm-selected").count() == 0
    # another step: the selection still applies and stays
    ub.select_runs(page, [ud.RUN_WIDE])
    ub.click_and_redraw(page, f'section.panel[data-run="{ud.RUN_WIDE}"] .hm-cell[data-true-index="3"][data-pred-index="4"]')
    ub.set_step(page, 0)
    assert selection(page)["cell"] == {"run": ud.RUN_WIDE, "t": 3, "p": 4}
    assert ub.panel(page, ud.RUN_WIDE).locator('.hm-cell.hm-selected[data-true-index="3"][data-pred-index="4"]').count() == 1
    assert "True Dress → predicted Coat, run wide" in page.locator("#tbc-examples-title").inner_text()
    assert refused == []


def test_auto_refresh_never_stacks_on_a_slow_listing(page, server):
    """Issue 10, case 1: while a listing is slow, the 30 s auto-refresh asks
    for no other; Reload aborts the listing in flight (its answer is no longer
    wanted). The slow server is the real one, its answers held back by the test."""
    page.clock.install()  # the tab's timers run on a clock the test moves
    ub.open_plugin(page, server.url)
    sent, aborted, held = [], [], []
    in_flight = {"now": 0, "most": 0}

    def on_request(request):
        if request.url.endswith("/tags"):
            sent.append(request)
            in_flight["now"] += 1
            in_flight["most"] = max(in_flight["most"], in_flight["now"])

    def on_end(request):
        if request.url.endswith("/tags"):
            in_flight["now"] -= 1
            if request.failure:
                aborted.append(request.failure)

    page.on("request", on_request)
    page.on("requestfinished", on_end)
    page.on("requestfailed", on_end)
    page.route("**/data/plugin/tb_fmnist_confusion/tags", lambda route: held.append(route))

    def until(condition, what: str, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            assert time.monotonic() < deadline, what
            page.wait_for_timeout(50)

    def answer_late(route) -> None:
        route.fulfill(response=route.fetch())  # the real answer, as late as the test decides

    page.clock.fast_forward(31_000)
    until(lambda: len(held) == 1, "the auto-refresh did not ask after 30 s")
    for _ in range(4):  # two minutes of ticks while the listing is slow
        page.clock.fast_forward(31_000)
        page.wait_for_timeout(250)
    assert len(sent) == 1 and len(held) == 1 and aborted == []
    answer_late(held.pop())
    until(lambda: in_flight["now"] == 0, "the late answer never arrived")
    # the next tick, 30 s after that answer, asks again
    page.clock.fast_forward(31_000)
    until(lambda: len(held) == 1, "no refresh after the slow listing ended")
    assert len(sent) == 2 and in_flight["most"] == 1
    # Reload while that one is slow: it is aborted, one new request replaces it
    page.locator("#tbc-reload").click()
    until(lambda: len(held) == 2 and len(aborted) == 1, "Reload did not abort the listing in flight")
    assert "ABORTED" in aborted[0].upper() and len(sent) == 3
    for route in held:
        answer_late(route)  # the aborted one's answer goes nowhere
    until(lambda: in_flight["now"] == 0, "the reloaded listing never arrived")
    ub.wait_ready(page)
    assert page.locator("#tbc-state").get_attribute("data-state") == "ok"
    assert page.locator("section.panel").count() >= 1


def test_auto_refresh_follows_new_steps(page, server, logged):
    """Runs last: adds a run to the shared log directory while the tab is open."""
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin import summary

    logdir, _ = logged
    ub.open_plugin(page, server.url)
    writer = SummaryWriter(f"{logdir}/late")
    summary.write_confusion_matrix(writer, ud.MAIN_TAG, ud.matrix(5, 0), 0, class_names=ud.FMNIST)
    writer.flush()
    # the tab refreshes the list of runs every 30 s; call the same refresh now
    refresh_until(page, "!!document.querySelector('.run-list input[value=\"late\"]')")
    ub.select_runs(page, ["late"])
    assert page.evaluate("window.__tbConfusion.state().targetStep") == 0, page.evaluate("JSON.stringify(window.__tbConfusion.state())")
    summary.write_confusion_matrix(writer, ud.MAIN_TAG, ud.matrix(5, 6), 6, class_names=ud.FMNIST)
    writer.close()
    # at the last step, the tab follows the new last step
    refresh_until(page, "window.__tbConfusion.state().targetStep === 6")
    ub.wait_ready(page)
    page.wait_for_function("document.querySelector('section.panel[data-run=late]').dataset.step === '6'")
    assert_cells(ub.grid_cells(page, ub.panel(page, "late")), ud.matrix(5, 6), ud.FMNIST)


def refresh_until(page, condition: str, timeout_s: float = 20.0) -> None:
    """Run the tab's periodic refresh until ``condition`` (a JS expression) holds."""
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        page.evaluate("window.__tbConfusion.refresh()")
        if page.evaluate(condition):
            return
        assert time.monotonic() < deadline, f"never true after refreshes: {condition}"
        page.wait_for_timeout(300)


def test_rows_left_out_for_nan_logits_are_announced_per_step(page, tmp_path):
    """Issue 9, case 6: a step whose evaluation left rows out (NaN logits)
    says how many, of how many, above the matrix; a step with none, or a run
    without counts, says nothing; the run's markup stays text."""
    logdir = str(tmp_path / "nan")
    logged = ud.write_excluded_logdir(logdir)
    with tensorboard_server(logdir, load_fast=False) as tb:
        asked = []
        page.on("request", lambda r: asked.append(r.url) if "/matrix?" in r.url else None)
        ub.open_plugin(page, tb.url)  # both runs ticked, at the last step (drawn from the listing's matrices)
        notices = page.locator("#tbc-notices [data-notice=excluded]")

        def expected_notice(step: int) -> str:
            rows = ud.NAN_EXCLUDED[step]
            evaluated = int(logged[ud.NAN_RUN][step].sum()) + rows
            return (f"Run “{ud.NAN_RUN}”, step {step}: {rows} of {evaluated} evaluated rows had NaN logits and are "
                    "left out of this matrix and its metrics (scalar nonfinite/test).")

        assert page.evaluate("window.__tbConfusion.state().targetStep") == 2
        assert notices.all_inner_texts() == [expected_notice(2)]
        assert expected_notice(2).startswith(f"Run “{ud.NAN_RUN}”, step 2: 25 of 1025 ")
        assert not [url for url in asked if "step=2" in url]  # the count came with the listing
        ub.screenshot(page, "14-nan-rows-left-out.png")
        ub.set_step(page, 1)  # fetched through the matrix route
        assert notices.all_inner_texts() == [expected_notice(1)]
        ub.set_step(page, 0)  # 0 rows left out: nothing to say
        assert notices.count() == 0
        ub.set_step(page, 1)
        assert notices.count() == 1
        ub.select_runs(page, [ud.CLEAN_RUN])  # no counts written: unknown, nothing to say
        assert notices.count() == 0
        assert page.locator("#tbc-notices i").count() == 0
        assert page.evaluate("window.__pwned") is None
