"""Browser tests of the tab's diagnoses (issue 11): the calibration card and
its reliability diagrams, ECE and loss per class, "Colour cells by: mean
confidence" (grid and canvas), the "sets" difference (train vs test), the
recall gap, the suspected label errors card (and no suspects overlay on the
confusion matrix: suspects count by given and suggested label);
hostile class names, dark mode, and runs without diagnoses looking as before.

Headless Debian chromium driven by Playwright against a real ``tensorboard``
subprocess over a log directory written with a real ``SummaryWriter``
(tests/ui_diagnostics_data.py); expected values are computed here from the
logged arrays. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

from tests.ui import ui_browser as ub
from tests.ui import ui_data as ud
from tests.ui import ui_diagnostics_data as dd

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

STEP = 1


# ---------------------------------------------------------------- fixtures


def open_run(page, diagnostics_server, run=dd.RUN, step=STEP):
    ub.open_plugin(page, diagnostics_server.url)
    ub.select_runs(page, [run])
    if len(page.evaluate("window.__tbConfusion.state().steps")) > 1:
        ub.set_step(page, step)


def cell(target, t, p):
    return target.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first


def click_cell(target, t, p):
    before = ub.draws(target)
    cell(target, t, p).click()
    ub.wait_redraw(target, before)


def expected_bins(bins):
    """count, confidence, accuracy per bin and the top-label ECE, by numpy."""
    count, conf_sum, correct = bins[..., 0], bins[..., 1], bins[..., 2]
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.where(count > 0, conf_sum / count, np.nan)
        accuracy = np.where(count > 0, correct / count, np.nan)
    ece = np.nansum(count / count.sum() * np.abs(accuracy - confidence))
    return count, confidence, accuracy, ece


def assert_diagram(figure, bins):
    count, confidence, accuracy, ece = expected_bins(bins)
    assert abs(float(figure.get_attribute("data-ece")) - ece) <= 1e-6
    assert int(figure.get_attribute("data-total")) == int(count.sum())
    drawn = figure.locator("rect.rel-bar").evaluate_all(
        "els => els.map(e => [+e.dataset.bin, +e.dataset.count, +e.dataset.accuracy, +e.dataset.confidence])")
    assert [b for b, *_ in drawn] == [i for i in range(len(count)) if count[i] > 0]
    for b, n, acc, conf in drawn:
        assert n == count[b]
        assert abs(acc - accuracy[b]) <= 1e-6 and abs(conf - confidence[b]) <= 1e-6
    counts = figure.locator("rect.rel-count").evaluate_all("els => els.map(e => +e.dataset.count)")
    assert counts == [int(n) for n in count if n > 0]
    assert figure.locator("line.rel-diagonal").count() == 1
    # the bins' table says the same in text
    rows = figure.locator("details.bin-table tbody tr").all_inner_texts()
    assert len(rows) == len(drawn)


def luminance(css: str) -> float:
    r, g, b = [int(x) / 255 for x in css[css.index("(") + 1: css.index(")")].split(",")[:3]]
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


# ---------------------------------------------------------------- tests


def test_runs_without_diagnoses_look_as_before(page, diagnostics_server):
    open_run(page, diagnostics_server, run=dd.PLAIN_RUN)
    page.locator("#tbc-classes table").wait_for()
    assert page.locator("#tbc-colour-by").is_hidden()
    assert page.locator("#tbc-suspects-overlay").count() == 0
    assert page.locator("#tbc-calibration").count() == 0
    assert page.locator("#tbc-suspects").count() == 0
    headers = page.locator("#tbc-classes th button").evaluate_all("els => els.map(e => e.dataset.sort)")
    assert headers == ["name", "support", "precision", "recall", "f1", "confused"]
    assert page.locator(".hm-cell[data-confidence]").count() == 0


def classwise_ece(labels, probs, k):
    """Classwise ECE of class ``k`` straight from probabilities and labels (numpy)."""
    p = probs[:, k]
    bin_of = np.minimum(np.floor(p * dd.NUM_BINS), dd.NUM_BINS - 1)
    return sum(abs((labels[bin_of == b] == k).sum() - p[bin_of == b].sum()) for b in range(dd.NUM_BINS)) / len(labels)


def test_reliability_diagrams_ece_and_loss(page, diagnostics_server):
    open_run(page, diagnostics_server)
    labels, probs = dd.evaluation_of(dd.TEST[STEP], STEP)
    bins = dd.calibration_of(labels, probs)["by_predicted"]
    overall = page.locator('#tbc-calibration figure[data-scope="all"]')
    overall.wait_for()
    assert_diagram(overall, bins.sum(axis=0))
    summary = page.locator("#tbc-calibration-summary")
    support = dd.TEST[STEP].sum(axis=1)
    mean_loss = float((dd.CLASS_LOSS[STEP] * support).sum() / support.sum())
    assert abs(float(summary.get_attribute("data-loss")) - mean_loss) <= 1e-6
    ece = expected_bins(bins.sum(axis=0))[3]
    shown = re.search(r"ECE \(top-label\) (\d\.\d{3})", summary.inner_text())
    assert shown and abs(float(shown.group(1)) - ece) <= 0.0005 + 1e-9
    # no class selected: one diagram and a hint
    assert page.locator("#tbc-calibration figure").count() == 1
    # a cell selects its true class: that class's diagram, of the examples predicted as it
    shirt = dd.NAMES.index("Shirt")
    click_cell(page, shirt, 0)
    figure = page.locator(f'#tbc-calibration figure[data-scope="{shirt}"]')
    figure.wait_for()
    assert_diagram(figure, bins[shirt])
    assert "Predicted class Shirt" in figure.locator("figcaption").inner_text()
    # classwise ECE and loss per class in the table
    page.locator('#tbc-classes td[data-col="ece"]').first.wait_for()
    expected = [classwise_ece(labels, probs, k) for k in range(len(dd.NAMES))]
    for t in range(len(dd.NAMES)):
        row = page.locator(f'#tbc-classes tr[data-class-index="{t}"]')
        got_ece = float(row.locator('td[data-col="ece"]').get_attribute("data-value"))
        assert abs(got_ece - expected[t]) <= 1e-6
        assert abs(float(row.locator('td[data-col="loss"]').get_attribute("data-value")) - dd.CLASS_LOSS[STEP][t]) <= 1e-9
    # sorting by ECE puts the worst-calibrated class first
    page.locator('#tbc-classes th button[data-sort="ece"]').click()
    page.wait_for_function("document.querySelector('#tbc-classes th[aria-sort=descending] button')?.dataset.sort === 'ece'")
    first = int(page.locator("#tbc-classes tbody tr").first.get_attribute("data-class-index"))
    assert first == int(np.argmax(expected))
    # the class's ECE and loss over the steps, next to its recall trend
    trend = page.locator("#tbc-calibration-trend")
    trend.locator("svg.chart").first.wait_for()
    assert trend.locator("svg.chart").count() == 2
    assert "Shirt" in trend.locator("figcaption").first.inner_text()
    ub.screenshot(page, "diag-01-calibration.png")


def test_colour_cells_by_mean_confidence(page, diagnostics_server):
    open_run(page, diagnostics_server)
    colours = lambda: page.locator(".hm-cell").evaluate_all(  # noqa: E731
        "els => els.map(e => [+e.dataset.trueIndex, +e.dataset.predIndex, e.style.backgroundColor])")
    by_count = colours()
    assert page.locator("#tbc-colour-by").is_visible()
    ub.click_and_redraw(page, "#tbc-colour-confidence")
    by_conf = colours()
    assert by_conf != by_count
    assert page.locator("#tbc-colourbar").get_attribute("data-colour-by") == "confidence"
    want = dd.cell_confidence_of(dd.TEST[STEP], STEP)
    lum = {}
    for t, p, colour in by_conf:
        got = cell(page, t, p).get_attribute("data-confidence")
        if want[t, p] == 0:  # no predictions: no colour
            assert got == "NaN" and colour == ""
        else:
            assert abs(float(got) - want[t, p]) <= 1e-6
            lum[(t, p)] = (want[t, p], luminance(colour))
    # viridis: more confident cells are lighter; equal confidences, equal colours
    ordered = sorted(lum.values())
    assert all(a[1] <= b[1] + 1e-9 for a, b in zip(ordered, ordered[1:]))
    assert any(a[1] < b[1] for a, b in zip(ordered, ordered[1:]))
    # the cells still show their counts, the tooltip the mean confidence
    assert cell(page, 1, 2).inner_text() == str(dd.TEST[STEP][1, 2])
    cell(page, 1, 2).hover()
    tip = page.locator("#tbc-tooltip")
    tip.wait_for(state="visible")
    assert f"Mean confidence: {want[1, 2]:.3f}" in tip.inner_text()
    cell(page, 0, 3).hover()
    page.wait_for_function("document.querySelector('#tbc-tooltip').textContent.includes('Predicted: Coat')")
    assert "no predictions" in tip.inner_text()
    # remembered across a reload, like the other settings
    page.reload()
    ub.wait_ready(page)
    assert page.locator("#tbc-colour-confidence").is_checked()
    page.wait_for_function("document.querySelector('.hm-cell[data-confidence]') !== null")
    ub.click_and_redraw(page, "#tbc-colour-count")
    assert colours() == by_count
    assert page.locator(".hm-cell[data-confidence]").count() == 0


def test_colour_by_confidence_on_the_canvas(page, diagnostics_server):
    open_run(page, diagnostics_server, run=dd.MANY_RUN, step=0)
    canvas = page.locator("canvas.hm-canvas")
    canvas.wait_for()

    def pixel(i):
        return page.evaluate(
            """i => {
              const c = document.querySelector('canvas.hm-canvas');
              const k = %d;
              const size = parseFloat(c.style.width) - 120, px = size / k, dpr = c.width / parseFloat(c.style.width);
              const x = Math.round((120 + (i + 0.5) * px) * dpr), y = x;
              return Array.from(c.getContext('2d').getImageData(x, y, 1, 1).data);
            }""" % dd.MANY_CLASSES, i)

    assert pixel(0) == pixel(1)  # equal counts, equal colours
    ub.click_and_redraw(page, "#tbc-colour-confidence")
    bright, dark = pixel(0), pixel(1)  # mean confidence 0.95 and 0.35
    assert bright != dark
    assert luminance(f"rgb({bright[0]},{bright[1]},{bright[2]})") > luminance(f"rgb({dark[0]},{dark[1]},{dark[2]})")
    assert pixel(2) == bright


def _diff_sets(page, run=dd.RUN):
    """Difference mode, set A vs set B of ``run``."""
    ub.click_and_redraw(page, "#tbc-mode-diff")
    before = ub.draws(page)
    page.locator("#tbc-diff-kind").select_option("sets")
    ub.wait_redraw(page, before)
    if page.locator("#tbc-diff-run").input_value() != run:
        before = ub.draws(page)
        page.locator("#tbc-diff-run").select_option(run)
        ub.wait_redraw(page, before)


def _normalize(m, norm):
    m = m.astype(float)
    if norm == "true":
        return m / m.sum(axis=1, keepdims=True)
    if norm == "pred":
        return m / m.sum(axis=0, keepdims=True)
    return m


def test_sets_difference_train_vs_test(page, diagnostics_server):
    open_run(page, diagnostics_server)
    _diff_sets(page)
    assert page.locator("#tbc-diff-tag-a").input_value() == dd.TRAIN_TAG
    state = page.evaluate("window.__tbConfusion.state()")
    assert state["diffKind"] == "sets"
    assert f"{dd.TEST_TAG} − {dd.TRAIN_TAG}" in state["panels"][0]["label"]
    a, b = dd.TRAIN[STEP], dd.TEST[STEP]
    # the sets differ in size: the view opens normalized by true class
    assert state["norm"] == "true" and page.locator("#tbc-norm-true").is_checked()
    for norm in ("true", "counts", "pred"):
        if norm != "true":
            ub.click_and_redraw(page, f"#tbc-norm-{norm}")
        got = np.array(page.evaluate("window.__tbConfusion.panel('')")["values"], dtype=float)
        np.testing.assert_allclose(got, _normalize(b, norm) - _normalize(a, norm), atol=1e-12)
        # and the grid's cells carry the same values
        cells = ub.grid_cells(page, page.locator("section.panel").first)
        shirt, tshirt = dd.NAMES.index("Shirt"), dd.NAMES.index("T-shirt/top")
        want = (_normalize(b, norm) - _normalize(a, norm))[shirt, tshirt]
        assert abs(float(cells[("Shirt", "T-shirt/top")]["value"]) - want) <= 1e-12
    ub.click_and_redraw(page, "#tbc-norm-counts")
    assert cell(page, 1, 0).inner_text() == f"+{b[1, 0] - a[1, 0]}"
    # the cards show set B (test), compared with set A (train)
    _assert_recall_gap(page)
    ub.screenshot(page, "diag-02-sets-difference.png")


def _assert_recall_gap(page):
    page.locator('#tbc-classes td[data-col="gap"]').first.wait_for()
    assert page.locator('#tbc-classes th button[data-sort="gap"]').inner_text().startswith("Gap (train − test)")
    train, test = dd.TRAIN[STEP], dd.TEST[STEP]
    for t in range(len(dd.NAMES)):
        row = page.locator(f'#tbc-classes tr[data-class-index="{t}"]')
        recall_train = train[t, t] / train[t].sum()
        recall_test = test[t, t] / test[t].sum()
        assert abs(float(row.locator('td[data-col="recall-a"]').get_attribute("data-value")) - recall_train) <= 1e-6
        assert abs(float(row.locator('td[data-col="gap"]').get_attribute("data-value")) - (recall_train - recall_test)) <= 2e-6
        assert row.locator('td[data-col="gap"]').inner_text().startswith("+")  # better on train here


def test_train_recall_and_gap_in_the_table(page, diagnostics_server):
    open_run(page, diagnostics_server)
    _assert_recall_gap(page)


def test_suspects_card_thumbnails_and_filters(page, diagnostics_server):
    open_run(page, diagnostics_server)
    counts = page.locator("#tbc-suspects-counts")
    counts.wait_for()
    assert counts.get_attribute("data-total") == "6" and counts.get_attribute("data-listed") == "4"
    thumbs = page.locator("#tbc-suspects .thumb.suspect")
    assert thumbs.count() == len(dd.LISTED)
    page.wait_for_function("+document.querySelector('#tbc-suspects .thumbs').dataset.spriteWidth > 0")
    # each thumbnail is drawn: its bright bar is there
    lit = thumbs.locator("canvas").evaluate_all(
        "cs => cs.map(c => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data).some(v => v > 100))")
    assert lit == [True] * len(dd.LISTED)
    listed = thumbs.evaluate_all("els => els.map(e => [+e.dataset.given, +e.dataset.suggested, +e.dataset.selfConfidence, +e.dataset.datasetIndex])")
    assert listed == [list(x) for x in dd.LISTED]
    assert "Shirt → T-shirt/top" in thumbs.first.inner_text() and "#501" in thumbs.first.inner_text()
    # a click on a cell shows the suspects of its row (given label = the true class) next to its examples
    click_cell(page, 1, 0)
    page.wait_for_function("document.querySelector('#tbc-suspects-counts')?.dataset.shown === '2'")
    assert page.locator("#tbc-examples-title").is_visible()
    assert thumbs.evaluate_all("els => els.map(e => +e.dataset.datasetIndex)") == [501, 502]
    assert "Shown: 2 with given label Shirt." in counts.inner_text()
    # a cell without suspects says so
    click_cell(page, 3, 3)
    page.locator("#tbc-suspects [data-empty]").wait_for()
    # by given class
    page.locator("#tbc-suspects-filter").select_option("2")
    page.wait_for_function("document.querySelector('#tbc-suspects-counts')?.dataset.shown === '1'")
    assert thumbs.evaluate_all("els => els.map(e => +e.dataset.datasetIndex)") == [503]
    page.locator("#tbc-suspects-filter").select_option("all")
    page.wait_for_function("document.querySelector('#tbc-suspects-counts')?.dataset.shown === '4'")
    ub.screenshot(page, "diag-03-suspects.png")


def test_no_suspects_overlay_on_the_confusion_matrix(page, diagnostics_server):
    """Suspects count by (given, suggested) label, the matrix by (true,
    predicted): their counts are the suspects card's matrix (tests/ui/test_ui_cells.py),
    not badges on the confusion matrix, even with the old setting stored."""
    open_run(page, diagnostics_server)
    page.locator("#tbc-suspects-matrix").wait_for()
    assert page.locator("#tbc-suspects-overlay").count() == 0
    settings = page.evaluate("JSON.parse(localStorage.getItem('tb_fmnist_confusion.settings.v1'))")
    settings["suspectsOverlay"] = True
    page.evaluate("s => localStorage.setItem('tb_fmnist_confusion.settings.v1', JSON.stringify(s))", settings)
    page.reload()
    ub.wait_ready(page)
    page.locator("#tbc-suspects-matrix").wait_for()
    assert page.locator("#tbc-suspects-overlay").count() == 0
    assert page.locator(".panel .hm-cell").count() > 0
    assert page.locator(".hm-suspects").count() == 0 and page.locator(".hm-cell[data-suspects]").count() == 0
    assert "suspectsOverlay" not in page.evaluate("window.__tbConfusion.state()")
    cell(page, 1, 0).hover()
    tip = page.locator("#tbc-tooltip")
    tip.wait_for(state="visible")
    assert "Suspected" not in tip.inner_text() and "True: Shirt" in tip.inner_text()
    # the next save drops the old key: the overlay cannot come back
    ub.click_and_redraw(page, "#tbc-norm-true")
    page.wait_for_function("!localStorage.getItem('tb_fmnist_confusion.settings.v1').includes('suspectsOverlay')")


def test_hostile_class_names_stay_inert(page, diagnostics_server):
    open_run(page, diagnostics_server, run=dd.XSS_RUN, step=0)
    ub.click_and_redraw(page, "#tbc-colour-confidence")
    click_cell(page, 1, 0)
    page.locator('#tbc-calibration figure[data-scope="1"]').wait_for()
    assert ud.XSS_CLASS in page.locator('#tbc-calibration figure[data-scope="1"] figcaption').inner_text()
    page.wait_for_function("document.querySelector('#tbc-suspects-counts')?.dataset.shown === '1'")
    assert ud.XSS_CLASS in page.locator("#tbc-suspects .thumb.suspect").first.inner_text()
    page.locator("#tbc-suspects-filter").select_option("all")
    page.wait_for_function("document.querySelector('#tbc-suspects-counts')?.dataset.shown === '2'")
    _diff_sets(page, dd.XSS_RUN)
    assert page.evaluate("window.__tbConfusion.panel('')")["values"] == [[0] * 3] * 3  # the same matrix for both sets
    page.locator("#tbc-classes td[data-col=gap]").first.wait_for()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#tbc-root img").count() == 0


def test_dark_mode_renders_the_diagnoses(browser, diagnostics_server):
    context, page = ub.new_page(browser, color_scheme="dark")
    try:
        page.goto(diagnostics_server.url + "/#" + ub.PLUGIN)
        frame = ub.plugin_frame(page)
        frame.wait_for_function("document.documentElement.dataset.theme === 'dark'")
        ub.select_runs(frame, [dd.RUN])
        ub.click_and_redraw(frame, "#tbc-colour-confidence")
        click_cell(frame, 1, 0)
        frame.locator('#tbc-calibration figure[data-scope="1"]').wait_for()
        frame.locator("#tbc-suspects .thumb.suspect").first.wait_for()
        style = lambda sel, prop: frame.locator(sel).first.evaluate(f"e => getComputedStyle(e).{prop}")  # noqa: E731
        background = luminance(frame.evaluate("getComputedStyle(document.body).backgroundColor"))
        assert background < 0.05
        for sel in ("#tbc-calibration figcaption", "#tbc-calibration-summary", "#tbc-suspects .suspect-labels", "#tbc-colour-by label"):
            assert luminance(style(sel, "color")) > 0.3, sel  # light text on the dark page
        # the bars, the diagonal and the suspects' counts stand out from the background
        assert luminance(style("#tbc-calibration rect.rel-bar", "fill")) > 0.3
        assert luminance(style("#tbc-calibration line.rel-diagonal", "stroke")) > 0.5
        assert luminance(style("#tbc-suspects .suspect-pair", "color")) > 0.3
        page.mouse.move(5, 5)
        frame.locator("#tbc-calibration").scroll_into_view_if_needed()
        ub.screenshot(page, "diag-04-dark-mode.png")
    finally:
        context.close()
    assert not page.errors, page.errors
