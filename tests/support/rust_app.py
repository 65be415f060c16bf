"""TensorBoard's WSGI application in this process over the Rust data server
(its ``tensorboard_data_server`` binary as a subprocess), as
``tensorboard --load_fast=true`` builds it: the plugin's in-process state
(e.g. ``event_blobs.shared``) can then be checked against the real Rust
server. Helper of the tests of ``tests/server``."""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from typing import Iterator

from tensorboard import program
from tensorboard.backend import application
from tensorboard.data import server_ingester
from tensorboard.plugins.core import core_plugin
from tensorboard.util import grpc_util
from werkzeug.test import Client

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.plugin import ConfusionLoader


@contextlib.contextmanager
def rust_app(logdir: str, reload_s: int = 1, start_wait_s: float = 30.0) -> Iterator[Client]:
    """A werkzeug test client of TensorBoard's app over ``logdir`` served by
    the Rust data server (reloading every ``reload_s`` seconds), every step
    of the plugin kept, until the block exits."""
    loaders = [core_plugin.CorePluginLoader, ConfusionLoader]
    tb = program.TensorBoard(plugins=loaders)
    tb.configure(argv=["tensorboard", "--logdir", logdir, "--load_fast=true"])
    with tempfile.TemporaryDirectory(prefix="rust_app_") as tmp:
        port_file = os.path.join(tmp, "port")
        process = subprocess.Popen([
            server_ingester.get_server_binary().path, f"--logdir={logdir}", f"--reload={reload_s}",
            f"--samples-per-plugin={metadata.PLUGIN_NAME}=all", "--port=0", f"--port-file={port_file}",
            "--die-after-stdin",
        ], stdin=subprocess.PIPE)
        try:
            deadline = time.monotonic() + start_wait_s
            while not _read(port_file).endswith("\n"):  # the server writes its port, then a newline
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the Rust data server did not start (exit code {process.poll()})")
                time.sleep(0.05)
            port = int(_read(port_file))
            ingester = server_ingester.ExistingServerDataIngester(
                f"localhost:{port}", channel_creds_type=grpc_util.ChannelCredsType.LOCAL)
            ingester.start()
            yield Client(application.TensorBoardWSGIApp(tb.flags, loaders, ingester.data_provider))
        finally:
            process.stdin.close()
            process.terminate()
            process.wait(timeout=10)


def _read(path: str) -> str:
    """The text of ``path``, or "" while it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return ""
