"""Memory and time that evaluation logging (``monitor.record`` and
``monitor.end_eval``) adds to an evaluation loop, for the hard cases of
issue 9:

* ``large-images``: 10,000 images of 3x224x224 (batches of 100), 10 classes.
  Targets: peak memory +100 MB, ``end_eval`` 1 s.
* ``1000-classes``: 4 batches of 50 rows, 1,000 classes, 1x28x28 images.
  Target: peak memory +300 MB.

    python benchmarks/bench_eval.py                      # 3 rounds
    python benchmarks/bench_eval.py --quick              # 1 round, 2,000 large images
    python benchmarks/bench_eval.py --compare-with DIR   # also the hooks importable from DIR

Every (case, variant) runs in a fresh process, so its peak resident memory
(``ru_maxrss``) is its own. Variants: ``baseline`` (the same loop: data,
logits, no monitor), ``hooks`` (this tree) and, with ``--compare-with``,
``other`` (``DIR`` first on ``PYTHONPATH``, e.g. an unpacked older version).
Rounds run the variants interleaved so machine load affects them alike;
memory and time deltas are to the baseline of the same round, and the table
gives their medians (``end_eval`` also as CPU time of the process, which
waiting for a busy machine's cores does not inflate). Images are uniform noise, the worst case for PNG
thumbnails. Each process may use at most ``--address-space-gb`` of address
space, so a version that allocates without bound fails instead of taking the
machine down; a failure is reported, not raised.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Dict, List

CASES = {
    # name: (rows per batch, batches, classes, image shape)
    "large-images": (100, 100, 10, (3, 224, 224)),
    "1000-classes": (50, 4, 1000, (1, 28, 28)),
}
TARGETS = {"large-images": (100.0, 1.0), "1000-classes": (300.0, None)}  # (MB, end_eval s)


def child(case: str, variant: str, batches: int, threads: int) -> Dict[str, object]:
    """Run one evaluation loop in this process and measure it."""
    import resource
    import tempfile
    import warnings

    import torch
    from torch.utils.tensorboard import SummaryWriter

    from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
    from tb_fmnist_plugin.hooks import attach_hooks

    torch.set_num_threads(threads)
    rows, _, classes, shape = CASES[case]
    generator = torch.Generator().manual_seed(0)
    writer = SummaryWriter(tempfile.mkdtemp(prefix="bench_eval_"))
    monitor = None
    if variant != "baseline":
        monitor = attach_hooks(FashionMNISTCNN(), writer, log_graph=False)
    result: Dict[str, object] = {"error": None, "end_eval_s": None, "warnings": []}
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for _ in range(batches):
                images = torch.rand((rows,) + shape, generator=generator) * 2 - 1
                labels = torch.randint(0, classes, (rows,), generator=generator)
                logits = torch.randn(rows, classes, generator=generator)
                logits[torch.arange(rows), labels] += 2.0
                if monitor is not None:
                    monitor.record(logits, labels, images)
            result["loop_s"] = time.perf_counter() - start
            if monitor is not None:
                began, cpu = time.perf_counter(), time.process_time()
                monitor.end_eval(step=0)
                result["end_eval_s"] = time.perf_counter() - began
                result["end_eval_cpu_s"] = time.process_time() - cpu  # steadier than wall time on a busy machine
        result["warnings"] = sorted({str(w.message)[:60] for w in caught})
    except (RuntimeError, MemoryError) as error:
        result["error"] = f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
        result["loop_s"] = time.perf_counter() - start
    result["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    writer.close()
    return result


def run_child(case: str, variant: str, batches: int, args: argparse.Namespace) -> Dict[str, object]:
    env = dict(os.environ)
    if variant == "other":
        env["PYTHONPATH"] = os.pathsep.join([args.compare_with] + [p for p in [env.get("PYTHONPATH")] if p])
    limit = int(args.address_space_gb * 2**30)

    def limit_memory() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", case, variant, "--batches", str(batches),
         "--threads", str(args.threads)],
        env=env, capture_output=True, text=True, preexec_fn=limit_memory,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": f"exit {done.returncode}: {tail[:120]}", "peak_mb": None, "loop_s": None, "end_eval_s": None}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round, 20 batches of large images")
    parser.add_argument("--compare-with", default=None, metavar="DIR")
    parser.add_argument("--cases", nargs="*", default=list(CASES))
    parser.add_argument("--address-space-gb", type=float, default=12.0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (1: steadier on a shared machine)")
    parser.add_argument("--child", nargs=2, metavar=("CASE", "VARIANT"), help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        case, variant = args.child
        print(json.dumps(child(case, variant, args.batches or CASES[case][1], args.threads)))
        return

    rounds = 1 if args.quick else args.rounds
    variants = ["baseline", "hooks"] + (["other"] if args.compare_with else [])
    results: Dict[tuple, List[Dict[str, object]]] = {}
    for case in args.cases:
        batches = 20 if args.quick and case == "large-images" else CASES[case][1]
        for round_ in range(rounds):
            order = variants if round_ % 2 == 0 else variants[::-1]
            for variant in order:
                measured = run_child(case, variant, batches, args)
                results.setdefault((case, variant), []).append(measured)
                print(f"  {case} round {round_ + 1} {variant}: {json.dumps(measured)}", file=sys.stderr)

    print(f"\nbench_eval: {rounds} round(s), medians; deltas to the baseline of the same round; "
          f"{args.threads} torch thread(s) per process, {os.cpu_count()} CPUs; python {sys.version.split()[0]}")
    print("| case | variant | rows | peak RSS | + peak vs baseline | loop time vs baseline | end_eval | end_eval CPU | target (MB, s) | ok |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for case in args.cases:
        rows, full_batches, _, shape = CASES[case]
        batches = 20 if args.quick and case == "large-images" else full_batches
        base = results[(case, "baseline")]
        for variant in variants[1:]:
            runs = results[(case, variant)]
            failed = [r["error"] for r in runs if r.get("error")]
            label = "hooks (this tree)" if variant == "hooks" else f"hooks ({args.compare_with})"
            target_mb, target_s = TARGETS[case]
            target = f"{target_mb:.0f}, {target_s if target_s is not None else '-'}"
            if failed:
                print(f"| {case} | {label} | {rows * batches:,} | - | failed: {failed[0]} | - | - | - | {target} | no |")
                continue
            peak = statistics.median(r["peak_mb"] for r in runs)
            delta = statistics.median(r["peak_mb"] - b["peak_mb"] for r, b in zip(runs, base))
            ratio = statistics.median(r["loop_s"] / b["loop_s"] for r, b in zip(runs, base))
            end = statistics.median(r["end_eval_s"] for r in runs)
            cpu = statistics.median(r.get("end_eval_cpu_s", float("nan")) for r in runs)
            spread = f"{min(r['end_eval_s'] for r in runs):.2f}-{max(r['end_eval_s'] for r in runs):.2f}"
            ok = delta <= target_mb and (target_s is None or end <= target_s)
            print(f"| {case} | {label} | {rows * batches:,} {'x'.join(map(str, shape))} | {peak:.0f} MB | "
                  f"{delta:+.0f} MB | {ratio:.2f}x | {end:.2f} s ({spread}) | {cpu:.2f} s | {target} | {'yes' if ok else 'no'} |")
        notes = sorted({w for r in results[(case, 'hooks')] for w in r.get("warnings") or []})
        for note in notes:
            print(f"  warning ({case}, this tree): {note}...")


if __name__ == "__main__":
    main()
