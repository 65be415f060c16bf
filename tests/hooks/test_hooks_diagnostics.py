"""attach_hooks' calibration and label-issue logging: what end_eval writes,
its options, rows left out, and two gloo processes equal to one."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from tensorboard.util import tensor_util
from torch.nn import functional
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.hooks import attach_hooks
from tb_fmnist_plugin.hooks.evaluation import classify
from tests.support.events import free_port, read_matrix
from tests.support.hooks_helpers import load, scalars

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def _data(batches=5, batch=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for i in range(batches):
        labels = torch.randint(0, 10, (batch,), generator=g)
        logits = torch.randn(batch, 10, generator=g)
        logits[torch.arange(batch), labels] += 3 * torch.rand(batch, generator=g)
        flip = torch.rand(batch, generator=g) < 0.15
        labels = torch.where(flip, torch.randint(0, 10, (batch,), generator=g), labels)
        images = torch.rand(batch, 1, 28, 28, generator=g) * 2 - 1
        out.append((logits, labels, images, torch.arange(i * batch, (i + 1) * batch)))
    return out


def _value(acc, tag):
    return tensor_util.make_ndarray(acc.Tensors(tag)[-1].tensor_proto)


def _log(tmp_path, data, name="run", step=3, **options):
    """One evaluation of ``data`` (record() arguments per batch) into ``tmp_path/name``."""
    writer = SummaryWriter(str(tmp_path / name))
    monitor = attach_hooks(FashionMNISTCNN(), writer, class_names=NAMES, log_graph=False, **options)
    for batch in data:
        monitor.record(*batch)
    monitor.end_eval(step=step)
    monitor.remove()
    writer.close()
    return load(tmp_path / name)


def test_end_eval_writes_calibration_and_label_issues(tmp_path):
    data = _data()
    acc = _log(tmp_path, data)
    logits = torch.cat([d[0] for d in data])
    labels = torch.cat([d[1] for d in data])
    predicted, confidence, _ = classify(logits)
    conf, true, pred = confidence.numpy().astype(np.float64), labels.numpy(), predicted.numpy()

    content = metadata.parse_plugin_content(acc.SummaryMetadata("confusion/test/reliability").plugin_data.content)
    assert content["bins"] == 15 and content["matrix_tag"] == "confusion/test" and content["class_names"] == NAMES
    bins = dm.decode_reliability(_value(acc, "confusion/test/reliability"), 10, 15)
    bin_of = np.minimum(np.floor(confidence.numpy() * np.float32(15)), 14).astype(int)
    for c in (0, 6):
        for b in range(15):
            rows = (true == c) & (bin_of == b)
            np.testing.assert_allclose(bins[c, b], [rows.sum(), conf[rows].sum(), (pred[rows] == c).sum()], atol=1e-9)
    ece = sum(abs((pred[bin_of == b] == true[bin_of == b]).sum() - conf[bin_of == b].sum()) for b in range(15)) / len(true)
    assert scalars(acc, "calibration/test/ece")[3] == pytest.approx(ece, rel=1e-5)

    loss = dm.decode_class_loss(_value(acc, "confusion/test/class_loss"), 10)
    for c in range(10):
        expected = functional.cross_entropy(logits[labels == c], labels[labels == c]).item()
        assert loss[c] == pytest.approx(expected, rel=1e-5)
    cells = dm.decode_cell_values(_value(acc, "confusion/test/cell_confidence"), 10)
    assert cells[true[0], pred[0]] == pytest.approx(conf[(true == true[0]) & (pred == pred[0])].mean(), rel=1e-6)
    np.testing.assert_array_equal(cells > 0, read_matrix(acc, "confusion/test", 10) > 0)

    joint = metadata.decode_matrix(_value(acc, "confusion/test/confident_joint"), 10)
    counts = metadata.decode_matrix(_value(acc, "confusion/test/label_issues"), 10)
    assert joint.sum() <= len(true) and counts.sum() > 0
    assert (np.diagonal(counts) == 0).all() and (counts <= joint).all()
    suspects = dm.decode_suspects_index(_value(acc, "confusion/test/suspects")[0], 10)
    assert suspects["total"] == counts.sum() == scalars(acc, "label_issues/test/count")[3]
    assert len(suspects["index"]) == suspects["total"]  # under max_suspects: all listed, with tiles
    assert suspects["self_confidence"] == sorted(suspects["self_confidence"])
    assert all(true[i] == g for i, g in zip(suspects["index"], suspects["given"]))
    assert suspects["tile_width"] == 28 and suspects["channels"] == 1


def test_options_size_and_switch_off_the_diagnostics(tmp_path):
    data = _data(batches=2)
    acc = _log(tmp_path, data, "sized", calibration_bins=10, max_suspects=3, label_issue_topk=2)
    assert dm.decode_reliability(_value(acc, "confusion/test/reliability"), 10, 10).shape == (10, 10, 3)
    suspects = dm.decode_suspects_index(_value(acc, "confusion/test/suspects")[0], 10)
    assert len(suspects["index"]) == 3 < suspects["total"]
    off = _log(tmp_path, data, "off", log_calibration=False, log_label_issues=False)
    tags = off.Tags()
    assert "confusion/test" in tags["tensors"]
    assert not any(t.startswith(("calibration/", "label_issues/")) for t in tags["scalars"])
    assert not any(t.endswith(tuple(dm.SUFFIXES.values())) for t in tags["tensors"])
    with pytest.raises(ValueError):
        attach_hooks(FashionMNISTCNN(), SummaryWriter(str(tmp_path / "bad")), calibration_bins=-1)


def test_nan_rows_are_left_out_of_the_diagnostics(tmp_path):
    data = _data(batches=2)
    clean = _log(tmp_path, data, "clean")
    logits, labels, images, index = data[0]
    dirty_logits = torch.cat([torch.full((3, 10), float("nan")), logits])
    dirty = [(dirty_logits, torch.cat([labels[:3], labels]), torch.cat([images[:3], images]),
              torch.cat([torch.tensor([900, 901, 902]), index])), data[1]]
    with pytest.warns(RuntimeWarning, match="NaN"):
        acc = _log(tmp_path, dirty, "dirty")
    for suffix in ("/reliability", "/reliability_by_predicted", "/classwise_reliability", "/class_loss", "/confident_joint",
                   "/label_issues"):
        np.testing.assert_allclose(_value(acc, "confusion/test" + suffix), _value(clean, "confusion/test" + suffix), rtol=1e-12)
    assert dm.decode_suspects_index(_value(acc, "confusion/test/suspects")[0], 10)["index"] == \
        dm.decode_suspects_index(_value(clean, "confusion/test/suspects")[0], 10)["index"]


@pytest.mark.subprocess
def test_two_process_gloo_diagnostics_equal_single_process(tmp_path):
    import torch.multiprocessing as mp

    from tests.hooks.hooks_dist_worker import NAMES as WORKER_NAMES
    from tests.hooks.hooks_dist_worker import eval_batches, worker

    assert WORKER_NAMES == NAMES
    state_file = str(tmp_path / "model.pt")
    mp.spawn(worker, args=(2, free_port(), str(tmp_path / "dist"), state_file), nprocs=2, join=True)
    model = FashionMNISTCNN().eval()
    model.load_state_dict(torch.load(state_file))
    with torch.no_grad():  # the same batches in one process, through the same weights
        single_acc = _log(tmp_path, [(model(x), y, x, i) for x, y, i in eval_batches()], "single", step=1)
    dist_acc = load(tmp_path / "dist")
    for suffix in ("/confident_joint", "/label_issues"):
        np.testing.assert_array_equal(_value(dist_acc, "confusion/test" + suffix), _value(single_acc, "confusion/test" + suffix))
    for suffix in ("/reliability", "/reliability_by_predicted", "/classwise_reliability", "/class_loss", "/cell_confidence"):
        np.testing.assert_allclose(_value(dist_acc, "confusion/test" + suffix), _value(single_acc, "confusion/test" + suffix), rtol=1e-6)
    a = dm.decode_suspects_index(_value(dist_acc, "confusion/test/suspects")[0], 10)
    b = dm.decode_suspects_index(_value(single_acc, "confusion/test/suspects")[0], 10)
    assert (a["index"], a["given"], a["suggested"], a["total"]) == (b["index"], b["given"], b["suggested"], b["total"])
    np.testing.assert_allclose(a["thresholds"], b["thresholds"], rtol=1e-6)
    assert scalars(dist_acc, "calibration/test/ece") == pytest.approx(scalars(single_acc, "calibration/test/ece"))
