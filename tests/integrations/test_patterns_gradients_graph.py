"""Issue 17, cases 2 and 5 in the frameworks: the graph trace leaves a model
with a forward counter bit-identical under Lightning and the Hugging Face
Trainer, and the Trainer's clipping gives ``gradients/global_norm`` equal to
its own ``grad_norm`` (before clipping), the clipped norm under its own tag."""
from __future__ import annotations

import glob

import pytest
import torch

from tests.support.hooks_helpers import load, scalars

pytestmark = pytest.mark.slow


def test_lightning_graph_trace_keeps_a_counting_module_bit_identical(tmp_path):
    pl = pytest.importorskip("lightning.pytorch")
    from tb_fmnist_plugin.integrations.lightning import ConfusionCallback
    from tests.integrations.integration_lightning_worker import Classifier, loaders, make_trainer

    class Counting(Classifier):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("calls", torch.zeros((), dtype=torch.long))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1  # every forward, the trace's too (it runs in eval mode)
            return super().forward(x)

    def fit(logdir, callbacks):
        pl.seed_everything(0, verbose=False)
        module = Counting()
        trainer = make_trainer(str(logdir), callbacks, max_steps=4, limit_val_batches=0)
        trainer.fit(module, loaders()[0])
        return module

    plain = fit(tmp_path / "plain", [])
    hooked = fit(tmp_path / "hooked", [ConfusionCallback(log_every=1)])
    assert int(hooked.calls) == int(plain.calls) == 4
    for (name, a), (_, b) in zip(plain.state_dict().items(), hooked.state_dict().items()):
        assert torch.equal(a, b), name
    assert load(tmp_path / "hooked").Tags()["graph"]


def test_trainer_clipping_logs_its_grad_norm_and_the_clipped_norm(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    from transformers import Trainer

    from tb_fmnist_plugin.integrations.transformers import ConfusionCallback
    from tests.integrations.integration_transformers_worker import PixelDataset, arguments, tiny_vit

    torch.manual_seed(0)
    callback = ConfusionCallback(log_every=1)
    trainer = Trainer(model=tiny_vit(), args=arguments(str(tmp_path), max_grad_norm=0.05, eval_strategy="no", max_steps=3),
                      train_dataset=PixelDataset(True, 64), callbacks=[callback])
    trainer.train()
    trainer_norms = {entry["step"]: entry["grad_norm"] for entry in trainer.state.log_history if "grad_norm" in entry}
    logdir = glob.glob(str(tmp_path / "runs" / "*"))[0]
    callback.remove()
    acc = load(logdir)
    norms, clipped = scalars(acc, "gradients/global_norm"), scalars(acc, "gradients/clipped_global_norm")
    for step in range(3):  # the Trainer logs after the step: its step k+1 is our step k
        assert trainer_norms[step + 1] > 0.05
        assert norms[step] == pytest.approx(float(trainer_norms[step + 1]), rel=1e-4)
        assert clipped[step] == pytest.approx(0.05, rel=1e-3)
