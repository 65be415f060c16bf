"""HTTP responses of the routes: JSON (gzipped when large), and errors as JSON.

Every response is built by ``tensorboard.backend.http_util.Respond`` (which
adds TensorBoard's security headers). :func:`route` turns the errors a route
raises into ``{"error": message}`` with the error's status, so a client never
sees a traceback.
"""
from __future__ import annotations

import functools
import gzip
import logging
import select
import socket
from typing import Any, Callable, Hashable, Optional

from tensorboard import errors
from tensorboard.backend import http_util
from werkzeug import wrappers

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server import json_encoding
from tb_fmnist_plugin.server.caches import StampedCache

logger = logging.getLogger(__name__)

JSON = "application/json"
#: Bodies larger than this are gzipped here at level 1 (when the client
#: accepts gzip): ``Respond``'s own level-3 compression of a 3 MB dense
#: 1,000-class matrix costs more than everything else in the request.
_FAST_GZIP_MIN_BYTES = 256 * 1024
_ALLOWED_METHODS = ("GET", "HEAD")
#: What ``tensorboard.errors`` puts before a message ("Not found: run ...");
#: the status code says it already, so bodies carry the message alone.
_CODE_NAME_PREFIXES = ("Not found: ", "Invalid argument: ")
_INTERNAL_ERROR = "internal error in the confusion plugin; see the TensorBoard log"
#: Status of the answer to a request whose client closed the connection
#: before its work started (nobody reads it; as nginx logs such requests).
CLIENT_GONE = 499
#: Encoded answers of at least this size are kept (see :func:`memo_json`):
#: a long series' metrics take far longer to compute and encode than to send.
_MEMO_MIN_BYTES = 64 * 1024


def accepts_gzip(request: wrappers.Request) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (``q=0`` refuses it)."""
    for item in request.headers.get("Accept-Encoding", "").split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.replace(" ", "").lower()
            if quality.startswith("q=") and quality[2:] in ("0", "0.", "0.0", "0.00", "0.000"):
                continue
            return True
    return False


def json_response(request: wrappers.Request, payload: Any, code: int = 200) -> wrappers.Response:
    """``payload`` (JSON-able, or JSON text already encoded) as a response."""
    if isinstance(payload, str):
        body = payload.encode("utf-8")
    elif isinstance(payload, bytes):
        body = payload
    else:
        body = json_encoding.dumps(payload)
    return _respond(request, body, None, code)


def _respond(request: wrappers.Request, body: bytes, compressed: Optional[bytes], code: int = 200) -> wrappers.Response:
    """``body`` as JSON, sent gzipped (``compressed`` if given) when large."""
    if len(body) >= _FAST_GZIP_MIN_BYTES and accepts_gzip(request):
        if compressed is None:
            compressed = gzip.compress(body, compresslevel=1, mtime=0)
        return http_util.Respond(request, compressed, JSON, code=code, content_encoding="gzip")
    return http_util.Respond(request, body, JSON, code=code)


def body_memo() -> StampedCache:
    """A store of encoded answers for :func:`memo_json` (one per plugin)."""
    return StampedCache(max_entries=64, max_bytes=128 * 1024 * 1024)


def memo_json(
    request: wrappers.Request, memo: StampedCache, key: Hashable, stamp: Hashable, build: Callable[[], bytes]
) -> wrappers.Response:
    """The JSON text ``build()`` returns; a large one is kept in ``memo``
    with its gzipped form for ``key`` while its data has the same ``stamp``."""
    entry = memo.get(key, stamp)
    if entry is None:
        body = build()
        entry = (body, gzip.compress(body, compresslevel=1, mtime=0) if len(body) >= _FAST_GZIP_MIN_BYTES else None)
        if len(body) >= _MEMO_MIN_BYTES:
            memo.put(key, stamp, entry, len(body) + len(entry[1] or b""))
    return _respond(request, *entry)


def client_gone(request: wrappers.Request) -> bool:
    """Whether the client of ``request`` has closed its connection (TensorBoard's
    werkzeug server gives the socket; other servers: never known, False)."""
    connection = request.environ.get("werkzeug.socket")
    if connection is None:
        return False
    try:
        readable, _, _ = select.select([connection], [], [], 0)
        return bool(readable) and connection.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):  # closed, or not a plain socket
        return False


def error_response(request: wrappers.Request, code: int, message: str) -> wrappers.Response:
    """``{"error": message}`` with status ``code``."""
    return json_response(request, {"error": message}, code=code)


def public_message(error: errors.PublicError) -> str:
    """The message of a TensorBoard error without its code-name prefix."""
    message = str(error)
    for prefix in _CODE_NAME_PREFIXES:
        if message.startswith(prefix):
            return message[len(prefix):]
    return message


def route(handler: Callable[..., wrappers.Response]) -> Callable[..., Any]:
    """Make a plugin method a WSGI route that answers GET and HEAD only (405
    otherwise) and turns errors into JSON: a ``tensorboard.errors.PublicError``
    into its status and message, anything else into a generic 500 (logged)."""

    @functools.wraps(handler)
    @wrappers.Request.application
    def wrapper(plugin: Any, request: wrappers.Request) -> wrappers.Response:
        if request.method not in _ALLOWED_METHODS:
            return error_response(request, 405, f"method {request.method} not allowed")
        if client_gone(request):  # e.g. a refresh the tab gave up on while it waited
            return error_response(request, CLIENT_GONE, "the client closed the connection")
        try:
            return handler(plugin, request)
        except errors.PublicError as error:
            return error_response(request, error.http_code, public_message(error))
        except Exception:  # pylint: disable=broad-except
            logger.exception("%s: internal error serving %s", metadata.PLUGIN_NAME, request.path)
            return error_response(request, 500, _INTERNAL_ERROR)

    return wrapper
