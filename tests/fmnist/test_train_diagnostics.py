"""The training job's diagnostics end to end: the training subset evaluated
next to the test set, label noise with its ground truth, calibration and
suspected label errors in the event files, torchrun equal to one process,
and the suspects finding the flipped labels after the quick start."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from tb_fmnist_plugin.fmnist import cli, synthetic
from tb_fmnist_plugin.fmnist import data as fmnist_data
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.events import last_value, read_matrices
from tests.support.hooks_helpers import load

GROUP_OF = {label: g for g, members in enumerate(synthetic.CONFUSION_GROUPS) for label in members}


def _run(tmp_path, *extra, name="run"):
    args = cli.build_parser().parse_args([
        "--epochs", "1", "--train-size", "640", "--test-size", "200", "--limit-train-batches", "4",
        "--logdir", str(tmp_path / name), "--data-dir", str(tmp_path / "data"), "--no-progress", *extra,
    ])
    return cli.run(args, out=io.StringIO())


def _suspects(acc, tag):
    return dm.decode_suspects_index(last_value(acc, tag)[dm.SUSPECTS_INDEX_BLOB], 10)


def test_flip_labels_stays_in_the_confusion_groups_and_is_seeded():
    _, labels = synthetic.generate_synthetic(1000, seed=3, train=False)
    noisy, flipped = synthetic.flip_labels(labels, 0.1, seed=5)
    assert flipped.size == 100 and (np.diff(flipped) > 0).all()
    changed = np.flatnonzero(noisy != labels)
    np.testing.assert_array_equal(changed, flipped)
    assert all(GROUP_OF[int(a)] == GROUP_OF[int(b)] for a, b in zip(labels[flipped], noisy[flipped]))
    again, same = synthetic.flip_labels(labels, 0.1, seed=5)
    np.testing.assert_array_equal(again, noisy)
    assert not np.array_equal(synthetic.flip_labels(labels, 0.1, seed=6)[1], flipped)
    assert synthetic.flip_labels(labels, 0.0)[1].size == 0
    with pytest.raises(ValueError, match="confusion group"):
        synthetic.flip_labels(labels, 0.8)  # only the 7 grouped classes (70%) can flip


def test_train_subset_and_label_noise_are_logged(tmp_path):
    result = _run(tmp_path, "--label-noise", "0.05")
    record = json.loads((tmp_path / "run" / "label_noise.json").read_text())
    assert record["count"] == 10 and record["split"] == "test" and record["fraction"] == 0.05
    assert tuple(record["indices"]) == result.flipped_test_indices
    clean = synthetic.SyntheticFashionMNIST(train=False, size=200, seed=0).targets.numpy()
    assert clean[record["indices"]].tolist() == record["original"] != record["noisy"]

    acc = load(result.logdir)
    test_matrix = read_matrices(acc)[1]  # the evaluation after epoch 1, at step 1
    noisy = clean.copy()
    noisy[record["indices"]] = record["noisy"]
    np.testing.assert_array_equal(test_matrix.sum(axis=1), np.bincount(noisy, minlength=10))  # rows: given labels
    train_matrix = read_matrices(acc, "confusion/train")[1]
    assert train_matrix.sum() == 200  # default: as many training images as test images
    np.testing.assert_array_equal(train_matrix, result.train_eval_confusion)
    scalars = acc.Tags()["scalars"]
    for name in ("test", "train"):
        assert f"calibration/{name}/ece" in scalars and f"accuracy/{name}" in scalars
        for kind in metadata.DIAGNOSTIC_KINDS:
            assert dm.diagnostic_tag(f"confusion/{name}", kind) in acc.Tags()["tensors"], (name, kind)
    bins = dm.decode_reliability(last_value(acc, "confusion/test/reliability"), 10, 15)
    assert bins[..., 0].sum() == 200
    np.testing.assert_array_equal(bins[..., 0].sum(axis=1), test_matrix.sum(axis=1))
    np.testing.assert_array_equal(bins[..., 2].sum(axis=1), np.diagonal(test_matrix))


def test_train_eval_size_picks_a_fixed_subset_and_zero_turns_it_off(tmp_path):
    result = _run(tmp_path, "--train-eval-size", "96", "--epochs", "2", name="some")
    matrices = read_matrices(load(result.logdir), "confusion/train")
    assert sorted(matrices) == [1, 2] and all(m.sum() == 96 for m in matrices.values())
    np.testing.assert_array_equal(fmnist_data.subset_indices(640, 96, 0), fmnist_data.subset_indices(640, 96, 0))
    assert len(set(fmnist_data.subset_indices(640, 96, 0).tolist())) == 96
    off = _run(tmp_path, "--train-eval-size", "0", name="off")
    tags = load(off.logdir).Tags()["tensors"]
    assert "confusion/test" in tags and not any(t.startswith("confusion/train") for t in tags)
    assert np.isnan(off.train_eval_accuracy)


def test_impossible_label_noise_is_a_usage_error(tmp_path, capsys):
    code = cli.main(["--label-noise", "0.9", "--train-size", "64", "--test-size", "100", "--logdir",
                       str(tmp_path / "run"), "--data-dir", str(tmp_path / "data"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--label-noise" in err and "confusion group" in err
    with pytest.raises(SystemExit):
        cli.main(["--label-noise", "1.5"])
    assert "fraction in [0, 1)" in capsys.readouterr().err


@pytest.mark.slow
def test_suspects_find_the_flipped_labels_after_the_quick_start(quick_start):
    """The quick start with 5% label noise (the run ``test_train.py`` reads
    too), on one thread: measured 74% of the flipped labels among the
    suspects and 73% of the first 100 suspects flipped (seeds 1-4: 74-78%
    and 74-78%; on two threads, without per-step logging: 82% and 77%).
    Smaller runs (4,000 images, 1-3 epochs) gave 48-72% precision: not
    reliable enough."""
    result = quick_start.result
    flipped = set(result.flipped_test_indices)
    suspects = _suspects(load(result.logdir), "confusion/test/suspects")
    listed = suspects["index"]
    assert len(listed) >= len(flipped) == 100 and suspects["total"] >= len(listed)
    recall = len(flipped & set(listed)) / len(flipped)  # among the listed: a lower bound
    precision = len(flipped & set(listed[: len(flipped)])) / len(flipped)
    assert recall >= 0.7 and precision >= 0.7, (recall, precision)


# --- torchrun --------------------------------------------------------------------------------


def _single_process_logs(tmp_path, state_file: str, test_size: int, train_size: int, label_noise: float) -> str:
    """Evaluate saved weights in one process, as the job does, into a log directory."""
    train_set, test_set = fmnist_data.load_datasets("synthetic", str(tmp_path / "data"), train_size=train_size,
                                                    test_size=test_size)
    fmnist_data.add_label_noise(test_set, label_noise, seed=0)
    model = FashionMNISTCNN()
    model.load_state_dict(torch.load(state_file, weights_only=True))
    model.eval()
    from torch.utils.tensorboard import SummaryWriter

    logdir = str(tmp_path / "single")
    writer = SummaryWriter(logdir)
    monitor = attach_hooks(model, writer, class_names=synthetic.CLASSES, log_graph=False,
                           image_mean=fmnist_data.MEAN, image_std=fmnist_data.STD)
    subsets = (("test", test_set, range(test_size)),
               ("train", train_set, fmnist_data.subset_indices(train_size, test_size, 0).tolist()))
    with torch.no_grad():
        for name, dataset, indices in subsets:
            for images, labels, index in fmnist_data.make_eval_loader(dataset, indices, batch_size=64):
                monitor.record(model(images), labels, images, index)
            monitor.end_eval(step=1, name=name)  # the job logs its one epoch at step 1
    monitor.remove()
    writer.close()
    return logdir


@pytest.mark.subprocess
def test_torchrun_two_processes_match_a_single_process_evaluation(tmp_path, torchrun_run) -> None:
    proc, root = torchrun_run.proc, torchrun_run.root
    test_size, train_size = torchrun_run.test_size, torchrun_run.train_size
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = json.loads((root / "run" / "label_noise.json").read_text())
    assert record["count"] == 25
    dist_acc = load(str(root / "run"))
    single_acc = load(_single_process_logs(tmp_path, str(root / "model.pt"), test_size, train_size,
                                            torchrun_run.label_noise))
    for name in ("test", "train"):
        tag = f"confusion/{name}"
        np.testing.assert_array_equal(read_matrices(dist_acc, tag)[1], read_matrices(single_acc, tag)[1])
        for suffix in ("/confident_joint", "/label_issues"):
            np.testing.assert_array_equal(metadata.decode_matrix(last_value(dist_acc, tag + suffix), 10),
                                          metadata.decode_matrix(last_value(single_acc, tag + suffix), 10))
        for suffix in ("/reliability", "/class_loss"):
            np.testing.assert_allclose(last_value(dist_acc, tag + suffix), last_value(single_acc, tag + suffix), rtol=1e-6)
        np.testing.assert_allclose(dm.decode_cell_values(last_value(dist_acc, tag + "/cell_confidence"), 10),
                                   dm.decode_cell_values(last_value(single_acc, tag + "/cell_confidence"), 10), rtol=1e-6)
        a, b = _suspects(dist_acc, tag + "/suspects"), _suspects(single_acc, tag + "/suspects")
        for key in ("given", "suggested", "index", "total", "inexact_rows"):
            assert a[key] == b[key], (name, key)
        assert a["total"] > 0
        np.testing.assert_allclose(a["self_confidence"], b["self_confidence"], rtol=1e-4)
        np.testing.assert_allclose(a["thresholds"], b["thresholds"], rtol=1e-4)
        ece = [acc.Scalars(f"calibration/{name}/ece")[0].value for acc in (dist_acc, single_acc)]
        assert ece[0] == pytest.approx(ece[1], rel=1e-5)
