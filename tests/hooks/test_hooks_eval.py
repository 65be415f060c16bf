"""Evaluation side: confusion matrix, per-class scalars, grids, examples,
bounded candidates, argument checks, and the 2-process gloo reduction."""
from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks
from tb_fmnist_plugin.hooks.evaluation import EvalAccumulator
from tb_fmnist_plugin.hooks.grid import label_tiles, to_unit_range
from tb_fmnist_plugin.hooks.topk import TopKPerGroup
from tests.support.events import free_port, read_examples_index, read_matrix
from tests.support.hooks_helpers import load, scalars

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _eval_data(batches=4, batch=32, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(batches):
        labels = torch.randint(0, classes, (batch,), generator=g)
        logits = torch.randn(batch, classes, generator=g)
        logits[torch.arange(batch), labels] += 1.5  # mostly right
        images = torch.rand(batch, 1, 28, 28, generator=g) * 2 - 1  # normalized to [-1, 1]
        out.append((logits, labels, images))
    return out


def test_end_eval_writes_matrix_metrics_grid_and_examples(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(FashionMNISTCNN(), writer, class_names=NAMES, max_misclassified=20)
    data = _eval_data()
    for logits, labels, images in data:
        monitor.record(logits, labels, images)
    monitor.end_eval(step=5)
    monitor.remove()
    writer.close()

    logits = torch.cat([d[0] for d in data])
    labels = torch.cat([d[1] for d in data])
    predicted = logits.argmax(1)
    expected = np.zeros((10, 10), dtype=np.int64)
    np.add.at(expected, (labels.numpy(), predicted.numpy()), 1)
    acc = load(tmp_path)
    assert np.array_equal(read_matrix(acc, "confusion/test", 10), expected)

    values = metrics.per_class_metrics(expected)
    for key in ("precision", "recall", "f1", "support"):
        for i, name in enumerate(NAMES):
            safe = re.sub(r"[^\w.-]+", "_", name)
            tag = f"{key}/test/{safe}"
            if not math.isnan(values[key][i]):
                assert scalars(acc, tag)[5] == pytest.approx(float(values[key][i]), rel=1e-6)
    assert "precision/test/T-shirt_top" in acc.Tags()["scalars"]
    assert scalars(acc, "accuracy/test")[5] == pytest.approx(float(values["accuracy"]), rel=1e-6)

    # Misclassified grid: 20 tiles (capped), 8 per row.
    mistakes = int((predicted != labels).sum())
    assert mistakes > 20
    image = acc.Images("misclassified/test")[0]
    assert image.width == 8 * (112 + 2) + 2
    tile_height = (image.height - 2) / 3 - 2  # 20 tiles -> 3 rows
    assert tile_height == int(tile_height) and tile_height > 112

    # Per-cell examples: at most 4 per cell, the most confident of each cell.
    index = read_examples_index(acc, "confusion/test/examples")
    true, pred, conf = (np.asarray(index[k]) for k in ("true", "predicted", "confidence"))
    probs = torch.softmax(logits, 1).max(1).values.numpy()
    for t, p in set(zip(true.tolist(), pred.tolist())):
        in_cell = (labels.numpy() == t) & (predicted.numpy() == p)
        best = np.sort(probs[in_cell])[::-1][:4]
        got = np.sort(conf[(true == t) & (pred == p)])[::-1]
        assert np.allclose(got, best, atol=1e-4)
    assert len(true) == sum(min(4, c) for c in expected.reshape(-1) if c)


def test_mistake_candidates_most_confident_first_and_memory_bounded():
    accumulator = EvalAccumulator(10, examples_per_cell=2, max_misclassified=5)
    all_conf, all_wrong = [], []
    for seen, (logits, labels, images) in enumerate(_eval_data(batches=30, batch=16, seed=3), 1):
        accumulator.add(accumulator.validate(logits, labels, images))
        probs = torch.softmax(logits, 1)
        all_conf.append(probs.max(1).values)
        all_wrong.append(probs.argmax(1) != labels)
        # Sparse store: at most 2 per cell and never more than the rows seen.
        assert accumulator.cells.payload["images"].shape[0] <= min(10 * 10 * 2, 16 * seen)
        assert accumulator.mistakes.payload["images"].shape[0] == min(5, int(torch.cat(all_wrong).sum()))
    conf = torch.cat(all_conf)[torch.cat(all_wrong)]
    got = accumulator.candidates()["mistakes"]["score"]
    assert torch.allclose(got, conf.sort(descending=True).values[:5])
    assert torch.all(got[:-1] >= got[1:])


def test_topk_per_group_matches_brute_force():
    g = torch.Generator().manual_seed(1)
    buffer = TopKPerGroup(groups=4, k=3)
    groups, scores = [], []
    for _ in range(7):
        group = torch.randint(0, 4, (9,), generator=g)
        score = torch.rand(9, generator=g)
        buffer.update(group, score, value=score * 10)
        groups.append(group)
        scores.append(score)
    group, score = torch.cat(groups), torch.cat(scores)
    kept = buffer.valid()
    for k in range(4):
        expected = score[group == k].sort(descending=True).values[:3]
        got = kept["score"][kept["group"] == k]
        assert torch.equal(got, expected)  # best first
    assert len(kept["score"]) == sum(min(3, int((group == k).sum())) for k in range(4))
    assert torch.allclose(kept["value"], kept["score"] * 10)


def test_record_rejects_bad_batches(tmp_path):
    writer = SummaryWriter(str(tmp_path))
    monitor = attach_hooks(FashionMNISTCNN(), writer)
    logits = torch.randn(4, 10)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 10\)"):
        monitor.record(logits, torch.tensor([0, 1, 2, 10]))
    with pytest.raises(ValueError, match="1-D tensor of 4"):
        monitor.record(logits, torch.tensor([0, 1, 2]))
    with pytest.raises(TypeError, match="integer"):
        monitor.record(logits, torch.tensor([0.0, 1.0, 2.0, 3.0]))
    with pytest.raises(ValueError, match="outputs must be"):
        monitor.record(torch.randn(4), torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="images must be"):
        monitor.record(logits, torch.tensor([0, 1, 2, 3]), torch.rand(3, 1, 28, 28))
    monitor.record(logits, torch.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match="12 columns"):
        monitor.record(torch.randn(2, 12), torch.tensor([0, 1]))
    monitor.end_eval(step=0)
    # After end_eval the class count may change (no class_names given).
    monitor.record(torch.randn(2, 3), torch.tensor([0, 2]))
    monitor.end_eval(step=1, name="val")
    with pytest.warns(RuntimeWarning, match="nothing was recorded"):
        monitor.end_eval(step=2)
    with pytest.raises(ValueError, match="step"):
        monitor.end_eval(step=-1)
    monitor.remove()
    writer.close()
    acc = load(tmp_path)
    assert read_matrix(acc, "confusion/test", 10).sum() == 4
    assert read_matrix(acc, "confusion/val", 3).sum() == 2
    assert "misclassified/test" not in acc.Tags()["images"]  # no images recorded


def test_grid_denormalizes_and_draws_labels():
    images = torch.full((2, 1, 28, 28), -1.0)
    unit = to_unit_range(images, 0.5, 0.5)
    assert torch.all(unit == 0)
    assert torch.allclose(to_unit_range(torch.full((1, 3, 2, 2), 0.0), [0.1, 0.2, 0.3], [1, 1, 1])[0, :, 0, 0],
                          torch.tensor([0.1, 0.2, 0.3]))
    tiles = label_tiles(unit, ["Shirt -> T-shirt/top (0.97)", "a -> b (0.50)"])
    assert tiles.shape[:2] == (2, 3) and tiles.shape[3] == 112
    text_rows = tiles.shape[2] - 112
    assert tiles[:, :, :text_rows].max() > 0.5  # white text on black
    assert tiles[:, :, text_rows:].max() == 0  # the (black) image itself


@pytest.mark.subprocess
def test_two_process_gloo_matrix_equals_single_process(tmp_path):
    import torch.multiprocessing as mp

    from tests.hooks.hooks_dist_worker import NAMES as WORKER_NAMES
    from tests.hooks.hooks_dist_worker import eval_batches, worker

    state_file = str(tmp_path / "model.pt")
    mp.spawn(worker, args=(2, free_port(), str(tmp_path / "dist"), state_file), nprocs=2, join=True)

    model = FashionMNISTCNN()
    model.load_state_dict(torch.load(state_file))
    model.eval()
    writer = SummaryWriter(str(tmp_path / "single"))
    monitor = attach_hooks(model, writer, class_names=WORKER_NAMES, log_graph=False)
    with torch.no_grad():
        for x, y, index in eval_batches():
            monitor.record(model(x), y, x, index)
    monitor.end_eval(step=1)
    monitor.remove()
    writer.close()

    dist_acc, single_acc = load(tmp_path / "dist"), load(tmp_path / "single")
    dist_matrix = read_matrix(dist_acc, "confusion/test", 10)
    assert dist_matrix.sum() == 48
    assert np.array_equal(dist_matrix, read_matrix(single_acc, "confusion/test", 10))
    assert scalars(dist_acc, "accuracy/test") == pytest.approx(scalars(single_acc, "accuracy/test"))
    a = read_examples_index(dist_acc, "confusion/test/examples")
    b = read_examples_index(single_acc, "confusion/test/examples")
    key = lambda i: sorted(zip(i["true"], i["predicted"], i["index"]))  # noqa: E731
    assert key(a) == key(b) and len(key(a)) > 0
    # Training statistics from rank 0 only, with DDP's "module." prefix removed.
    assert "gradients/classifier.4.weight/norm" in dist_acc.Tags()["scalars"]
