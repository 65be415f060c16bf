"""The per-example record's three value kinds: encode/decode round trips,
every untrusted-data check, and a real SummaryWriter read back through
TensorBoard's own data provider."""
from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from PIL import Image
from tensorboard import context as tb_context
from tensorboard.backend.event_processing import data_provider as tb_data_provider
from tensorboard.backend.event_processing import plugin_event_multiplexer
from tensorboard.data import provider as tb_provider
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import example_record as er
from tb_fmnist_plugin.format import metadata

PLUGIN = metadata.PLUGIN_NAME
CTX = tb_context.RequestContext()
NAMES = [f"class {i}" for i in range(10)]


def _predictions(n=200, seed=0, classes=10):
    rng = np.random.default_rng(seed)
    label = rng.integers(0, classes, n)
    probs = rng.dirichlet(np.ones(classes), n).astype(np.float32)
    predicted = probs.argmax(1)
    predicted[:3] = -1  # left out of the matrix
    return label, predicted, probs[np.arange(n), label], probs.max(1)


def test_ids_round_trip_and_checks():
    index = np.array([3, 7, 8, 100], dtype=np.int64)
    label = np.array([0, 9, 2, 2])
    blob = er.encode_example_ids(index, label, 10, er.IDENTITY_INDEX)
    decoded = er.decode_example_ids(blob, 10, er.IDENTITY_INDEX)
    np.testing.assert_array_equal(decoded["index"], index)
    np.testing.assert_array_equal(decoded["label"], label)
    assert er.decode_example_ids(er.encode_example_ids(np.arange(4), label, 10, "position"), 10, "position")["index"].tolist() == [0, 1, 2, 3]
    for bad_index, bad_label, identity, message in [
        ([3, 3, 8, 9], label, "index", "strictly increasing"),
        ([8, 3, 9, 10], label, "index", "strictly increasing"),
        ([-1, 3, 8, 9], label, "index", "negative"),
        ([0, 1, 2, 4], label, "position", "positions"),
        (index, [0, 10, 1, 1], "index", "outside"),
        (index, [0, -1, 1, 1], "index", "outside"),
    ]:
        with pytest.raises(ValueError, match=message):
            er.encode_example_ids(bad_index, bad_label, 10, identity)
        raw = er.encode_npz(index=np.asarray(bad_index, np.int64), label=np.asarray(bad_label, np.int16))
        with pytest.raises(ValueError, match=message):
            er.decode_example_ids(raw, 10, identity)
    for raw, message in [
        (er.encode_npz(index=index.astype(np.int32), label=label.astype(np.int16)), "int32"),
        (er.encode_npz(index=index, label=label.astype(np.int64)), "label is int64"),
        (er.encode_npz(index=index, label=label[:3].astype(np.int16)), "shape"),
        (er.encode_npz(index=index), "expected"),
        (er.encode_npz(index=index, label=label.astype(np.int16), extra=index), "expected"),
        (b"not a zip", "NPZ"),
        (er.encode_npz(index=index.reshape(2, 2), label=label.astype(np.int16)), "one row per example"),
    ]:
        with pytest.raises(ValueError, match=message):
            er.decode_example_ids(raw, 10, "index")
    pickled = io.BytesIO()
    np.savez(pickled, index=np.array([object()], dtype=object), label=label.astype(np.int16))
    with pytest.raises(ValueError):
        er.decode_example_ids(pickled.getvalue(), 10, "index")


def test_predictions_round_trip_and_checks():
    label, predicted, p_given, top1 = _predictions()
    blob = er.encode_example_predictions(predicted, p_given, top1, label, 10, 5)
    decoded = er.decode_example_predictions(blob, 10, label)
    code = er.left_out_code(10)
    assert code == 255 and decoded["predicted"].dtype == np.uint8 and decoded["ids_step"] == 5
    np.testing.assert_array_equal(decoded["predicted"], np.where(predicted < 0, code, predicted))
    assert np.isnan(decoded["p_given"][:3]).all()
    np.testing.assert_allclose(decoded["p_given"][3:], p_given[3:], atol=1e-3)
    wrong = (predicted >= 0) & (predicted != label)
    assert decoded["confidence"].shape == (int(wrong.sum()),)
    full = er.top1_confidence(decoded, label, 10)
    np.testing.assert_allclose(full[3:], top1[3:], atol=1e-3)
    assert np.isnan(full[:3]).all()
    assert er.predicted_dtype(300) == np.uint16 and er.left_out_code(300) == 65535
    assert er.label_dtype(40000) == np.int32

    good = {k: v for k, v in np.load(io.BytesIO(blob)).items()}
    cases = [
        (dict(predicted=good["predicted"].astype(np.uint16)), "uint16"),
        (dict(predicted=np.where(good["predicted"] == 0, 12, good["predicted"]).astype(np.uint8)), "outside"),
        (dict(p_given=np.where(np.arange(200) == 10, np.float16(1.5), good["p_given"]).astype(np.float16)), "probability"),
        (dict(p_given=np.where(np.arange(200) == 0, np.float16(0.5), good["p_given"]).astype(np.float16)), "NaN"),
        (dict(p_given=good["p_given"].astype(np.float32)), "float32"),
        (dict(confidence=good["confidence"][:-1]), "misclassified"),
        (dict(confidence=np.zeros_like(good["confidence"])), "below"),
        (dict(ids_step=np.asarray(-1, np.int64)), "negative"),
        (dict(ids_step=np.asarray([1], np.int64)), "shape"),
    ]
    for change, message in cases:
        with pytest.raises(ValueError, match=message):
            er.decode_example_predictions(er.encode_npz(**{**good, **change}), 10, label)
    with pytest.raises(ValueError, match="rows"):
        er.decode_example_predictions(blob, 10, label[:-1])
    with pytest.raises(ValueError, match="probabilities"):
        er.encode_example_predictions(predicted, p_given * 3, top1, label, 10, 0)


def _tiles(n, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, 1, 28, 28), dtype=np.uint8)


def test_thumbnails_pages_and_checks():
    images = _tiles(1500)
    rows = np.arange(1500)
    pb = summary.example_thumbnails_pb("confusion/test", images, rows=rows, class_names=NAMES, max_bytes=50_000_000)
    value = pb.value[0]
    content = metadata.parse_plugin_content(value.metadata.plugin_data.content)
    assert content["kind"] == metadata.KIND_EXAMPLE_THUMBNAILS and content["complete"] is True
    assert content["columns"] == 32 and content["tiles_per_page"] == 1024
    blobs = list(value.tensor.string_val)
    decoded = er.decode_example_thumbnails(blobs, content, 1500)
    assert decoded["pages"] == 2 and len(blobs) == 3
    for tile in (0, 77, 1023, 1024, 1499):
        page, r, c = er.tile_cell(tile, content["columns"], content["tiles_per_page"])
        sheet = np.asarray(Image.open(io.BytesIO(blobs[page])))
        np.testing.assert_array_equal(sheet[r * 28:(r + 1) * 28, c * 28:(c + 1) * 28], images[decoded["row"][tile], 0])
    with pytest.raises(ValueError, match="pages"):
        er.decode_example_thumbnails(blobs[:2], content, 1500)
    with pytest.raises(ValueError, match="outside"):
        er.decode_example_thumbnails(blobs, content, 1000)
    with pytest.raises(ValueError, match="PNG"):
        er.decode_example_thumbnails(blobs[:2] + [b"GIF89a"], content, 1500)
    with pytest.raises(ValueError, match="two thumbnails"):
        er.decode_example_thumbnails([er.encode_npz(row=np.zeros(2, np.int32))] + blobs[1:2], content, 1500)
    with pytest.raises(ValueError, match="columns"):
        er.decode_example_thumbnails(blobs, {**content, "columns": 0}, 1500)
    with pytest.raises(ValueError, match="complete"):
        er.decode_example_thumbnails(blobs, {**content, "complete": 1}, 1500)
    with pytest.raises(ValueError, match="distinct"):
        summary.example_thumbnails_pb("confusion/test", images[:2], rows=[1, 1], class_names=NAMES)


def test_thumbnails_budget_keeps_misclassified_first():
    images = _tiles(600, seed=1)
    rows = np.arange(600)
    wrong = np.zeros(600, bool)
    wrong[[5, 300, 599]] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pb = summary.example_thumbnails_pb("confusion/budget", images, rows=rows, class_names=NAMES,
                                           max_bytes=100_000, priority=wrong, num_rows=600)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "example_thumbnails_max_bytes" in messages[0]
    assert pb.ByteSize() <= 100_000
    content = metadata.parse_plugin_content(pb.value[0].metadata.plugin_data.content)
    kept = er.decode_example_thumbnails(list(pb.value[0].tensor.string_val), content, 600)["row"]
    assert content["complete"] is False and content["budget_bytes"] == 100_000
    assert 3 < kept.size < 600
    assert kept[:3].tolist() == [5, 300, 599]  # misclassified first, then row order
    assert kept[3:].tolist() == [r for r in range(600) if r not in (5, 300, 599)][:kept.size - 3]


def test_ids_in_effect_and_content_rules():
    assert er.ids_in_effect([0, 10, 20], 15) == 10
    assert er.ids_in_effect([0, 10, 20], 20) == 20
    assert er.ids_in_effect([5], 4) is None
    meta = er.create_example_ids_metadata(NAMES, "confusion/test", "index")
    parsed, problem = metadata.read_plugin_content(meta.plugin_data.content)
    assert problem is None and parsed["identity"] == "index" and er.content_problem(parsed) is None
    assert "identity" in er.content_problem({**parsed, "identity": "guess"})
    no_tag = metadata.create_metadata(metadata.KIND_EXAMPLE_PREDICTIONS, {"num_classes": 1, "class_names": ["a"]}, 0)
    assert "matrix tag" in metadata.read_plugin_content(no_tag.plugin_data.content)[1]


def _provider(logdir):
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={PLUGIN: 0})
    multiplexer.AddRunsFromDirectory(str(logdir))
    multiplexer.Reload()
    return tb_data_provider.MultiplexerDataProvider(multiplexer, str(logdir))


def _read(provider, tag):
    listing = provider.list_blob_sequences(CTX, experiment_id="", plugin_name=PLUGIN)["."][tag]
    content = metadata.parse_plugin_content(listing.plugin_content)
    filt = tb_provider.RunTagFilter(runs=["."], tags=[tag])
    data = provider.read_blob_sequences(CTX, experiment_id="", plugin_name=PLUGIN, downsample=10**9, run_tag_filter=filt)
    return content, [(d.step, [provider.read_blob(CTX, blob_key=b.blob_key) for b in d.values]) for d in data["."][tag]]


def test_summary_writer_round_trip(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    index = np.arange(0, 400, 2)
    label, predicted, p_given, top1 = _predictions(n=200, seed=3)
    summary.write_example_ids(writer, "confusion/test", index, 1, labels=label, identity="index", class_names=NAMES)
    summary.write_example_thumbnails(writer, "confusion/test", _tiles(200), 1, rows=np.arange(200), class_names=NAMES)
    for step in (1, 2, 3):
        summary.write_example_predictions(writer, "confusion/test", predicted, step, p_given=p_given, confidence=top1,
                                          labels=label, ids_step=1, class_names=NAMES)
    with pytest.raises(ValueError, match="ids_step"):
        summary.write_example_predictions(writer, "confusion/test", predicted, 4, p_given=p_given, confidence=top1,
                                          labels=label, ids_step=-1, class_names=NAMES)
    writer.close()
    provider = _provider(tmp_path)
    content, values = _read(provider, "confusion/test/example_ids")
    assert content["identity"] == "index" and content["matrix_tag"] == "confusion/test" and content["class_names"] == NAMES
    assert [step for step, _ in values] == [1]
    np.testing.assert_array_equal(er.decode_example_ids(values[0][1][0], 10, "index")["index"], index)
    content, values = _read(provider, "confusion/test/example_predictions")
    assert [step for step, _ in values] == [1, 2, 3]
    decoded = er.decode_example_predictions(values[-1][1][0], 10, label)
    assert decoded["ids_step"] == 1 and len(values[-1][1][0]) <= 40_000
    content, values = _read(provider, "confusion/test/example_thumbnails")
    assert er.decode_example_thumbnails(values[0][1], content, 200)["row"].tolist() == list(range(200))
