"""A free port, a route's URL with its query string, and reading values back
from event files: helpers of the tests and the benchmarks."""
from __future__ import annotations

import socket
import urllib.parse
from typing import Any, Optional

import numpy as np
from tensorboard.util import tensor_util

from tb_fmnist_plugin.format import metadata

#: Where TensorBoard serves the plugin's routes.
ROUTES = f"/data/plugin/{metadata.PLUGIN_NAME}/"


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def route_url(route: str, **params: Any) -> str:
    """The server-relative URL of a plugin route with ``params`` as its query."""
    return ROUTES + route + "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def last_value(acc: Any, tag: str, step: Optional[int] = None) -> np.ndarray:
    """The tensor written under ``tag`` (at ``step``, else the last one) in an ``EventAccumulator``."""
    events = acc.Tensors(tag)
    event = events[-1] if step is None else next(e for e in events if e.step == step)
    return tensor_util.make_ndarray(event.tensor_proto)


def read_matrix(acc: Any, tag: str, num_classes: int, step: Optional[int] = None) -> np.ndarray:
    """The confusion matrix written under ``tag`` (at ``step``, else the last one)."""
    return metadata.decode_matrix(last_value(acc, tag, step), num_classes)


def read_examples_index(acc: Any, tag: str) -> dict:
    """The examples index of the last value written under an examples ``tag``."""
    return metadata.decode_examples_index(last_value(acc, tag)[0])


def read_matrices(acc: Any, tag: str = "confusion/test") -> dict:
    """Every confusion matrix written under ``tag``, decoded, by step."""
    content = metadata.parse_plugin_content(acc.PluginTagToContent(metadata.PLUGIN_NAME)[tag])
    return {
        event.step: metadata.decode_matrix(tensor_util.make_ndarray(event.tensor_proto), content["num_classes"])
        for event in acc.Tensors(tag)
    }
