"""The plugin served in process: TensorBoard's real WSGI application
(:func:`make_app`) or real Python data provider (:func:`load_provider`,
:class:`CountingProvider`) over a log directory, plus the example data and
raw values the server and format tests write. Helpers of the tests of
``tests/server`` and ``tests/format``."""
from __future__ import annotations

import collections
import json
import time
from typing import Counter

import numpy as np
from tensorboard import context as tb_context
from tensorboard import program
from tensorboard.backend import application
from tensorboard.backend.event_processing import data_ingester, plugin_event_multiplexer
from tensorboard.backend.event_processing import data_provider as tb_data_provider
from tensorboard.compat.proto import summary_pb2
from tensorboard.plugins.core import core_plugin
from tensorboard.util import tensor_util
from werkzeug.test import Client

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.plugin import ConfusionLoader

PLUGIN = metadata.PLUGIN_NAME
#: Where TensorBoard serves the plugin's routes.
BASE = f"/data/plugin/{PLUGIN}/"
#: A request context and experiment id for the data provider and ``*_impl`` calls.
CTX = tb_context.RequestContext()
EID = ""


def make_app(logdir: str, argv=(), provider_class=tb_data_provider.MultiplexerDataProvider):
    """TensorBoard's WSGI app over ``logdir`` as the CLI would build it with
    ``--load_fast=false`` (flags fixed by the loaders), loaded synchronously;
    ``provider_class`` is the data provider (a subclass, e.g. counting calls).
    Returns ``(werkzeug test client, multiplexer, flags)``."""
    loaders = [core_plugin.CorePluginLoader, ConfusionLoader]
    tb = program.TensorBoard(plugins=loaders)
    tb.configure(argv=["tensorboard", "--logdir", logdir, "--load_fast=false", *argv])
    guidance = dict(data_ingester.DEFAULT_TENSOR_SIZE_GUIDANCE)
    guidance.update(tb.flags.samples_per_plugin)
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance=guidance)
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    provider = provider_class(multiplexer, logdir)
    app = application.TensorBoardWSGIApp(tb.flags, loaders, provider)
    return Client(app), multiplexer, tb.flags


def status_and_body(get):
    """``url -> (status, body bytes)`` over a WSGI test client (``get`` =
    ``client.get``) or a :class:`~tests.support.tensorboard_server.TensorBoardServer`'s
    ``get``, so one check can run against either."""

    def fetch(url: str):
        answer = get(url)
        if isinstance(answer, tuple):  # TensorBoardServer.get: (status, headers, body)
            return answer[0], answer[2]
        return answer.status_code, answer.get_data()

    return fetch


def get_json(client, url: str, code: int = 200):
    """The JSON answer of ``url``, checked for ``code`` and the JSON headers."""
    response = client.get(url)
    assert response.status_code == code, (url, response.status_code, response.get_data()[:300])
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    return json.loads(response.get_data())


def load_provider(logdir: str) -> tb_data_provider.MultiplexerDataProvider:
    """TensorBoard's Python data provider over ``logdir``, every tensor kept."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer(tensor_size_guidance={PLUGIN: 0})
    multiplexer.AddRunsFromDirectory(logdir)
    multiplexer.Reload()
    return tb_data_provider.MultiplexerDataProvider(multiplexer, logdir)


PROVIDER_METHODS = ("list_runs", "list_tensors", "read_tensors", "list_blob_sequences", "read_blob_sequences",
                    "read_blob")


class CountingProvider(tb_data_provider.MultiplexerDataProvider):
    """TensorBoard's Python data provider; counts each method's calls in
    ``calls``, and sleeps ``read_delay_s`` in ``read_tensors`` (a slow
    provider, as the Rust server is over gRPC)."""

    def __init__(self, multiplexer, logdir, calls: Counter, read_delay_s: float = 0.0) -> None:
        super().__init__(multiplexer, logdir)
        self.calls = calls
        self.read_delay_s = read_delay_s


def _counted(name: str):
    def method(self, *args, **kwargs):
        self.calls[name] += 1
        if name == "read_tensors":
            time.sleep(self.read_delay_s)
        return getattr(tb_data_provider.MultiplexerDataProvider, name)(self, *args, **kwargs)

    method.__name__ = name
    return method


for _name in PROVIDER_METHODS:
    setattr(CountingProvider, _name, _counted(_name))


def counting(logdir: str, read_delay_s: float = 0.0) -> CountingProvider:
    """A :class:`CountingProvider` over ``logdir``, loaded, with a fresh counter."""
    base = load_provider(logdir)
    return CountingProvider(base._multiplexer, logdir, collections.Counter(), read_delay_s)


def examples_at(step: int) -> dict:
    """60 seeded example images with labels, confidences and dataset indices
    (the keyword arguments of ``summary.write_cell_examples``)."""
    rng = np.random.default_rng(100 + step)
    count = 60
    return dict(
        images=(rng.random((count, 28, 28)) * 255).astype(np.uint8),
        true_labels=rng.integers(0, 4, count),
        predicted_labels=rng.integers(0, 4, count),
        confidences=rng.random(count),
        dataset_indices=np.arange(count) + 1000 * step,
    )


def write_raw_value(writer, tag: str, value: np.ndarray, step: int, class_names=None, meta=None) -> None:
    """A value stored under the format's metadata without the writer's checks
    (what an old or foreign writer might have left in a log); ``meta``: the
    series' metadata, by default a matrix's of ``class_names``."""
    meta = meta if meta is not None else metadata.create_matrix_metadata(class_names)
    proto = summary_pb2.Summary()
    proto.value.add(tag=tag, metadata=meta).tensor.CopyFrom(
        tensor_util.make_tensor_proto(value)
    )
    writer._get_file_writer().add_summary(proto, step)
