"""Cost and size of the per-example record (issue 19).

    python benchmarks/bench_example_record.py            # the issue's sizes
    python benchmarks/bench_example_record.py --quick    # smaller, noisier

1. record(): the reference CNN on the CPU, batch 256, 10,000 images, three
   loops interleaved batch by batch (order rotating): the plain eval loop,
   forward + record() with the per-example record off, and with it on
   (everything else at its defaults). Reported as in
   ``bench_eval_diagnostics.py``: summed time against the plain loop, per
   round, and the median of per-batch ratios; plus end_eval's time.
2. Event bytes per evaluation of 10,000 examples: the ids (once), the
   predictions (every evaluation) and the thumbnails (once per run) of
   synthetic Fashion-MNIST images; thumbnail bytes for 10,000 and 50,000.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional

import interleaved  # benchmarks/interleaved.py, beside this script
import numpy as np
import torch
from tensorboard.backend.event_processing import event_file_loader

sys.path.insert(0, os.path.dirname(__file__))
from bench_eval_diagnostics import _monitor  # noqa: E402

from tb_fmnist_plugin import summary  # noqa: E402
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN  # noqa: E402
from tb_fmnist_plugin.fmnist.synthetic import generate_synthetic  # noqa: E402

NAMES = [f"class {i}" for i in range(10)]


def _images(count: int) -> tuple:
    images, labels = generate_synthetic(count, seed=1)
    x = torch.from_numpy(np.asarray(images, dtype=np.float32).reshape(count, 1, 28, 28))
    x = x / 255.0 if x.max() > 1.5 else x
    return x * 2 - 1, torch.from_numpy(np.asarray(labels)).long()


def bench_record(images: int, batch: int, rounds: int) -> None:
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    x_all, y_all = _images(images)
    data = [(x_all[i:i + batch], y_all[i:i + batch]) for i in range(0, images, batch)]
    with tempfile.TemporaryDirectory() as tmp:
        monitors = {"record, per-example record off": _monitor(os.path.join(tmp, "off"), 10, example_record=False),
                    "record, per-example record on": _monitor(os.path.join(tmp, "on"), 10)}
        loops = ["plain eval loop"] + list(monitors)
        times: Dict[str, List[float]] = defaultdict(list)
        end: Dict[str, List[float]] = defaultdict(list)
        with torch.no_grad():
            for r in range(rounds):
                for i, (x, y) in enumerate(data):
                    index = torch.arange(i * batch, i * batch + len(y))
                    for k in range(len(loops)):
                        name = loops[(i + r + k) % len(loops)]
                        interleaved.timed_batch(model, x, monitors.get(name), (y, x, index), times[name])
                for name, monitor in monitors.items():
                    start = time.perf_counter()
                    monitor.end_eval(step=r)
                    end[name].append(time.perf_counter() - start)
        for monitor in monitors.values():
            monitor.remove()
            monitor.writer.close()
    base, per_round = times["plain eval loop"], len(data)
    print(f"\n## record(): reference CNN, CPU ({torch.get_num_threads()} threads), batch {batch}, "
          f"{images:,} images x {rounds} rounds, interleaved")
    print("| loop | seconds | vs plain (sum) | per round | median per-batch ratio | end_eval s (first / later) |")
    print("|---|---|---|---|---|---|")
    for name in loops:
        ends = f"{end[name][0]:.2f} / {statistics.mean(end[name][1:] or [0]):.2f}" if name in end else "-"
        print(interleaved.ratio_row(name, times[name], base, per_round, ends))


def bench_bytes(examples: int = 10_000, batch: int = 256) -> None:
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    x_all, y_all = _images(examples)
    with tempfile.TemporaryDirectory() as tmp:
        monitor = _monitor(tmp, 10)
        with torch.no_grad():
            for step in range(2):
                for i in range(0, examples, batch):
                    monitor.record(model(x_all[i:i + batch]), y_all[i:i + batch], x_all[i:i + batch],
                                   torch.arange(i, min(i + batch, examples)))
                monitor.end_eval(step=step)
        monitor.remove()
        monitor.writer.close()
        sizes: Dict[str, List[int]] = defaultdict(list)
        for name in os.listdir(tmp):
            for event in event_file_loader.EventFileLoader(os.path.join(tmp, name)).Load():
                for value in event.summary.value:
                    if "/example_" in value.tag:
                        sizes[value.tag].append(value.ByteSize())
    print(f"\n## Event bytes of the per-example record, {examples:,} examples, 2 evaluations")
    print("| tag | bytes per value written |\n|---|---|")
    for tag, values in sorted(sizes.items()):
        print(f"| `{tag}` | {', '.join(f'{v:,}' for v in values)} |")


def bench_thumbnails(counts: List[int]) -> None:
    print("\n## Thumbnails once per run (synthetic Fashion-MNIST 28x28, default budget 8,000,000 bytes)")
    print("| images | bytes | kept | complete | seconds |\n|---|---|---|---|---|")
    for count in counts:
        x, _ = _images(count)
        tiles = ((x + 1) / 2 * 255 + 0.5).clamp(0, 255).to(torch.uint8).numpy()
        start = time.perf_counter()
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pb = summary.example_thumbnails_pb("confusion/test", tiles, rows=np.arange(count), class_names=NAMES)
        seconds = time.perf_counter() - start
        import json
        content = json.loads(pb.value[0].metadata.plugin_data.content)
        kept = count if content["complete"] else "fewer"
        print(f"| {count:,} | {pb.ByteSize():,} | {kept} | {content['complete']} | {seconds:.1f} |")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--skip-record", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.skip_record:
        bench_record(2560 if args.quick else 10_000, 256, args.rounds or (1 if args.quick else 3))
    bench_bytes(2560 if args.quick else 10_000)
    bench_thumbnails([2560] if args.quick else [10_000, 50_000])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
