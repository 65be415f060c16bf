"""The scale rows of ``bench_plugin.py``: hyper-parameter sweeps and a long run.

- sweeps: 200 and 1,000 runs x 50 eval steps x 10 classes, one matrix tag per
  run; measured: the ``tags`` listing, plain and with the tab's
  ``X-Confusion-Latest: 1``;
- a long run: 1 run x 5,000 steps x 100 classes (10,000 samples per eval,
  errors spread over 40 confusable classes: stored sparse, about 76 MB of
  matrices); measured: ``matrix`` at random steps, ``metrics_series``
  (the default answer, and with ``metrics=recall`` or one class, as the
  tab's cards need), ``cell_series``, and the peak memory of the
  TensorBoard processes.

One TensorBoard per ``--load_fast`` mode runs at once and requests alternate
between them, so both modes meet the same machine load; each request is
timed as a browser's ``fetch`` (gzip accepted and un-gzipped) and split into
server time (to the response headers), transfer and un-gzipping.

Logdirs are written with the project's summary API through a real
``SummaryWriter``; each sweep run writes one prebuilt matrix per step (drawn
from a pool, so writing 50,000 matrices takes seconds).
"""
from __future__ import annotations

import contextlib
import gzip
import json
import os
import random
import time
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata

PLUGIN = metadata.PLUGIN_NAME
BASE = f"/data/plugin/{PLUGIN}/"
TAG = "confusion/test"
SWEEP_STEPS = 50
LONG_STEPS = 5000
LONG_CLASSES = 100
LONG_SAMPLES_PER_CLASS = 100
LONG_CONFUSABLE = 40
#: TensorBoard's default; the tests' helper reloads every second.
RELOAD_ARGS = ["--reload_interval", "5"]


def sweep_matrices(count: int, seed: int = 0) -> List[np.ndarray]:
    """``count`` plausible 10-class matrices (1,000 samples each)."""
    rng = np.random.default_rng(seed)
    pool = []
    for k in range(count):
        accuracy = 0.6 + 0.35 * k / max(1, count - 1)
        probs = rng.dirichlet(np.ones(10), size=10) * (1 - accuracy) + np.eye(10) * accuracy
        pool.append(rng.multinomial(100, probs / probs.sum(axis=1, keepdims=True)))
    return pool


def write_sweep(logdir: str, runs: int, steps: int = SWEEP_STEPS) -> None:
    """``runs`` runs named ``lr=<k>`` with one 10-class matrix per step."""
    from torch.utils.tensorboard import SummaryWriter

    pool = sweep_matrices(steps)
    names = [f"class {i}" for i in range(10)]
    for r in range(runs):
        writer = SummaryWriter(os.path.join(logdir, f"lr={r:04d}"))
        for step in range(steps):
            summary.write_confusion_matrix(writer, TAG, pool[(r + step) % steps], step, class_names=names)
        writer.close()


def long_matrix(rng: np.random.Generator, step: int) -> np.ndarray:
    """A 100-class matrix of 10,000 samples whose accuracy grows with ``step``;
    each class is mistaken for some of its ``LONG_CONFUSABLE`` neighbours."""
    n, k = LONG_CLASSES, LONG_CONFUSABLE
    accuracy = 0.3 + 0.65 * step / LONG_STEPS
    weights = rng.random((n, k)) ** 2
    probs = np.concatenate([np.full((n, 1), accuracy), weights / weights.sum(axis=1, keepdims=True) * (1 - accuracy)], 1)
    draws = rng.multinomial(LONG_SAMPLES_PER_CLASS, probs)
    matrix = np.zeros((n, n), dtype=np.int64)
    rows = np.arange(n)
    matrix[rows, rows] = draws[:, 0]
    for j in range(k):
        np.add.at(matrix, (rows, (rows + 1 + j) % n), draws[:, 1 + j])
    return matrix


def write_long(logdir: str) -> None:
    from torch.utils.tensorboard import SummaryWriter

    rng = np.random.default_rng(5)
    writer = SummaryWriter(os.path.join(logdir, "long"))
    for step in range(LONG_STEPS):
        summary.write_confusion_matrix(writer, TAG, long_matrix(rng, step), step)
    writer.close()


def ensure(logdir: str, write: Callable[[str], None]) -> str:
    """``logdir``, written by ``write`` unless it already holds data."""
    if not os.path.isdir(logdir) or not os.listdir(logdir):
        os.makedirs(logdir, exist_ok=True)
        start = time.perf_counter()
        write(logdir)
        print(f"generated {logdir} in {time.perf_counter() - start:.1f}s", flush=True)
    return logdir


def timed_get(url: str, headers: Optional[Dict[str, str]] = None) -> Dict[str, float]:
    """One GET as a browser's ``fetch`` makes it (gzip accepted, and the body
    un-gzipped): ``total`` ms, split into ``headers`` (to the response
    headers: about the server's own time), ``transfer`` (reading the body)
    and ``gunzip``; ``wire`` and ``json`` bytes."""
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip", **(headers or {})})
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:
        first_byte = time.perf_counter()
        body = response.read()
        read = time.perf_counter()
        plain = gzip.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body
        if response.status != 200:
            raise RuntimeError(f"{url}: HTTP {response.status}")
    end = time.perf_counter()
    return dict(total=(end - start) * 1e3, headers=(first_byte - start) * 1e3, transfer=(read - first_byte) * 1e3,
                gunzip=(end - read) * 1e3, wire=len(body), json=len(plain))


def wait_listed(server, runs: int, steps: int, timeout: float = 1800.0) -> None:
    """Wait until ``tags`` lists ``runs`` runs of ``steps`` steps each."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = server.get(BASE + "tags", timeout=600)
        listed = json.loads(body)["runs"] if status == 200 else {}
        if len(listed) == runs and all(len(t.get(TAG, {}).get("steps", [])) == steps for t in listed.values()):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"TensorBoard listed {len(listed)} of {runs} runs")
        time.sleep(2.0)


def _tree_memory_mb(pid: int) -> Dict[str, float]:
    """Peak and current resident memory (MB) of ``pid`` and its children."""
    pids, total_peak, total_now = [pid], 0.0, 0.0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as handle:
            pids += [int(p) for p in handle.read().split()]
    for p in pids:
        with open(f"/proc/{p}/status") as handle:
            fields = dict(line.split(":", 1) for line in handle if ":" in line)
        total_peak += int(fields["VmHWM"].split()[0]) / 1024
        total_now += int(fields["VmRSS"].split()[0]) / 1024
    return {"peak": total_peak, "now": total_now}


Sample = Dict[str, float]


def measure(servers: Dict[str, Any], routes: Dict[str, tuple], requests: int) -> Dict[Tuple[str, str], List[Sample]]:
    """Interleaved timed requests to every server (``{load_fast mode:
    server}``, all running at once, so the modes share the machine's load):
    ``routes`` maps a row name to ``(make_url, headers)``; three untimed
    rounds first, and the servers' order alternates between rounds. Each
    sample is :func:`timed_get`'s."""
    samples: Dict[Tuple[str, str], List[Sample]] = {(mode, name): [] for name in routes for mode in servers}
    modes = list(servers)
    for round_ in range(requests + 3):
        for name, (make, headers) in routes.items():
            for mode in modes if round_ % 2 == 0 else modes[::-1]:
                sample = timed_get(servers[mode].url + make(), headers)
                if round_ >= 3:
                    samples[(mode, name)].append(sample)
    return samples


def _servers(stack: contextlib.ExitStack, logdir: str, modes: Sequence[bool]) -> Dict[str, Any]:
    """One TensorBoard per ``--load_fast`` mode on ``logdir``, all running."""
    from tests.support.tensorboard_server import tensorboard_server

    return {("true" if fast else "false"): stack.enter_context(
        tensorboard_server(logdir, fast, RELOAD_ARGS, reload_wait_s=1800)) for fast in modes}


def _rows(samples: Dict[Tuple[str, str], List[Sample]], targets: Dict[str, Optional[float]]) -> List[Dict]:
    return [dict(mode=mode, route=name, values=values, target=targets[name]) for (mode, name), values in samples.items()]


def bench_sweep(logdir: str, runs: int, modes: Sequence[bool], requests: int, target_ms: float) -> List[Dict]:
    latest = {"X-Confusion-Latest": "1"}
    routes = {
        f"tags, {runs:,} runs x {SWEEP_STEPS} steps": (lambda: BASE + "tags", None),
        f"tags + latest matrices, {runs:,} runs": (lambda: BASE + "tags", latest),
    }
    with contextlib.ExitStack() as stack:
        servers = _servers(stack, logdir, modes)
        for server in servers.values():
            wait_listed(server, runs, SWEEP_STEPS)
        samples = measure(servers, routes, requests)
    return _rows(samples, dict.fromkeys(routes, target_ms))


def long_routes(rng: random.Random) -> Dict[str, tuple]:
    """The long run's rows: ``{name: (make_url, headers)}``."""
    def q(route: str, **params) -> str:
        return BASE + route + "?" + urllib.parse.urlencode(dict(run="long", tag=TAG, **params))

    series = f"metrics_series, {LONG_CLASSES} classes x {LONG_STEPS:,} steps"
    return {
        f"matrix, {LONG_CLASSES} classes, series of {LONG_STEPS:,} steps": (
            lambda: q("matrix", step=rng.randrange(LONG_STEPS)), None),
        series: (lambda: q("metrics_series"), None),
        series + ", `metrics=recall` (the classes table's sparklines)": (lambda: q("metrics_series", metrics="recall"), None),
        series + ", `classes=<one>` (one class's trend)": (
            lambda: q("metrics_series", classes=rng.randrange(LONG_CLASSES)), None),
        f"cell_series, {LONG_STEPS:,} steps": (
            lambda: q("cell_series", true=rng.randrange(LONG_CLASSES), predicted=rng.randrange(LONG_CLASSES)), None),
    }


def bench_long(logdir: str, modes: Sequence[bool], requests: int) -> List[Dict]:
    routes = long_routes(random.Random(0))
    names = list(routes)
    targets: Dict[str, Optional[float]] = {name: None for name in names}
    targets.update({names[0]: 50, names[1]: 200})
    with contextlib.ExitStack() as stack:
        servers = _servers(stack, logdir, modes)
        after_load = {}
        for mode, server in servers.items():
            wait_listed(server, 1, LONG_STEPS)
            after_load[mode] = _tree_memory_mb(server.process.pid)
        samples = measure(servers, routes, requests)
        memory = {mode: _tree_memory_mb(server.process.pid) for mode, server in servers.items()}
    rows = _rows(samples, targets)
    rows += [dict(
        mode=mode, route="TensorBoard memory (MB): resident after loading -> after the requests (peak)",
        values=None, target=None,
        text=f"{after_load[mode]['now']:,.0f} -> {memory[mode]['now']:,.0f} ({memory[mode]['peak']:,.0f})",
    ) for mode in servers]
    return rows
