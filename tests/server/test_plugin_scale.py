"""The plugin at sweep scale (issue 10, cases 1 and 2), counted instead of timed:
TensorBoard's real Python data provider, subclassed only to count its calls.
The timings are ``benchmarks/bench_plugin.py``'s (200- and 1,000-run sweeps,
a 5,000-step run, both load modes)."""
from __future__ import annotations

import collections
import json
import socket
import threading
from typing import Counter

import numpy as np
from torch.utils.tensorboard import SummaryWriter
from werkzeug.test import EnvironBuilder

from tb_fmnist_plugin import summary
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.caches import StampedCache
from tb_fmnist_plugin.server.reader import ConfusionReader
from tb_fmnist_plugin.server.views import ConfusionViews
from tests.support.plugin_app import BASE, CTX, CountingProvider, counting, examples_at, make_app


def write_sweep(root, runs: int, tags: int, steps: int = 3) -> str:
    """``runs`` x ``tags`` matrix series, examples on every other series."""
    for r in range(runs):
        writer = SummaryWriter(str(root / f"lr={r}"))
        for t in range(tags):
            for step in range(steps):
                summary.write_confusion_matrix(writer, f"confusion/{t}", np.eye(4, dtype=int) * (r + step + 1), step)
            if (r + t) % 2 == 0:
                summary.write_cell_examples(writer, f"confusion/{t}", step=steps - 1, num_classes=4, **examples_at(1))
        writer.close()
    return str(root)


def listing_calls(logdir: str):
    """Provider calls of the tab's first listing, and of the next one."""
    provider = counting(logdir)
    views = ConfusionViews(ConfusionReader(provider), samples_limit=None)
    runs = views.tags_impl(CTX, "", with_latest=True)["runs"]
    first = dict(provider.calls)
    provider.calls.clear()
    views.tags_impl(CTX, "", with_latest=True)
    return runs, first, dict(provider.calls)


def test_listing_costs_a_constant_number_of_provider_calls(tmp_path):
    """Case 1: 2 series or 24, with or without examples, the same few calls
    (before: one read per series, 44 ms each with the Rust data server)."""
    small_runs, small_first, small_next = listing_calls(write_sweep(tmp_path / "small", runs=1, tags=2))
    big_runs, big_first, big_next = listing_calls(write_sweep(tmp_path / "big", runs=8, tags=3))
    assert len(small_runs) == 1 and len(big_runs) == 8 and all(len(tags) == 3 for tags in big_runs.values())
    assert big_runs["lr=7"]["confusion/1"]["examples_steps"] == [2] and big_runs["lr=7"]["confusion/0"]["steps"] == [0, 1, 2]
    assert small_first == big_first == {"list_tensors": 1, "read_tensors": 1, "list_blob_sequences": 1,
                                        "read_blob_sequences": 1}
    assert small_next == big_next == {"list_tensors": 1, "list_blob_sequences": 1}  # nothing changed: no reads


def test_overlapping_listings_do_not_stack(tmp_path):
    """Case 1: refreshes that overlap a slow listing wait for it and reuse
    it instead of reading every series again."""
    provider = counting(write_sweep(tmp_path, runs=3, tags=2), read_delay_s=0.5)
    views = ConfusionViews(ConfusionReader(provider), samples_limit=None)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(views.tags_impl(CTX, ""))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 4 and all(answer == answers[0] for answer in answers)
    assert provider.calls["read_tensors"] == provider.calls["read_blob_sequences"] == 1


def test_a_request_whose_client_left_does_no_work(tmp_path):
    """Case 1: a queued request whose client closed the connection is
    answered at once (499, as nginx logs it) without touching the provider."""
    calls: Counter = collections.Counter()
    client = make_app(write_sweep(tmp_path, runs=2, tags=1), provider_class=lambda m, d: CountingProvider(m, d, calls))[0]
    ours, theirs = socket.socketpair()
    theirs.close()
    environ = EnvironBuilder(path=BASE + "tags").get_environ()
    environ["werkzeug.socket"] = ours
    calls.clear()
    status = []
    client.application(environ, lambda code, headers, *rest: status.append(code))
    ours.close()
    assert status == ["499 UNKNOWN"] and not calls
    alive, peer = socket.socketpair()
    environ = EnvironBuilder(path=BASE + "tags").get_environ()
    environ["werkzeug.socket"] = alive
    body = b"".join(client.application(environ, lambda code, headers, *rest: status.append(code)))
    alive.close()
    peer.close()
    assert status[-1] == "200 OK" and len(json.loads(body)["runs"]) == 2 and calls["list_tensors"] == 1


def test_one_steps_matrix_costs_the_same_in_a_long_series(tmp_path, monkeypatch):
    """Case 2: once a long series was read, a matrix at any step costs one
    listing call and no read, and a repeated ``metrics_series`` neither
    reads nor decodes anything (before: every step decoded every time)."""
    writer = SummaryWriter(str(tmp_path / "long"))
    matrices = [np.diag(np.arange(1, 11)) + (np.arange(100).reshape(10, 10) % 7 == step % 7) for step in range(300)]
    for step, matrix in enumerate(matrices):
        summary.write_confusion_matrix(writer, "confusion/test", matrix, step)
    writer.close()
    calls: Counter = collections.Counter()
    client = make_app(str(tmp_path), provider_class=lambda m, d: CountingProvider(m, d, calls))[0]

    def get(route, **params):
        response = client.get(BASE + route, query_string={"run": "long", "tag": "confusion/test", **params})
        assert response.status_code == 200, response.get_data()[:300]
        return json.loads(response.get_data())

    get("matrix", step=0)
    for step in (299, 150, 7):
        calls.clear()
        assert get("matrix", step=step)["matrix"] == matrices[step].tolist()
        assert dict(calls) == {"list_tensors": 1}
    first = get("metrics_series")
    decoded = []
    original = metadata.decode_matrix
    monkeypatch.setattr(metadata, "decode_matrix", lambda *args, **kw: decoded.append(1) or original(*args, **kw))
    calls.clear()
    assert get("metrics_series") == first and len(first["steps"]) == 300
    assert dict(calls) == {"list_tensors": 1} and not decoded


def test_caches_stay_within_their_byte_bound():
    """Case 2: bounded server memory; least recently used entries go first."""
    cache = StampedCache(max_entries=100, max_bytes=1000)
    for key in range(10):
        cache.put(key, "v1", f"value {key}", 300)
        assert cache.get(key, "v1") == f"value {key}"
    assert [key for key in range(10) if cache.get(key, "v1") is not None] == [7, 8, 9]
    cache.put("big", "v1", "too big to keep", 1001)
    assert cache.get("big", "v1") is None and cache.get(9, "v2") is None  # new data: a miss
