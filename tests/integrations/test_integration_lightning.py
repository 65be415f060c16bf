"""The PyTorch Lightning callback with the real library: a tiny classifier on
the synthetic Fashion-MNIST, the event files it leaves, identical results,
no hook left behind, DDP with 2 processes, bf16, fit twice, and the errors."""
from __future__ import annotations

import glob
import os
import sys

import pytest
import torch
from torch.utils.data import DataLoader

pl = pytest.importorskip("lightning.pytorch", reason="needs the [lightning] extra: pip install -e '.[lightning]'")

from lightning.pytorch.loggers import CSVLogger  # noqa: E402

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN  # noqa: E402
from tb_fmnist_plugin.integrations.lightning import ConfusionCallback  # noqa: E402
from tb_fmnist_plugin.integrations.lightning_callback import default_labels  # noqa: E402
from tests.integrations.integration_helpers import (  # noqa: E402
    assert_every_dashboard,
    expected_matrix,
    last_matrix,
    leaf_names,
    run_process_group,
)
from tests.integrations.integration_lightning_worker import (  # noqa: E402
    BATCH,
    NAMES,
    VAL_SIZE,
    Classifier,
    loaders,
    make_trainer,
    tensors,
)
from tests.support.hooks_helpers import hook_counts, load  # noqa: E402

#: Every test here runs the framework: out of the inner loop (``pytest -m "not slow"``).
pytestmark = pytest.mark.slow
WORKER = os.path.join(os.path.dirname(__file__), "integration_lightning_worker.py")


def _fit(logdir, callback, **options):
    """Seeded fit of a fresh Classifier: ``(module, trainer)``."""
    pl.seed_everything(0, verbose=False)
    module = Classifier()
    trainer = make_trainer(str(logdir), [callback] if callback else [], **options)
    trainer.fit(module, *loaders())
    return module, trainer


def _predictions(module):
    module.eval()
    x, y = tensors(False, VAL_SIZE)
    with torch.no_grad():
        predicted = torch.cat([module(x[i:i + BATCH]).argmax(1) for i in range(0, len(x), BATCH)])
    return predicted, y


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Two epochs, gradient accumulation 2 (8 batches: 4 global steps an
    epoch), with the callback; then ``trainer.test``; and the same fit without it."""
    logdir = tmp_path_factory.mktemp("lightning")
    callback = ConfusionCallback(class_names=NAMES, log_every=2)
    module, trainer = _fit(logdir / "hooked", callback, max_epochs=2, accumulate_grad_batches=2)
    hooks_after_fit = hook_counts(module, trainer.optimizers[0])
    trainer.test(module, loaders()[1])
    plain, plain_trainer = _fit(logdir / "plain", None, max_epochs=2, accumulate_grad_batches=2)
    return dict(logdir=str(logdir / "hooked"), module=module, trainer=trainer, plain=plain, callback=callback,
                hooks_after_fit=hooks_after_fit, hooks_after_test=hook_counts(module, trainer.optimizers[0]))


def test_fit_writes_every_dashboard_at_global_steps(run):
    assert run["trainer"].global_step == 8
    layers = leaf_names(FashionMNISTCNN(), "model.")
    params = [name for name, _ in run["module"].named_parameters()]
    acc = assert_every_dashboard(run["logdir"], "val", layers, params, NAMES, train_steps=[0, 2, 4, 6])
    # One matrix per validation epoch at the global step; the sanity check is not recorded.
    assert [e.step for e in acc.Tensors("confusion/val")] == [4, 8]
    assert "val_loss" in acc.Tags()["scalars"]  # the module's own logging shares the run


def test_val_and_test_matrices_equal_the_models_predictions(run):
    expected = expected_matrix(*_predictions(run["module"]), 10)
    for tag in ("confusion/val", "confusion/test"):
        logged = last_matrix(run["logdir"], tag, 10)
        assert logged.sum() == VAL_SIZE
        assert (logged == expected).all(), tag
    assert [e.step for e in load(run["logdir"]).Tensors("confusion/test")] == [8]


def test_results_are_bit_identical_and_no_hook_remains(run):
    for (name, hooked), plain in zip(run["module"].named_parameters(), run["plain"].parameters()):
        assert torch.equal(hooked, plain), name
    assert run["hooks_after_fit"] == 0 and run["hooks_after_test"] == 0
    assert run["callback"].monitor is None


def test_bf16_mixed_and_fit_twice_on_one_trainer(tmp_path):
    callback = ConfusionCallback(class_names=NAMES, log_every=3)
    module, trainer = _fit(tmp_path, callback, precision="bf16-mixed", limit_train_batches=4)
    trainer.fit_loop.max_epochs = 2
    trainer.fit(module, *loaders())  # continues: global steps 4..7
    assert trainer.global_step == 8 and hook_counts(module, trainer.optimizers[0]) == 0
    acc = load(str(tmp_path))
    assert [e.step for e in acc.Tensors("confusion/val")] == [4, 8]
    assert sorted({e.step for e in acc.Scalars("gradients/global_norm")}) == [0, 3, 6]
    assert last_matrix(str(tmp_path), "confusion/val", 10).sum() == VAL_SIZE


def test_dict_batches_get_labels_get_images_and_the_default_rule(tmp_path):
    class DictBatches(Classifier):
        def validation_step(self, batch, batch_idx):
            self(batch["pixels"])

    x, y = tensors(False, 64)
    dict_loader = DataLoader([{"pixels": x[i], "target": y[i]} for i in range(64)], batch_size=32)
    callback = ConfusionCallback(class_names=NAMES, get_labels=lambda b: b["target"], get_images=lambda b: b["pixels"],
                                 log_graph=False)
    pl.seed_everything(0, verbose=False)
    module = DictBatches()
    trainer = make_trainer(str(tmp_path), [callback], limit_train_batches=2, num_sanity_val_steps=0)
    trainer.fit(module, loaders()[0], dict_loader)
    acc = load(str(tmp_path))
    assert last_matrix(str(tmp_path), "confusion/val", 10).sum() == 64
    assert "misclassified/val" in acc.Tags()["images"] and not acc.Tags()["graph"]

    labels = torch.tensor([1, 2])
    assert default_labels((x[:2], labels)) is labels
    assert default_labels({"image": x[:2], "label": labels}) is labels
    assert default_labels({"pixel_values": x[:2], "labels": labels}) is labels
    with pytest.raises(ValueError, match="get_labels="):
        default_labels({"pixels": x[:2]})
    with pytest.raises(TypeError, match="unknown attach_hooks option"):
        ConfusionCallback(histogram_bin=3)


def test_a_logger_that_is_not_tensorboard_is_a_clear_error(tmp_path):
    for logger in (CSVLogger(str(tmp_path)), False):
        trainer = pl.Trainer(logger=logger, callbacks=[ConfusionCallback()], max_epochs=1, accelerator="cpu",
                             enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
        module = Classifier()
        with pytest.raises(ValueError, match=r"TensorBoardLogger\('runs'\)"):
            trainer.fit(module, *loaders())
        assert hook_counts(module) == 0


def test_an_exception_in_training_removes_every_hook(tmp_path):
    class Failing(Classifier):
        def training_step(self, batch, batch_idx):
            if batch_idx == 2:
                raise RuntimeError("boom")
            return super().training_step(batch, batch_idx)

    callback = ConfusionCallback(class_names=NAMES, log_every=1)
    module = Failing()
    trainer = make_trainer(str(tmp_path), [callback])
    with pytest.raises(RuntimeError, match="boom"):
        trainer.fit(module, *loaders())
    assert hook_counts(module, trainer.optimizers[0]) == 0 and callback.monitor is None


def test_several_optimizers_every_step_counts_like_global_step(tmp_path):
    class TwoOptimizers(Classifier):
        def __init__(self):
            super().__init__()
            self.automatic_optimization = False

        def training_step(self, batch, batch_idx):
            for optimizer in self.optimizers():
                optimizer.zero_grad()
                self.manual_backward(super().training_step(batch, batch_idx))
                optimizer.step()

        def configure_optimizers(self):
            return [torch.optim.SGD(self.model.features.parameters(), lr=0.01),
                    torch.optim.SGD(self.model.classifier.parameters(), lr=0.01)]

    module = TwoOptimizers()
    trainer = make_trainer(str(tmp_path), [ConfusionCallback(class_names=NAMES, log_every=2)], limit_train_batches=3)
    trainer.fit(module, *loaders())
    assert trainer.global_step == 6
    acc = load(str(tmp_path))
    assert sorted({e.step for e in acc.Scalars("gradients/global_norm")}) == [0, 2, 4]
    assert [e.step for e in acc.Tensors("confusion/val")] == [6]
    assert all(hook_counts(module, optimizer) == 0 for optimizer in trainer.optimizers)


def test_pytorch_lightning_import_name(tmp_path):
    legacy = pytest.importorskip("pytorch_lightning", reason="the pytorch_lightning package is not installed")
    from tb_fmnist_plugin.integrations.pytorch_lightning import ConfusionCallback as LegacyCallback

    class LegacyClassifier(legacy.LightningModule):
        def __init__(self):
            super().__init__()
            self.model = FashionMNISTCNN()

        forward = Classifier.forward
        training_step = Classifier.training_step
        validation_step = Classifier.validation_step
        configure_optimizers = Classifier.configure_optimizers

    trainer = legacy.Trainer(logger=legacy.loggers.TensorBoardLogger(str(tmp_path), name="", version=""),
                             callbacks=[LegacyCallback(class_names=NAMES, log_every=1)], max_epochs=1,
                             limit_train_batches=2, accelerator="cpu", enable_progress_bar=False,
                             enable_model_summary=False, enable_checkpointing=False)
    module = LegacyClassifier()
    trainer.fit(module, *loaders())
    assert last_matrix(str(tmp_path), "confusion/val", 10).sum() == VAL_SIZE
    assert hook_counts(module) == 0


@pytest.mark.subprocess
def test_ddp_two_processes_reduce_counts_and_rank_zero_writes(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join(
        [os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")]))
    code, output = run_process_group([sys.executable, WORKER, str(tmp_path)], timeout=300, env=env)
    assert code == 0, output[-4000:]
    assert len(glob.glob(str(tmp_path / "events.out.tfevents.*"))) == 1, "only rank 0 writes"
    module = Classifier()
    module.load_state_dict(torch.load(tmp_path / "model.pt"))
    module.eval()
    x, y = tensors(False, 200)
    with torch.no_grad():
        predicted = module(x).argmax(1)
    logged = last_matrix(str(tmp_path), "confusion/val", 10)
    assert logged.sum() == 200
    assert (logged == expected_matrix(predicted, y, 10)).all()
    acc = load(str(tmp_path))
    assert [e.step for e in acc.Tensors("confusion/val")] == [4]  # 256 images / 2 processes / 32 a batch
    assert "gradients/global_norm" in acc.Tags()["scalars"] and acc.Tags()["graph"]
