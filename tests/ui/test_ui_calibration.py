"""Browser tests of the per-class calibration by the standard definitions
(issue 18): the classwise ECE column (Kull et al., 2019) and the reliability
diagram of the examples PREDICTED as a class, both against numpy computed
straight from the made-up softmax probabilities and labels of
:func:`tests.ui.ui_diagnostics_data.evaluation_of`; the diagram's axis labels,
ticks and gap legend; and a run logged before classwise calibration, whose
per-true-class numbers are shown as the older definition, never as classwise.
Real TensorBoard, the built bundle, Debian's chromium.
"""
from __future__ import annotations

import numpy as np
import pytest

from tests.support.calibration_reference import numpy_classwise_ece
from tests.ui import ui_browser as ub
from tests.ui import ui_diagnostics_data as dd

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

STEP = 1
B = dd.NUM_BINS


def open_run(page, diagnostics_server, run):
    ub.open_plugin(page, diagnostics_server.url)
    ub.select_runs(page, [run])
    ub.set_step(page, STEP)


def pick_class(page, k):
    """Pick class ``k`` in the per-class table (the calibration card's class)."""
    page.locator(f'#tbc-classes tr[data-class-index="{k}"] button.linklike').click()
    page.locator(f'#tbc-calibration figure[data-scope="{k}"]').wait_for()


def bars(figure):
    """``{bin: (count, accuracy, mean confidence)}`` of a diagram's bars."""
    drawn = figure.locator("rect.rel-bar").evaluate_all(
        "els => els.map(e => [+e.dataset.bin, +e.dataset.count, +e.dataset.accuracy, +e.dataset.confidence])")
    return {b: (n, acc, conf) for b, n, acc, conf in drawn}


def numpy_predicted_bins(labels, probs, k):
    """The examples predicted ``k``, by bin of top-1 confidence: ``{bin: (count, accuracy, confidence)}``."""
    predicted, confidence = probs.argmax(axis=1), probs.max(axis=1)
    bin_of = np.minimum(np.floor(confidence * B), B - 1)
    out = {}
    for b in range(B):
        rows = (predicted == k) & (bin_of == b)
        if rows.any():
            out[b] = (int(rows.sum()), float((labels[rows] == k).mean()), float(confidence[rows].mean()))
    return out


def test_classwise_ece_column_and_predicted_class_diagrams_equal_numpy(page, diagnostics_server):
    open_run(page, diagnostics_server, dd.RUN)
    labels, probs = dd.evaluation_of(dd.TEST[STEP], STEP)
    header = page.locator('#tbc-classes th button[data-sort="ece"]')
    header.wait_for()
    assert header.inner_text().startswith("ECE (classwise)")
    assert "Σ_b (n_kb / N) · |acc_kb − conf_kb|" in header.get_attribute("title")
    assert page.locator('#tbc-classes th button[data-sort="ece-true-class"]').count() == 0
    for k in range(len(dd.NAMES)):
        cell = page.locator(f'#tbc-classes tr[data-class-index="{k}"] td[data-col="ece"]')
        assert abs(float(cell.get_attribute("data-value")) - numpy_classwise_ece(labels, probs, k, B)) <= 1e-6
    note = page.locator('#tbc-calibration .calibration-kind')
    assert note.get_attribute("data-kind") == "predicted_class" and "ECE_k" in note.inner_text()
    for k, name in enumerate(dd.NAMES):
        pick_class(page, k)
        figure = page.locator(f'#tbc-calibration figure[data-scope="{k}"]')
        assert figure.locator("figcaption").inner_text().startswith(f"Predicted class {name}")
        expected = numpy_predicted_bins(labels, probs, k)
        got = bars(figure)
        assert sorted(got) == sorted(expected)
        for b, (n, acc, conf) in expected.items():
            assert got[b][0] == n and abs(got[b][1] - acc) <= 1e-6 and abs(got[b][2] - conf) <= 1e-6
        assert int(figure.get_attribute("data-total")) == int((probs.argmax(axis=1) == k).sum())
        classwise = page.locator("#tbc-classwise-ece")
        assert abs(float(classwise.get_attribute("data-ece")) - numpy_classwise_ece(labels, probs, k, B)) <= 1e-6
    ub.screenshot(page, "calibration-01-classwise.png")


def test_diagram_axes_ticks_and_gap_legend(page, diagnostics_server):
    open_run(page, diagnostics_server, dd.RUN)
    figure = page.locator('#tbc-calibration figure[data-scope="all"]')
    figure.wait_for()
    labels = figure.locator("text.axis-label").evaluate_all("els => els.map(e => [e.dataset.axis, e.textContent])")
    assert labels == [["x", "Confidence"], ["y", "Accuracy"]]
    for axis in ("x", "y"):
        ticks = figure.locator(f'text.tick[data-axis="{axis}"]').all_text_contents()
        assert ticks == ["0", "0.5", "1"]
    legend = figure.locator(".rel-legend")
    assert legend.is_visible()
    texts = legend.locator(".rel-legend-item").all_text_contents()
    assert texts == ["accuracy", "over-confidence", "under-confidence", "perfect calibration"]
    assert legend.locator(".rel-swatch.over").count() == 1 and legend.locator(".rel-swatch.under").count() == 1
    # the legend's swatches look like the shading they name
    over = legend.locator(".rel-swatch.over").evaluate("e => getComputedStyle(e).borderTopStyle")
    under = legend.locator(".rel-swatch.under").evaluate("e => getComputedStyle(e).borderTopStyle")
    assert (over, under) == ("solid", "dashed")


def test_a_run_logged_before_classwise_calibration_shows_the_older_definition(page, diagnostics_server):
    open_run(page, diagnostics_server, dd.OLD_RUN)
    note = page.locator('#tbc-calibration .calibration-kind[data-kind="true_class"]')
    note.wait_for()
    assert "older per-true-class definition" in note.inner_text()
    header = page.locator('#tbc-classes th button[data-sort="ece-true-class"]')
    header.wait_for()
    assert header.inner_text().startswith("ECE (true class, older)") and "Older definition" in header.get_attribute("title")
    assert page.locator('#tbc-classes th button[data-sort="ece"]').count() == 0  # never labelled classwise
    bins = dd.bins_of(dd.TEST[STEP], STEP)
    count, conf_sum, correct = bins[..., 0], bins[..., 1], bins[..., 2]
    for k in range(len(dd.NAMES)):
        with np.errstate(invalid="ignore", divide="ignore"):
            ece = np.nansum(count[k] / count[k].sum() * np.abs(correct[k] / count[k] - conf_sum[k] / count[k]))
        cell = page.locator(f'#tbc-classes tr[data-class-index="{k}"] td[data-col="ece-true-class"]')
        assert abs(float(cell.get_attribute("data-value")) - ece) <= 1e-6
    shirt = dd.NAMES.index("Shirt")
    pick_class(page, shirt)
    figure = page.locator(f'#tbc-calibration figure[data-scope="{shirt}"]')
    assert figure.locator("figcaption").inner_text().startswith("True class Shirt (older definition)")
    got = bars(figure)
    assert sorted(got) == [b for b in range(B) if count[shirt, b] > 0]
    for b, (n, acc, conf) in got.items():
        assert n == count[shirt, b] and abs(acc - correct[shirt, b] / n) <= 1e-6 and abs(conf - conf_sum[shirt, b] / n) <= 1e-6
    assert page.locator("#tbc-classwise-ece").count() == 0
