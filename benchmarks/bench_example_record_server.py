"""Benchmark the per-example record's routes at 10,000 examples x 100 evaluations.

Writes one run with the format's write API (``summary.write_example_ids``,
``write_example_predictions``, ``write_example_thumbnails`` and the matching
matrices; 10 classes, predictions that improve over the steps), serves the
logdir with the real ``tensorboard`` command under each loader, and times
through HTTP, in interleaved rounds at random steps and cells:

* ``members`` (one page of 100 of a cell): target p95 <= 50 ms;
* ``cell_changes`` between two random steps (the step difference): target p95 <= 100 ms;

and, once each, the first ``members`` request (its step's NPZ
read and decoded), ``forgetting`` (every step decoded and stacked) and ``data_map``.

Usage::

    python benchmarks/bench_example_record_server.py                 # 10,000 x 100, 200 rounds, both loaders
    python benchmarks/bench_example_record_server.py --examples 2000 --steps 20 --rounds 50
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from typing import Dict, List

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: the tests' helpers
sys.path.insert(0, HERE)
import plugin_scale  # noqa: E402
from bench_plugin import load_average, percentile, q  # noqa: E402

from tb_fmnist_plugin import summary  # noqa: E402
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402

RUN, TAG = "eval", "confusion/test"
C = 10
NAMES = [f"class {i}" for i in range(C)]
TARGETS = {"members": 50.0, "cell_changes": 100.0}


def write(logdir: str, examples: int, steps: int) -> float:
    """The run's record and matrices; returns the event bytes per evaluation."""
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    index = np.sort(rng.choice(examples * 3, examples, replace=False))
    label = rng.integers(0, C, examples)
    writer = SummaryWriter(os.path.join(logdir, RUN))
    summary.write_example_ids(writer, TAG, index, 0, labels=label, identity="index", class_names=NAMES)
    tiles = rng.integers(0, 256, (examples, 28, 28)).astype(np.uint8)
    summary.write_example_thumbnails(writer, TAG, tiles, 0, rows=np.arange(examples), class_names=NAMES)
    writer.flush()
    before = _bytes(logdir)
    for step in range(steps):
        logits = rng.normal(size=(examples, C)).astype(np.float32)
        logits[np.arange(examples), label] += 4.0 * step / max(1, steps - 1) + rng.random(examples)
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        predicted = probs.argmax(axis=1)
        matrix = np.zeros((C, C), np.int64)
        np.add.at(matrix, (label, predicted), 1)
        summary.write_confusion_matrix(writer, TAG, matrix, step, class_names=NAMES)
        summary.write_example_predictions(writer, TAG, predicted, step, p_given=probs[np.arange(examples), label],
                                          confidence=probs.max(axis=1), labels=label, ids_step=0, class_names=NAMES)
    writer.close()
    return (_bytes(logdir) - before) / steps


def _bytes(logdir: str) -> int:
    directory = os.path.join(logdir, RUN)
    return sum(os.path.getsize(os.path.join(directory, name)) for name in os.listdir(directory))


def wait_listed(server, steps: int, timeout: float = 900.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        listed = server.get_json(q("tags"))["runs"].get(RUN, {}).get(TAG, {})
        if len(listed.get("steps", [])) == steps and "example_predictions" in listed.get("diagnostics", []):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"TensorBoard listed {len(listed.get('steps', []))} steps of {steps}")
        time.sleep(0.5)


def measure(server, steps: int, rounds: int) -> Dict[str, List[float]]:
    """ms per route: each round one ``members`` and one ``cell_changes`` at
    random steps and cells, in a shuffled order."""
    rng = random.Random(0)
    samples: Dict[str, List[float]] = {"members": [], "cell_changes": []}
    for _ in range(rounds):
        step, other = rng.randrange(steps), rng.randrange(steps)
        true, predicted = rng.randrange(C), rng.randrange(C)
        urls = [("members", q("members", run=RUN, tag=TAG, step=step, true=true, predicted=predicted,
                              sort=rng.choice(["confidence", "p_given"]))),
                ("cell_changes", q("cell_changes", run=RUN, tag=TAG, step=step, step_a=other, true=true,
                                   predicted=predicted))]
        rng.shuffle(urls)
        for route, url in urls:
            samples[route].append(plugin_scale.timed_get(server.url + url)["total"])
    return samples


def bench_mode(logdir: str, load_fast: bool, steps: int, rounds: int) -> Dict[str, object]:
    with tensorboard_server(logdir, load_fast, reload_wait_s=900) as server:
        wait_listed(server, steps)
        first = plugin_scale.timed_get(server.url + q("members", run=RUN, tag=TAG, step=steps - 1, true=0, predicted=0))
        forgetting = plugin_scale.timed_get(server.url + q("forgetting", run=RUN, tag=TAG))
        data_map = plugin_scale.timed_get(server.url + q("data_map", run=RUN, tag=TAG))
        samples = measure(server, steps, rounds)
    return {"first": first["total"], "forgetting": forgetting["total"], "data_map": data_map["total"],
            "data_map_bytes": data_map["wire"], "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--examples", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100, help="evaluations")
    parser.add_argument("--rounds", type=int, default=200, help="timed rounds (each: members + cell_changes)")
    parser.add_argument("--loaders", default="true,false", help="--load_fast values to run")
    args = parser.parse_args()
    logdir = tempfile.mkdtemp(prefix="bench_record_")
    start = time.perf_counter()
    per_step = write(logdir, args.examples, args.steps)
    print(f"wrote {logdir} in {time.perf_counter() - start:.1f}s ({per_step / 1e3:.1f} KB of events per evaluation)",
          file=sys.stderr)
    results = {mode: bench_mode(logdir, mode == "true", args.steps, args.rounds) for mode in args.loaders.split(",")}
    print()
    print(f"{args.examples:,} examples x {args.steps} evaluations, {C} classes, {args.rounds} interleaved rounds; "
          f"{os.cpu_count()} CPUs, load average at the end {load_average()}.")
    print()
    print("| --load_fast | route | n | p50 ms | p95 ms | target |")
    print("|---|---|---:|---:|---:|---|")
    for mode, result in results.items():
        for route, values in result["samples"].items():
            p95 = percentile(values, 95)
            met = "met" if p95 <= TARGETS[route] else "**missed**"
            print(f"| {mode} | {route} | {len(values)} | {percentile(values, 50):.1f} | {p95:.1f} | "
                  f"<= {TARGETS[route]:g} ms ({met}) |")
        print(f"| {mode} | members, first request (its step read) | 1 | {result['first']:.0f} | | |")
        print(f"| {mode} | forgetting, first (history stacked) | 1 | {result['forgetting']:.0f} | | |")
        print(f"| {mode} | data_map ({result['data_map_bytes'] / 1e3:.0f} KB on the wire) | 1 | "
              f"{result['data_map']:.0f} | | |")


if __name__ == "__main__":
    main()
