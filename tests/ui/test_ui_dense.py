"""Browser tests of the tab for a dense task (issue 21): a run whose matrices
count pixels (written with ``summary.write_confusion_matrix(..., unit="pixels")``
and examples through the format API) shows an IoU column equal to numpy's
per-class IoU, sortable and with its trend, its mean IoU by the panel title,
"pixels" in the cell tooltip and the head, and the overlay caption in the
Examples card; a classification run shows none of these. Real TensorBoard,
the built bundle, Debian's chromium.
"""
from __future__ import annotations

import numpy as np
import pytest
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tests.support.tensorboard_server import tensorboard_server
from tests.ui import ui_browser as ub

pytestmark = [pytest.mark.browser, pytest.mark.subprocess]

sync_api = pytest.importorskip("playwright.sync_api")
if ub.chromium_path() is None:  # pragma: no cover - depends on the machine
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

SEG, CLS = "segmentation", "classification"
TAG = "confusion/val"
NAMES = ["background", "road", "car", "sky"]
STEPS = [1, 2]
STEP = STEPS[-1]
SAMPLED = 3 * 2731  # calibrated positions, far fewer than the matrix counts


def pixel_matrix(step: int) -> np.ndarray:
    """Pixel counts at ``step``; "sky" (3) is never present nor predicted."""
    rng = np.random.default_rng(10 + step)
    matrix = rng.integers(100, 4_000, size=(4, 4)) + np.diag(rng.integers(10_000, 60_000, 4))
    matrix[3, :] = 0
    matrix[:, 3] = 0
    return matrix.astype(np.int64)


def numpy_iou(matrix: np.ndarray) -> np.ndarray:
    """Per-class IoU by numpy: N_cc / (row_c + col_c - N_cc), NaN where undefined."""
    correct = np.diag(matrix).astype(float)
    union = matrix.sum(axis=1) + matrix.sum(axis=0) - correct
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, correct / union, np.nan)


def write_logdir(logdir: str) -> None:
    writer = SummaryWriter(f"{logdir}/{SEG}")
    for step in STEPS:
        summary.write_confusion_matrix(writer, TAG, pixel_matrix(step), step, class_names=NAMES, unit="pixels")
    # overlay thumbnails are plain images to the format: one per (true, predicted) pair of the first 3 classes
    pairs = [(t, p) for t in range(3) for p in range(3)]
    images = np.zeros((len(pairs), 3, 16, 16), dtype=np.float32)
    for i, (t, p) in enumerate(pairs):
        images[i, 0] = 0.2 + 0.2 * t + 0.05 * p
        images[i, 1, 4:12, 4:12] = 0.9  # the "highlighted" pixels
    summary.write_cell_examples(
        writer, TAG, images, STEP, true_labels=np.array([t for t, _ in pairs]),
        predicted_labels=np.array([p for _, p in pairs]), confidences=np.full(len(pairs), 0.5),
        dataset_indices=np.arange(len(pairs)), class_names=NAMES,
    )
    # calibration on a sample of the pixels (as the hooks do for dense outputs): SAMPLED positions in all
    bins = np.zeros((4, 15, 3))
    bins[:3, 14] = [[SAMPLED // 3, 0.97 * (SAMPLED // 3), SAMPLED // 3 - 5]] * 3
    summary.write_calibration(writer, TAG, bins, STEP, cell_confidence=np.zeros((4, 4)),
                              class_loss=np.full(4, np.nan), class_names=NAMES)
    writer.close()
    writer = SummaryWriter(f"{logdir}/{CLS}")
    for step in STEPS:
        summary.write_confusion_matrix(writer, TAG, np.array([[9, 1, 0], [2, 7, 1], [0, 3, 8]]) * step, step)
    writer.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    logdir = str(tmp_path_factory.mktemp("ui_dense_logs"))
    write_logdir(logdir)
    with tensorboard_server(logdir, load_fast=False) as tb:
        yield tb


def open_run(page, server, run):
    ub.open_plugin(page, server.url)
    ub.select_runs(page, [run])
    ub.set_step(page, STEP)


def cell(page, t, p):
    return page.locator(f'.hm-cell[data-true-index="{t}"][data-pred-index="{p}"]').first


def test_a_pixel_run_shows_iou_per_class_mean_iou_and_pixels(page, server):
    open_run(page, server, SEG)
    matrix = pixel_matrix(STEP)
    iou = numpy_iou(matrix)
    header = page.locator('#tbc-classes th button[data-sort="iou"]')
    header.wait_for()
    assert header.inner_text().startswith("IoU")
    for k in range(len(NAMES)):
        value = page.locator(f'#tbc-classes tr[data-class-index="{k}"] td[data-col="iou"]').get_attribute("data-value")
        if np.isnan(iou[k]):
            assert value == ""
        else:
            assert abs(float(value) - iou[k]) <= 1e-6, (k, value, iou[k])
    # the IoU trend: one sparkline per class seen, over both steps
    page.locator('#tbc-classes tr[data-class-index="0"] td[data-trend="iou"] svg').wait_for()
    assert "IoU trend" in page.locator("#tbc-classes thead").inner_text()
    # sortable: descending IoU, the undefined class last
    header.click()
    page.wait_for_function("document.querySelector('#tbc-classes th[aria-sort=\"descending\"] button').dataset.sort === 'iou'")
    order = page.locator("#tbc-classes tbody tr").evaluate_all("els => els.map(e => +e.dataset.classIndex)")
    defined = [k for k in np.argsort(-np.nan_to_num(iou, nan=-1.0), kind="stable") if not np.isnan(iou[k])]
    assert order == defined + [3]
    # the panel head: what a count is, and the mean IoU over the classes where it is defined
    head = ub.panel(page, SEG).locator(".panel-head")
    assert head.locator(".unit-note").inner_text() == "counts: pixels"
    assert "Colour: pixels." in page.locator("#tbc-colourbar").inner_text()
    mean = float(np.nanmean(iou))
    page.wait_for_function("t => document.querySelector('.panel-head .mean-iou').textContent === t", arg=f"mean IoU {mean:.3f}")
    assert f"mean IoU {mean:.3f}" in page.locator("#tbc-classes .hint").first.inner_text()
    # the tooltip counts pixels
    cell(page, 1, 2).hover()
    page.wait_for_function("t => document.querySelector('#tbc-tooltip').textContent.includes(t)", arg=f"Count: {matrix[1, 2]} pixels")
    assert "examples" not in page.locator("#tbc-tooltip").inner_text()
    # the examples card: the overlays (thumbnails) with their caption
    cell(page, 1, 2).click()
    page.locator("#tbc-examples .thumb").first.wait_for()
    assert "pixels of this cell highlighted" in page.locator("#tbc-examples .overlay-caption").inner_text()
    assert page.locator("#tbc-examples .thumb").count() == 1
    # the stored value of a pixel tag's example is its share of the image's pixels in the cell, not a confidence
    thumb = page.locator("#tbc-examples .thumb").first.inner_text()
    assert "50.0% of pixels" in thumb and "conf" not in thumb
    # the calibration card says it covers a sample of the pixels, and how many
    note = page.locator("#tbc-calibration .calibration-sample")
    note.wait_for()
    assert note.get_attribute("data-calibrated") == str(SAMPLED)
    assert note.get_attribute("data-counted") == str(int(pixel_matrix(STEP).sum()))
    assert "sample of" in note.inner_text() and "pixels" in note.inner_text()
    ub.screenshot(page, "dense-pixels.png")


def test_a_classification_run_shows_no_iou(page, server):
    open_run(page, server, CLS)
    page.locator('#tbc-classes th button[data-sort="recall"]').wait_for()
    assert page.locator('#tbc-classes th button[data-sort="iou"]').count() == 0
    assert page.locator('#tbc-classes td[data-trend="iou"]').count() == 0
    assert "IoU" not in page.locator("#tbc-classes thead").inner_text()
    head = ub.panel(page, CLS).locator(".panel-head")
    assert head.locator(".unit-note").count() == 0 and head.locator(".mean-iou").count() == 0
    assert "Colour: examples." in page.locator("#tbc-colourbar").inner_text()
    assert " examples" in page.locator("#tbc-classes .hint").first.inner_text()
    cell(page, 1, 2).hover()
    page.wait_for_function("document.querySelector('#tbc-tooltip').textContent.includes('Count: 2')")
    assert "pixels" not in page.locator("#tbc-tooltip").inner_text()
