"""Time per training step of Lightning ``fit`` with and without ``ConfusionCallback``,
on the reference Fashion-MNIST CNN (the LightningModule of ``examples/lightning_fmnist.py``).

    python benchmarks/bench_lightning.py                 # 600 steps per configuration
    python benchmarks/bench_lightning.py --quick         # 240 steps, noisier
    python benchmarks/bench_lightning.py --device cuda

Each configuration has its own seeded module and Trainer (TensorBoardLogger,
no validation, no checkpointing). They train in interleaved chunks of
``--chunk`` steps (``trainer.fit`` again with a larger ``max_steps``, which
continues from ``global_step``), so that machine load affects both alike. A
step is timed from ``on_train_batch_start`` to ``on_train_batch_end``
(forward, backward, optimizer step and every callback's work; the
callback's logging steps every ``--log-every`` global steps included), in
wall time and in this process's CPU time (robust to other processes on the
machine). The first step of each fit (the graph trace, once per fit) is
left out for both and reported apart.
"""
from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import statistics
import tempfile
import time
import warnings
from typing import List

import lightning.pytorch as pl
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.data import DataLoader, TensorDataset

from tb_fmnist_plugin.fmnist.synthetic import SyntheticFashionMNIST
from tb_fmnist_plugin.integrations.lightning import ConfusionCallback

CONFIGS = ("without callback", "ConfusionCallback")


def example_module() -> type:
    """``FashionClassifier`` of ``examples/lightning_fmnist.py``: the reference CNN, cross-entropy, Adam."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "lightning_fmnist.py")
    spec = importlib.util.spec_from_file_location("lightning_fmnist", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FashionClassifier


class StepTimer(pl.Callback):
    """Wall and process CPU time of every training batch (synchronized on CUDA)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.wall: List[float] = []
        self.cpu: List[float] = []
        self.first_of_fit: List[bool] = []
        self.global_steps: List[int] = []
        self._fit_started = False
        self._start = (0.0, 0.0)

    def _now(self) -> tuple:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter(), time.process_time()

    def on_fit_start(self, trainer, pl_module) -> None:
        self._fit_started = True

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.global_steps.append(trainer.global_step)
        self._start = self._now()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        wall, cpu = self._now()
        self.wall.append(wall - self._start[0])
        self.cpu.append(cpu - self._start[1])
        self.first_of_fit.append(self._fit_started)
        self._fit_started = False


class Run:
    """One configuration: a module and a Trainer that fit chunk after chunk."""

    def __init__(self, config: str, module_class: type, args: argparse.Namespace, logdir: str) -> None:
        pl.seed_everything(0, verbose=False)
        self.module = module_class()
        self.timer = StepTimer(args.device == "cuda")
        callbacks = [self.timer] + ([ConfusionCallback(log_every=args.log_every)] if config == CONFIGS[1] else [])
        self.trainer = pl.Trainer(
            accelerator=args.device, devices=1, max_steps=0, limit_val_batches=0, num_sanity_val_steps=0,
            logger=TensorBoardLogger(logdir, name=config.replace(" ", "_")), callbacks=callbacks,
            enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False,
        )

    def fit_until(self, steps: int, loader: DataLoader) -> None:
        self.trainer.fit_loop.epoch_loop.max_steps = steps
        self.trainer.fit(self.module, loader)

    def steady(self, key: str) -> List[float]:
        return [t for t, first in zip(getattr(self.timer, key), self.timer.first_of_fit) if not first]

    def first(self) -> List[float]:
        return [t for t, first in zip(self.timer.wall, self.timer.first_of_fit) if first]

    def logging_steps(self, log_every: int) -> List[float]:
        """CPU times of the steps at multiples of ``log_every`` (the callback's logging steps)."""
        timer = self.timer
        return [t for t, step, first in zip(timer.cpu, timer.global_steps, timer.first_of_fit) if step % log_every == 0 and not first]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="training steps per configuration")
    parser.add_argument("--chunk", type=int, default=30, help="steps per fit call before switching configuration")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--log-every", type=int, default=100, help="the callback's log_every")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.steps = 240
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)  # no per-fit banners
    module_class = example_module()

    data = SyntheticFashionMNIST(train=True, size=args.batch_size * 64)
    images = ((data.data.float() / 255 - 0.5) / 0.5).unsqueeze(1)
    loader = DataLoader(TensorDataset(images, data.targets), batch_size=args.batch_size, shuffle=True, drop_last=True)
    with tempfile.TemporaryDirectory() as logdir:
        runs = {config: Run(config, module_class, args, logdir) for config in CONFIGS}
        for index, until in enumerate(range(args.chunk, args.steps + 1, args.chunk)):
            for config in CONFIGS if index % 2 == 0 else CONFIGS[::-1]:
                runs[config].fit_until(until, loader)

    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {torch.get_num_threads()} thread(s)"
    print(f"\nLightning {pl.__version__}, torch {torch.__version__}, {device}; batch {args.batch_size}, "
          f"{args.steps} steps per configuration in chunks of {args.chunk}, log_every={args.log_every}\n")
    base = runs[CONFIGS[0]]
    base_values = {key: (statistics.mean(base.steady(key)), statistics.median(base.steady(key))) for key in ("wall", "cpu")}
    print("| Configuration | Wall ms/step, mean | median | CPU ms/step, mean | median "
          "| vs. without (wall mean / median, CPU mean / median) "
          "| CPU ms of the steps at multiples of log_every (median) | First step of a fit, wall ms |")
    print("|---|---|---|---|---|---|---|---|")
    for config in CONFIGS:
        run = runs[config]
        cells, ratios = [], []
        for key in ("wall", "cpu"):
            mean, median = statistics.mean(run.steady(key)), statistics.median(run.steady(key))
            cells += [f"{mean * 1e3:.2f}", f"{median * 1e3:.2f}"]
            ratios += [f"{100 * (mean / base_values[key][0] - 1):+.1f}%", f"{100 * (median / base_values[key][1] - 1):+.1f}%"]
        logging_steps = run.logging_steps(args.log_every)
        logging_cell = f"{statistics.median(logging_steps) * 1e3:.0f} ({len(logging_steps)})" if logging_steps else "-"
        print(f"| {config} | {' | '.join(cells)} | {' / '.join(ratios)} | {logging_cell} | {statistics.median(run.first()) * 1e3:.0f} |")


if __name__ == "__main__":
    main()
