"""The per-example record written by record()/end_eval() through a real
SummaryWriter: stored rows equal the model's own predictions, identity rules
and their warnings, thumbnails once per run within the budget, torchrun."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.format import example_record as er
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.events import free_port
from tests.support.hooks_helpers import load

NAMES = [str(i) for i in range(10)]
TAG = "confusion/test"


def _data(rows=100, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(rows, 1, 28, 28, generator=generator), torch.randint(0, 10, (rows,), generator=generator)


def _values(acc, kind):
    """[(step, [blobs])] of the record series ``kind`` of TAG."""
    tag = er.record_tag(TAG, kind)
    if tag not in acc.Tags()["tensors"]:
        return []
    return [(e.step, list(e.tensor_proto.string_val)) for e in acc.Tensors(tag)]


def _content(acc, kind):
    return metadata.parse_plugin_content(acc.SummaryMetadata(er.record_tag(TAG, kind)).plugin_data.content)


def _evaluate(monitor, model, images, labels, order, step, batch=32, indices=True):
    with torch.no_grad():
        for start in range(0, len(order), batch):
            rows = order[start:start + batch]
            monitor.record(model(images[rows]), labels[rows], images[rows], indices=rows if indices else None)
    monitor.end_eval(step)


def _expected(model, images, labels):
    with torch.no_grad():
        probs = torch.softmax(model(images), dim=1)
    return probs.argmax(1).numpy(), probs[torch.arange(len(labels)), labels].numpy(), probs.max(1).values.numpy()


def test_record_equals_the_models_predictions_in_shuffled_order(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    images, labels = _data(100)
    with SummaryWriter(str(tmp_path)) as writer:
        monitor = attach_hooks(model, writer, class_names=NAMES, log_graph=False)
        for step, seed in ((1, 1), (2, 2), (3, 3)):
            _evaluate(monitor, model, images, labels, torch.randperm(100, generator=torch.Generator().manual_seed(seed)), step)
            if step == 2:  # the model changes between evaluations
                with torch.no_grad():
                    model.classifier[-1].bias.add_(torch.arange(10.0) * 0.3)
        monitor.remove()
    acc = load(tmp_path)
    ids = _values(acc, metadata.KIND_EXAMPLE_IDS)
    assert [step for step, _ in ids] == [1] and _content(acc, metadata.KIND_EXAMPLE_IDS)["identity"] == "index"
    decoded_ids = er.decode_example_ids(ids[0][1][0], 10, "index")
    np.testing.assert_array_equal(decoded_ids["index"], np.arange(100))
    np.testing.assert_array_equal(decoded_ids["label"], labels.numpy())
    predicted, p_given, top1 = _expected(model, images, labels)  # the final weights: step 3
    values = _values(acc, metadata.KIND_EXAMPLE_PREDICTIONS)
    assert [step for step, _ in values] == [1, 2, 3]
    last = er.decode_example_predictions(values[-1][1][0], 10, decoded_ids["label"])
    assert last["ids_step"] == 1
    np.testing.assert_array_equal(last["predicted"], predicted)
    np.testing.assert_allclose(last["p_given"].astype(np.float32), p_given, atol=1e-3, rtol=1e-3)
    np.testing.assert_allclose(er.top1_confidence(last, decoded_ids["label"], 10), top1, atol=1e-3, rtol=1e-3)
    thumbs = _values(acc, metadata.KIND_EXAMPLE_THUMBNAILS)
    assert [step for step, _ in thumbs] == [1]  # once per run, not per evaluation
    content = _content(acc, metadata.KIND_EXAMPLE_THUMBNAILS)
    assert content["complete"] is True
    assert sorted(er.decode_example_thumbnails(thumbs[0][1], content, 100)["row"].tolist()) == list(range(100))


def test_positions_and_one_warning_when_the_labels_change(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    images, labels = _data(64)
    with SummaryWriter(str(tmp_path)) as writer:
        monitor = attach_hooks(model, writer, class_names=NAMES, log_graph=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _evaluate(monitor, model, images, labels, torch.arange(64), 1, indices=False)
            _evaluate(monitor, model, images, labels, torch.arange(64), 2, indices=False)
            assert not [w for w in caught if "indices=" in str(w.message)]
            _evaluate(monitor, model, images, labels, torch.arange(63, -1, -1), 3, indices=False)
            _evaluate(monitor, model, images, labels, torch.arange(64), 4, indices=False)
        monitor.remove()
    assert len([w for w in caught if "record(..., indices=...)" in str(w.message)]) == 1
    acc = load(tmp_path)
    assert _content(acc, metadata.KIND_EXAMPLE_IDS)["identity"] == "position"
    assert [step for step, _ in _values(acc, metadata.KIND_EXAMPLE_IDS)] == [1, 3, 4]
    assert [step for step, _ in _values(acc, metadata.KIND_EXAMPLE_THUMBNAILS)] == [1, 3, 4]
    third = er.decode_example_ids(_values(acc, metadata.KIND_EXAMPLE_IDS)[1][1][0], 10, "position")
    np.testing.assert_array_equal(third["label"], labels.numpy()[::-1])
    steps = [er.decode_example_predictions(blobs[0], 10)["ids_step"] for _, blobs in _values(acc, metadata.KIND_EXAMPLE_PREDICTIONS)]
    assert steps == [1, 1, 3, 4]


def test_duplicate_indices_keep_the_first_and_warn_once(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    images, labels = _data(8)
    with SummaryWriter(str(tmp_path)) as writer:
        monitor = attach_hooks(model, writer, class_names=NAMES, log_graph=False)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with torch.no_grad():
                monitor.record(model(images[:6]), labels[:6], indices=torch.tensor([5, 1, 2, 2, 0, 5]))
            monitor.end_eval(1)
        monitor.remove()
    assert len([w for w in caught if "repeat a dataset index" in str(w.message)]) == 1
    acc = load(tmp_path)
    ids = er.decode_example_ids(_values(acc, metadata.KIND_EXAMPLE_IDS)[0][1][0], 10, "index")
    assert ids["index"].tolist() == [0, 1, 2, 5]
    np.testing.assert_array_equal(ids["label"], labels[[4, 1, 2, 0]].numpy())  # the first row of each index
    assert _values(acc, metadata.KIND_EXAMPLE_THUMBNAILS) == []  # recorded without images


def test_thumbnail_budget_keeps_misclassified_first(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    images, labels = _data(300, seed=5)
    with SummaryWriter(str(tmp_path)) as writer:
        monitor = attach_hooks(model, writer, class_names=NAMES, log_graph=False, example_thumbnails_max_bytes=60_000)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _evaluate(monitor, model, images, labels, torch.arange(300), 1)
        monitor.remove()
    assert len([w for w in caught if "example_thumbnails_max_bytes=60,000" in str(w.message)]) == 1
    acc = load(tmp_path)
    content = _content(acc, metadata.KIND_EXAMPLE_THUMBNAILS)
    assert content["complete"] is False and content["budget_bytes"] == 60_000
    blobs = _values(acc, metadata.KIND_EXAMPLE_THUMBNAILS)[0][1]
    assert sum(len(b) for b in blobs) <= 60_000
    rows = er.decode_example_thumbnails(blobs, content, 300)["row"]
    predicted, _, _ = _expected(model, images, labels)
    wrong = np.flatnonzero(predicted != labels.numpy())
    assert 0 < rows.size < 300
    kept_wrong = min(rows.size, wrong.size)
    np.testing.assert_array_equal(rows[:kept_wrong], wrong[:kept_wrong])  # misclassified first, in row order


def test_option_off_writes_no_record(tmp_path):
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    images, labels = _data(40)
    with SummaryWriter(str(tmp_path)) as writer:
        monitor = attach_hooks(model, writer, class_names=NAMES, log_graph=False, example_record=False)
        _evaluate(monitor, model, images, labels, torch.arange(40), 1)
        monitor.remove()
    tags = load(tmp_path).Tags()["tensors"]
    assert TAG in tags and not [t for t in tags if "/example_" in t]


@pytest.mark.subprocess
def test_two_process_gloo_record_equals_single_process(tmp_path):
    import torch.multiprocessing as mp

    from tests.hooks.example_record_worker import ROWS, dataset, model, worker

    mp.spawn(worker, args=(2, free_port(), str(tmp_path / "dist")), nprocs=2, join=True)
    images, labels, _ = dataset().tensors
    net = model()
    with SummaryWriter(str(tmp_path / "single")) as writer:
        monitor = attach_hooks(net, writer, class_names=NAMES, log_graph=False)
        _evaluate(monitor, net, images, labels, torch.arange(ROWS), 2)
        monitor.remove()
    dist_acc, single_acc = load(tmp_path / "dist"), load(tmp_path / "single")
    for kind in (metadata.KIND_EXAMPLE_IDS, metadata.KIND_EXAMPLE_PREDICTIONS):
        (step_a, (a,)), (step_b, (b,)) = _values(dist_acc, kind)[0], _values(single_acc, kind)[0]
        assert step_a == step_b == 2
        decode = (lambda blob: er.decode_example_ids(blob, 10, "index")) if kind == metadata.KIND_EXAMPLE_IDS \
            else (lambda blob: er.decode_example_predictions(blob, 10))
        for key, value in decode(a).items():
            np.testing.assert_allclose(np.asarray(value, dtype=np.float64), np.asarray(decode(b)[key], dtype=np.float64), atol=1e-3)
    content = _content(dist_acc, metadata.KIND_EXAMPLE_THUMBNAILS)
    assert content["complete"] is True
    rows = er.decode_example_thumbnails(_values(dist_acc, metadata.KIND_EXAMPLE_THUMBNAILS)[0][1], content, ROWS)["row"]
    assert sorted(rows.tolist()) == list(range(ROWS))


def _thumbnail_values(tmp_path, plans):
    """[(step, blobs)] of each name's thumbnails after evaluating ``plans``
    [(name, images, order)] in turn (steps 1, 2, ...), and the rows whose
    tiles each evaluation made (the others reused a cache)."""
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    _, labels = _data(160)
    made = []
    with SummaryWriter(str(tmp_path)) as writer:
        monitor = attach_hooks(model, writer, class_names=NAMES, log_graph=False)
        for step, (name, images, order) in enumerate(plans, 1):
            with torch.no_grad():
                for start in range(0, len(order), 32):
                    rows = order[start:start + 32]
                    monitor.record(model(images[rows]), labels[rows], images[rows], indices=rows)
            monitor._deferred.flush()
            made.append(sum(b.count if b.made_rows is None else b.made_rows.size for b in monitor._record._tiles))
            monitor.end_eval(step, name=name)
        monitor.remove()
    acc = load(tmp_path)
    values = {}
    for name in {name for name, _, _ in plans}:
        tag = er.record_tag(f"confusion/{name}", metadata.KIND_EXAMPLE_THUMBNAILS)
        values[name] = [(e.step, list(e.tensor_proto.string_val)) for e in acc.Tensors(tag)]
    return values, made


def test_thumbnails_are_made_once_per_example_and_equal_fresh_ones(tmp_path):
    images, _ = _data(160)
    noisy = images + 0.5  # the same indices and labels, other images: its tiles must not come from "test"
    values, made = _thumbnail_values(tmp_path / "run", [("test", images, torch.arange(100)),
                                                        ("noisy", noisy, torch.arange(100)),
                                                        ("test", images, torch.randperm(160)),
                                                        ("test", images, torch.arange(160))])
    assert made == [100, 100, 60, 0]  # seen rows reuse their tile; a set with other images is checked and refused
    assert [step for step, _ in values["test"]] == [1, 3]
    fresh_test, _ = _thumbnail_values(tmp_path / "fresh_test", [("test", images, torch.arange(100)),
                                                                ("test", images, torch.arange(160))])
    fresh_noisy, _ = _thumbnail_values(tmp_path / "fresh_noisy", [("noisy", noisy, torch.arange(100))])
    assert values["test"][1][1] == fresh_test["test"][1][1]  # byte-identical to tiles all made afresh
    assert values["noisy"][0][1] == fresh_noisy["noisy"][0][1]
