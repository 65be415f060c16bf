"""Benchmark of the training command (``tb-fmnist-train``).

Measures, and prints as one Markdown table:

1. Training throughput (images/s of the command's training loop, evaluation
   excluded) with all logging on (``attach_hooks``) and with ``--no-hooks``
   (the reference script's logging only), interleaved in rounds so machine
   load affects both alike; the median of each and their ratio. On the CPU,
   and on CUDA when a GPU is available.
2. Synthetic dataset generation rate on one core (``torch.set_num_threads(1)``,
   no cache).
3. Wall time of the README quick-start command in a fresh process with an
   empty data directory (so it includes imports and data generation).

Usage: ``python benchmarks/bench_train.py [--rounds 3] [--train-size 12800]``
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

import torch

from tb_fmnist_plugin.fmnist import cli, synthetic

#: The README's quick-start command (run with a temporary --logdir/--data-dir).
QUICK_START = "tb-fmnist-train --epochs 2 --train-size 10000 --test-size 2000"


def training_throughput(device: str, rounds: int, train_size: int, workdir: str) -> Dict[str, List[float]]:
    """Images/s of the training loop, with hooks and without, interleaved:
    whole loop (``hooks``/``no-hooks``) and without the first batch, which
    carries one-time costs (``hooks-steady``/``no-hooks-steady``)."""
    rates: Dict[str, List[float]] = {"hooks": [], "no-hooks": [], "hooks-steady": [], "no-hooks-steady": []}
    base = [
        "--epochs", "1", "--train-size", str(train_size), "--test-size", "1000", "--device", device,
        "--data-dir", os.path.join(workdir, "data"), "--no-progress",
    ]
    # Warm-up (data generation, first-call costs) outside the measurement.
    cli.run(cli.build_parser().parse_args(base + ["--logdir", os.path.join(workdir, "warmup"),
                                                  "--limit-train-batches", "5", "--no-hooks"]), out=io.StringIO())
    for round_index in range(rounds):
        order = ("hooks", "no-hooks") if round_index % 2 == 0 else ("no-hooks", "hooks")
        for mode in order:
            extra = ["--no-hooks"] if mode == "no-hooks" else []
            logdir = os.path.join(workdir, f"{device}-{mode}-{round_index}")
            result = cli.run(cli.build_parser().parse_args(base + extra + ["--logdir", logdir]), out=io.StringIO())
            rates[mode].append(result.train_images_per_s)
            rates[mode + "-steady"].append(result.steady_images_per_s)
            print(f"  {device} round {round_index + 1}/{rounds} {mode}: {result.train_images_per_s:.0f} img/s "
                  f"({result.steady_images_per_s:.0f} without the first batch)", file=sys.stderr)
    return rates


def generation_rate(size: int = 20_000, repeats: int = 3) -> List[float]:
    """Synthetic images generated per second on one core (no cache)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rates = []
        for seed in range(repeats):
            start = time.perf_counter()
            synthetic.generate_synthetic(size, seed=1000 + seed, train=True)
            rates.append(size / (time.perf_counter() - start))
        return rates
    finally:
        torch.set_num_threads(threads)


def quick_start_wall_time(workdir: str) -> float:
    """Seconds for the quick-start command, fresh process, empty data dir."""
    command = shlex.split(QUICK_START) + [
        "--logdir", os.path.join(workdir, "quickstart", "run"), "--data-dir", os.path.join(workdir, "quickstart", "data"),
        "--no-progress",
    ]
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per device")
    parser.add_argument("--train-size", type=int, default=12_800, help="training images per measured run")
    parser.add_argument("--skip-quick-start", action="store_true", help="do not time the quick-start command")
    args = parser.parse_args()

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    with tempfile.TemporaryDirectory() as workdir:
        for device in devices:
            rates = training_throughput(device, args.rounds, args.train_size, workdir)
            name = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU, {torch.get_num_threads()} threads"
            for suffix, label in (("", "whole loop"), ("-steady", "without first batch")):
                hooks, plain = rates["hooks" + suffix], rates["no-hooks" + suffix]
                rows.append((f"Training, no hooks ({name}, batch 64, {label})", f"{statistics.median(plain):,.0f} images/s",
                             f"median of {args.rounds}: " + ", ".join(f"{r:,.0f}" for r in plain)))
                rows.append((f"Training, all logging ({name}, batch 64, {label})", f"{statistics.median(hooks):,.0f} images/s",
                             f"median of {args.rounds}: " + ", ".join(f"{r:,.0f}" for r in hooks)))
                paired = [h / p for h, p in zip(hooks, plain)]
                rows.append((f"Ratio all logging / no hooks ({device}, {label})", f"{statistics.median(paired):.3f}",
                             "median of per-round ratios: " + ", ".join(f"{r:.3f}" for r in paired)))
        gen = generation_rate()
        rows.append(("Synthetic generation (1 core)", f"{statistics.median(gen):,.0f} images/s",
                     "median of 3 x 20,000 images: " + ", ".join(f"{r:,.0f}" for r in gen)))
        if not args.skip_quick_start:
            wall = quick_start_wall_time(workdir)
            rows.append((f"Quick start `{QUICK_START}`", f"{wall:.1f} s", "wall time, fresh process, empty data dir"))

    print(f"\nMachine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}; "
          f"{args.train_size:,} training images per run\n")
    print("| Measurement | Result | Notes |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
