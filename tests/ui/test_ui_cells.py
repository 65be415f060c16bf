"""Browser tests that each number the tab shows has one meaning (issue 18,
point 4): the suspects' given → suggested matrix agrees with the suspects it
lists, the suspects card says in words what was estimated and how the list
is ordered, the train-versus-test difference opens normalized by true class
and never prints "-0.0", and in dark mode the difference's neutral cells and
the trend lines stand out from the background (contrast ratio >= 3).

Headless Debian chromium driven by Playwright against a real ``tensorboard``
subprocess over the diagnoses' log directory (tests/ui/ui_diagnostics_data.py).
"""
from __future__ import annotations

import re
from collections import Counter

import numpy as np
import pytest

from tests.ui import ui_browser as ub
from tests.ui import ui_diagnostics_data as dd

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

STEP = 1
NEGATIVE_ZERO = re.compile(r"[-−]0(\.0+)?(?![.\d])")


def open_run(page, diagnostics_server):
    ub.open_plugin(page, diagnostics_server.url)
    ub.select_runs(page, [dd.RUN])
    ub.set_step(page, STEP)


def shown(page) -> str:
    return page.locator("#tbc-suspects-counts").get_attribute("data-shown")


def srgb_luminance(rgb) -> float:
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (v / 255 for v in rgb)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a, b) -> float:
    hi, lo = sorted((srgb_luminance(a), srgb_luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def rgb(css: str):
    """(r, g, b) of a computed ``rgb(...)`` colour or a ``#rrggbb`` attribute."""
    if css.startswith("#"):
        return tuple(int(css[i:i + 2], 16) for i in (1, 3, 5))
    return tuple(int(float(x)) for x in css[css.index("(") + 1: css.index(")")].split(",")[:3])


def test_suspect_counts_agree_with_the_suspects_listed(page, diagnostics_server):
    open_run(page, diagnostics_server)
    matrix = page.locator("#tbc-suspects-matrix")
    matrix.wait_for()
    assert "given label (rows)" in matrix.inner_text() and "suggested label (columns)" in matrix.inner_text()
    listed = Counter((g, s) for g, s, _, _ in dd.LISTED)
    pairs = matrix.locator("button.suspect-pair").evaluate_all(
        "els => els.map(e => [+e.dataset.given, +e.dataset.suggested, +e.dataset.count, +e.dataset.estimated, e.textContent])")
    assert {(g, s): n for g, s, n, _, _ in pairs} == dict(listed)
    for g, s, n, estimated, text in pairs:
        assert estimated == dd.SUSPECT_COUNTS[STEP][g, s]
        assert text.split()[0] == str(n) and (f"of {estimated}" in text) == (estimated > n)
    # each count lists exactly its suspects: as many, each of that given and suggested label
    for g, s, n, _, _ in pairs:
        page.locator(f'#tbc-suspects-matrix button.suspect-pair[data-given="{g}"][data-suggested="{s}"]').click()
        page.locator(f'#tbc-suspects-matrix button.suspect-pair[data-given="{g}"][data-suggested="{s}"][aria-pressed="true"]').wait_for()
        page.wait_for_function(f"document.querySelector('#tbc-suspects-counts')?.dataset.shown === '{n}'")
        thumbs = page.locator("#tbc-suspects .thumb.suspect").evaluate_all("els => els.map(e => [+e.dataset.given, +e.dataset.suggested])")
        assert thumbs == [[g, s]] * n
        assert page.locator("#tbc-suspects-filter").input_value() == "pair"
        assert page.locator(f'button.suspect-pair[data-given="{g}"][data-suggested="{s}"]').get_attribute("aria-pressed") == "true"
    # the confusion matrix carries no suspect badges (its columns are predicted classes, not suggested labels)
    assert page.locator(".panel .hm-cell").count() > 0
    assert page.locator(".hm-suspects").count() == 0 and page.locator(".hm-cell[data-suspects]").count() == 0


def test_suspects_card_says_what_was_estimated_and_the_order(page, diagnostics_server):
    open_run(page, diagnostics_server)
    summary = page.locator("#tbc-suspects-counts")
    summary.wait_for()
    text = summary.inner_text()
    total = int(dd.SUSPECT_COUNTS[STEP].sum())
    assert f"Confident learning estimates {total} label issues in all at step {STEP}." in text
    assert f"The {len(dd.LISTED)} most likely are listed" in text and "lowest probability p(given)" in text
    assert summary.get_attribute("data-estimated") == str(total)
    thumbs = page.locator("#tbc-suspects .thumb.suspect")
    page.wait_for_function("+document.querySelector('#tbc-suspects .thumbs').dataset.spriteWidth > 0")
    words = thumbs.locator(".suspect-p").all_inner_texts()
    assert words == [f"p(given) {p:.2f}" for _, _, p, _ in dd.LISTED]
    assert "self" not in page.locator("#tbc-suspects").inner_text()
    # ordered as said: lowest p(given) first
    ps = thumbs.evaluate_all("els => els.map(e => +e.dataset.selfConfidence)")
    assert ps == sorted(ps)
    # every thumbnail box (image and words) lies wholly inside the card and its list
    card = page.locator("#tbc-suspects").bounding_box()
    box_list = page.locator("#tbc-suspects .thumbs.suspects").bounding_box()
    for i in range(thumbs.count()):
        b = thumbs.nth(i).bounding_box()
        for outer in (card, box_list):
            assert outer["x"] <= b["x"] and b["x"] + b["width"] <= outer["x"] + outer["width"] + 0.5, (i, b, outer)
            assert outer["y"] <= b["y"] and b["y"] + b["height"] <= outer["y"] + outer["height"] + 0.5, (i, b, outer)
        canvas = thumbs.nth(i).locator("canvas").bounding_box()
        assert canvas["width"] >= 80 and canvas["x"] >= b["x"] - 0.5 and canvas["x"] + canvas["width"] <= b["x"] + b["width"] + 0.5


def test_sets_difference_opens_row_normalized_without_negative_zero(page, diagnostics_server):
    open_run(page, diagnostics_server)
    assert page.locator("#tbc-norm-counts").is_checked()  # the default
    ub.click_and_redraw(page, "#tbc-mode-diff")
    before = ub.draws(page)
    page.locator("#tbc-diff-kind").select_option("sets")
    ub.wait_redraw(page, before)
    assert page.locator("#tbc-norm-true").is_checked()
    state = page.evaluate("window.__tbConfusion.state()")
    assert state["norm"] == "true" and state["diffKind"] == "sets"
    a, b = dd.TRAIN[STEP].astype(float), dd.TEST[STEP].astype(float)
    want = b / b.sum(axis=1, keepdims=True) - a / a.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(np.array(page.evaluate("window.__tbConfusion.panel('')")["values"], dtype=float), want, atol=1e-12)
    for norm in ("true", "pred", "total", "counts"):
        if norm != "true":
            ub.click_and_redraw(page, f"#tbc-norm-{norm}")
        page.locator("#tbc-classes td").first.wait_for()
        texts = page.locator(".hm-cell").all_inner_texts() + [page.locator("#tbc-colourbar").inner_text(),
                                                             page.locator("#tbc-classes").inner_text()]
        bad = [t for t in texts if NEGATIVE_ZERO.search(t)]
        assert bad == [], (norm, bad)
    # counts stay while the view is open (the user's choice); opening it again normalizes again
    assert page.evaluate("window.__tbConfusion.state()")["norm"] == "counts"
    ub.click_and_redraw(page, "#tbc-mode-matrix")
    ub.click_and_redraw(page, "#tbc-mode-diff")
    assert page.locator("#tbc-norm-true").is_checked()


def test_dark_mode_neutral_cells_and_trend_lines_contrast(browser, diagnostics_server):
    context, page = ub.new_page(browser, color_scheme="dark")
    try:
        open_run(page, diagnostics_server)
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        background = rgb(page.evaluate("getComputedStyle(document.body).backgroundColor"))
        card_bg = page.locator("#tbc-trends").evaluate("e => getComputedStyle(e).backgroundColor")
        if not card_bg.startswith("rgba(0, 0, 0, 0)"):
            background = rgb(card_bg)
        # trend lines
        page.locator("#tbc-trends svg.chart path").first.wait_for()
        strokes = page.locator("#tbc-trends svg.chart path").evaluate_all("els => els.map(e => getComputedStyle(e).stroke)")
        assert strokes
        for stroke in strokes:
            assert contrast(rgb(stroke), background) >= 3, stroke
        # a difference of a step with itself: every cell is neutral
        ub.click_and_redraw(page, "#tbc-mode-diff")
        before = ub.draws(page)
        page.locator("#tbc-diff-step-a").select_option(str(STEP))
        ub.wait_redraw(page, before)
        colours = set(page.locator(".hm-cell").evaluate_all("els => els.map(e => getComputedStyle(e).backgroundColor)"))
        assert len(colours) == 1
        # no change anywhere: every cell and both ends of the colour bar read 0, never "-0"
        assert set(page.locator(".hm-cell").all_inner_texts()) == {"0"}
        assert not NEGATIVE_ZERO.search(page.locator("#tbc-colourbar").inner_text())
        neutral = rgb(colours.pop())
        assert contrast(neutral, background) >= 3, neutral
        # and its text reads on it
        text = rgb(page.locator(".hm-cell").first.evaluate("e => getComputedStyle(e).color"))
        assert contrast(text, neutral) >= 4.5
        ub.screenshot(page, "cells-01-dark-difference.png")
    finally:
        context.close()
    assert not page.errors, page.errors
