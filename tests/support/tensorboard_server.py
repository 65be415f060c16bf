"""Start the real ``tensorboard`` command on a free port, for tests."""
from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Iterator, List, Optional, Sequence

from tests.support.events import free_port


class TensorBoardServer:
    """A running ``tensorboard`` subprocess; ``url`` ends without a slash."""

    def __init__(self, process: subprocess.Popen, url: str, log_path: str, path_prefix: str = "") -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        #: ``--path_prefix`` the server runs under ("" for none); not part of ``url``.
        self.path_prefix = path_prefix

    def get(self, path: str, timeout: float = 30.0):
        """``(status, headers, body bytes)`` of a GET; never raises for 4xx/5xx."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def get_json(self, path: str):
        status, _, body = self.get(path)
        assert status == 200, (path, status, body[:500])
        return json.loads(body)

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()


@contextlib.contextmanager
def tensorboard_server(
    logdir: str,
    load_fast: bool,
    extra_args: Optional[List[str]] = None,
    reload_wait_s: float = 60.0,
    tmp_dir: Optional[str] = None,
    path_prefix: str = "",
    command: Optional[Sequence[str]] = None,
) -> Iterator[TensorBoardServer]:
    """Run ``tensorboard --logdir logdir`` until the block exits.

    Waits until the server answers and the first load of ``logdir`` finished
    (``/data/runs`` non-empty, when the logdir has runs). With ``path_prefix``
    the server gets ``--path_prefix`` and every route lives under it.
    ``command`` starts TensorBoard (default: this Python's ``-m
    tensorboard.main``; e.g. another environment's ``tensorboard`` script).
    """
    port = free_port()
    log_path = os.path.join(tmp_dir or logdir, f"tensorboard-{port}.log")
    args = list(command or [sys.executable, "-m", "tensorboard.main"]) + [
        "--logdir", logdir,
        "--port", str(port),
        "--host", "127.0.0.1",
        f"--load_fast={'true' if load_fast else 'false'}",
        "--reload_interval", "1",
    ] + (["--path_prefix", path_prefix] if path_prefix else []) + list(extra_args or [])
    log = open(log_path, "w")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    server = TensorBoardServer(process, f"http://127.0.0.1:{port}", log_path, path_prefix)
    try:
        has_runs = any(name.startswith("events.out") for _, _, files in os.walk(logdir) for name in files)
        deadline = time.monotonic() + reload_wait_s
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"tensorboard exited early:\n{server.log()}")
            try:
                status, _, body = server.get(path_prefix + "/data/runs", timeout=5)
                if status == 200 and (not has_runs or json.loads(body)):
                    break
            except (urllib.error.URLError, ConnectionError, socket.timeout, json.JSONDecodeError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"tensorboard did not load {logdir} in {reload_wait_s}s:\n{server.log()}")
            time.sleep(0.3)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
