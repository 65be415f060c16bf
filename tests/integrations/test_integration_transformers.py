"""The Hugging Face Trainer callback with the real library: a tiny ViT on the
synthetic Fashion-MNIST, one run folder with the Trainer's own TensorBoard
logging, matrices equal to the Trainer's predictions, identical results,
hooks removed, bf16, gradient accumulation and torchrun with 2 processes."""
from __future__ import annotations

import glob
import os
import sys

import pytest
import torch

pytest.importorskip("transformers", reason="needs the [transformers] extra: pip install -e '.[transformers]'")
pytest.importorskip("accelerate", reason="the Trainer needs accelerate: pip install -e '.[transformers]'")

from transformers import Trainer  # noqa: E402
from transformers.utils.import_utils import is_torch_bf16_available_on_device  # noqa: E402

from tb_fmnist_plugin.integrations.transformers import ConfusionCallback, id2label_names, made_run_folder  # noqa: E402
from tests.integrations.integration_helpers import (  # noqa: E402
    assert_every_dashboard,
    expected_matrix,
    last_matrix,
    leaf_names,
    run_process_group,
)
from tests.integrations.integration_transformers_worker import NAMES, PixelDataset, arguments, tiny_vit  # noqa: E402
from tests.support.hooks_helpers import hook_counts, load  # noqa: E402

#: Every test here runs the framework: out of the inner loop (``pytest -m "not slow"``).
pytestmark = pytest.mark.slow
WORKER = os.path.join(os.path.dirname(__file__), "integration_transformers_worker.py")
EVAL_SIZE = 100


def _train(output_dir, callbacks, **options):
    torch.manual_seed(0)
    model = tiny_vit()
    trainer = Trainer(model=model, args=arguments(str(output_dir), **options),
                      train_dataset=PixelDataset(True, 256), eval_dataset=PixelDataset(False, EVAL_SIZE),
                      callbacks=callbacks)
    trainer.train()
    return model, trainer


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """6 optimizer steps with gradient accumulation 2, evaluation every 3;
    then ``evaluate()`` and ``predict()``; and the same training without the callback."""
    root = tmp_path_factory.mktemp("transformers")
    callback = ConfusionCallback(log_every=2)
    model, trainer = _train(root / "hooked", [callback], gradient_accumulation_steps=2)
    hooks_after_train = hook_counts(model, trainer.optimizer.optimizer)
    trainer.evaluate()
    prediction = trainer.predict(PixelDataset(False, EVAL_SIZE))
    plain, plain_trainer = _train(root / "plain", [], gradient_accumulation_steps=2)
    result = dict(root=root, model=model, trainer=trainer, callback=callback, plain=plain, plain_trainer=plain_trainer,
                  prediction=prediction, hooks_after_train=hooks_after_train, log_dir=callback.log_dir)
    callback.remove()
    result["hooks_after_remove"] = hook_counts(model, trainer.optimizer.optimizer)
    return result


def test_one_run_folder_holds_the_trainers_logging_and_every_dashboard(run):
    runs = glob.glob(str(run["root"] / "hooked" / "runs" / "*"))
    assert runs == [run["log_dir"]], "the TensorBoardCallback's folder"
    layers = leaf_names(run["model"])
    params = [name for name, _ in run["model"].named_parameters()]
    acc = assert_every_dashboard(run["log_dir"], "eval", layers, params, NAMES, train_steps=[0, 2, 4])
    for tag in ("train/loss", "train/learning_rate", "eval/loss"):
        assert tag in acc.Tags()["scalars"], tag
    assert [e.step for e in acc.Tensors("confusion/eval")] == [3, 6, 6]  # two during train(), one evaluate()
    assert [e.step for e in acc.Tensors("confusion/test")] == [6]  # predict() on labeled data


def test_matrices_equal_the_trainers_own_predictions(run):
    prediction = run["prediction"]
    expected = expected_matrix(torch.as_tensor(prediction.predictions).argmax(1), torch.as_tensor(prediction.label_ids), 10)
    for tag in ("confusion/eval", "confusion/test"):
        logged = last_matrix(run["log_dir"], tag, 10)
        assert logged.sum() == EVAL_SIZE and (logged == expected).all(), tag
    assert id2label_names(run["model"]) == NAMES


def test_results_are_bit_identical_and_hooks_are_removed(run):
    for (name, hooked), plain in zip(run["model"].named_parameters(), run["plain"].parameters()):
        assert torch.equal(hooked, plain), name
    losses = [[e["loss"] for e in t.state.log_history if "loss" in e] for t in (run["trainer"], run["plain_trainer"])]
    assert len(losses[0]) == 6 and losses[0] == losses[1]
    assert run["hooks_after_train"] == 1, "only the forward hook that records evaluate() stays"
    assert run["hooks_after_remove"] == 0


def test_bf16_report_to_none_and_evaluate_before_training(tmp_path, monkeypatch):
    logdir = tmp_path / "tb"
    monkeypatch.setenv("TENSORBOARD_LOGGING_DIR", str(logdir))
    bf16 = is_torch_bf16_available_on_device("cpu")
    callback = ConfusionCallback(class_names=[f"c{i}" for i in range(10)], log_every=3)
    torch.manual_seed(0)
    model = tiny_vit()
    trainer = Trainer(model=model, args=arguments(str(tmp_path / "out"), report_to="none", bf16=bf16, eval_steps=6),
                      train_dataset=PixelDataset(True, 256), eval_dataset=PixelDataset(False, EVAL_SIZE),
                      callbacks=[callback])
    trainer.evaluate()
    trainer.train()
    model.eval()
    with torch.no_grad():  # the user's own forward calls are no evaluation, also in a dataloader accelerate prepared
        model(pixel_values=PixelDataset(False, 8).pixels, labels=torch.zeros(8, dtype=torch.long))
        for inputs in trainer.get_eval_dataloader():
            model(**inputs)
    trainer.evaluate()
    callback.remove()
    assert callback.log_dir is None and hook_counts(model) == 0
    acc = load(str(logdir))
    assert [e.step for e in acc.Tensors("confusion/eval")] == [0, 6, 6]
    assert sorted({e.step for e in acc.Scalars("gradients/global_norm")}) == [0, 3]
    assert "support/eval/c3" in acc.Tags()["scalars"] and acc.Tags()["graph"]
    assert last_matrix(str(logdir), "confusion/eval", 10).sum() == EVAL_SIZE


@pytest.mark.subprocess
def test_torchrun_two_processes_drop_the_padding_and_rank_zero_writes(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    code, output = run_process_group([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                              WORKER, str(tmp_path)], timeout=300, env=env)
    assert code == 0, output[-4000:]
    runs = glob.glob(str(tmp_path / "runs" / "*"))
    assert len(runs) == 1, "rank 0 writes, into the Trainer's run folder"
    model = tiny_vit()
    model.load_state_dict(torch.load(tmp_path / "model.pt"))
    model.eval()
    data = PixelDataset(False, 101)
    with torch.no_grad():
        predicted = model(pixel_values=data.pixels).logits.argmax(1)
    logged = last_matrix(runs[0], "confusion/eval", 10)
    assert logged.sum() == 101, "accelerate's repeated samples are not counted"
    assert (logged == expected_matrix(predicted, data.labels, 10)).all()
    acc = load(runs[0])
    assert [e.step for e in acc.Tensors("confusion/eval")] == [3, 6]
    assert "train/loss" in acc.Tags()["scalars"] and "gradients/global_norm" in acc.Tags()["scalars"]


def test_the_tensorboard_callbacks_folder_is_found_when_the_clock_turned(tmp_path):
    """The TensorBoardCallback names its folder for the time at its
    on_train_begin; this callback looks a moment later: the folder named for
    now, else the newest one made since the callback was built."""
    import socket
    import time

    from transformers.integrations.integration_utils import default_logdir

    since = time.time() - 1
    assert made_run_folder(str(tmp_path), None, since, None) == os.path.join(str(tmp_path), default_logdir())
    old = tmp_path / "runs" / f"Jan01_00-00-00_{socket.gethostname()}"
    made = tmp_path / "runs" / f"Jan01_00-00-01_{socket.gethostname()}"
    for folder in (old, made):
        (folder / "trial").mkdir(parents=True)
    for folder in (old, old / "trial"):
        os.utime(folder, (since - 60, since - 60))
    assert made_run_folder(str(tmp_path), None, since, None) == str(made)
    assert made_run_folder(str(tmp_path), "trial", since, None) == str(made / "trial")
    assert made_run_folder(str(tmp_path), None, since, str(made)) != str(made), "not this callback's own folder"
    now = tmp_path / default_logdir()
    now.mkdir(parents=True)
    assert made_run_folder(str(tmp_path), None, since, None) == str(now)
