"""Dense outputs (issue 21): ``record()`` on segmentation ``(N, C, H, W)``
and token ``(N, L, C)`` / ``(N, C, L)`` logits through a real
``SummaryWriter``, read back with TensorBoard's event reader, against numpy
computed here: the matrix of non-ignored positions, the IoU scalars, the
ignored count, the unit, the calibration over positions, the overlay
examples; shape errors; int64 counts; the per-image parts off."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.hooks import attach_hooks
from tb_fmnist_plugin.hooks import dense as dense_module
from tests.support.events import last_value, read_examples_index, read_matrix
from tests.support.hooks_helpers import load, scalars

QUIET = {"log_label_issues": False, "example_record": False, "max_misclassified": 0, "log_graph": False}


def _monitor(tmp_path, **options):
    writer = SummaryWriter(str(tmp_path))
    return writer, attach_hooks(nn.Conv2d(3, 3, 1), writer, **{**QUIET, **options})


def _finish(writer, monitor, step=1):
    monitor.end_eval(step)
    monitor.remove()
    writer.close()


def _segmentation(seed, n=3, c=5, h=12, w=10, ignore=None):
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, c, (n, h, w), generator=g)
    logits = torch.randn(n, c, h, w, generator=g)
    logits.scatter_add_(1, labels[:, None], torch.full((n, 1, h, w), 1.0))  # mostly right
    if ignore is not None:
        labels[:, :2] = ignore  # an ignored border
        labels[0, 5, 3] = ignore
    return logits, labels


def _numpy_matrix(logits, labels, c, ignore, class_axis=1):
    predicted = np.argmax(logits.numpy(), axis=class_axis).reshape(-1)
    true = labels.numpy().reshape(-1)
    kept = true != ignore if ignore is not None else np.ones_like(true, dtype=bool)
    return np.bincount(true[kept] * c + predicted[kept], minlength=c * c).reshape(c, c)


def _numpy_iou(matrix):
    """IoU metrics by their definitions, one class at a time."""
    c = matrix.shape[0]
    total = matrix.sum()
    iou = []
    for k in range(c):
        tp = matrix[k, k]
        fp = matrix[:, k].sum() - tp
        fn = matrix[k, :].sum() - tp
        iou.append(tp / (tp + fp + fn) if tp + fp + fn else float("nan"))
    iou = np.array(iou)
    defined = ~np.isnan(iou)
    fw = sum(matrix[k].sum() / total * iou[k] for k in range(c) if defined[k])
    return iou, iou[defined].mean(), fw, np.trace(matrix) / total


def _content(acc, tag):
    return metadata.parse_plugin_content(acc.PluginTagToContent(metadata.PLUGIN_NAME)[tag])


@pytest.mark.parametrize("ignore", [-100, 255, None])
def test_segmentation_matrix_iou_scalars_ignored_and_unit(tmp_path, ignore):
    c = 5
    writer, monitor = _monitor(tmp_path, ignore_index=ignore)
    batches = [_segmentation(seed, c=c, ignore=ignore) for seed in range(3)]
    for logits, labels in batches:
        monitor.record(logits, labels)
    _finish(writer, monitor)
    acc = load(str(tmp_path))
    expected = sum(_numpy_matrix(logits, labels, c, ignore) for logits, labels in batches)
    found = read_matrix(acc, "confusion/test", c)
    assert found.dtype == np.int64 and np.array_equal(found, expected)
    iou, mean, fw, pixel = _numpy_iou(expected)
    for k in range(c):
        assert scalars(acc, f"iou/test/{k}")[1] == pytest.approx(iou[k], rel=1e-6)
    assert scalars(acc, "mean_iou/test")[1] == pytest.approx(mean, rel=1e-6)
    assert scalars(acc, "frequency_weighted_iou/test")[1] == pytest.approx(fw, rel=1e-6)
    assert scalars(acc, "pixel_accuracy/test")[1] == pytest.approx(pixel, rel=1e-6)
    ignored = sum(int((labels == ignore).sum()) for _, labels in batches) if ignore is not None else 0
    assert scalars(acc, "ignored_labels/test")[1] == ignored
    assert ignored == (0 if ignore is None else 3 * (3 * 2 * 10 + 1))  # 3 batches of a 2-row border and a pixel
    assert _content(acc, "confusion/test")["unit"] == "pixels"
    assert metadata.matrix_unit(_content(acc, "confusion/test")) == "pixels"


def test_token_layouts_give_the_same_matrix_with_unit_tokens(tmp_path):
    g = torch.Generator().manual_seed(3)
    n, length, c = 4, 9, 6
    logits = torch.randn(n, length, c, generator=g)  # Hugging Face (N, L, C)
    labels = torch.randint(0, c, (n, length), generator=g)
    labels[:, 0] = -100  # [CLS]
    labels[2, 6:] = -100  # padding
    expected = _numpy_matrix(logits, labels, c, -100, class_axis=2)
    for name, outputs, class_dim in (("last", logits, -1), ("second", logits.transpose(1, 2).contiguous(), 1)):
        writer, monitor = _monitor(tmp_path / name, class_dim=class_dim)
        monitor.record({"logits": outputs, "loss": torch.tensor(0.0)}, labels)
        _finish(writer, monitor)
        acc = load(str(tmp_path / name))
        assert np.array_equal(read_matrix(acc, "confusion/test", c), expected)
        assert _content(acc, "confusion/test")["unit"] == "tokens"
        assert scalars(acc, "ignored_labels/test")[1] == 4 + 3
        assert "confusion/test/examples" not in acc.Tags()["tensors"]  # tokens have no images


def test_shape_mismatches_name_both_shapes_and_class_dim(tmp_path):
    writer, monitor = _monitor(tmp_path)
    with pytest.raises(ValueError) as error:
        monitor.record(torch.randn(2, 7, 5), torch.zeros(2, 7, dtype=torch.long))  # (N, L, C) without class_dim=-1
    message = str(error.value)
    assert "(2, 7, 5)" in message and "(2, 7)" in message and "class_dim=1" in message and "(2, 5)" in message
    with pytest.raises(ValueError, match=r"\(2, 3, 4, 4\).*class_dim=1.*\(2, 4, 4\)"):
        monitor.record(torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got shape \(4, 2\) for outputs of shape \(4, 3\) \(the class_dim option"):
        monitor.record(torch.randn(4, 3), torch.zeros(4, 2, dtype=torch.long))  # classification names it too
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\) or ignore_index=-100"):
        monitor.record(torch.randn(2, 3, 4, 4), torch.full((2, 4, 4), 3))
    writer_zero, zero = _monitor(tmp_path / "zero", class_dim=0)
    with pytest.raises(ValueError, match="class_dim=0 does not name a class dimension"):
        zero.record(torch.randn(2, 3, 4, 4), torch.zeros(3, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="class_dim must be an integer"):
        attach_hooks(nn.Linear(1, 1), writer, class_dim=1.0)
    # nothing was counted by the calls that raised
    monitor.record(torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))
    _finish(writer, monitor)
    assert read_matrix(load(str(tmp_path)), "confusion/test", 3).sum() == 32
    zero.remove()
    writer_zero.close()


def test_counts_stay_int64_past_two_to_the_31(tmp_path):
    """The counts on the device are int64: a cell already holding 2^33 (as
    after 10^10 positions) gains a batch exactly, and the written matrix and
    scalars are exact."""
    writer, monitor = _monitor(tmp_path, ignore_index=255)
    logits, labels = _segmentation(7, c=3, ignore=255)
    monitor.record(logits, labels)
    base = monitor._dense._counts
    assert base.dtype == torch.int64
    big = torch.zeros_like(base)
    big[0] = 2**33 + 1  # cell (0, 0)
    big[4] = 2**31 + 3  # cell (1, 1)
    big[9:12] = 2**32  # the row of ignored positions: 3 * 2^32 more
    monitor._dense._counts = base + big
    monitor.record(logits, labels)
    _finish(writer, monitor)
    acc = load(str(tmp_path))
    one = _numpy_matrix(logits, labels, 3, 255)
    expected = 2 * one
    expected[0, 0] += 2**33 + 1
    expected[1, 1] += 2**31 + 3
    found = read_matrix(acc, "confusion/test", 3)
    assert np.array_equal(found, expected) and int(found[0, 0]) == 2**33 + 1 + 2 * int(one[0, 0])
    ignored = 3 * 2**32 + 2 * int((labels == 255).sum())  # a float32 scalar: close, the matrix is exact
    assert scalars(acc, "ignored_labels/test")[1] == pytest.approx(ignored, rel=1e-7)
    assert scalars(acc, "pixel_accuracy/test")[1] == pytest.approx(np.trace(expected) / expected.sum(), rel=1e-6)


def test_per_image_parts_are_off_with_one_warning(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(nn.Conv2d(3, 3, 1), writer, log_graph=False)  # suspects, record and grid on (defaults)
    logits, labels = _segmentation(1, c=3)
    images = torch.rand(3, 3, 12, 10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            monitor.record(logits, labels, images)
        monitor.end_eval(1)
        monitor.record(logits, labels, images)
        monitor.end_eval(2)
    dense_warnings = [w for w in caught if "dense outputs" in str(w.message)]
    assert len(dense_warnings) == 1 and issubclass(dense_warnings[0].category, UserWarning)
    assert "label-error suspects" in str(dense_warnings[0].message) and dense_warnings[0].filename == __file__
    monitor.remove()
    writer.close()
    acc = load(str(tmp_path))
    tensors = acc.Tags()["tensors"]
    assert not any("suspects" in t or "label_issues" in t or "confident_joint" in t or "record" in t for t in tensors)
    assert "confusion/test/examples" in tensors and "confusion/test/reliability" in tensors
    assert not acc.Tags()["images"]  # no misclassified grid
    assert not any(t.startswith("label_issues/") for t in acc.Tags()["scalars"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # all three off: nothing to say
        writer, quiet = _monitor(tmp_path / "quiet")
        quiet.record(logits, labels, images)
        _finish(writer, quiet)


def _tiles(acc, tag):
    """``(index, [n, h, w, 3] uint8 tiles)`` of the last examples value under ``tag``."""
    value = last_value(acc, tag)
    index = metadata.decode_examples_index(value[0])
    sprite = np.asarray(Image.open(io.BytesIO(value[1])).convert("RGB"))
    h, w, columns = index["tile_height"], index["tile_width"], index["columns"]
    tiles = [sprite[(i // columns) * h:(i // columns + 1) * h, (i % columns) * w:(i % columns + 1) * w] for i in range(len(index["true"]))]
    return index, np.stack(tiles)


def test_overlay_examples_are_the_images_with_most_pixels_of_the_pair_marked_exactly(tmp_path):
    c, n, h, w = 3, 6, 16, 12
    g = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (n, 3, h, w), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, c, (n, h, w), generator=g)
    predicted = torch.randint(0, c, (n, h, w), generator=g)
    labels[:, 0] = 255
    logits = torch.nn.functional.one_hot(predicted, c).permute(0, 3, 1, 2).float() * 4
    writer, monitor = _monitor(tmp_path, ignore_index=255, examples_per_cell=2, image_mean=0, image_std=1)
    monitor.record(logits[:3], labels[:3], images[:3], indices=torch.arange(3) + 100)
    monitor.record(logits[3:], labels[3:], images[3:], indices=torch.arange(3, 6) + 100)
    _finish(writer, monitor)
    index, tiles = _tiles(load(str(tmp_path)), "confusion/test/examples")
    assert index["bits"] == 8 and tiles.shape[1:] == (h, w, 3)
    pair = (labels[:, None] * c + predicted[:, None] == torch.arange(c * c)[None, :, None, None]) & (labels[:, None] != 255)
    per_image = pair.sum(dim=(2, 3)).numpy()  # [n, C * C] pixels of each pair in each image
    seen = set()
    for i, (t, p, row) in enumerate(zip(index["true"], index["predicted"], index["index"])):
        image = row - 100
        cell = t * c + p
        counts = per_image[:, cell]
        assert counts[image] >= np.sort(counts)[-2]  # one of the 2 images with the most pixels of the pair
        assert index["confidence"][i] == pytest.approx(counts[image] / (h * w), abs=1e-4)
        mask = pair[image, cell].numpy()
        base = images[image].permute(1, 2, 0).numpy().astype(np.int32)
        expected = np.where(mask[..., None], (base + np.array([255, 0, 255]) + 1) // 2, np.floor(base * 0.3 + 0.5))
        assert np.array_equal(tiles[i], expected.astype(np.uint8))
        assert np.array_equal(tiles[i][..., 0] >= 128, mask)  # marked exactly where the pair is
        seen.add(cell)
    assert seen == {cell for cell in range(c * c) if per_image[:, cell].any()}


def test_overlay_of_a_shrunk_image_marks_the_blocks_holding_the_pair(tmp_path):
    h = w = 128  # thumbnails are 64x64: each thumbnail pixel covers a 2x2 block
    labels = torch.zeros(1, h, w, dtype=torch.long)
    labels[0, 10:13, 40:70] = 1
    predicted = labels.clone()
    predicted[0, 11, 50:60] = 0  # pair (1, 0) in one row of ten pixels
    logits = torch.nn.functional.one_hot(predicted, 2).permute(0, 3, 1, 2).float() * 4
    writer, monitor = _monitor(tmp_path)
    monitor.record(logits, labels, torch.full((1, 1, h, w), 0.2))
    _finish(writer, monitor)
    index, tiles = _tiles(load(str(tmp_path)), "confusion/test/examples")
    where = [i for i, (t, p) in enumerate(zip(index["true"], index["predicted"])) if (t, p) == (1, 0)]
    assert len(where) == 1
    mask = ((labels == 1) & (predicted == 0))[0].reshape(64, 2, 64, 2).any(dim=3).any(dim=1).numpy()
    tile = tiles[where[0]]
    assert tile.shape == (64, 64, 3)
    assert np.array_equal(tile[..., 0] >= 128, mask) and mask.sum() == 5
    assert (tile[~mask] <= 77).all() and (tile[mask][:, 1] <= 127).all()


def _probabilities(logits):
    x = logits.astype(np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_calibration_over_positions_equals_numpy(tmp_path):
    c, bins = 4, 10
    logits, labels = _segmentation(11, n=2, c=c, h=6, w=5, ignore=255)
    rows = logits.permute(0, 2, 3, 1).reshape(-1, c).numpy()
    true = labels.reshape(-1).numpy()
    kept = true != 255
    probs, true = _probabilities(rows[kept]), true[kept]
    assert not (np.abs(probs * bins - np.round(probs * bins)) < 1e-5).any()  # no value at a bin edge
    writer, monitor = _monitor(tmp_path, ignore_index=255, calibration_bins=bins)
    monitor.record(logits, labels)
    _finish(writer, monitor)
    acc = load(str(tmp_path))
    reliability = dm.decode_reliability(last_value(acc, "confusion/test/reliability"), c, bins)
    classwise = dm.decode_classwise(last_value(acc, "confusion/test/classwise_reliability"), c, bins)
    confidence, predicted = probs.max(axis=1), probs.argmax(axis=1)
    expected = np.zeros((c, bins, 3))
    expected_classwise = np.zeros((c, bins, 3))
    for p_row, conf, pred, label in zip(probs, confidence, predicted, true):
        b = min(int(conf * bins), bins - 1)
        expected[label, b] += (1, conf, pred == label)
        for k in range(c):
            b = min(int(p_row[k] * bins), bins - 1)
            expected_classwise[k, b] += (1, p_row[k], label == k)
    assert np.allclose(reliability, expected, atol=1e-5)
    assert np.allclose(classwise, expected_classwise, atol=1e-5)
    assert reliability[..., 0].sum() == kept.sum()


def test_calibration_subsamples_large_batches_deterministically(tmp_path):
    n, c, h, w = 1, 2, 256, 256  # 65,536 positions: every 8th one (row-major) enters the calibration
    logits, labels = _segmentation(2, n=n, c=c, h=h, w=w, ignore=255)
    writer, monitor = _monitor(tmp_path, ignore_index=255)
    monitor.record(logits, labels)
    _finish(writer, monitor)
    acc = load(str(tmp_path))
    stride = -(-n * h * w // dense_module.CALIBRATION_POSITIONS)
    assert stride == 8
    sampled = labels.reshape(-1)[::stride]
    bins = dm.decode_reliability(last_value(acc, "confusion/test/reliability"), c, 15)
    assert bins[..., 0].sum() == int((sampled != 255).sum())
    assert np.array_equal(bins[..., 0].sum(axis=1), np.bincount(sampled[sampled != 255].numpy(), minlength=c))
    assert read_matrix(acc, "confusion/test", c).sum() == int((labels != 255).sum())  # the matrix uses every position


def test_classification_rows_labelled_ignore_index_count_nowhere(tmp_path):
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(20, 4, generator=g)
    labels = torch.randint(0, 4, (20,), generator=g)
    labels[[1, 5, 6]] = -100
    images = torch.rand(20, 1, 8, 8, generator=g)
    writer, monitor = _monitor(tmp_path / "ignored")
    monitor.record(logits, labels, images)
    _finish(writer, monitor)
    acc = load(str(tmp_path / "ignored"))
    assert np.array_equal(read_matrix(acc, "confusion/test", 4), _numpy_matrix(logits, labels, 4, -100))
    assert scalars(acc, "ignored_labels/test")[1] == 3
    assert "unit" not in _content(acc, "confusion/test")
    assert all(i not in (1, 5, 6) for i in read_examples_index(acc, "confusion/test/examples")["index"] if i >= 0)
    writer, monitor = _monitor(tmp_path / "none")  # nothing ignored: no scalar, as before
    monitor.record(logits[labels >= 0], labels[labels >= 0])
    _finish(writer, monitor)
    acc = load(str(tmp_path / "none"))
    assert "ignored_labels/test" not in acc.Tags()["scalars"] and "mean_iou/test" not in acc.Tags()["scalars"]


def test_dense_and_classification_do_not_mix_in_one_evaluation(tmp_path):
    writer, monitor = _monitor(tmp_path)
    monitor.record(torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="dense outputs"):
        monitor.record(torch.randn(2, 3), torch.zeros(2, dtype=torch.long))
    monitor.end_eval(1)
    monitor.record(torch.randn(2, 3), torch.zeros(2, dtype=torch.long))  # a new evaluation may
    with pytest.raises(ValueError, match="classification outputs"):
        monitor.record(torch.randn(2, 3, 4, 4), torch.zeros(2, 4, 4, dtype=torch.long))
    _finish(writer, monitor, step=2)
    acc = load(str(tmp_path))
    assert "unit" in _content(acc, "confusion/test")  # the first write's metadata: pixels
    assert read_matrix(acc, "confusion/test", 3, step=2).sum() == 2


@pytest.mark.subprocess
def test_two_process_gloo_dense_evaluation_equals_one_process(tmp_path):
    import torch.multiprocessing as mp

    from tests.hooks.dense_dist_worker import OPTIONS, dense_batches, record_all, worker
    from tests.support.events import free_port

    mp.spawn(worker, args=(2, free_port(), str(tmp_path / "dist")), nprocs=2, join=True)
    writer = SummaryWriter(str(tmp_path / "one"))
    monitor = attach_hooks(nn.Conv2d(3, 3, 1), writer, **OPTIONS)
    record_all(monitor, dense_batches())
    _finish(writer, monitor)
    dist_acc, one_acc = load(str(tmp_path / "dist")), load(str(tmp_path / "one"))
    assert np.array_equal(read_matrix(dist_acc, "confusion/test", 3), read_matrix(one_acc, "confusion/test", 3))
    for tag in ("ignored_labels/test", "mean_iou/test", "pixel_accuracy/test", "iou/test/1"):
        assert scalars(dist_acc, tag) == pytest.approx(scalars(one_acc, tag), rel=1e-9), tag
    assert scalars(dist_acc, "ignored_labels/test")[1] == 4 * 2 * 8
    dist_index, dist_tiles = _tiles(dist_acc, "confusion/test/examples")
    one_index, one_tiles = _tiles(one_acc, "confusion/test/examples")
    assert dist_index == one_index and np.array_equal(dist_tiles, one_tiles)
    assert _content(dist_acc, "confusion/test")["unit"] == "pixels"


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_logits_and_nan_positions(tmp_path, dtype):
    c = 300  # labels past 256 are not exact in bfloat16: the checks must not round them
    g = torch.Generator().manual_seed(9)
    labels = torch.randint(0, c, (2, 6, 5), generator=g)
    labels[0, 0, 0] = c - 1
    logits = torch.randn(2, c, 6, 5, generator=g).to(dtype)
    logits[1, :, 2, 3] = float("nan")  # one position with NaN logits
    logits[1, 0, 4, 4] = float("nan")
    writer, monitor = _monitor(tmp_path, ignore_index=None, log_calibration=False, examples_per_cell=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the NaN warning
        monitor.record(logits, labels)
        _finish(writer, monitor)
    acc = load(str(tmp_path))
    nan = torch.isnan(logits.float()).any(dim=1)
    expected = np.zeros((c, c), dtype=np.int64)
    np.add.at(expected, (labels[~nan].numpy(), logits.float().argmax(dim=1)[~nan].numpy()), 1)
    assert np.array_equal(read_matrix(acc, "confusion/test", c), expected)
    assert scalars(acc, "nonfinite/test")[1] == 2 and scalars(acc, "ignored_labels/test")[1] == 0
