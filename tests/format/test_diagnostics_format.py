"""Round trips of the calibration and label-issue value kinds through a real
SummaryWriter and TensorBoard's own data provider; their checks and budget."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image
from tensorboard import context as tb_context
from tensorboard.backend.event_processing import data_provider as tb_data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.data import provider as tb_provider
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import diagnostics_writers as ds
from tb_fmnist_plugin.format import metadata

PLUGIN = metadata.PLUGIN_NAME
CTX = tb_context.RequestContext()
NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _provider(logdir):
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={PLUGIN: 0})
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    return tb_data_provider.MultiplexerDataProvider(multiplexer, str(logdir))


def _read(provider, tag, blobs=False):
    """(content, [(step, value)]) of one series of run "."."""
    lister = provider.list_blob_sequences if blobs else provider.list_tensors
    content = metadata.parse_plugin_content(lister(CTX, experiment_id="", plugin_name=PLUGIN)["."][tag].plugin_content)
    filt = tb_provider.RunTagFilter(runs=["."], tags=[tag])
    if not blobs:
        data = provider.read_tensors(CTX, experiment_id="", plugin_name=PLUGIN, downsample=10**9, run_tag_filter=filt)
        return content, [(d.step, d.numpy) for d in data["."][tag]]
    data = provider.read_blob_sequences(CTX, experiment_id="", plugin_name=PLUGIN, downsample=10**9, run_tag_filter=filt)
    return content, [(d.step, [provider.read_blob(CTX, blob_key=b.blob_key) for b in d.values]) for d in data["."][tag]]


def _calibration_values(classes=10, bins=15, seed=0):
    rng = np.random.default_rng(seed)
    count = rng.integers(0, 20, size=(classes, bins)).astype(np.float64)
    confidence = count * (np.arange(bins) + 0.5) / bins
    correct = np.floor(count * rng.random((classes, bins)))
    cells = np.where(rng.random((classes, classes)) < 0.2, rng.random((classes, classes)), 0.0)
    loss = rng.random(classes) * 2
    loss[3] = np.nan
    return np.stack([count, confidence, correct], axis=-1), cells, loss


def test_calibration_round_trip_and_metadata(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    written = {step: _calibration_values(seed=step) for step in (0, 1, 2)}
    for step, (bins, cells, loss) in written.items():
        ds.write_calibration(writer, "confusion/test", bins, step, cell_confidence=cells, class_loss=loss, class_names=NAMES)
    writer.close()
    provider = _provider(tmp_path)

    content, values = _read(provider, "confusion/test/reliability")
    assert content == {"version": 1, "kind": "reliability_bins", "num_classes": 10, "class_names": NAMES,
                       "matrix_tag": "confusion/test", "bins": 15}
    assert [s for s, _ in values] == [0, 1, 2]
    for step, value in values:
        np.testing.assert_array_equal(dm.decode_reliability(value, 10, 15), written[step][0])

    content, values = _read(provider, "confusion/test/cell_confidence")
    assert content["kind"] == "cell_confidence" and content["matrix_tag"] == "confusion/test"
    for step, value in values:
        assert value.ndim == 1  # 20% filled: the sparse layout is smaller
        np.testing.assert_array_equal(dm.decode_cell_values(value, 10), written[step][1])

    content, values = _read(provider, "confusion/test/class_loss")
    assert content["kind"] == "class_loss"
    for step, value in values:
        np.testing.assert_array_equal(dm.decode_class_loss(value, 10), written[step][2])  # NaN included


def test_cell_values_dense_when_full_and_decoding_rejects_bad_layouts():
    full = np.full((3, 3), 0.5)
    assert dm.encode_cell_values(full).shape == (3, 3)
    np.testing.assert_array_equal(dm.decode_cell_values(dm.encode_cell_values(full), 3), full)
    with pytest.raises(ValueError):
        dm.decode_cell_values(np.array([9.0, 0.5]), 3)  # index out of range
    with pytest.raises(ValueError):
        dm.decode_cell_values(np.array([2.0, 0.5, 1.0, 0.5]), 3)  # not ascending
    with pytest.raises(ValueError):
        dm.decode_reliability(np.zeros((3, 15, 3), dtype=np.int64), 3, 15)
    bad = np.zeros((3, 15, 3))
    bad[0, 0] = (1, 0.5, 2)  # more correct than examples
    with pytest.raises(ValueError):
        dm.decode_reliability(bad, 3, 15)


@pytest.mark.parametrize(
    "field, value, problem",
    [
        (0, 2.5, "fractional counts"),  # count
        (2, 0.5, "fractional counts"),  # correct
        (1, 3.5, "more confidence than examples"),  # confidence sum over count
        (0, -1.0, "negative"),
        (1, np.inf, "non-finite"),
    ],
)
def test_reliability_bins_the_format_cannot_hold_are_refused(field, value, problem):
    bins = np.zeros((3, 15, 3))
    bins[1, 4] = (3, 1.5, 2)
    dm.decode_reliability(bins, 3, 15)  # consistent: accepted
    bins[1, 4, field] = value
    with pytest.raises(ValueError, match=problem):
        dm.decode_reliability(bins, 3, 15)


def test_cell_confidence_and_class_loss_out_of_range_are_refused():
    cells = np.full((2, 2), 0.5)
    cells[0, 1] = 1.2
    with pytest.raises(ValueError, match="probabilities"):
        dm.decode_cell_values(cells, 2)
    cells[0, 1] = -0.1
    with pytest.raises(ValueError, match="probabilities"):
        dm.decode_cell_values(cells, 2)
    loss = np.array([0.3, np.nan, np.inf])  # NaN: no examples; inf: a zero probability
    np.testing.assert_array_equal(dm.decode_class_loss(loss, 3), loss)
    with pytest.raises(ValueError, match="negative"):
        dm.decode_class_loss(np.array([0.3, -0.2, 1.0]), 3)


def test_label_issue_counts_use_the_matrix_encoding(tmp_path):
    rng = np.random.default_rng(1)
    joint = rng.integers(0, 5, size=(10, 10))
    np.fill_diagonal(joint, 180)
    counts = np.zeros((10, 10), dtype=np.int64)
    counts[6, 0], counts[0, 6] = 7, 3
    writer = SummaryWriter(str(tmp_path))
    ds.write_label_issues(writer, "confusion/train", joint, 4, suspect_counts=counts, class_names=NAMES)
    writer.close()
    provider = _provider(tmp_path)
    content, [(step, value)] = _read(provider, "confusion/train/confident_joint")
    assert step == 4 and content["kind"] == "confident_joint" and content["matrix_tag"] == "confusion/train"
    np.testing.assert_array_equal(metadata.decode_matrix(value, 10), joint)
    content, [(_, value)] = _read(provider, "confusion/train/label_issues")
    assert content["kind"] == "label_issues" and value.ndim == 1  # sparse
    np.testing.assert_array_equal(metadata.decode_matrix(value, 10), counts)


def _suspects(count, seed=0, noisy=False):
    rng = np.random.default_rng(seed)
    images = rng.random((count, 1, 28, 28)) if noisy else np.tile(np.linspace(0, 1, 28), (count, 1, 28, 1))
    given = rng.integers(0, 10, count)
    suggested = (given + 1 + rng.integers(0, 9, count)) % 10
    self_conf = np.sort(rng.random(count) * 0.1)
    return images, given, suggested, self_conf, rng.random(count) * 0.5 + 0.5, np.arange(count) * 3


def test_suspects_round_trip_with_sprite(tmp_path):
    images, given, suggested, self_conf, conf, index = _suspects(12)
    thresholds = np.linspace(0.5, 0.95, 10)
    writer = SummaryWriter(str(tmp_path))
    ds.write_suspects(writer, "confusion/test", images, 2, given=given, suggested=suggested, self_confidence=self_conf,
                      confidence=conf, dataset_indices=index, class_names=NAMES, total=40, thresholds=thresholds, inexact_rows=1)
    writer.close()
    content, [(step, blobs)] = _read(_provider(tmp_path), "confusion/test/suspects", blobs=True)
    assert step == 2 and content["kind"] == "suspects" and content["matrix_tag"] == "confusion/test"
    parsed = dm.decode_suspects_index(blobs[dm.SUSPECTS_INDEX_BLOB], 10)
    assert parsed["given"] == given.tolist() and parsed["suggested"] == suggested.tolist()
    assert parsed["index"] == index.tolist() and parsed["total"] == 40 and parsed["inexact_rows"] == 1
    np.testing.assert_allclose(parsed["self_confidence"], self_conf, rtol=1e-5)
    np.testing.assert_allclose(parsed["thresholds"], thresholds, rtol=1e-5)
    sprite = Image.open(io.BytesIO(blobs[dm.SUSPECTS_SPRITE_BLOB]))
    columns = parsed["columns"]
    assert sprite.size == (columns * 28, -(-12 // columns) * 28)
    tile = np.asarray(sprite.convert("L"))[:28, 28:56]  # tile 1
    expected = (np.linspace(0, 1, 28) * 255 + 0.5).astype(np.uint8)
    assert np.abs(tile[0].astype(int) - expected).max() <= (17 if parsed["bits"] == 4 else 0)


def test_suspects_without_images_and_under_a_tight_budget():
    _, given, suggested, self_conf, conf, index = _suspects(5)
    pb = ds.suspects_pb("confusion/test", None, given=given, suggested=suggested, self_confidence=self_conf,
                        confidence=conf, dataset_indices=index, class_names=NAMES, total=5, thresholds=np.full(10, 0.9))
    blobs = pb.value[0].tensor.string_val
    parsed = dm.decode_suspects_index(blobs[0], 10)
    assert parsed["tile_width"] == 0 and blobs[1] == b"" and parsed["index"] == index.tolist()

    images, given, suggested, self_conf, conf, index = _suspects(300, noisy=True)
    with pytest.warns(RuntimeWarning, match="suspects"):
        pb = ds.suspects_pb("confusion/tight", images, given=given, suggested=suggested, self_confidence=self_conf,
                            confidence=conf, dataset_indices=index, class_names=NAMES, total=300, thresholds=np.full(10, 0.9), max_bytes=30_000)
    assert pb.ByteSize() + 64 <= 30_000
    parsed = dm.decode_suspects_index(pb.value[0].tensor.string_val[0], 10)
    kept = len(parsed["index"])
    assert 0 < kept < 300 and parsed["index"] == index[:kept].tolist()  # the most suspicious kept, in order
    assert parsed["bits"] == 4 and parsed["total"] == 300


def test_bad_input_raises_and_writes_nothing(tmp_path):
    bins, cells, loss = _calibration_values()
    with pytest.raises(ValueError):
        ds.calibration_pb("confusion/test", bins=bins[:, :, :2], cell_confidence=cells, class_loss=loss, class_names=NAMES)
    with pytest.raises(ValueError):
        ds.calibration_pb("confusion/test", bins=bins, cell_confidence=cells * 3, class_loss=loss, class_names=NAMES)
    with pytest.raises(ValueError):
        ds.label_issues_pb("confusion/test", confident_joint=-np.ones((10, 10)), suspect_counts=np.zeros((10, 10)), class_names=NAMES)
    _, given, suggested, self_conf, conf, index = _suspects(4)
    with pytest.raises(ValueError):
        ds.suspects_pb("confusion/test", None, given=given + 10, suggested=suggested, self_confidence=self_conf,
                       confidence=conf, dataset_indices=index, class_names=NAMES, total=4, thresholds=np.full(10, 0.9))
    with pytest.raises(ValueError):
        ds.suspects_pb("confusion/test", None, given=given, suggested=suggested, self_confidence=self_conf,
                       confidence=conf, dataset_indices=index, class_names=NAMES, total=3, thresholds=np.full(10, 0.9))
    with pytest.raises(ValueError):
        dm.decode_suspects_index(json.dumps({"given": [1]}).encode(), 10)


def test_newer_versions_and_unknown_kinds_are_skipped():
    meta = dm.create_diagnostic_metadata(metadata.KIND_SUSPECTS, NAMES, "confusion/test")
    parsed = metadata.parse_plugin_content(meta.plugin_data.content)
    assert parsed["kind"] == "suspects" and parsed["version"] == metadata.FORMAT_VERSION
    newer = json.loads(meta.plugin_data.content)
    newer["version"] = metadata.FORMAT_VERSION + 1
    assert metadata.parse_plugin_content(json.dumps(newer).encode()) is None
    missing = json.loads(meta.plugin_data.content)
    del missing["matrix_tag"]
    assert metadata.parse_plugin_content(json.dumps(missing).encode()) is None
