"""Overhead of attach_hooks versus no hooks, wandb.watch and a hand-written
histogram loop, training the reference Fashion-MNIST CNN on random data.

    python benchmarks/bench_hooks.py            # full run (several minutes)
    python benchmarks/bench_hooks.py --quick    # shorter, noisier

Configurations run interleaved step by step (each keeps its own model, optimizer
and step count), so machine load affects them alike; ratios are to the
no-hooks configuration of the same rounds. A separate phase measures the
process's resident memory over N steps with attach_hooks, and
``--peak-memory`` measures how much a logging step raises the peak resident
memory of a ~48M-parameter model (each configuration in a fresh process).
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from typing import Callable, List, Optional

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks

LOG_EVERY = 100


class Config:
    """One benchmarked configuration: a model, its optimizer and a logger."""

    def __init__(self, name: str, device: torch.device, seed: int, logdir: str) -> None:
        torch.manual_seed(seed)
        self.name = name
        self.device = device
        self.model = FashionMNISTCNN().to(device)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.step = 0
        self.times: List[float] = []
        self.logging: List[bool] = []
        self.writer: Optional[SummaryWriter] = None
        self.monitor = None
        self.run = None
        self.after_backward: Optional[Callable[[], None]] = None
        if name == "attach_hooks":
            self.writer = SummaryWriter(os.path.join(logdir, name))
            self.monitor = attach_hooks(self.model, self.writer, optimizer=self.optimizer, log_every=LOG_EVERY)
        elif name == "add_histogram loop":
            self.writer = SummaryWriter(os.path.join(logdir, name))
            self.after_backward = self._histograms
        elif name == "wandb.watch":
            import wandb

            self.run = wandb.init(mode="offline", dir=logdir, project="bench")
            wandb.watch(self.model, log="all", log_freq=LOG_EVERY)

    def _histograms(self) -> None:
        if self.step % LOG_EVERY:
            return
        for name, param in self.model.named_parameters():
            self.writer.add_histogram(f"weights/{name}", param, self.step)
            if param.grad is not None:
                self.writer.add_histogram(f"grads/{name}", param.grad, self.step)

    def train_step(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        logging = self.step % LOG_EVERY == 0
        sync = torch.cuda.synchronize if self.device.type == "cuda" else (lambda: None)
        sync()
        start = time.perf_counter()
        self.optimizer.zero_grad()
        loss = nn.functional.cross_entropy(self.model(images), labels)
        loss.backward()
        if self.after_backward is not None:
            self.after_backward()
        self.optimizer.step()
        if self.run is not None and logging:
            self.run.log({"loss": loss.detach()}, step=self.step)  # commits watch's histograms
        sync()
        self.times.append(time.perf_counter() - start)
        self.logging.append(logging)
        self.step += 1

    def close(self) -> None:
        if self.monitor is not None:
            self.monitor.remove()
        if self.writer is not None:
            self.writer.close()
        if self.run is not None:
            self.run.finish()


def rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


#: Configurations of the peak-memory phase: name -> attach_hooks keywords (None: no hooks).
PEAK_CONFIGS = {"no hooks": None, "defaults": {}, "log_updates=False": {"log_updates": False}}
PEAK_WIDTH = 23552  # Linear(1024, W) + Linear(W, 1024): 48.2M parameters, largest tensor 24.1M elements


def peak_rss_mb() -> float:
    """The process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def peak_worker(name: str) -> None:
    """One process: plain steps of the large MLP, then one logging step;
    prints how much the logging step raised the peak resident memory."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1024, PEAK_WIDTH), nn.ReLU(), nn.Linear(PEAK_WIDTH, 1024))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    images, targets = torch.randn(8, 1024), torch.randn(8, 1024)
    options = PEAK_CONFIGS[name]
    with tempfile.TemporaryDirectory() as logdir:
        writer = SummaryWriter(logdir)
        monitor = None
        if options is not None:
            monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1000, log_graph=False, **options)
            monitor.step = 1  # the first steps are not logging steps

        def step() -> None:
            optimizer.zero_grad()
            nn.functional.mse_loss(model(images), targets).backward()
            optimizer.step()

        for _ in range(3):
            step()
        before = peak_rss_mb()
        if monitor is not None:
            monitor.step = 1000
        step()
        after = peak_rss_mb()
        if monitor is not None:
            monitor.remove()
        writer.close()
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{name:<20} {parameters / 1e6:.1f}M parameters: peak RSS {before:.1f} MB -> {after:.1f} MB "
          f"(logging step +{after - before:.1f} MB)")


def peak_memory() -> None:
    """Every peak-memory configuration, each in a fresh process."""
    print("peak resident memory of one logging step (SGD, batch 8, CPU; each line a fresh process)")
    for name in PEAK_CONFIGS:
        subprocess.run([sys.executable, os.path.abspath(__file__), "--peak-worker", name], check=True)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer rounds and memory steps")
    parser.add_argument("--rounds", type=int, default=None, help="blocks of 100 interleaved steps (default 10, quick 3)")
    parser.add_argument("--steps-per-round", type=int, default=LOG_EVERY)
    parser.add_argument("--memory-steps", type=int, default=None, help="default 5000, quick 1000")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (same for all)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--skip-wandb", action="store_true")
    parser.add_argument("--peak-memory", action="store_true",
                        help="only measure a logging step's peak memory on a ~48M-parameter model")
    parser.add_argument("--peak-worker", choices=list(PEAK_CONFIGS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peak_worker:
        peak_worker(args.peak_worker)
        return 0
    if args.peak_memory:
        peak_memory()
        return 0
    rounds = args.rounds or (3 if args.quick else 10)
    memory_steps = args.memory_steps if args.memory_steps is not None else (1000 if args.quick else 5000)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    warnings.simplefilter("ignore")
    os.environ.setdefault("WANDB_SILENT", "true")

    names = ["no hooks", "attach_hooks", "wandb.watch", "add_histogram loop"]
    note = ""
    if args.skip_wandb:
        names.remove("wandb.watch")
        note = "wandb.watch skipped (--skip-wandb)"
    else:
        try:
            import wandb  # noqa: F401
        except ImportError:
            names.remove("wandb.watch")
            note = "wandb.watch skipped: wandb is not installed (pip install -e '.[benchmark]')"

    generator = torch.Generator().manual_seed(0)
    batches = [
        (
            torch.randn(args.batch_size, 1, 28, 28, generator=generator).to(device),
            torch.randint(0, 10, (args.batch_size,), generator=generator).to(device),
        )
        for _ in range(16)
    ]
    with tempfile.TemporaryDirectory() as logdir:
        configs = {name: Config(name, device, 0, logdir) for name in names}
        # Warm-up round (not measured): allocator, graph tracing, wandb start.
        for config in configs.values():
            for i in range(LOG_EVERY + 1):
                config.train_step(*batches[i % len(batches)])
            config.times.clear()
            config.logging.clear()
        # Interleaved at the step: each round gives every configuration one
        # step in turn (rotating who goes first), so load changes hit all alike.
        for r in range(rounds * args.steps_per_round):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                configs[name].train_step(*batches[r % len(batches)])
        base = configs["no hooks"]
        base_mean = statistics.fmean(base.times)
        base_plain = statistics.median(t for t, logged in zip(base.times, base.logging) if not logged)
        print(f"device={device} threads={args.threads} batch={args.batch_size} "
              f"{rounds * args.steps_per_round} steps per configuration, interleaved step by step, log every {LOG_EVERY}")
        print(f"{'configuration':<20} {'mean step ms':>12} {'ratio':>7} {'non-logging':>12} {'logging/plain':>14}")
        for name in names:
            config = configs[name]
            mean = statistics.fmean(config.times)
            plain = [t for t, logged in zip(config.times, config.logging) if not logged]
            logged = [t for t, logged in zip(config.times, config.logging) if logged]
            own_plain = statistics.median(plain)
            non_logging = own_plain / base_plain - 1.0
            log_ratio = f"{statistics.fmean(logged) / own_plain:>13.2f}x" if name != "no hooks" else f"{'-':>14}"
            print(f"{name:<20} {mean * 1e3:>12.3f} {mean / base_mean:>7.3f} {non_logging * 100:>+11.2f}% {log_ratio}")
        print("ratio: mean step / no-hooks mean step. non-logging: median non-logging step / no-hooks median")
        print("non-logging step - 1. logging/plain: mean logging step / the same configuration's median non-logging step.")
        if note:
            print(note)
        for config in configs.values():
            config.close()
        del configs
        gc.collect()

        if memory_steps:
            try:
                rss_mb()
            except ImportError:
                print("memory phase skipped: psutil is not installed")
                return 0
            config = Config("attach_hooks", device, 1, logdir)
            for i in range(2 * LOG_EVERY + 1):
                config.train_step(*batches[i % len(batches)])
            gc.collect()
            before = rss_mb()
            for i in range(memory_steps):
                config.train_step(*batches[i % len(batches)])
                config.times.clear()
                config.logging.clear()
            gc.collect()
            after = rss_mb()
            config.close()
            print(f"memory: RSS {before:.1f} MB -> {after:.1f} MB over {memory_steps} attach_hooks steps "
                  f"(growth {after - before:+.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
