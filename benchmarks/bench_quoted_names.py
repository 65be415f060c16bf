"""Benchmark the examples routes of a run named with ``"`` against a plain name.

TensorBoard's Rust data server (``--load_fast=true``) cannot hand out the
blobs of a run or tag named with ``"``, ``\\`` or a control character, so
the plugin reads them from the run's event files (``server/event_blobs.py``).
This writes the same data under two runs, ``plain`` and ``say "hi"`` (by
default 320 eval steps, each with a 10-class matrix and the examples of
1,000 noise images, as the writer keeps them by default (4 per cell, at
most 150 KB a step): about 49 MB of events per run), serves the logdir with
``tensorboard --load_fast=true`` and times ``examples`` (one cell) and
``sprite`` at random steps, interleaved across routes and names; the target
is a p95 of the quoted name within twice the plain name's, in the same run.
Also timed, once each: the first request of the quoted name (its index is
built from the whole run) and, after ``--append`` new steps are written while
the server runs, the first request of a new step (only the new bytes are
read).

Usage::

    python benchmarks/bench_quoted_names.py                # 320 steps, 40 rounds
    python benchmarks/bench_quoted_names.py --steps 60 --rounds 20 --logdir /tmp/quoted
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from typing import Dict, List, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: the tests' helpers
sys.path.insert(0, HERE)
import plugin_scale  # noqa: E402
from bench_plugin import fmnist_like_matrix, load_average, percentile, q  # noqa: E402

from tb_fmnist_plugin import summary  # noqa: E402
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402

TAG = "confusion/test"
PLAIN, QUOTED = "plain", 'say "hi"'
NAMES = [f"class {i}" for i in range(10)]
#: The quoted name's p95 may be at most this many times the plain name's.
TARGET_RATIO = 2.0


def write_steps(logdir: str, steps: range, images: int) -> None:
    """The same matrices and examples at ``steps`` under both run names
    (appended to the runs' event files when they exist)."""
    from torch.utils.tensorboard import SummaryWriter

    for run in (PLAIN, QUOTED):
        rng = np.random.default_rng(steps.start)
        writer = SummaryWriter(os.path.join(logdir, run))
        for step in steps:
            summary.write_confusion_matrix(writer, TAG, fmnist_like_matrix(rng, step), step, class_names=NAMES)
            summary.write_cell_examples(
                writer, TAG, rng.random((images, 1, 28, 28)).astype(np.float32), step,
                true_labels=np.arange(images) % 10, predicted_labels=(np.arange(images) // 10) % 10,
                confidences=rng.random(images), dataset_indices=np.arange(images), num_classes=10,
            )
        writer.close()


def run_bytes(logdir: str, run: str) -> int:
    directory = os.path.join(logdir, run)
    return sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))


def wait_for_examples(server, steps: int, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        runs = server.get_json(q("tags"))["runs"]
        counts = [len(runs.get(run, {}).get(TAG, {}).get("examples_steps", [])) for run in (PLAIN, QUOTED)]
        if counts == [steps, steps]:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"TensorBoard listed {counts} example steps of {steps}")
        time.sleep(0.5)


def urls(run: str, step: int) -> Dict[str, str]:
    return {"examples": q("examples", run=run, tag=TAG, step=step, true=3, predicted=5),
            "sprite": q("sprite", run=run, tag=TAG, step=step)}


def measure(server, steps: int, rounds: int) -> Dict[Tuple[str, str], List[float]]:
    """``{(route, run): [ms]}``: each round asks every route of both names
    at one random step, in a shuffled order."""
    rng = random.Random(0)
    samples: Dict[Tuple[str, str], List[float]] = {}
    for _ in range(rounds):
        step = rng.randrange(steps)
        pairs = [(route, run, url) for run in (PLAIN, QUOTED) for route, url in urls(run, step).items()]
        rng.shuffle(pairs)
        for route, run, url in pairs:
            samples.setdefault((route, run), []).append(plugin_scale.timed_get(server.url + url)["total"])
    return samples


def first_requests(server, step: int) -> Dict[str, float]:
    """ms of the first ``examples`` request at ``step`` of each name."""
    return {run: plugin_scale.timed_get(server.url + urls(run, step)["examples"])["total"] for run in (PLAIN, QUOTED)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=320, help="eval steps with examples per run")
    parser.add_argument("--images", type=int, default=1000, help="example images per step")
    parser.add_argument("--rounds", type=int, default=40, help="timed rounds (each: 2 routes x 2 names)")
    parser.add_argument("--append", type=int, default=5, help="steps appended while the server runs (0: none)")
    parser.add_argument("--logdir", help="a new or empty directory to write the runs in (default: a temporary one)")
    args = parser.parse_args()
    logdir = args.logdir or tempfile.mkdtemp(prefix="bench_quoted_")
    if os.path.isdir(logdir) and os.listdir(logdir):
        parser.error(f"--logdir {logdir} is not empty")
    start = time.perf_counter()
    write_steps(logdir, range(args.steps), args.images)
    print(f"wrote {logdir} in {time.perf_counter() - start:.1f}s: {run_bytes(logdir, QUOTED) / 1e6:.1f} MB per run",
          file=sys.stderr)
    with tensorboard_server(logdir, load_fast=True, reload_wait_s=600) as server:
        wait_for_examples(server, args.steps)
        first = first_requests(server, 0)
        samples = measure(server, args.steps, args.rounds)
        appended = {}
        if args.append:
            write_steps(logdir, range(args.steps, args.steps + args.append), args.images)
            wait_for_examples(server, args.steps + args.append)
            appended = first_requests(server, args.steps + args.append - 1)
    print_table(args, logdir, samples, first, appended)


def print_table(args: argparse.Namespace, logdir: str, samples: Dict[Tuple[str, str], List[float]],
                first: Dict[str, float], appended: Dict[str, float]) -> None:
    print()
    print(f"`tensorboard --load_fast=true`, {args.steps} steps x {args.images} example images per run "
          f"({run_bytes(logdir, QUOTED) / 1e6:.1f} MB of events per run), {args.rounds} interleaved rounds; "
          f"{os.cpu_count()} CPUs, load average at the end {load_average()}.")
    print()
    print("| route | run | n | p50 ms | p95 ms | p95 / plain p95 | target |")
    print("|---|---|---:|---:|---:|---:|---|")
    for route in ("examples", "sprite"):
        plain_p95 = percentile(samples[(route, PLAIN)], 95)
        for run in (PLAIN, QUOTED):
            values = samples[(route, run)]
            p95 = percentile(values, 95)
            ratio = p95 / plain_p95
            target = "-" if run == PLAIN else f"<= {TARGET_RATIO:g}x ({'met' if ratio <= TARGET_RATIO else '**missed**'})"
            print(f"| {route} | `{run}` | {len(values)} | {percentile(values, 50):.1f} | {p95:.1f} | {ratio:.2f} | {target} |")
    for label, times in (("first request (quoted: index built)", first),
                         (f"first request at a step appended ({args.append} new steps)", appended)):
        for run, elapsed in times.items():
            print(f"| examples, {label} | `{run}` | 1 | {elapsed:.1f} | | | |")


if __name__ == "__main__":
    main()
