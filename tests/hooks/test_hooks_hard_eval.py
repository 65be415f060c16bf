"""Evaluation-side hard cases of the hooks (issue 9): 1,000 classes with
images (sparse store, atomic ``record``), non-finite logits, large images
(thumbnails, byte-budget warning)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from tensorboard.util import tensor_util
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.hooks import attach_hooks
from tb_fmnist_plugin.hooks.evaluation import EvalAccumulator
from tests.support.events import free_port, read_examples_index, read_matrix
from tests.support.hooks_helpers import load, scalars

INF = float("inf")


def _expected_matrix(logits, labels, classes):
    keep = ~torch.isnan(logits).any(1)
    expected = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(expected, (labels[keep].numpy(), torch.argmax(logits, 1)[keep].numpy()), 1)
    return expected


# --- 3. 1,000 classes with images -------------------------------------------------


def test_thousand_classes_with_images_store_only_occurring_cells(tmp_path):
    """4 batches of 50 at 1,000 classes: the example store holds at most one
    entry per recorded row (not 1,000 x 1,000 x 4 slots)."""
    classes, batch, batches = 1000, 50, 4
    g = torch.Generator().manual_seed(0)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False, max_misclassified=8)
    all_logits, all_labels = [], []
    for i in range(batches):
        labels = torch.randint(0, classes, (batch,), generator=g)
        logits = torch.randn(batch, classes, generator=g)
        logits[torch.arange(batch)[::2], labels[::2]] += 10.0  # half right
        monitor.record(logits, labels, torch.rand(batch, 1, 4, 4, generator=g), torch.arange(i * batch, (i + 1) * batch))
        all_logits.append(logits)
        all_labels.append(labels)
        stored = {name: value.shape[0] for name, value in monitor._eval.cells.payload.items()}
        assert max(stored.values()) <= batch * (i + 1) and len(set(stored.values())) == 1
        assert monitor._eval.mistakes.payload["images"].shape[0] == 8
    expected = _expected_matrix(torch.cat(all_logits), torch.cat(all_labels), classes)
    occurring = expected[expected > 0]
    assert monitor._eval.cells.payload["images"].shape[0] == int(np.minimum(occurring, 4).sum())
    monitor.end_eval(step=1)
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    assert np.array_equal(read_matrix(acc, "confusion/test", classes), expected)
    assert len(read_examples_index(acc, "confusion/test/examples")["true"]) > 0


def test_record_is_atomic_when_a_batch_fails_after_validation(tmp_path):
    """A batch whose images cannot be read (meta tensors: they pass the shape
    checks, then fail like an out-of-memory would) changes nothing; retrying
    it counts it once."""
    g = torch.Generator().manual_seed(1)
    labels = torch.randint(0, 10, (16,), generator=g)
    logits = torch.randn(16, 10, generator=g)
    images = torch.rand(16, 1, 28, 28, generator=g)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False)
    with pytest.raises((NotImplementedError, RuntimeError)):
        monitor.record(logits, labels, torch.empty(16, 1, 28, 28, device="meta"))
    assert monitor._eval.counts is None and monitor._eval.recorded == 0 and monitor._eval.cells is None
    monitor.record(logits, labels, images)
    monitor.end_eval(step=0)
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    got = read_matrix(acc, "confusion/test", 10)
    assert got.sum() == 16
    assert np.array_equal(got, _expected_matrix(logits, labels, 10))


# --- 6. non-finite logits -------------------------------------------------------------


def _nonfinite_batch():
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(12, 10, generator=g)
    labels = torch.randint(0, 10, (12,), generator=g)
    logits[0, 3] = float("nan")  # NaN rows: left out
    logits[1, :] = float("nan")
    logits[2, 7] = INF  # +inf wins argmax, confidence 1
    logits[3, :] = -INF  # all -inf: argmax 0, uniform
    logits[4, 2] = INF  # two +inf: the first, confidence 1/2
    logits[4, 5] = INF
    logits[5, 1] = -INF  # one -inf: ordinary softmax
    return logits, labels


def test_nonfinite_logits_predict_argmax_and_nan_rows_are_counted_apart(tmp_path):
    logits, labels = _nonfinite_batch()
    images = torch.rand(12, 1, 28, 28)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False)
    with pytest.warns(RuntimeWarning) as caught:
        for step in (0, 1):  # two evaluations: one warning
            monitor.record(logits, labels, images, torch.arange(12))
            monitor.end_eval(step=step)
    nan_warnings = [w for w in caught if "NaN logits" in str(w.message)]
    assert len(nan_warnings) == 1
    text = str(nan_warnings[0].message)
    assert "2 of 12 recorded rows" in text and "left out of confusion/test" in text and "nonfinite/test" in text
    monitor.remove()
    writer.close()

    acc = load(tmp_path)
    got = read_matrix(acc, "confusion/test", 10)
    assert np.array_equal(got, _expected_matrix(logits, labels, 10))
    assert got.sum() == 10
    assert scalars(acc, "nonfinite/test") == {0: 2.0, 1: 2.0}
    excluded = acc.Tensors(metadata.excluded_tag("confusion/test"))
    assert [metadata.decode_excluded(tensor_util.make_ndarray(e.tensor_proto)) for e in excluded] == [2, 2]
    index = read_examples_index(acc, "confusion/test/examples")
    by_row = {i: (p, c) for i, p, c in zip(index["index"], index["predicted"], index["confidence"])}
    assert 0 not in by_row and 1 not in by_row  # NaN rows have no examples
    assert by_row[2] == (7, 1.0)
    assert by_row[3] == (0, 0.1)
    assert by_row[4] == (2, 0.5)
    expected_5 = torch.softmax(logits[5], 0).max().item()
    assert by_row[5][0] == int(torch.argmax(logits[5])) and by_row[5][1] == pytest.approx(expected_5, abs=1e-4)


def test_finite_logits_write_a_zero_nonfinite_count_and_no_warning(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        monitor.record(torch.randn(4, 10), torch.tensor([0, 1, 2, 3]))
        monitor.end_eval(step=3)
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    assert scalars(acc, "nonfinite/test") == {3: 0.0}
    value = acc.Tensors("confusion/test/excluded")[0]
    assert metadata.decode_excluded(tensor_util.make_ndarray(value.tensor_proto)) == 0


def test_excluded_rows_format_is_its_own_kind(tmp_path):
    """Format: ``<matrix tag>/excluded``, kind ``excluded_rows``, a rank-0
    int64 count. A reader that looks for matrices (or an older reader, which
    knows only matrices and examples) skips it."""
    pb = summary.excluded_rows_pb("confusion/val", 5)
    value = pb.value[0]
    assert value.tag == "confusion/val/excluded"
    content = metadata.parse_plugin_content(value.metadata.plugin_data.content)
    assert content == {"version": 1, "kind": "excluded_rows", "matrix_tag": "confusion/val", "reason": "nan_logits"}
    assert content["kind"] not in (metadata.KIND_MATRIX, metadata.KIND_EXAMPLES)
    array = tensor_util.make_ndarray(value.tensor)
    assert array.shape == () and array.dtype == np.int64 and metadata.decode_excluded(array) == 5
    with pytest.raises(ValueError):
        metadata.decode_excluded(np.zeros((2, 2), dtype=np.int64))
    with pytest.raises(ValueError):
        summary.excluded_rows_pb("confusion/val", -1)
    writer = SummaryWriter(str(tmp_path))
    summary.write_excluded_rows(writer, "confusion/val", 7, step=4)
    writer.close()
    event = load(tmp_path).Tensors("confusion/val/excluded")[0]
    assert event.step == 4 and metadata.decode_excluded(tensor_util.make_ndarray(event.tensor_proto)) == 7


def _nan_worker(rank: int, world: int, port: int, logdir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        logits, labels = _nonfinite_batch()
        writer = SummaryWriter(logdir) if rank == 0 else None
        monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False)
        rows = torch.arange(rank, 12, world)
        monitor.record(logits[rows], labels[rows], torch.rand(len(rows), 1, 28, 28), rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            monitor.end_eval(step=0)
        monitor.remove()
        if writer is not None:
            writer.close()
    finally:
        dist.destroy_process_group()


@pytest.mark.subprocess
def test_two_process_gloo_sums_nan_rows(tmp_path):
    import torch.multiprocessing as mp

    mp.spawn(_nan_worker, args=(2, free_port(), str(tmp_path)), nprocs=2, join=True)
    acc = load(tmp_path)
    logits, labels = _nonfinite_batch()
    assert np.array_equal(read_matrix(acc, "confusion/test", 10), _expected_matrix(logits, labels, 10))
    assert scalars(acc, "nonfinite/test") == {0: 2.0}
    assert sorted(read_examples_index(acc, "confusion/test/examples")["index"]) == list(range(2, 12))


# --- 7. large images ----------------------------------------------------------------------


def test_large_images_are_stored_as_small_uint8_thumbnails(tmp_path):
    g = torch.Generator().manual_seed(3)
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False, image_mean=0.0, image_std=1.0)
    for _ in range(3):
        labels = torch.randint(0, 10, (8,), generator=g)
        monitor.record(torch.randn(8, 10, generator=g), labels, torch.rand(8, 3, 224, 224, generator=g))
        for store in (monitor._eval.cells, monitor._eval.mistakes):
            images = store.payload["images"]
            assert images.dtype == torch.uint8 and tuple(images.shape[1:]) == (3, 64, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # noise thumbnails exceed the budget; tested below
        monitor.end_eval(step=0)
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    index = read_examples_index(acc, "confusion/test/examples")
    assert (index["tile_width"], index["tile_height"], index["channels"]) == (64, 64, 3)
    assert acc.Images("misclassified/test")[0].width == 8 * (128 + 2) + 2  # 64-pixel tiles shown at 2x


def test_thumbnails_keep_small_images_exactly_and_shrink_large_ones_faithfully():
    from tb_fmnist_plugin.hooks.thumbnails import DEFAULT_THUMBNAIL_SIZE, make_thumbnails, thumbnail_shape

    assert DEFAULT_THUMBNAIL_SIZE == 64
    assert thumbnail_shape(28, 28, 64) == (28, 28)
    assert thumbnail_shape(224, 224, 64) == (64, 64)
    assert thumbnail_shape(100, 400, 64) == (16, 64)
    small = torch.rand(5, 1, 28, 28) * 2 - 1
    expected = (to_unit(small) * 255 + 0.5).to(torch.uint8)
    assert torch.equal(make_thumbnails(small, 64, 0.5, 0.5), expected)
    # A flat colour stays that colour; a left/right split stays split.
    flat = torch.zeros(2, 3, 300, 200)
    flat[:, 0], flat[:, 1], flat[:, 2] = 0.2, 0.6, 1.0
    flat[1, :, :, 100:] = 0.0
    thumbs = make_thumbnails(flat, 32, 0.0, 1.0, rows=torch.tensor([1, 0]))
    assert thumbs.shape == (2, 3, 32, 21)
    assert torch.equal(thumbs[1], torch.tensor([51, 153, 255], dtype=torch.uint8)[:, None, None].expand(3, 32, 21))
    assert thumbs[0, :, :, :9].float().mean(dim=(1, 2)).tolist() == [51.0, 153.0, 255.0]
    assert thumbs[0, :, :, 12:].max() == 0


def to_unit(images):
    return ((images * 0.5) + 0.5).clamp(0, 1)


def test_thumbnail_size_option_is_checked_and_used(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    with pytest.raises(ValueError, match="thumbnail_size"):
        attach_hooks(FashionMNISTCNN(), writer, thumbnail_size=0)
    monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False, thumbnail_size=16)
    assert monitor.options.thumbnail_size == 16
    monitor.record(torch.randn(4, 10), torch.tensor([0, 1, 2, 3]), torch.rand(4, 1, 28, 28))
    assert tuple(monitor._eval.cells.payload["images"].shape[1:]) == (1, 16, 16)
    monitor.remove()
    writer.close()


def test_byte_budget_dropping_examples_warns_once_per_tag():
    g = torch.Generator().manual_seed(4)
    images = torch.rand(40, 3, 64, 64, generator=g)  # noise: about 12 KB per tile
    true = torch.arange(40) % 10
    args = dict(true_labels=true, predicted_labels=true, confidences=torch.rand(40, generator=g))
    with pytest.warns(RuntimeWarning, match=r"confusion/budget-test/examples keeps \d+ of 40 example thumbnails") as caught:
        pb = summary.cell_examples_pb("confusion/budget-test", images, **args, num_classes=10, max_per_cell=4, max_bytes=60_000)
    assert len([w for w in caught if "max_bytes=60,000" in str(w.message)]) == 1
    kept = len(metadata.decode_examples_index(tensor_util.make_ndarray(pb.value[0].tensor)[0])["true"])
    assert 0 < kept < 40
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per tag
        summary.cell_examples_pb("confusion/budget-test", images, **args, num_classes=10, max_per_cell=4, max_bytes=60_000)
        summary.cell_examples_pb("confusion/budget-fits", images, **args, num_classes=10, max_per_cell=4, max_bytes=1_000_000)


def test_accumulator_bound_is_structural():
    """Per-cell store: at most k per occurring cell; thumbnails uint8."""
    accumulator = EvalAccumulator(100, examples_per_cell=3, max_misclassified=0, thumbnail_size=8)
    labels = torch.tensor([5] * 10 + [7] * 2)
    logits = torch.zeros(12, 100)
    logits[:, 5] = 1.0  # everything predicted 5: cells (5, 5) x10 and (7, 5) x2
    accumulator.add(accumulator.validate(logits, labels, torch.rand(12, 3, 32, 32)))
    assert len(accumulator.cells) == 3 + 2 and accumulator.mistakes is None
    assert accumulator.cells.payload["images"].shape == (5, 3, 8, 8)
    assert accumulator.cells.group.tolist() == [505, 505, 505, 705, 705]
