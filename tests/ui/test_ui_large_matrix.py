"""Browser test of a 1,000-class matrix seen whole (issue 18): the fitted
overview with each pixel the largest cell it covers, the "Cluster" order,
top-k with the confusion partners, zooming (click, rectangle, Escape, a top
confusion). Headless Debian chromium against a real ``tensorboard`` over a
log directory written with the project's summary API through a real
``SummaryWriter``."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tests.support.tensorboard_server import tensorboard_server
from tests.ui import ui_browser as ub
from tests.ui import ui_data as ud

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

N = 1000
BLOCK = 20
RUN = "planted"
MARGIN = 120  # the canvas's label margin (heatmap-canvas.ts)


def top_cells_classes(m: np.ndarray, k: int) -> set:
    """Both ends of the ``k`` largest non-zero off-diagonal cells (ties: row-major), the rule of docs/ui.md."""
    off = m.astype(float).copy()
    np.fill_diagonal(off, 0)
    flat = off.ravel()
    order = sorted(np.flatnonzero(flat > 0).tolist(), key=lambda c: (-flat[c], c))[:k]
    return {c // N for c in order} | {c % N for c in order}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("ui_large"))
    m, block = ud.planted_matrix(N, BLOCK)
    ud.write_planted_logdir(logdir, m, RUN)
    with tensorboard_server(logdir, load_fast=False) as tb:
        yield tb, m, block


@pytest.fixture
def page(browser, planted):
    context, p = ub.new_page(browser)
    ub.open_plugin(p, planted[0].url)
    p.locator("canvas.hm-canvas").wait_for()
    yield p
    context.close()
    assert not p.errors, p.errors


def view(page) -> dict:
    return json.loads(page.locator("canvas.hm-canvas").get_attribute("data-view"))


def shown_names(page) -> list:
    return page.evaluate("window.__tbConfusion.state().panels[0].classes")


def set_order(page, order: str) -> None:
    before = ub.draws(page)
    page.locator("#tbc-order").select_option(order)
    ub.wait_redraw(page, before)
    page.wait_for_function("o => window.__tbConfusion.state().order === o", arg=order)


#: Mean colour distance (0-441) of each pixel of a square region of the canvas
#: from viridis' zero colour, and the share of pixels that differ from it.
_REGION_JS = """([x0, y0, side]) => {
  const c = document.querySelector('canvas.hm-canvas');
  const dpr = c.width / parseFloat(c.style.width);
  const X = Math.round(x0 * dpr), Y = Math.round(y0 * dpr), S = Math.max(1, Math.round(side * dpr));
  const px = c.getContext('2d').getImageData(X, Y, S, S).data;
  let lit = 0;
  for (let i = 0; i < px.length; i += 4) {
    const d = Math.hypot(px[i] - 68, px[i + 1] - 1, px[i + 2] - 84);
    if (d > 60) lit++;
  }
  return lit / (px.length / 4);
}"""


def test_cluster_order_gathers_the_block_and_the_fitted_overview_shows_it(page, planted):
    _, m, block = planted
    names = [f"class_{i:04d}" for i in block]
    # fitted: the whole matrix in the panel's width, aggregated (cells are under a pixel)
    assert view(page)["visible"] == N and view(page)["zoom"] == 1
    wrap = page.locator(".hm-canvas-wrap")
    assert wrap.get_attribute("data-pixels") == "max-of-cells"
    canvas_box = page.locator("canvas.hm-canvas").bounding_box()
    panels_box = page.locator("#tbc-panels").bounding_box()
    assert canvas_box["x"] + canvas_box["width"] <= panels_box["x"] + panels_box["width"] + 1
    assert "Diagonal left out of the scale" in page.locator("#tbc-colourbar").inner_text()
    # original order: the block is scattered
    spread = [shown_names(page).index(n) for n in names]
    assert max(spread) - min(spread) > 5 * BLOCK
    set_order(page, "cluster")
    order = shown_names(page)
    assert sorted(order) == sorted(f"class_{i:04d}" for i in range(N))
    pos = sorted(order.index(n) for n in names)
    assert pos[-1] - pos[0] == BLOCK - 1, pos  # contiguous
    # on the canvas: the block's off-diagonal square is lit, the same square beside it is background
    size = float(page.locator("canvas.hm-canvas").evaluate("c => parseFloat(c.style.width)")) - MARGIN
    cell = size / N
    x0 = MARGIN + pos[0] * cell
    side = BLOCK * cell
    block_lit = page.evaluate(_REGION_JS, [x0, x0, side])
    away = (pos[0] + 300) % (N - BLOCK)
    background_lit = page.evaluate(_REGION_JS, [MARGIN + away * cell, x0, side])
    assert block_lit > 0.6 and background_lit < 0.2, (block_lit, background_lit)
    ub.screenshot(page, "18-thousand-classes-cluster-overview.png")


def test_click_and_rectangle_zoom_and_escape_fits(page):
    canvas = page.locator("canvas.hm-canvas")
    box = canvas.bounding_box()
    size = box["width"] - MARGIN
    # a click on the overview zooms in around that point
    page.mouse.click(box["x"] + MARGIN + size / 2, box["y"] + MARGIN + size / 4)
    v = view(page)
    assert v["zoom"] > 10 and v["visible"] <= 41
    assert v["row"] < N / 4 < v["row"] + v["visible"] and v["col"] < N / 2 < v["col"] + v["visible"]
    page.keyboard.press("Escape")
    assert view(page)["visible"] == N
    # a rectangle over about a tenth of the matrix zooms to it
    x, y = box["x"] + MARGIN + size * 0.6, box["y"] + MARGIN + size * 0.1
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + size * 0.05, y + size * 0.05)
    page.mouse.move(x + size * 0.1, y + size * 0.1)
    page.mouse.up()
    v = view(page)
    assert 80 <= v["visible"] <= 120 and abs(v["col"] - 600) < 5 and abs(v["row"] - 100) < 5, v
    page.locator(".hm-fit").click()
    assert view(page)["visible"] == N


def test_top_k_shows_the_largest_confusions_with_their_partners(page, planted):
    _, m, block = planted
    before = ub.draws(page)
    page.locator("#tbc-topk").fill("20")
    page.locator("#tbc-topk").press("Enter")
    ub.wait_redraw(page, before)
    got = page.evaluate(f"window.__tbConfusion.panel({json.dumps(RUN)})")
    want = top_cells_classes(m, 20)
    assert {int(n.split("_")[1]) for n in got["classes"]} == want
    assert want <= set(block)
    counts = np.array(got["counts"])
    np.fill_diagonal(counts, 0)
    assert (counts > 0).sum() >= 20
    assert all(counts[i].sum() + counts[:, i].sum() > 0 for i in range(len(got["classes"])))
    # the control says the rule
    assert "both the true and the predicted class" in page.locator("#tbc-topk").get_attribute("title")


def test_clicking_a_top_confusion_zooms_to_its_cell(page, planted):
    _, m, _ = planted
    button = page.locator("#tbc-top button[data-true-index]").first
    button.wait_for(timeout=20000)
    t, p = int(button.get_attribute("data-true-index")), int(button.get_attribute("data-pred-index"))
    assert view(page)["zoom"] == 1
    before = ub.draws(page)
    button.click()
    ub.wait_redraw(page, before)
    order = [int(n.split("_")[1]) for n in shown_names(page)]
    r, c = order.index(t), order.index(p)
    v = view(page)
    assert v["zoom"] > 10, v
    assert v["row"] <= r < v["row"] + v["visible"] and v["col"] <= c < v["col"] + v["visible"], (r, c, v)
    assert page.evaluate("window.__tbConfusion.state().selection")
    off = m.copy()
    np.fill_diagonal(off, 0)
    assert m[t, p] == off.max()


#: Pixels of the canvas's matrix area far from viridis' zero colour (past its first third).
_LIT_JS = """() => {
  const c = document.querySelector('canvas.hm-canvas');
  const dpr = c.width / parseFloat(c.style.width), m = Math.round(120 * dpr);
  const px = c.getContext('2d').getImageData(m, m, c.width - m, c.height - m).data;
  let lit = 0;
  for (let i = 0; i < px.length; i += 4) if (Math.hypot(px[i] - 68, px[i + 1] - 1, px[i + 2] - 84) > 120) lit++;
  return lit;
}"""


def test_log_scale_shows_the_single_stray_errors(page, planted):
    _, m, _ = planted
    linear = page.evaluate(_LIT_JS)
    ub.click_and_redraw(page, "#tbc-log-colour")
    assert "Log scale" in page.locator("#tbc-colourbar").inner_text()
    logged = page.evaluate(_LIT_JS)
    # about 2,000 stray count-1 cells: dark on the linear scale (1/6 of the top), lit on the log scale
    strays = int(((m == 1) & ~np.eye(N, dtype=bool)).sum())
    assert logged - linear > strays // 2, (linear, logged, strays)
    page.reload()
    ub.wait_ready(page)
    assert page.locator("#tbc-log-colour").is_checked()  # remembered
