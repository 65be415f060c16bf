"""Cost of recording a segmentation evaluation: record() on (N, C, H, W)
logits against a plain eval loop, and end_eval for 100 batches.

    python benchmarks/bench_dense.py            # the issue's sizes: 512x512, 21 classes, batch 8 (several minutes)
    python benchmarks/bench_dense.py --quick    # 256x256, fewer batches (noisier)

1. record(): a small segmentation network (the TinyUNet of
   ``examples/segmentation_shapes.py``, 21 classes) on the CPU, batch 8 of
   3x512x512 images, labels with a 255 border (``ignore_index=255``), the
   images given (overlay examples). Four loops run interleaved batch by
   batch, the order rotating every batch, so machine load affects them
   alike: the plain eval loop (forward only), the same loop again as a
   control (its difference to the first is the machine's noise), forward +
   record() with the defaults, and forward + record() without examples and
   calibration (the matrix and its scalars only). A round is one evaluation
   of 10 batches (end_eval after it): its first batches cost more, as every
   image is then an example candidate whose overlays are made. Reported: the summed time against the plain loop,
   per round, the median of the per-batch ratios (robust to load spikes),
   and the median time inside record().
2. end_eval() + flush after recording 100 batches of 8 x 21 x 512 x 512
   logits (precomputed: 100 forwards of the network would take minutes;
   a few distinct batches are cycled), images given, with the default
   options (calibration on) and with calibration off.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import interleaved  # benchmarks/interleaved.py, beside this script
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import HookMonitor, attach_hooks

IGNORE = 255
CLASSES = 21


def _example():
    """``examples/segmentation_shapes.py`` (its TinyUNet), loaded from the file."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "segmentation_shapes.py")
    spec = importlib.util.spec_from_file_location("segmentation_shapes", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _batch(batch: int, size: int, seed: int, border: int = 8) -> Tuple[torch.Tensor, torch.Tensor]:
    """Normalized images ``[batch, 3, size, size]`` and masks with a 255 border."""
    g = torch.Generator().manual_seed(seed)
    images = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    masks = torch.randint(0, CLASSES, (batch, size, size), generator=g)
    masks[:, :border] = masks[:, -border:] = IGNORE
    masks[:, :, :border] = masks[:, :, -border:] = IGNORE
    return images, masks


def _logits_like_a_model(masks: torch.Tensor, seed: int) -> torch.Tensor:
    """``[N, C, H, W]`` logits, mostly right where the mask has a class."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(masks.shape[0], CLASSES, *masks.shape[1:], generator=g)
    known = masks != IGNORE
    logits.scatter_add_(1, torch.where(known, masks, 0).unsqueeze(1), 2.0 * known.unsqueeze(1).float())
    return logits


def _monitor(logdir: str, model: nn.Module, **options) -> HookMonitor:
    names = [f"class {i}" for i in range(CLASSES)]
    per_image_off = {"log_label_issues": False, "example_record": False, "max_misclassified": 0}  # off for dense outputs anyway
    return attach_hooks(model, SummaryWriter(logdir), class_names=names, ignore_index=IGNORE, log_graph=False, **per_image_off, **options)


#: The record() loops besides the plain ones: their options.
RECORD_LOOPS = {"forward + record(), defaults": {},
                "forward + record(), no examples, no calibration": {"examples_per_cell": 0, "log_calibration": False}}


def bench_record(size: int, batch: int, batches: int, rounds: int) -> None:
    torch.manual_seed(0)
    model = _example().TinyUNet(num_classes=CLASSES).eval()
    data = [_batch(batch, size, seed) for seed in range(batches)]
    loops = ["plain eval loop", "plain eval loop (control)"] + list(RECORD_LOOPS)
    times: Dict[str, List[float]] = defaultdict(list)
    in_record: Dict[str, List[float]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp, torch.no_grad():
        monitors = {name: _monitor(os.path.join(tmp, str(k)), model, **options) for k, (name, options) in enumerate(RECORD_LOOPS.items())}
        for r in range(rounds):
            for i, (x, y) in enumerate(data):
                for k in range(len(loops)):
                    name = loops[(i + r + k) % len(loops)]
                    interleaved.timed_batch(model, x, monitors.get(name), (y, x), times[name],
                                            in_record[name] if name in monitors else None)
            for monitor in monitors.values():
                monitor.end_eval(step=r)
        for monitor in monitors.values():
            monitor.remove()
            monitor.writer.close()
    base = times[loops[0]]
    print(f"\n## record(): TinyUNet ({CLASSES} classes), CPU ({torch.get_num_threads()} threads), batch {batch} of 3x{size}x{size}, "
          f"{batches} batches x {rounds} rounds, interleaved batch by batch")
    print("| loop | seconds | vs plain (sum) | per round | median of per-batch ratios | record() ms/batch, median |")
    print("|---|---|---|---|---|---|")
    for name in loops:
        inside = f"{1000 * statistics.median(in_record[name]):.1f}" if name in in_record else "-"
        print(interleaved.ratio_row(name, times[name], base, batches, inside))
    print(f"plain forward: median {1000 * statistics.median(base):.0f} ms/batch")


def bench_end_eval(size: int, batch: int, batches: int, distinct: int = 3) -> None:
    data = []
    for seed in range(distinct):
        images, masks = _batch(batch, size, seed)
        data.append((_logits_like_a_model(masks, seed), masks, images))
    print(f"\n## end_eval() + flush after {batches} batches of {batch} x {CLASSES} x {size} x {size} logits "
          f"({batches * batch * size * size:,} pixels), images given")
    print("| options | record() s/batch, mean | end_eval + flush, wall s (CPU s) |\n|---|---|---|")
    for label, options in (("defaults (calibration on)", {}), ("log_calibration=False", {"log_calibration": False})):
        with tempfile.TemporaryDirectory() as tmp:
            monitor = _monitor(tmp, nn.Conv2d(3, CLASSES, 1), **options)
            start = time.perf_counter()
            for i in range(batches):
                monitor.record(*data[i % distinct])
            recording = (time.perf_counter() - start) / batches
            start, cpu = time.perf_counter(), time.process_time()
            monitor.end_eval(step=0)
            monitor.flush()
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            monitor.remove()
            monitor.writer.close()
        print(f"| {label} | {recording:.3f} | {wall:.2f} ({cpu:.2f}) |")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="256x256, fewer batches (noisier)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (evaluations) of the record() comparison (default 2, 1 with --quick)")
    parser.add_argument("--batches", type=int, default=None,
                        help="batches per round of the record() comparison (default 10; the first batches of an evaluation "
                             "fill the example candidates and cost more)")
    parser.add_argument("--skip-record", action="store_true", help="only the end_eval measurement")
    parser.add_argument("--skip-end-eval", action="store_true", help="only the record() comparison")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    size = 256 if args.quick else 512
    if not args.skip_record:
        bench_record(size, 8, args.batches or (4 if args.quick else 10), args.rounds or (1 if args.quick else 2))
    if not args.skip_end_eval:
        bench_end_eval(size, 8, 20 if args.quick else 100)
    return 0


if __name__ == "__main__":
    sys.exit(main())
