"""The training command end to end: real training on synthetic data, the
event files it writes, torchrun with two processes, and the fault cases."""
from __future__ import annotations

import glob
import io
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.util import tensor_util

from tb_fmnist_plugin.fmnist import cli as train
from tb_fmnist_plugin.fmnist import synthetic as datasets
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.format import metadata

GROUP_OF = {label: g for g, members in enumerate(datasets.CONFUSION_GROUPS) for label in members}


def _events(logdir: str) -> EventAccumulator:
    acc = EventAccumulator(logdir, size_guidance={"tensors": 0, "scalars": 0, "images": 0, "histograms": 0})
    acc.Reload()
    return acc


def _matrices(acc: EventAccumulator, tag: str = "confusion/test") -> dict:
    """Decoded confusion matrices by step."""
    content = metadata.parse_plugin_content(acc.PluginTagToContent(metadata.PLUGIN_NAME)[tag])
    return {
        event.step: metadata.decode_matrix(tensor_util.make_ndarray(event.tensor_proto), content["num_classes"])
        for event in acc.Tensors(tag)
    }


def _in_group_fraction(matrix: np.ndarray) -> float:
    off = matrix.copy()
    np.fill_diagonal(off, 0)
    inside = sum(
        int(off[t, p]) for t in range(10) for p in range(10)
        if t in GROUP_OF and p in GROUP_OF and GROUP_OF[t] == GROUP_OF[p]
    )
    return inside / max(1, int(off.sum()))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One honest run: 2 epochs on 8,000 synthetic images, all logging on."""
    root = tmp_path_factory.mktemp("trained")
    args = train.build_parser().parse_args([
        "--epochs", "2", "--train-size", "8000", "--test-size", "2000", "--log-every", "50",
        "--logdir", str(root / "run"), "--data-dir", str(root / "data"), "--no-progress",
        "--save-model", str(root / "model.pt"),
    ])
    out = io.StringIO()
    result = train.run(args, out=out)
    return result, out.getvalue(), root


def test_reference_cnn_learns_and_errors_stay_in_the_designed_groups(trained) -> None:
    result, out, _ = trained
    assert result.epochs_completed == 2 and not result.interrupted
    assert result.test_accuracy >= 80.0, out
    assert result.confusion.sum() == 2000
    assert _in_group_fraction(result.confusion) >= 0.75, result.confusion


def test_console_output(trained) -> None:
    result, out, _ = trained
    lines = [line for line in out.splitlines() if line.startswith("Epoch [")]
    assert len(lines) == 2
    assert "Test Loss:" in lines[-1] and "Test Accuracy:" in lines[-1]
    assert lines[-1].count(" -> ") == 3, lines[-1]  # the three most confused pairs
    assert f"tensorboard --logdir {result.logdir}" in out


def test_event_files_hold_every_dashboard(trained) -> None:
    result, _, _ = trained
    acc = _events(result.logdir)
    tags = acc.Tags()
    for tag in ("Training Loss", "Test Loss", "Test Accuracy"):
        assert tag in tags["scalars"], tag
    # Reference step for the training loss: epoch * len(loader) + batch_idx.
    per_epoch = (8000 + 63) // 64
    steps = [e.step for e in acc.Scalars("Training Loss")]
    assert steps[:2] == [0, 50] and per_epoch in steps
    assert [e.step for e in acc.Scalars("Test Accuracy")] == [0, 1]
    assert acc.Scalars("Test Accuracy")[-1].value == pytest.approx(result.test_accuracy, rel=1e-6)
    assert tags["histograms"] and tags["graph"] and tags["images"]
    assert set(acc.PluginTagToContent("hparams")) >= {
        "_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"
    }
    matrices = _matrices(acc)
    assert sorted(matrices) == [0, 1]
    assert matrices[1].sum() == 2000
    assert np.array_equal(matrices[1], result.confusion)


def test_saved_weights_reproduce_the_logged_matrix(trained) -> None:
    result, _, root = trained
    matrix = _evaluate_weights(str(root / "model.pt"), test_size=2000)
    assert np.array_equal(matrix, _matrices(_events(result.logdir))[1])


def _evaluate_weights(path: str, test_size: int, data_seed: int = 0) -> np.ndarray:
    """Single-process evaluation of saved weights on the synthetic test set."""
    model = FashionMNISTCNN()
    model.load_state_dict(torch.load(path, weights_only=True))
    model.eval()
    test = datasets.SyntheticFashionMNIST(train=False, size=test_size, seed=data_seed)
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
    assert _matrices(_events(str(tmp_path / "run")))[0].sum() == 200


@pytest.mark.subprocess
def test_console_script_help() -> None:
    proc = subprocess.run(["tb-fmnist-train", "--help"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0
    for option in ("--epochs", "--batch-size", "--lr", "--logdir", "--dataset", "--data-dir", "--download",
                   "--device", "--log-every", "--seed", "--num-workers", "--limit-train-batches",
                   "--limit-test-batches", "--no-hooks"):
        assert option in proc.stdout, option


def _run_in_own_session(command: list, timeout: float, env: dict) -> subprocess.CompletedProcess:
    """Run ``command`` in a new session; on timeout kill its whole process
    group, so no torchrun worker outlives the test."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"torchrun timed out after {timeout} s:\n{out}\n{err}")
    return subprocess.CompletedProcess(command, proc.returncode, out, err)


@pytest.mark.subprocess
def test_torchrun_two_processes_match_a_single_process_evaluation(tmp_path) -> None:
    test_size = 501  # odd: the ranks hold different numbers of test images
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = _run_in_own_session(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "tb_fmnist_plugin.train", "--epochs", "1", "--train-size", "1280", "--test-size", str(test_size),
         "--device", "cpu", "--logdir", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data"),
         "--save-model", str(tmp_path / "model.pt"), "--no-progress"],
        timeout=400, env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 process(es)" in proc.stdout
    assert proc.stdout.count("Epoch [1/1]") == 1, "only rank 0 prints"
    assert len(glob.glob(str(tmp_path / "run" / "events.out.tfevents.*"))) == 1, "only rank 0 writes"
    logged = _matrices(_events(str(tmp_path / "run")))[0]
    assert logged.sum() == test_size
    assert np.array_equal(logged, _evaluate_weights(str(tmp_path / "model.pt"), test_size))


# --- Faults ------------------------------------------------------------------------------


def test_epochs_zero_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        train.main(["--epochs", "0"])
    assert exit_info.value.code == 2
    assert "--epochs: must be >= 1, got 0" in capsys.readouterr().err


def test_invalid_option_values_are_argparse_errors(capsys) -> None:
    for argv in (["--dataset", "imagenet"], ["--lr", "-1"], ["--device", "tpu"], ["--batch-size", "x"]):
        with pytest.raises(SystemExit) as exit_info:
            train.main(argv)
        assert exit_info.value.code == 2
        assert "error: argument" in capsys.readouterr().err


def test_unwritable_logdir_is_one_clear_message(tmp_path, capsys) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a directory")
    code = train.main(["--logdir", str(blocker / "run"), "--data-dir", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 2
    assert "cannot write to the log directory" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_gpu_is_one_clear_message(tmp_path, capsys) -> None:
    code = train.main(["--device", "cuda", "--logdir", str(tmp_path / "run")])
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
    args = train.build_parser().parse_args([
        "--epochs", "2", "--train-size", "640", "--test-size", "128", "--log-every", "2",
        "--logdir", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data"), "--no-progress",
    ])
    with pytest.warns(RuntimeWarning):
        result = train.run(args, out=io.StringIO())
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
    acc = _events(str(logdir))
    assert len(acc.Scalars("Training Loss")) >= 20 // 2  # at least the whole first epoch (20 batches)
    assert _matrices(acc)[0].sum() == 200
    assert "_hparams_/session_end_info" in acc.PluginTagToContent("hparams")
