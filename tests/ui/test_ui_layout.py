"""Browser tests of the tab's layout (issue 18): the runs in a left column,
the controls and the step slider in a bar that stays in view, two 10-class
matrices side by side at 1280 px (their cells fitted to the width), the
selected cell's cards right under them, nothing clipped in the per-class
table at common widths, no height change while scrolling, full-page
screenshots with drawn cards; and what a hovered or empty cell says.

Headless Debian chromium driven by Playwright against a real ``tensorboard``
subprocess over the main test log directory (tests/ui/ui_data.py).
"""
from __future__ import annotations

import io

import numpy as np
import pytest

from tests.support.tensorboard_server import tensorboard_server
from tests.ui import ui_browser as ub
from tests.ui import ui_data as ud

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

#: The step with example images (run A); every run's nearest step to it is shown.
STEP = ud.EXAMPLE_STEPS[0]


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("ui_layout_logs"))
    return logdir, ud.write_main_logdir(logdir)


@pytest.fixture(scope="module")
def server(logged):
    with tensorboard_server(logged[0], load_fast=False) as tb:
        yield tb


def open_tab(browser, server, width: int, height: int, **options):
    """``(context, page)``: the tab at ``width`` x ``height`` with runs A and B ticked, at STEP."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    ub.open_plugin(page, server.url)
    ub.select_runs(page, [ud.RUN_A, ud.RUN_B])
    ub.set_step(page, STEP)
    return context, page


@pytest.fixture
def tab1280(browser, server):
    context, page = open_tab(browser, server, 1280, 800)
    yield page
    context.close()
    assert not page.errors, page.errors


def box(page, selector: str) -> dict:
    b = page.locator(selector).first.bounding_box()
    assert b is not None, selector
    return b


def click_cell(page, run: str, t: int, p: int) -> None:
    before = ub.draws(page)
    ub.panel(page, run).locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').click()
    ub.wait_redraw(page, before)


def test_two_matrices_side_by_side_at_1280(tab1280):
    a, b = box(tab1280, f'section.panel[data-run="{ud.RUN_A}"]'), box(tab1280, f'section.panel[data-run="{ud.RUN_B}"]')
    assert abs(a["y"] - b["y"]) <= 1, (a, b)  # one row
    assert a["x"] + a["width"] <= b["x"], (a, b)  # no overlap
    assert b["x"] + b["width"] <= 1280
    # the cells shrank to fit (52 px at most), and every cell of both grids is inside its panel
    cell = float(tab1280.evaluate("getComputedStyle(document.querySelector('.hm-grid')).getPropertyValue('--cell')").strip().rstrip("px"))
    assert 28 <= cell < 52
    for panel in (a, b):
        assert panel["y"] + panel["height"] <= 800, "the matrices' row fits the first screen"
    # the runs are in the left column
    side = box(tab1280, "#tbc-side")
    assert side["x"] + side["width"] <= a["x"] and tab1280.locator("#tbc-side .run-list input[type=checkbox]").count() >= 2


def test_toolbar_and_slider_stay_in_view(tab1280):
    click_cell(tab1280, ud.RUN_A, 6, 0)
    tab1280.locator("#tbc-examples .thumb, #tbc-examples [data-empty]").first.wait_for()
    tab1280.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    tab1280.wait_for_function("window.scrollY > 200")
    for selector in ("#tbc-topbar", "#tbc-tag", "#tbc-mode-diff", "#tbc-norm-true", "#tbc-step", "#tbc-step-label"):
        b = box(tab1280, selector)
        assert b["y"] >= 0 and b["y"] + b["height"] <= 800, (selector, b)
    assert tab1280.locator("#tbc-step").is_visible() and tab1280.locator("#tbc-step-label").inner_text() == f"step {STEP}"
    # the bar stays usable where it is: a normalization picked there redraws
    ub.click_and_redraw(tab1280, "#tbc-norm-true")
    assert tab1280.evaluate("window.__tbConfusion.state().norm") == "true"


def test_selected_cell_cards_right_under_the_matrices(tab1280):
    click_cell(tab1280, ud.RUN_A, 2, 3)
    panels_bottom = max(b["y"] + b["height"] for b in (box(tab1280, f'section.panel[data-run="{r}"]') for r in (ud.RUN_A, ud.RUN_B)))
    panels_right = box(tab1280, "#tbc-panels")["x"] + box(tab1280, "#tbc-panels")["width"]
    examples = box(tab1280, "#tbc-examples")
    assert examples["y"] <= panels_bottom + 40 or examples["x"] >= panels_right, (examples, panels_bottom)
    assert "True Pullover → predicted Dress" in tab1280.locator("#tbc-examples-title").inner_text()
    # below the fold only what concerns the whole matrix: the per-class table comes after the cell's cards
    assert box(tab1280, "#tbc-classes")["y"] > examples["y"]


@pytest.mark.parametrize("width", [1920, 1440, 1280])
def test_class_table_not_clipped(browser, server, width):
    context, page = open_tab(browser, server, width, 900)
    try:
        page.locator("#tbc-classes svg.spark").first.wait_for()
        clipped = page.locator("#tbc-classes").evaluate(
            "card => [card, ...card.querySelectorAll('*')].filter(e => !(e instanceof SVGElement) && e.clientWidth > 0"
            " && e.scrollWidth > e.clientWidth + 1).map(e => e.tagName + '.' + e.className + ' ' + e.scrollWidth + '>' + e.clientWidth)")
        assert clipped == []
        card = box(page, "#tbc-classes")
        spark = box(page, "#tbc-classes svg.spark")  # the trend column
        assert card["x"] <= spark["x"] and spark["x"] + spark["width"] <= card["x"] + card["width"]
        assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    finally:
        context.close()
    assert not page.errors, page.errors


def test_scrolling_does_not_change_the_page_height(tab1280):
    click_cell(tab1280, ud.RUN_A, 6, 0)
    tab1280.locator("#tbc-classes svg.spark").first.wait_for()
    tab1280.wait_for_timeout(300)
    heights = []
    total = tab1280.evaluate("document.documentElement.scrollHeight")
    for y in range(0, total + 400, 200):
        tab1280.evaluate(f"window.scrollTo(0, {y})")
        tab1280.wait_for_timeout(30)
        heights.append(tab1280.evaluate("document.documentElement.scrollHeight"))
    tab1280.evaluate("window.scrollTo(0, 0)")
    heights.append(tab1280.evaluate("document.documentElement.scrollHeight"))
    assert set(heights) == {total}, heights
    assert not tab1280.evaluate("Array.from(document.querySelectorAll('.card')).some(c => getComputedStyle(c).contentVisibility === 'auto')")


def test_full_page_screenshot_has_drawn_cards(tab1280):
    from PIL import Image

    click_cell(tab1280, ud.RUN_A, 2, 3)
    tab1280.locator("#tbc-examples .thumb canvas").first.wait_for()
    tab1280.locator("#tbc-classes svg.spark").first.wait_for()
    tab1280.mouse.move(1, 1)
    boxes = tab1280.evaluate(
        "Array.from(document.querySelectorAll('.card')).map(c => { const b = c.getBoundingClientRect();"
        " return [c.id, b.left + scrollX, b.top + scrollY, b.width, b.height]; })")
    png = tab1280.screenshot(full_page=True)
    ub.screenshot(tab1280, "layout-01-full-page-1280.png")
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=np.float64)
    assert len(boxes) >= 4
    for card_id, x, y, w, h in boxes:
        inside = image[int(y) + 4: int(y + h) - 4, int(x) + 4: int(x + w) - 4]
        # a drawn card has text and figures: many pixels away from the background
        assert inside.size and (np.abs(inside - np.median(inside)) > 40).mean() > 0.01, card_id


def test_hovered_cell_is_outlined_and_its_tooltip_names_the_run(tab1280):
    target = ub.panel(tab1280, ud.RUN_B).locator('.hm-cell[data-true-index="4"][data-pred-index="6"]')
    target.hover()
    tip = tab1280.locator("#tbc-tooltip")
    tip.wait_for(state="visible")
    assert tip.inner_text().splitlines()[0] == f"Run: {ud.RUN_B}"
    assert "True: Coat" in tip.inner_text() and "Predicted: Shirt" in tip.inner_text()
    style = target.evaluate("e => [getComputedStyle(e).outlineStyle, parseFloat(getComputedStyle(e).outlineWidth)]")
    assert style[0] == "solid" and style[1] >= 2
    other = ub.panel(tab1280, ud.RUN_B).locator('.hm-cell[data-true-index="0"][data-pred-index="0"]')
    assert other.evaluate("e => getComputedStyle(e).outlineStyle") == "none"


def test_an_empty_cell_does_not_say_its_examples_were_dropped(tab1280, logged):
    m = logged[1][ud.RUN_A][STEP]
    zeros = [(t, p) for t, p in zip(*np.nonzero(m == 0))]
    full = [(t, p) for t, p in zip(*np.nonzero(m > 0)) if t != p]
    assert zeros and full
    click_cell(tab1280, ud.RUN_A, *zeros[0])
    empty = tab1280.locator("#tbc-examples [data-empty]")
    empty.wait_for()
    assert "the cell is 0" in empty.inner_text() and "dropped" not in tab1280.locator("#tbc-examples").inner_text()
    click_cell(tab1280, ud.RUN_A, *full[0])
    tab1280.locator("#tbc-examples .thumb").first.wait_for()
    assert "the cell is 0" not in tab1280.locator("#tbc-examples").inner_text()
