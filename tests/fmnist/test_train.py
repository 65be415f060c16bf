"""The training command end to end: real training on synthetic data, the
event files it writes, torchrun with two processes, and the fault cases."""
from __future__ import annotations

import glob
import io
import runpy
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from tb_fmnist_plugin.fmnist import cli, synthetic
from tb_fmnist_plugin.fmnist.data import add_label_noise
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tests.support.events import read_matrices
from tests.support.hooks_helpers import load

GROUP_OF = {label: g for g, members in enumerate(synthetic.CONFUSION_GROUPS) for label in members}


def _in_group_fraction(matrix: np.ndarray) -> float:
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    inside = sum(
        int(off[t, p]) for t in range(10) for p in range(10)
        if t in GROUP_OF and p in GROUP_OF and GROUP_OF[t] == GROUP_OF[p]
    )
    return inside / max(1, int(off.sum()))


@pytest.mark.slow
def test_reference_cnn_learns_and_errors_stay_in_the_designed_groups(quick_start) -> None:
    result, out = quick_start.result, quick_start.out
    assert result.epochs_completed == 2 and not result.interrupted
    assert result.test_accuracy >= 80.0, out  # against the given labels, 5% of them flipped
    assert result.confusion.sum() == quick_start.test_size
    assert _in_group_fraction(result.confusion) >= 0.75, result.confusion


@pytest.mark.slow
def test_console_output(quick_start) -> None:
    result, out = quick_start.result, quick_start.out
    lines = [line for line in out.splitlines() if line.startswith("Epoch [")]
    assert len(lines) == 2
    assert "Test Loss:" in lines[-1] and "Test Accuracy:" in lines[-1]
    assert lines[-1].count(" -> ") == 3, lines[-1]  # the three most confused pairs
    assert f"tensorboard --logdir {result.logdir}" in out


@pytest.mark.slow
def test_event_files_hold_every_dashboard(quick_start) -> None:
    result = quick_start.result
    acc = load(result.logdir)
    tags = acc.Tags()
    for tag in ("Training Loss", "Test Loss", "Test Accuracy"):
        assert tag in tags["scalars"], tag
    # Reference step for the training loss: epoch * len(loader) + batch_idx.
    per_epoch = (quick_start.train_size + 63) // 64
    steps = [e.step for e in acc.Scalars("Training Loss")]
    assert steps[:2] == [0, 50] and per_epoch in steps
    # evaluations at the epoch just completed (1-based), as the job prints "Epoch [k/2]"
    assert [e.step for e in acc.Scalars("Test Accuracy")] == [1, 2]
    assert acc.Scalars("Test Accuracy")[-1].value == pytest.approx(result.test_accuracy, rel=1e-6)
    assert tags["histograms"] and tags["graph"] and tags["images"]
    assert set(acc.PluginTagToContent("hparams")) >= {
        "_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"
    }
    matrices = read_matrices(acc)
    assert sorted(matrices) == [1, 2]
    assert matrices[2].sum() == quick_start.test_size
    assert np.array_equal(matrices[2], result.confusion)


@pytest.mark.slow
def test_saved_weights_reproduce_the_logged_matrix(quick_start) -> None:
    matrix = _evaluate_weights(str(quick_start.root / "model.pt"), test_size=quick_start.test_size,
                               label_noise=quick_start.label_noise)
    assert np.array_equal(matrix, read_matrices(load(quick_start.result.logdir))[2])  # after epoch 2 of 2


def _evaluate_weights(path: str, test_size: int, data_seed: int = 0, label_noise: float = 0.0) -> np.ndarray:
    """Single-process evaluation of saved weights on the synthetic test set
    (``label_noise`` of its labels flipped as ``--label-noise`` does)."""
    model = FashionMNISTCNN()
    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    test = synthetic.SyntheticFashionMNIST(train=False, size=test_size, seed=data_seed)
    if label_noise:
        add_label_noise(test, label_noise, seed=data_seed)
    images = test.data.unsqueeze(1).float().div(255).sub(0.5).div(0.5)
    with torch.no_grad():
        predicted = torch.cat([model(images[i:i + 64]).argmax(1) for i in range(0, test_size, 64)])
    return torch.bincount(test.targets * 10 + predicted, minlength=100).reshape(10, 10).numpy()


@pytest.mark.subprocess
def test_module_runs_as_a_subprocess(tmp_path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "tb_fmnist_plugin.train", "--epochs", "1", "--train-size", "640",
         "--test-size", "200", "--limit-train-batches", "5", "--logdir", str(tmp_path / "run"),
         "--data-dir", str(tmp_path / "data")],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Epoch [1/1]" in proc.stdout and "most confused" in proc.stdout
    assert f"tensorboard --logdir {tmp_path / 'run'}" in proc.stdout
    # "Epoch [1/1]" is the evaluation logged at step 1
    matrices = read_matrices(load(str(tmp_path / "run")))
    assert sorted(matrices) == [1] and matrices[1].sum() == 200


@pytest.mark.parametrize("module", ["tb_fmnist_plugin.train", "tb_fmnist_plugin.fmnist"])
def test_python_m_entry_points_run_the_command(module, monkeypatch, capsys) -> None:
    """``python -m tb_fmnist_plugin.train`` (kept) and ``python -m
    tb_fmnist_plugin.fmnist`` run the command, in process."""
    monkeypatch.setattr(sys, "argv", [module, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_module(module, run_name="__main__")
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {cli.PROG} ") and "--label-noise" in out


@pytest.mark.subprocess
def test_console_script_help() -> None:
    proc = subprocess.run(["tb-fmnist-train", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for option in ("--epochs", "--batch-size", "--lr", "--logdir", "--dataset", "--data-dir", "--download",
                   "--device", "--log-every", "--seed", "--num-workers", "--limit-train-batches",
                   "--limit-test-batches", "--no-hooks"):
        assert option in proc.stdout, option


@pytest.mark.subprocess
def test_torchrun_two_processes_match_a_single_process_evaluation(torchrun_run) -> None:
    proc, root, test_size = torchrun_run.proc, torchrun_run.root, torchrun_run.test_size
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 process(es)" in proc.stdout
    assert proc.stdout.count("Epoch [1/1]") == 1, "only rank 0 prints"
    assert len(glob.glob(str(root / "run" / "events.out.tfevents.*"))) == 1, "only rank 0 writes"
    logged = read_matrices(load(str(root / "run")))[1]  # the evaluation after epoch 1
    assert logged.sum() == test_size
    assert np.array_equal(logged, _evaluate_weights(str(root / "model.pt"), test_size,
                                                    label_noise=torchrun_run.label_noise))


# --- Faults ------------------------------------------------------------------------------


def test_epochs_zero_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--epochs", "0"])
    assert exit_info.value.code == 2
    assert "--epochs: must be >= 1, got 0" in capsys.readouterr().err


def test_invalid_option_values_are_argparse_errors(capsys) -> None:
    for argv in (["--dataset", "imagenet"], ["--lr", "-1"], ["--device", "tpu"], ["--batch-size", "x"]):
        with pytest.raises(SystemExit) as exit_info:
            cli.main(argv)
        assert exit_info.value.code == 2
        assert "error: argument" in capsys.readouterr().err


def test_unwritable_logdir_is_one_clear_message(tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    code = cli.main(["--logdir", str(blocker / "run"), "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot write to the log directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_remote_logdir_is_refused_with_the_way_to_get_there(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = cli.main(["--logdir", "s3://bucket/runs", "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2 and "--logdir takes a local folder" in err and "sync" in err
    assert not (tmp_path / "s3:").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_one_clear_message(tmp_path, capsys) -> None:
    code = cli.main(["--device", "cuda", "--logdir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no CUDA GPU is available" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_a_failing_writer_does_not_stop_training(tmp_path, monkeypatch) -> None:
    """Fault injection: the writer's histogram and scalar calls raise."""
    from torch.utils.tensorboard import SummaryWriter

    def broken(*args, **kwargs):
        raise OSError("disk on fire")

    monkeypatch.setattr(SummaryWriter, "add_histogram_raw", broken)
    monkeypatch.setattr(SummaryWriter, "add_scalar", broken)
    args = cli.build_parser().parse_args([
        "--epochs", "2", "--train-size", "640", "--test-size", "128", "--log-every", "2",
        "--logdir", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data"), "--no-progress",
    ])
    with pytest.warns(RuntimeWarning):
        result = cli.run(args, out=io.StringIO())
    assert result.epochs_completed == 2 and result.confusion.sum() == 128


@pytest.mark.subprocess
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_flushes_readable_logs(tmp_path, signum) -> None:
    logdir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-u", "-m", "tb_fmnist_plugin.train", "--epochs", "50", "--train-size", "1280",
         "--test-size", "200", "--log-every", "2", "--logdir", str(logdir), "--data-dir", str(tmp_path / "data"),
         "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        # Wait until training has produced at least one finished epoch line.
        deadline = time.monotonic() + 240
        seen = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if line.startswith("Epoch [1/50]"):
                break
        assert any(line.startswith("Epoch [1/50]") for line in seen), "".join(seen) + proc.stderr.read()
        time.sleep(2.0)  # into epoch 2
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = "".join(seen) + out
    assert proc.returncode == 130, err
    assert "Interrupted" in out and str(logdir) in out and "tensorboard --logdir" in out
    assert "Traceback" not in err
    acc = load(str(logdir))
    assert len(acc.Scalars("Training Loss")) >= 20 // 2  # at least the whole first epoch (20 batches)
    assert read_matrices(acc)[1].sum() == 200  # the evaluation after epoch 1
    assert "_hparams_/session_end_info" in acc.PluginTagToContent("hparams")
