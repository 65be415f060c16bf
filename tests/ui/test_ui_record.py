"""Browser tests of the per-example record in the tab (issue 19): every
member of a clicked cell (paged, sorted), an example's history strip and its
outlined cell following the slider, the examples that moved into or out of a
cell in the step difference, the forgetting counts per class and the data map
(points drawn, a region's examples listed).

Headless Debian chromium driven by Playwright against a real ``tensorboard``
subprocess over a log directory written with the format's write API
(tests/ui/ui_record_data.py); expected values are computed here with numpy
from the logged arrays.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.tensorboard_server import tensorboard_server
from tests.ui import ui_browser as ub
from tests.ui import ui_record_data as rd

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

RUN = rd.RUNS[0]
PAGE = 48


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("ui_record_logs"))
    records = rd.write_record_logdir(logdir)
    with tensorboard_server(logdir, load_fast=False) as tb:
        yield tb, records


def open_run(page, server, run=RUN):
    ub.open_plugin(page, server.url)
    ub.select_runs(page, [run])


def click_cell(target, t, p):
    before = ub.draws(target)
    target.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first.click()
    ub.wait_redraw(target, before)


def members_of(rec, j, t, p):
    """Rows of cell (t, p) at evaluation j."""
    return np.flatnonzero((rec["label"] == t) & (rec["predicted"][j] == p))


def order(rows, values, descending):
    """``rows`` sorted by ``values`` (distinct here), high first when ``descending``."""
    keys = values[rows]
    return rows[np.argsort(-keys if descending else keys, kind="stable")]


def shown_indices(target, grid_selector):
    target.locator(f"{grid_selector} .rec-tile").first.wait_for()
    return target.locator(f"{grid_selector} .rec-tile").evaluate_all("els => els.map(e => Number(e.dataset.index))")


def wait_total(target, selector, total):
    target.wait_for_function("([s, n]) => { const e = document.querySelector(s); return e && e.dataset.total === String(n); }",
                             arg=[selector, total])


def test_members_of_a_cell_paged_and_sorted(page, logged):
    server, records = logged
    rec, j = records[RUN], len(rd.STEPS) - 1
    open_run(page, server)
    assert page.evaluate("window.__tbConfusion.state().targetStep") == rd.STEPS[-1]
    click_cell(page, 0, 0)
    rows = members_of(rec, j, 0, 0)
    assert rows.size > PAGE  # the cell spans pages
    wait_total(page, "#tbc-members", rows.size)
    want = order(rows, rec["confidence"][j], True)
    assert shown_indices(page, "#tbc-members") == rd.INDEX[want[:PAGE]].tolist()
    assert page.locator("#tbc-members-pager .rec-range").text_content() == f"1-{PAGE} of {rows.size}"
    # examples without a thumbnail show their index; the others a drawn thumbnail
    no_thumb = [int(i) for i in rd.INDEX[want[:PAGE]] if ((i - 7) // 3) % rd.NO_THUMB_EVERY == 0]
    assert page.locator("#tbc-members .rec-no-thumb").count() == len(no_thumb)
    page.wait_for_function("n => document.querySelectorAll('#tbc-members canvas.rec-thumb[data-drawn=true]').length === n",
                           arg=PAGE - len(no_thumb))
    # the next page
    page.locator("#tbc-members-pager .rec-next").click()
    page.wait_for_function("() => document.querySelector('#tbc-members')?.dataset.offset === '48'")
    assert shown_indices(page, "#tbc-members") == rd.INDEX[want[PAGE:2 * PAGE]].tolist()
    # sorted by p(given), low first
    page.locator("#tbc-members-sort").select_option("p_given|asc")
    page.wait_for_function("() => document.querySelector('#tbc-members')?.dataset.offset === '0'")
    want = order(rows, rec["p_given"][j], False)
    page.wait_for_function("i => document.querySelector('#tbc-members .rec-tile')?.dataset.index === String(i)", arg=int(rd.INDEX[want[0]]))
    assert shown_indices(page, "#tbc-members") == rd.INDEX[want[:PAGE]].tolist()
    ub.screenshot(page, "record-members.png")


def test_history_strip_and_outlined_cell_follow_the_slider(page, logged):
    server, records = logged
    rec, j = records[RUN], len(rd.STEPS) - 1
    open_run(page, server)
    t, p = 0, 1
    rows = members_of(rec, j, t, p)
    assert rows.size > 0
    click_cell(page, t, p)
    row = int(order(rows, rec["confidence"][j], True)[0])
    index = int(rd.INDEX[row])
    page.locator(f'#tbc-members .rec-tile[data-index="{index}"]').click()
    page.locator("#tbc-history .rec-step").first.wait_for()
    steps = page.locator("#tbc-history .rec-step").evaluate_all(
        "els => els.map(e => [Number(e.dataset.step), Number(e.dataset.predicted), e.classList.contains('correct')])")
    assert [s for s, _, _ in steps] == list(rd.STEPS)
    assert [q for _, q, _ in steps] == rec["predicted"][:, row].tolist()
    assert [c for _, _, c in steps] == (rec["predicted"][:, row] == rec["label"][row]).tolist()
    assert page.locator("#tbc-history svg.chart").count() == 1
    for k, step in enumerate(rd.STEPS):
        ub.set_step(page, step)
        want = (str(rec["label"][row]), str(rec["predicted"][k, row]))
        page.wait_for_function("w => { const c = document.querySelectorAll('.hm-cell.hm-example'); return c.length === 1 && "
                               "c[0].dataset.trueIndex === w[0] && c[0].dataset.predIndex === w[1]; }", arg=list(want))
        assert page.locator(f'#tbc-history .rec-step.current[data-step="{step}"]').count() == 1
    ub.screenshot(page, "record-history.png")
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#tbc-history') && !document.querySelector('.hm-cell.hm-example')")


def test_step_difference_lists_entered_and_left(page, logged):
    server, records = logged
    rec = records[RUN]
    open_run(page, server)
    ub.click_and_redraw(page, "#tbc-mode-diff")
    before = ub.draws(page)
    page.locator("#tbc-diff-run").select_option(RUN)
    page.locator("#tbc-diff-step-a").select_option(str(rd.STEPS[0]))
    ub.wait_redraw(page, before)
    ja, jb = 0, len(rd.STEPS) - 1
    t, p = 0, 0
    click_cell(page, t, p)
    at_a = (rec["label"] == t) & (rec["predicted"][ja] == p)
    at_b = (rec["label"] == t) & (rec["predicted"][jb] == p)
    entered, left = np.flatnonzero(at_b & ~at_a), np.flatnonzero(at_a & ~at_b)
    assert entered.size > 0
    wait_total(page, "#tbc-moved-entered .rec-grid", entered.size)
    wait_total(page, "#tbc-moved-left .rec-grid", left.size)
    assert shown_indices(page, "#tbc-moved-entered .rec-grid") == rd.INDEX[order(entered, rec["confidence"][jb], True)[:PAGE]].tolist()
    if left.size:
        assert shown_indices(page, "#tbc-moved-left .rec-grid") == rd.INDEX[order(left, rec["confidence"][ja], True)[:PAGE]].tolist()
    # run A vs run B (the same examples) at the last step
    rec_b = records[rd.RUNS[1]]
    before = ub.draws(page)
    page.locator("#tbc-diff-kind").select_option("runs")
    ub.wait_redraw(page, before)
    before = ub.draws(page)
    page.locator("#tbc-diff-run-a").select_option(RUN)
    page.locator("#tbc-diff-run-b").select_option(rd.RUNS[1])
    page.wait_for_function("r => window.__tbConfusion.state().panels[0]?.run === r", arg=rd.RUNS[1])
    click_cell(page, t, p)
    at_a = (rec["label"] == t) & (rec["predicted"][jb] == p)
    at_b = (rec_b["label"] == t) & (rec_b["predicted"][jb] == p)
    entered, left = np.flatnonzero(at_b & ~at_a), np.flatnonzero(at_a & ~at_b)
    wait_total(page, "#tbc-moved-entered .rec-grid", entered.size)
    wait_total(page, "#tbc-moved-left .rec-grid", left.size)
    if entered.size:
        assert shown_indices(page, "#tbc-moved-entered .rec-grid") == rd.INDEX[order(entered, rec_b["confidence"][jb], True)[:PAGE]].tolist()


def expected_data_map(rec):
    p = rec["p_given"]
    confidence, variability = p.mean(axis=0), p.std(axis=0)
    cut = np.quantile(variability, 2.0 / 3.0)
    region = np.where(variability >= cut, 1, np.where(confidence >= 0.5, 0, 2))
    return confidence, variability, region


def test_forgetting_and_data_map(page, logged):
    server, records = logged
    rec = records[RUN]
    open_run(page, server)
    page.locator("#tbc-data-map-canvas").wait_for()
    assert int(page.locator("#tbc-data-map-canvas").get_attribute("data-points")) == rd.N
    _, _, region = expected_data_map(rec)
    counts = [int((region == r).sum()) for r in range(3)]
    assert page.evaluate("JSON.parse(document.querySelector('#tbc-data-map-canvas').dataset.regionCounts)") == counts
    # forgetting (Toneva et al.): correct at j - 1, wrong at j
    right = rec["predicted"] == rec["label"][None, :]
    events = (right[:-1] & ~right[1:]).sum(axis=0)
    page.locator("#tbc-forgetting tbody tr").first.wait_for()
    got = page.locator("#tbc-forgetting tbody tr").evaluate_all(
        "els => els.map(e => [Number(e.dataset.events), Number(e.dataset.forgotten), Number(e.dataset.never)])")
    for c in range(rd.C):
        mine = rec["label"] == c
        assert got[c] == [int(events[mine].sum()), int((events[mine] > 0).sum()), int((~right[:, mine].any(axis=0)).sum())]
    # a legend region lists its examples, by dataset index
    for r in (1, 2):
        page.locator(f'#tbc-data-map-legend button[data-region="{r}"]').click()
        members = np.flatnonzero(region == r)
        wait_total(page, "#tbc-data-map-list", members.size)
        assert shown_indices(page, "#tbc-data-map-list") == rd.INDEX[members[:PAGE]].tolist()
    # a dragged rectangle: the whole plot's upper-left quarter
    page.locator("#tbc-data-map-canvas").scroll_into_view_if_needed()
    box = page.locator("#tbc-data-map-canvas").bounding_box()
    css = box["width"] / 440  # CSS px per canvas px (the canvas shrinks to a narrow card)
    page.mouse.move(box["x"] + 43 * css, box["y"] + 11 * css)
    page.mouse.down()
    page.mouse.move(box["x"] + 150 * css, box["y"] + 100 * css, steps=5)
    page.mouse.up()
    page.wait_for_function("() => document.querySelector('#tbc-data-map-list')?.dataset.selection === 'rect'")
    # (in canvas px) the plot area of card-data-map.ts: x = variability over [0, 0.5] from 42 to 430 px, y = confidence over [1, 0] from 10 to 286 px
    x0, x1 = (43 - 42) / 388 * 0.5, (150 - 42) / 388 * 0.5
    y1, y0 = 1 - (11 - 10) / 276, 1 - (100 - 10) / 276
    confidence, variability, _ = expected_data_map(rec)
    c, v = np.round(confidence, 4), np.round(variability, 4)
    inside = np.flatnonzero((v >= x0) & (v <= x1) & (c >= y0) & (c <= y1))
    assert inside.size > 0
    wait_total(page, "#tbc-data-map-list", inside.size)
    assert shown_indices(page, "#tbc-data-map-list") == rd.INDEX[inside[:PAGE]].tolist()
    ub.screenshot(page, "record-data-map.png")
