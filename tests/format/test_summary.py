"""Round trips of the summary format through a real SummaryWriter and
TensorBoard's own (Python) data provider."""
from __future__ import annotations

import glob
import io
import json
import logging
import os

import numpy as np
import pytest
import torch
from PIL import Image
from tensorboard import context as tb_context
from tensorboard.backend.event_processing import data_provider as tb_data_provider
from tensorboard.backend.event_processing import event_file_loader, plugin_event_multiplexer
from tensorboard.compat.proto import summary_pb2
from tensorboard.data import provider as tb_provider
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.reader import ConfusionReader

PLUGIN = metadata.PLUGIN_NAME
CTX = tb_context.RequestContext()
NAMES10 = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_provider(logdir: str) -> tb_data_provider.MultiplexerDataProvider:
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={PLUGIN: 0})
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    return tb_data_provider.MultiplexerDataProvider(multiplexer, logdir)


def read_matrices(provider, run: str, tag: str):
    listing = provider.list_tensors(CTX, experiment_id="", plugin_name=PLUGIN)
    content = metadata.parse_plugin_content(listing[run][tag].plugin_content)
    data = provider.read_tensors(
        CTX, experiment_id="", plugin_name=PLUGIN, downsample=10**9,
        run_tag_filter=tb_provider.RunTagFilter(runs=[run], tags=[tag]),
    )[run][tag]
    return content, [(d.step, metadata.decode_matrix(d.numpy, content["num_classes"]), d.numpy) for d in data]


def event_file(logdir: str) -> str:
    (path,) = glob.glob(os.path.join(logdir, "**", "events.out.tfevents.*"), recursive=True)
    return path


@pytest.fixture
def writer(tmp_path):
    w = SummaryWriter(str(tmp_path / "run"))
    yield w
    w.close()


def test_round_trip_10_classes_many_steps(tmp_path, writer):
    rng = np.random.default_rng(1)
    written = {}
    for step in range(60):
        matrix = rng.integers(0, 300, size=(10, 10))
        if step % 3 == 0:
            matrix[rng.random((10, 10)) < 0.8] = 0  # sparse steps too
        written[step] = matrix
        summary.write_confusion_matrix(writer, "confusion/test", matrix, step, class_names=NAMES10)
    writer.flush()
    content, values = read_matrices(load_provider(str(tmp_path)), "run", "confusion/test")
    assert content["class_names"] == NAMES10
    assert content["num_classes"] == 10 and content["version"] == metadata.FORMAT_VERSION
    assert [step for step, _, _ in values] == list(range(60))
    for step, dense, _ in values:
        np.testing.assert_array_equal(dense, written[step])
    assert {raw.ndim for _, _, raw in values} == {1, 2}, "both layouts should occur"


def test_round_trip_1000_classes(tmp_path, writer):
    rng = np.random.default_rng(2)
    n = 1000
    sparse = np.diag(rng.integers(30, 50, size=n))
    sparse[rng.integers(0, n, 3000), rng.integers(0, n, 3000)] += rng.integers(1, 5, 3000)
    dense = rng.integers(0, 7, size=(n, n))
    dense[0, 1] = 0
    huge = np.zeros((n, n), dtype=np.int64)
    huge[5, 7] = 2**40  # needs int64
    huge[999, 999] = 3
    written = {0: sparse, 1: dense, 2: huge}
    for step, matrix in written.items():
        summary.write_confusion_matrix(writer, "confusion/imagenet", matrix, step)
    writer.flush()
    content, values = read_matrices(load_provider(str(tmp_path)), "run", "confusion/imagenet")
    assert content["class_names"] == [str(i) for i in range(n)]
    assert [step for step, _, _ in values] == [0, 1, 2]
    for step, decoded, _raw in values:
        assert decoded.dtype == np.int64
        np.testing.assert_array_equal(decoded, written[step])
    layouts = {step: (raw.ndim, raw.dtype) for step, _, raw in values}
    assert layouts == {0: (1, np.int32), 1: (2, np.int32), 2: (1, np.int64)}
    # The sparse step is compact on disk: far below the 4 MB of a dense int32 matrix.
    assert values[0][2].nbytes < 60_000


def test_torch_tensor_and_numpy_give_the_same_values(tmp_path, writer):
    matrix = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    summary.write_confusion_matrix(writer, "m", torch.tensor(matrix), 0)
    summary.write_confusion_matrix(writer, "m", matrix.astype(np.uint16), 1)
    summary.write_confusion_matrix(writer, "m", torch.tensor(matrix, dtype=torch.float32), 2)
    writer.flush()
    _, values = read_matrices(load_provider(str(tmp_path)), "run", "m")
    assert len(values) == 3
    for _, decoded, _ in values:
        np.testing.assert_array_equal(decoded, matrix)


def small_examples(count: int = 40, classes: int = 10, seed: int = 0):
    rng = np.random.default_rng(seed)
    return dict(
        images=rng.random((count, 1, 28, 28)).astype(np.float32),
        true_labels=rng.integers(0, classes, count),
        predicted_labels=rng.integers(0, classes, count),
        confidences=rng.random(count),
        dataset_indices=np.arange(100, 100 + count),
    )


def test_metadata_data_classes_and_first_write_only(tmp_path, writer):
    for step in range(3):
        summary.write_confusion_matrix(writer, "confusion/test", np.eye(10, dtype=int), step)
        summary.write_cell_examples(writer, "confusion/test", step=step, num_classes=10, **small_examples(seed=step))
    writer.flush()
    provider = load_provider(str(tmp_path))
    multiplexer = provider._multiplexer
    matrix_meta = multiplexer.SummaryMetadata("run", "confusion/test")
    examples_meta = multiplexer.SummaryMetadata("run", "confusion/test/examples")
    assert matrix_meta.data_class == summary_pb2.DATA_CLASS_TENSOR
    assert examples_meta.data_class == summary_pb2.DATA_CLASS_BLOB_SEQUENCE
    assert matrix_meta.plugin_data.plugin_name == examples_meta.plugin_data.plugin_name == PLUGIN
    assert json.loads(examples_meta.plugin_data.content)["matrix_tag"] == "confusion/test"
    # Both are visible through the data provider's generic listing calls.
    assert "confusion/test" in provider.list_tensors(CTX, experiment_id="", plugin_name=PLUGIN)["run"]
    blobs = provider.list_blob_sequences(CTX, experiment_id="", plugin_name=PLUGIN)["run"]
    assert list(blobs) == ["confusion/test/examples"]
    # Metadata only on the first value of each tag.
    with_metadata = {}
    for event in event_file_loader.EventFileLoader(event_file(str(tmp_path))).Load():
        for value in event.summary.value:
            with_metadata.setdefault(value.tag, []).append(value.HasField("metadata"))
    assert with_metadata["confusion/test"] == [True, False, False]
    assert with_metadata["confusion/test/examples"] == [True, False, False]


def test_newer_version_is_skipped_with_one_warning(tmp_path, writer, caplog):
    version = metadata.FORMAT_VERSION + 41
    metadata._warned_versions.discard(version)
    file_writer = writer._get_file_writer()
    for tag in ("future/a", "future/b"):
        meta = summary_pb2.SummaryMetadata(data_class=summary_pb2.DATA_CLASS_TENSOR)
        meta.plugin_data.plugin_name = PLUGIN
        meta.plugin_data.content = json.dumps(
            {"version": version, "kind": "confusion_matrix", "num_classes": 2, "class_names": ["a", "b"]}
        ).encode()
        proto = summary_pb2.Summary()
        proto.value.add(tag=tag, metadata=meta).tensor.CopyFrom(
            summary.confusion_matrix_pb("x", np.eye(2, dtype=int)).value[0].tensor
        )
        file_writer.add_summary(proto, 0)
    summary.write_confusion_matrix(writer, "current", np.eye(2, dtype=int), 0)
    writer.flush()
    reader = ConfusionReader(load_provider(str(tmp_path)))
    with caplog.at_level(logging.WARNING, logger="tb_fmnist_plugin.format.metadata"):
        listing = reader.list_matrix_series(CTX, "")
        listing_again = reader.list_matrix_series(CTX, "")
    assert set(listing["run"]) == {"current"} and listing == listing_again
    warnings = [r for r in caplog.records if f"version {version}" in r.getMessage()]
    assert len(warnings) == 1


BAD_MATRICES = [
    (np.zeros((3, 4), dtype=int), ValueError, "square"),
    (np.zeros((2, 2, 2), dtype=int), ValueError, "2-D"),
    (np.zeros((0, 0), dtype=int), ValueError, "at least one class"),
    (np.array([[1, -1], [0, 2]]), ValueError, "non-negative"),
    (np.array([[1.5, 0.0], [0.0, 2.0]]), ValueError, "whole numbers"),
    (np.array([[np.nan, 0.0], [0.0, 2.0]]), ValueError, "NaN"),
    (np.array([[np.inf, 0.0], [0.0, 2.0]]), ValueError, "infinite"),
    (np.array([[True, False], [False, True]]), TypeError, "integer counts"),
    (np.array([["a", "b"], ["c", "d"]]), TypeError, "integer counts"),
    ([[1, 2], [3]], TypeError, "matrix"),
    (torch.tensor([[1, -2], [0, 1]]), ValueError, "non-negative"),
    (np.zeros((metadata.MAX_CLASSES + 1,) * 2, dtype=np.int8), ValueError, "at most"),
]


@pytest.mark.parametrize("matrix,error,fragment", BAD_MATRICES)
def test_bad_matrix_raises_and_writes_nothing(tmp_path, writer, matrix, error, fragment):
    writer.flush()
    size = os.path.getsize(event_file(str(tmp_path)))
    with pytest.raises(error, match=fragment):
        summary.write_confusion_matrix(writer, "m", matrix, 0)
    writer.flush()
    assert os.path.getsize(event_file(str(tmp_path))) == size


@pytest.mark.parametrize(
    "kwargs,error,fragment",
    [
        (dict(class_names=["a", "b", "c"]), ValueError, "class_names has 3 entries"),
        (dict(class_names="ab"), TypeError, "single string"),
        (dict(class_names=["a", 2]), TypeError, "strings"),
        (dict(step=-1), ValueError, "step"),
        (dict(step=1.5), TypeError, "step"),
        (dict(step=True), TypeError, "step"),
        (dict(tag=""), TypeError, "tag"),
        (dict(tag=3), TypeError, "tag"),
    ],
)
def test_bad_arguments_raise_and_write_nothing(tmp_path, writer, kwargs, error, fragment):
    writer.flush()
    size = os.path.getsize(event_file(str(tmp_path)))
    args = dict(tag="m", matrix=np.eye(2, dtype=int), step=0)
    args.update(kwargs)
    with pytest.raises(error, match=fragment):
        summary.write_confusion_matrix(writer, **args)
    writer.flush()
    assert os.path.getsize(event_file(str(tmp_path))) == size


@pytest.mark.parametrize(
    "change,error,fragment",
    [
        (dict(true_labels=np.full(40, 10)), ValueError, "true_labels must be class indices"),
        (dict(predicted_labels=np.full(40, -1)), ValueError, "predicted_labels must be class indices"),
        (dict(predicted_labels=np.zeros(39, dtype=int)), ValueError, "predicted_labels has 39"),
        (dict(true_labels=np.zeros(40) + 0.5), TypeError, "true_labels must be integers"),
        (dict(confidences=np.full(40, np.nan)), ValueError, "NaN"),
        (dict(confidences=np.zeros(3)), ValueError, "confidences has 3"),
        (dict(dataset_indices=np.zeros(5, dtype=int)), ValueError, "dataset_indices has 5"),
        (dict(images=np.zeros((40, 2, 28, 28))), ValueError, "1 or 3 channels"),
        (dict(images=np.zeros((40, 28))), ValueError, "images must be"),
        (dict(images=np.zeros((39, 1, 28, 28))), ValueError, "39 images"),
        (dict(num_classes=None), ValueError, "class_names or num_classes"),
        (dict(num_classes=0), ValueError, "num_classes"),
        (dict(max_per_cell=0), ValueError, "max_per_cell"),
        (dict(max_bytes=10), ValueError, "max_bytes"),
        (dict(class_names=["x"] * 9), ValueError, "class_names has 9"),
        (dict(step=-2), ValueError, "step"),
    ],
)
def test_bad_examples_raise_and_write_nothing(tmp_path, writer, change, error, fragment):
    writer.flush()
    size = os.path.getsize(event_file(str(tmp_path)))
    args = dict(tag="m", step=0, num_classes=10, **small_examples())
    args.update(change)
    with pytest.raises(error, match=fragment):
        summary.write_cell_examples(writer, **args)
    writer.flush()
    assert os.path.getsize(event_file(str(tmp_path))) == size


def read_examples(logdir: str, run: str, tag: str):
    provider = load_provider(logdir)
    data = provider.read_blob_sequences(
        CTX, experiment_id="", plugin_name=PLUGIN, downsample=10**9,
        run_tag_filter=tb_provider.RunTagFilter(runs=[run], tags=[tag + "/examples"]),
    )[run][tag + "/examples"]
    result = []
    for datum in data:
        assert len(datum.values) == 2
        index = metadata.decode_examples_index(provider.read_blob(CTX, blob_key=datum.values[0].blob_key))
        sprite = Image.open(io.BytesIO(provider.read_blob(CTX, blob_key=datum.values[1].blob_key)))
        result.append((datum.step, index, sprite))
    return result


def tile(sprite: np.ndarray, index: dict, i: int) -> np.ndarray:
    h, w, columns = index["tile_height"], index["tile_width"], index["columns"]
    r, c = divmod(i, columns)
    return sprite[r * h:(r + 1) * h, c * w:(c + 1) * w]


def test_examples_round_trip_exact_thumbnails(tmp_path, writer):
    rng = np.random.default_rng(3)
    count = 30
    images = (rng.random((count, 28, 28)) * 255).astype(np.uint8)
    images[:, 10:18, :] = 0  # some structure so they compress a little
    true = rng.integers(0, 3, count)
    predicted = rng.integers(0, 3, count)
    confidence = rng.random(count)
    summary.write_cell_examples(
        writer, "c", torch.from_numpy(images), 7, true_labels=torch.from_numpy(true), predicted_labels=predicted,
        confidences=torch.from_numpy(confidence), dataset_indices=np.arange(count) * 3, class_names=["a", "b", "c"], max_per_cell=2,
    )
    writer.flush()
    ((step, index, sprite),) = read_examples(str(tmp_path), "run", "c")
    assert step == 7 and index["bits"] == 8 and index["channels"] == 1
    pixels = np.asarray(sprite)
    expected_cells = {}
    for i in range(count):
        expected_cells.setdefault((true[i], predicted[i]), []).append(i)
    stored = list(zip(index["true"], index["predicted"], index["index"], index["confidence"]))
    # Per cell: the 2 most confident examples, most confident first, cells in (true, predicted) order.
    expected = []
    for cell in sorted(expected_cells):
        best = sorted(expected_cells[cell], key=lambda i: -confidence[i])[:2]
        expected += [(cell[0], cell[1], i * 3, round(float(confidence[i]), 4)) for i in best]
    assert stored == expected
    for t, (_, _, dataset_index, _) in enumerate(stored):
        np.testing.assert_array_equal(tile(pixels, index, t), images[dataset_index // 3])


def test_examples_rgb_round_trip(tmp_path, writer):
    rng = np.random.default_rng(4)
    images = rng.random((4, 3, 8, 8)).astype(np.float32)
    summary.write_cell_examples(writer, "rgb", images, 0, true_labels=[0, 0, 1, 1], predicted_labels=[0, 1, 1, 0],
                                confidences=[0.9, 0.8, 0.7, 0.6], num_classes=2)
    writer.flush()
    ((_, index, sprite),) = read_examples(str(tmp_path), "run", "rgb")
    assert index["channels"] == 3 and sprite.mode == "RGB"
    pixels = np.asarray(sprite)
    expected_uint8 = (np.clip(images, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(0, 2, 3, 1)
    order = {(t, p): i for i, (t, p) in enumerate([(0, 0), (0, 1), (1, 1), (1, 0)])}
    for k, cell in enumerate(zip(index["true"], index["predicted"])):
        np.testing.assert_array_equal(tile(pixels, index, k), expected_uint8[order[cell]])


def defaults_worst_case(seed: int):
    """1,000 noisy 28x28 images covering all 100 cells of 10 classes."""
    rng = np.random.default_rng(seed)
    count = 1000
    return dict(
        images=rng.random((count, 1, 28, 28)).astype(np.float32),
        true_labels=np.repeat(np.arange(10), 100),
        predicted_labels=np.tile(np.arange(10), 100),
        confidences=rng.random(count),
        dataset_indices=np.arange(count),
    )


def test_examples_at_defaults_stay_within_budget_even_for_noise(tmp_path, writer):
    writer.flush()
    path = event_file(str(tmp_path))
    sizes = []
    for step in range(2):  # first write carries metadata, second does not
        before = os.path.getsize(path)
        args = defaults_worst_case(step)
        summary.write_cell_examples(writer, "confusion/test", step=step, class_names=NAMES10, **args)
        writer.flush()
        sizes.append(os.path.getsize(path) - before)
    assert all(0 < size <= 150_000 for size in sizes), sizes
    # Noise does not fit 400 tiles even at 4 bits: the fallback keeps every
    # cell's best example and drops only lower-ranked ones.
    for step, index, sprite in read_examples(str(tmp_path), "run", "confusion/test"):
        assert index["bits"] == 4 and sprite.mode == "P"
        cells = {}
        for t, p, c in zip(index["true"], index["predicted"], index["confidence"]):
            cells.setdefault((t, p), []).append(c)
        assert len(cells) == 100
        assert all(1 <= len(c) <= 4 for c in cells.values())
        assert 100 < len(index["true"]) < 400
        args = defaults_worst_case(step)
        for (t, p), stored in cells.items():
            mask = (args["true_labels"] == t) & (args["predicted_labels"] == p)
            best = sorted(args["confidences"][mask], reverse=True)[: len(stored)]
            assert stored == [round(float(c), 4) for c in best]


def test_examples_at_defaults_realistic_images_keep_all_400(tmp_path, writer):
    # Smooth, mostly-dark images like Fashion-MNIST: all 4 per cell fit.
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[0:28, 0:28]
    blobs = np.exp(-(((yy - 14) ** 2) + (xx - 14) ** 2) / 60.0)
    images = np.stack([blobs * rng.uniform(0.5, 1.0) for _ in range(400)])[:, None].astype(np.float32)
    writer.flush()
    before = os.path.getsize(event_file(str(tmp_path)))
    summary.write_cell_examples(
        writer, "t", images, 0, true_labels=np.repeat(np.arange(10), 40), predicted_labels=np.tile(np.arange(10), 40),
        confidences=rng.random(400), class_names=NAMES10,
    )
    writer.flush()
    assert os.path.getsize(event_file(str(tmp_path))) - before <= 150_000
    ((_, index, _),) = read_examples(str(tmp_path), "run", "t")
    assert len(index["true"]) == 400
