"""Benchmark the confusion plugin's routes against a real TensorBoard.

Generates a log directory with 5 runs x 500 eval steps x 10 classes, one run
with 20 steps of a realistic 1,000-class matrix (ImageNet-like: 50,000
samples, ~80% on the diagonal, so it is stored sparse) and one run with 5
steps of a worst-case dense 1,000-class matrix (every cell non-zero). Starts
``tensorboard`` as a subprocess per ``--load_fast`` mode, and measures the
round trip of each route on loopback (the client sends
``Accept-Encoding: gzip`` as browsers do), interleaving requests across
routes and runs. Each mode runs twice: with the plugin's per-series cache
(the steady state of a dashboard) and with it off
(``TB_FMNIST_PLUGIN_CACHE_ENTRIES=0``: every request reads the whole series
from the data provider). Also reports event-file bytes per eval step.

The scale rows (``plugin_scale.py``): 200- and 1,000-run sweeps (the ``tags``
listing) and one run of 5,000 steps x 100 classes (``matrix``,
``metrics_series``, memory), both load modes, against their targets.

Usage::

    python benchmarks/bench_plugin.py                 # everything, both load modes
    python benchmarks/bench_plugin.py --modes false --requests 50
    python benchmarks/bench_plugin.py --scale sweep200,sweep1000,long --no-base --scale-dir /tmp/scale
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import urllib.parse
from typing import Dict, List, Tuple

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # the repository root: the tests' helpers
sys.path.insert(0, HERE)
import plugin_scale  # noqa: E402

from tb_fmnist_plugin import summary  # noqa: E402
from tb_fmnist_plugin.format import metadata  # noqa: E402
from tests.support.tensorboard_server import tensorboard_server  # noqa: E402

PLUGIN = metadata.PLUGIN_NAME
BASE = f"/data/plugin/{PLUGIN}/"
TAG = "confusion/test"
SMALL_RUNS = 5
SMALL_STEPS = 500
BIG_STEPS = 20
DENSE_STEPS = 5


def fmnist_like_matrix(rng: np.random.Generator, step: int) -> np.ndarray:
    accuracy = 0.6 + 0.3 * step / SMALL_STEPS
    matrix = np.zeros((10, 10), dtype=np.int64)
    for true in range(10):
        probs = rng.dirichlet(np.ones(10)) * (1 - accuracy)
        probs[true] += accuracy
        matrix[true] = rng.multinomial(1000, probs / probs.sum())
    return matrix


def imagenet_like_matrix(rng: np.random.Generator) -> np.ndarray:
    n = 1000
    matrix = np.zeros((n, n), dtype=np.int64)
    true = np.repeat(np.arange(n), 50)
    predicted = true.copy()
    wrong = rng.random(true.size) < 0.2
    predicted[wrong] = rng.integers(0, n, int(wrong.sum()))
    np.add.at(matrix, (true, predicted), 1)
    return matrix


def generate(logdir: str) -> None:
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(0)
    names = [f"class {i}" for i in range(10)]
    for r in range(SMALL_RUNS):
        writer = SummaryWriter(os.path.join(logdir, f"run{r}"))
        for step in range(SMALL_STEPS):
            summary.write_confusion_matrix(writer, TAG, fmnist_like_matrix(rng, step), step, class_names=names)
        writer.close()
    writer = SummaryWriter(os.path.join(logdir, "imagenet"))
    for step in range(BIG_STEPS):
        summary.write_confusion_matrix(writer, TAG, imagenet_like_matrix(rng), step)
    writer.close()
    writer = SummaryWriter(os.path.join(logdir, "imagenet_dense"))
    for step in range(DENSE_STEPS):
        summary.write_confusion_matrix(writer, TAG, rng.integers(1, 60, size=(1000, 1000)), step)
    writer.close()


def bytes_per_step(workdir: str) -> List[Tuple[str, float]]:
    """Event-file growth per eval step for matrix alone and with examples."""
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(1)
    steps = 20
    yy, xx = np.mgrid[0:28, 0:28]
    smooth = np.exp(-(((yy - 14) ** 2) + (xx - 14) ** 2) / 60.0)
    cases = {
        "matrix only, 10 classes": None,
        "matrix + examples (defaults, smooth 28x28 images)": "smooth",
        "matrix + examples (defaults, worst case: noise images)": "noise",
    }
    results = []
    for label, images_kind in cases.items():
        directory = tempfile.mkdtemp(dir=workdir)
        writer = SummaryWriter(directory)
        for step in range(steps):
            summary.write_confusion_matrix(writer, TAG, fmnist_like_matrix(rng, step), step)
            if images_kind is not None:
                count = 1000
                if images_kind == "smooth":
                    images = (smooth[None] * rng.uniform(0.3, 1.0, (count, 1, 1)))[:, None].astype(np.float32)
                else:
                    images = rng.random((count, 1, 28, 28)).astype(np.float32)
                summary.write_cell_examples(
                    writer, TAG, images, step, true_labels=np.repeat(np.arange(10), 100),
                    predicted_labels=np.tile(np.arange(10), 100), confidences=rng.random(count),
                    dataset_indices=np.arange(count), num_classes=10,
                )
        writer.close()
        total = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
        results.append((label, total / steps))
    matrix_only = results[0][1]
    results += [
        (label.replace("matrix + examples", "examples alone"), size - matrix_only)
        for label, size in results[1:]
    ]
    for label, big in (("matrix only, 1,000 classes realistic (sparse)", "sparse"), ("matrix only, 1,000 classes worst case (dense)", "dense")):
        directory = tempfile.mkdtemp(dir=workdir)
        writer = SummaryWriter(directory)
        for step in range(3):
            matrix = imagenet_like_matrix(rng) if big == "sparse" else rng.integers(1, 60, size=(1000, 1000))
            summary.write_confusion_matrix(writer, TAG, matrix, step)
        writer.close()
        total = sum(os.path.getsize(os.path.join(directory, f)) for f in os.listdir(directory))
        results.append((label, total / 3))
    return results


def fetch(url: str) -> Tuple[float, int]:
    """ms of one GET as a browser makes it, and its JSON bytes."""
    sample = plugin_scale.timed_get(url)
    return sample["total"], int(sample["json"])


def q(route: str, **params) -> str:
    return BASE + route + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def wait_loaded(server, timeout: float = 300.0) -> None:
    expected = {f"run{r}": SMALL_STEPS for r in range(SMALL_RUNS)}
    expected.update(imagenet=BIG_STEPS, imagenet_dense=DENSE_STEPS)
    deadline = time.monotonic() + timeout
    while True:
        runs = server.get_json(BASE + "tags")["runs"]
        counts = {run: len(runs.get(run, {}).get(TAG, {}).get("steps", [])) for run in expected}
        if counts == expected:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"TensorBoard did not load every step: {counts}")
        time.sleep(1.0)


def percentile(values: List[float], p: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100.0
    low, high = int(np.floor(k)), int(np.ceil(k))
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def bench_mode(logdir: str, load_fast: bool, requests: int, cache: bool) -> List[Dict]:
    """Timed requests against one TensorBoard; ``cache=False`` starts it with
    the plugin's series cache off, so every request reads from the provider."""
    rng = random.Random(0)
    routes = {
        "matrix, 10 classes": (lambda: q("matrix", run=f"run{rng.randrange(SMALL_RUNS)}", tag=TAG, step=rng.randrange(SMALL_STEPS)), 30),
        "matrix, 1,000 classes (sparse-stored)": (lambda: q("matrix", run="imagenet", tag=TAG, step=rng.randrange(BIG_STEPS)), 300),
        "matrix, 1,000 classes (dense worst case)": (lambda: q("matrix", run="imagenet_dense", tag=TAG, step=rng.randrange(DENSE_STEPS)), 300),
        "metrics_series, 10 classes x 500 steps": (lambda: q("metrics_series", run=f"run{rng.randrange(SMALL_RUNS)}", tag=TAG), 100),
        "metrics, 10 classes": (lambda: q("metrics", run=f"run{rng.randrange(SMALL_RUNS)}", tag=TAG, step=rng.randrange(SMALL_STEPS)), None),
        "tags (7 runs, 2,525 steps)": (lambda: BASE + "tags", None),
    }
    samples: Dict[str, List[float]] = {name: [] for name in routes}
    sizes: Dict[str, int] = {}
    os.environ["TB_FMNIST_PLUGIN_CACHE_ENTRIES"] = "16" if cache else "0"
    try:
        with tensorboard_server(logdir, load_fast, reload_wait_s=300) as server:
            wait_loaded(server)
            for _ in range(3):  # warm-up
                for make, _ in routes.values():
                    fetch(server.url + make())
            for _ in range(requests):
                for name, (make, _) in routes.items():  # interleaved
                    elapsed, size = fetch(server.url + make())
                    samples[name].append(elapsed)
                    sizes[name] = size
    finally:
        os.environ.pop("TB_FMNIST_PLUGIN_CACHE_ENTRIES", None)
    rows = []
    for name, (_, target) in routes.items():
        values = samples[name]
        rows.append(
            dict(
                mode="true" if load_fast else "false",
                cache="on" if cache else "off",
                route=name,
                n=len(values),
                p50=percentile(values, 50),
                p95=percentile(values, 95),
                target=target,
                size=sizes[name],
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modes", default="true,false", help="load_fast modes to run, comma-separated")
    parser.add_argument("--requests", type=int, default=100, help="timed requests per route")
    parser.add_argument("--uncached-requests", type=int, default=30,
                        help="timed requests per route with the plugin's series cache off (0 to skip)")
    parser.add_argument("--logdir", help="reuse (or create) this log directory instead of a temporary one")
    parser.add_argument("--no-base", action="store_true", help="skip the 5-run logdir's rows")
    parser.add_argument("--scale", default="sweep200,sweep1000,long",
                        help="scale rows to run, comma-separated (sweep200, sweep1000, long; empty for none)")
    parser.add_argument("--scale-requests", type=int, default=30, help="timed requests per scale route")
    parser.add_argument("--scale-dir", help="reuse (or create) the scale logdirs under this directory")
    args = parser.parse_args()
    modes = [mode.strip() == "true" for mode in args.modes.split(",")]
    if not args.no_base:
        bench_base(args, modes)
    scales = [name for name in args.scale.split(",") if name.strip()]
    if scales:
        print_scale(bench_scale(args.scale_dir or tempfile.mkdtemp(prefix="bench_scale_"), scales, modes,
                                args.scale_requests))


def bench_scale(root: str, scales: List[str], modes: List[bool], requests: int) -> List[Dict]:
    """The scale rows of ``plugin_scale`` for each of ``modes`` (their
    TensorBoards run at once, requests interleaved across them)."""
    rows = []
    for name in scales:
        if name == "long":
            logdir = plugin_scale.ensure(os.path.join(root, "long"), plugin_scale.write_long)
            rows += plugin_scale.bench_long(logdir, modes, requests)
        else:
            runs = int(name.replace("sweep", ""))
            logdir = plugin_scale.ensure(os.path.join(root, name), lambda d, k=runs: plugin_scale.write_sweep(d, k))
            rows += plugin_scale.bench_sweep(logdir, runs, modes, requests, 300 if runs <= 200 else 1000)
        print(f"measured {name}; load average {load_average()}", file=sys.stderr, flush=True)
    return rows


def load_average() -> str:
    return ", ".join(f"{x:.1f}" for x in os.getloadavg())


def print_scale(rows: List[Dict]) -> None:
    """Markdown rows: p50/p95 of the whole request as a browser makes it,
    and the p50 of its parts (server, transfer, un-gzip)."""
    print()
    print(f"Scale rows; {os.cpu_count()} CPUs, load average at the end {load_average()}.")
    print()
    print("| load_fast | route | n | p50 ms | p95 ms | target p95 | p50 server / transfer / un-gzip ms "
          "| bytes sent (JSON) |")
    print("|---|---|---:|---:|---:|---|---|---:|")
    for row in sorted(rows, key=lambda r: (r["route"].startswith("TensorBoard memory"), r["mode"] == "false")):
        if row["values"] is None:
            print(f"| {row['mode']} | {row['route']} | - | {row['text']} | | bounded | | |")
            continue
        values = row["values"]
        totals = [v["total"] for v in values]
        p50, p95 = percentile(totals, 50), percentile(totals, 95)
        parts = " / ".join(f"{percentile([v[k] for v in values], 50):.1f}" for k in ("headers", "transfer", "gunzip"))
        target = "-" if not row["target"] else f"<= {row['target']:,} ({'met' if p95 <= row['target'] else '**missed**'})"
        size = f"{values[-1]['wire']:,} ({values[-1]['json']:,})"
        print(f"| {row['mode']} | {row['route']} | {len(totals)} | {p50:.1f} | {p95:.1f} | {target} | {parts} | {size} |")


def bench_base(args: argparse.Namespace, modes: List[bool]) -> None:
    """The 5-run logdir's rows and the event-file sizes."""
    workdir = tempfile.mkdtemp(prefix="bench_tb_fmnist_")
    logdir = args.logdir or os.path.join(workdir, "logs")
    if not os.path.isdir(logdir) or not os.listdir(logdir):
        os.makedirs(logdir, exist_ok=True)
        start = time.perf_counter()
        generate(logdir)
        print(f"generated {logdir} in {time.perf_counter() - start:.1f}s", file=sys.stderr)

    rows = []
    for load_fast in modes:
        rows += bench_mode(logdir, load_fast, args.requests, cache=True)
        if args.uncached_requests:
            rows += bench_mode(logdir, load_fast, args.uncached_requests, cache=False)

    print("| load_fast | series cache | route | n | p50 ms | p95 ms | target p95 | response bytes (uncompressed) |")
    print("|---|---|---|---:|---:|---:|---|---:|")
    for row in rows:
        target = f"<= {row['target']} ms" if row["target"] else "-"
        verdict = "" if not row["target"] else (" ok" if row["p95"] <= row["target"] else " MISSED")
        print(
            f"| {row['mode']} | {row['cache']} | {row['route']} | {row['n']} | {row['p50']:.1f} | {row['p95']:.1f} | "
            f"{target}{verdict} | {row['size']:,} |"
        )
    print()
    print("| event file content | bytes per eval step |")
    print("|---|---:|")
    for label, size in bytes_per_step(workdir):
        print(f"| {label} | {size:,.0f} |")


if __name__ == "__main__":
    main()
