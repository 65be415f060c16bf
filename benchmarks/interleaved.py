"""The Markdown row of one loop of an interleaved timing benchmark: its
total, its ratio to the baseline loop timed in the same rounds (summed, per
round, and the median of the per-batch ratios). Shared by the scripts that
time ``record()`` against a plain eval loop batch by batch."""
from __future__ import annotations

import statistics
import time
from typing import Any, List, Optional, Sequence, Tuple


def ratio_row(name: str, times: Sequence[float], base: Sequence[float], per_round: int, extra: str) -> str:
    """``| name | seconds | vs base (sum) | per round | median per-batch ratio | extra |``
    for ``times`` (one per batch, rounds of ``per_round`` batches) against
    ``base`` timed interleaved with it."""
    total = sum(times)
    rounds = [sum(times[j:j + per_round]) / sum(base[j:j + per_round]) - 1 for j in range(0, len(base), per_round)]
    batch_ratio = statistics.median(t / b for t, b in zip(times, base)) - 1
    return (f"| {name} | {total:.2f} | {100 * (total / sum(base) - 1):+.1f}% | "
            f"{', '.join(f'{100 * v:+.1f}%' for v in rounds)} | {100 * batch_ratio:+.1f}% | {extra} |")


def timed_batch(model: Any, x: Any, monitor: Optional[Any], record_args: Tuple[Any, ...],
                times: List[float], in_record: Optional[List[float]] = None) -> None:
    """Time one eval batch: the forward, then ``monitor.record(out, *record_args)``
    when a monitor is given; the whole into ``times``, the record() call alone
    into ``in_record`` when given."""
    start = time.perf_counter()
    out = model(x)
    if monitor is not None:
        middle = time.perf_counter()
        monitor.record(out, *record_args)
        if in_record is not None:
            in_record.append(time.perf_counter() - middle)
    times.append(time.perf_counter() - start)
