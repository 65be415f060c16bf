"""Cost of the evaluation side of attach_hooks with calibration and label
issues on: record() time against a plain eval loop, end_eval time, the
monitor's peak memory, and the event bytes one evaluation adds.

    python benchmarks/bench_eval_diagnostics.py           # the issue's sizes (a few minutes)
    python benchmarks/bench_eval_diagnostics.py --quick   # smaller, noisier

1. record(): the reference CNN on the CPU, batch 256, 10,000 random images.
   Four loops run interleaved batch by batch (the order rotating every
   batch), so machine load affects them alike: the plain eval loop (forward
   only), the same plain loop again as a control (its difference to the
   first is the machine's noise), forward + record() with calibration and
   label issues off, and forward + record() with everything on. Reported:
   the summed time against the plain loop, the same per round, the median
   of the per-batch ratios (robust to load spikes) and the median and mean
   time inside record() per batch (record() adds its pending batches every
   2,048 rows, so the mean is the cost per batch).
2. end_eval(): with everything on, for 10,000 x 10 and 50,000 x 1,000
   (logits made up, images 28x28), against the same monitor with
   calibration and label issues off.
3. Peak memory of the monitor for 50,000 x 1,000 with everything on: the
   rise of the peak resident set size of a fresh process over what it held
   before attach_hooks (batches are made on the fly, so the data is not counted).
4. Event bytes of one evaluation, 10 classes, everything on, per tag.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from typing import Dict, List, Optional

import interleaved  # benchmarks/interleaved.py, beside this script
import torch
from tensorboard.backend.event_processing import event_file_loader
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks

OFF = {"log_calibration": False, "log_label_issues": False}


def _batch(batch: int, classes: int, seed: int, sharp: float = 4.0):
    """Model-like logits (true class boosted), labels, normalized images, indices."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, classes, (batch,), generator=g)
    logits = torch.randn(batch, classes, generator=g)
    logits[torch.arange(batch), labels] += sharp * torch.rand(batch, generator=g) * 2
    images = torch.rand(batch, 1, 28, 28, generator=g) * 2 - 1
    return logits, labels, images, torch.arange(seed * batch, seed * batch + batch)


def _monitor(logdir: str, classes: int, **options):
    model = FashionMNISTCNN(classes)
    names = [f"class {i}" for i in range(classes)]
    return attach_hooks(model, SummaryWriter(logdir), class_names=names, log_graph=False, **options)


def bench_record(images: int, batch: int, rounds: int) -> None:
    torch.manual_seed(0)
    model = FashionMNISTCNN().eval()
    data = [(torch.rand(batch, 1, 28, 28) * 2 - 1, torch.randint(0, 10, (batch,))) for _ in range(images // batch)]
    with tempfile.TemporaryDirectory() as tmp:
        monitors = {"record, diagnostics off": _monitor(os.path.join(tmp, "off"), 10, **OFF),
                    "record, everything on": _monitor(os.path.join(tmp, "on"), 10)}
        # The second plain loop is a control: its difference to the first is the machine's noise.
        loops = ["plain eval loop", "plain eval loop (control)"] + list(monitors)
        times: Dict[str, List[float]] = defaultdict(list)  # per batch, all rounds
        in_record: Dict[str, List[float]] = defaultdict(list)
        with torch.no_grad():
            for r in range(rounds):
                for i, (x, y) in enumerate(data):
                    index = torch.arange(i * batch, (i + 1) * batch)
                    for k in range(len(loops)):
                        name = loops[(i + r + k) % len(loops)]
                        interleaved.timed_batch(model, x, monitors.get(name), (y, x, index), times[name],
                                                in_record[name] if name in monitors else None)
                for monitor in monitors.values():
                    monitor.end_eval(step=r)
        for monitor in monitors.values():
            monitor.remove()
            monitor.writer.close()
    base = times["plain eval loop"]
    per_round = len(data)
    print(f"\n## record(): reference CNN, CPU ({torch.get_num_threads()} threads), batch {batch}, "
          f"{images:,} images x {rounds} rounds, interleaved batch by batch")
    print("| loop | seconds | vs plain (sum) | per round | median of per-batch ratios | record() ms/batch, median / mean |")
    print("|---|---|---|---|---|---|")
    for name in loops:
        inside = (f"{1000 * statistics.median(in_record[name]):.2f} / {1000 * statistics.mean(in_record[name]):.2f}"
                  if name in in_record else "-")
        print(interleaved.ratio_row(name, times[name], base, per_round, inside))
    print(f"plain forward: median {1000 * statistics.median(base):.1f} ms/batch")


def bench_end_eval(examples: int, classes: int, batch: int = 256) -> Dict[str, str]:
    """``end_eval`` + flush, as wall seconds (CPU seconds of the process)."""
    out = {}
    for label, options in (("diagnostics off", OFF), ("everything on", {})):
        with tempfile.TemporaryDirectory() as tmp:
            monitor = _monitor(tmp, classes, **options)
            for i in range(examples // batch):
                monitor.record(*_batch(batch, classes, i))
            start, cpu = time.perf_counter(), time.process_time()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # budget notices at 1,000 classes
                monitor.end_eval(step=0)
            monitor.flush()
            out[label] = f"{time.perf_counter() - start:.2f} ({time.process_time() - cpu:.2f} CPU)"
            monitor.remove()
            monitor.writer.close()
    return out


def _status_mb(field: str) -> float:
    """``VmRSS`` or ``VmHWM`` (peak) of this process, from /proc (Linux)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def memory_worker(examples: int, classes: int, diagnostics: bool, batch: int = 256) -> None:
    """Runs in a fresh process: how far the monitor raises the peak resident
    set size above what the process held before attach_hooks (the peak is
    reset first, through /proc/self/clear_refs)."""
    with tempfile.TemporaryDirectory() as tmp:
        _batch(batch, classes, 0)  # warm up allocator and kernels
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # reset VmHWM to the current RSS
        before = _status_mb("VmRSS")
        monitor = _monitor(tmp, classes, **({} if diagnostics else OFF))
        for i in range(examples // batch):
            monitor.record(*_batch(batch, classes, i))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            monitor.end_eval(step=0)
        monitor.remove()
        monitor.writer.close()
        print(f"{_status_mb('VmHWM') - before:.1f}")


def bench_bytes(examples: int = 10_000, batch: int = 256) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        monitor = _monitor(tmp, 10)
        for i in range(examples // batch):
            monitor.record(*_batch(batch, 10, i, sharp=2.0))
        monitor.end_eval(step=0)
        monitor.remove()
        monitor.writer.close()
        sizes: Dict[str, int] = defaultdict(int)
        for name in os.listdir(tmp):
            for event in event_file_loader.EventFileLoader(os.path.join(tmp, name)).Load():
                for value in event.summary.value:
                    group = value.tag if value.tag.startswith("confusion/") else value.tag.split("/")[0] + "/*"
                    sizes[group] += event.ByteSize() if len(event.summary.value) == 1 else value.ByteSize()
    print(f"\n## Event bytes of one evaluation, 10 classes, {examples:,} examples, everything on (first write, with metadata)")
    print("| tag | bytes |\n|---|---|")
    for tag, size in sorted(sizes.items()):
        print(f"| `{tag}` | {size:,} |")
    print(f"| total | {sum(sizes.values()):,} |")


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (noisier)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's); 1 keeps small ops free of thread "
                             "hand-offs, which dominate them on a loaded machine")
    parser.add_argument("--rounds", type=int, default=None, help="rounds of the record() comparison (default 3, 1 with --quick)")
    parser.add_argument("--record-only", action="store_true", help="only the record() comparison")
    parser.add_argument("--skip-record", action="store_true", help="all but the record() comparison")
    parser.add_argument("--memory-worker", nargs=3, type=int, metavar=("N", "C", "ON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory_worker:
        examples, classes, on = args.memory_worker
        memory_worker(examples, classes, bool(on))
        return 0
    if not args.skip_record:
        bench_record(2560 if args.quick else 10_000, 256, args.rounds or (1 if args.quick else 3))
    if args.record_only:
        return 0
    sizes = [(10_000, 10), (5_000, 1_000) if args.quick else (50_000, 1_000)]
    print("\n## end_eval() + flush, wall seconds (CPU seconds of the process)\n"
          "| examples x classes | diagnostics off | everything on |\n|---|---|---|")
    for examples, classes in sizes:
        timing = bench_end_eval(examples, classes)
        print(f"| {examples:,} x {classes:,} | {timing['diagnostics off']} | {timing['everything on']} |")
    examples, classes = sizes[-1]
    print(f"\n## Monitor peak memory, {examples:,} x {classes:,} (rise of the peak resident set size, MB)")
    print("| diagnostics off | everything on |\n|---|---|")
    peaks = [subprocess.run([sys.executable, __file__, "--memory-worker", str(examples), str(classes), str(on)],
                            capture_output=True, text=True, check=True).stdout.split()[-1] for on in (0, 1)]
    print(f"| {float(peaks[0]):.0f} | {float(peaks[1]):.0f} |")
    bench_bytes()
    return 0


if __name__ == "__main__":
    sys.exit(main())
