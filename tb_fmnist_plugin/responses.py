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
from typing import Any, Callable

from tensorboard import errors
from tensorboard.backend import http_util
from werkzeug import wrappers

from tb_fmnist_plugin import json_encoding, metadata

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
    if len(body) >= _FAST_GZIP_MIN_BYTES and accepts_gzip(request):
        compressed = gzip.compress(body, compresslevel=1, mtime=0)
        return http_util.Respond(request, compressed, JSON, code=code, content_encoding="gzip")
    return http_util.Respond(request, body, JSON, code=code)


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
        try:
            return handler(plugin, request)
        except errors.PublicError as error:
            return error_response(request, error.http_code, public_message(error))
        except Exception:  # pylint: disable=broad-except
            logger.exception("%s: internal error serving %s", metadata.PLUGIN_NAME, request.path)
            return error_response(request, 500, _INTERNAL_ERROR)

    return wrapper
