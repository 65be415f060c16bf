"""The TensorBoard plugin: JSON routes over confusion data, and its loader.

Routes are specified in ``docs/http_api.md``. Reading goes through
:class:`tb_fmnist_plugin.reader.ConfusionReader` (the data provider only);
metrics come from :mod:`tb_fmnist_plugin.metrics`. Every response is built by
``tensorboard.backend.http_util.Respond``.
"""
from __future__ import annotations

import functools
import gzip
import json
import logging
import mimetypes
import os
import re
import urllib.parse
from typing import Any, Callable, Dict, Iterable, List, Optional

import numpy as np
from tensorboard import errors as tb_errors
from tensorboard import plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_fmnist_plugin import metadata, metrics
from tb_fmnist_plugin.reader import ConfusionReader, NotFound

logger = logging.getLogger(__name__)

PLUGIN_NAME = metadata.PLUGIN_NAME
STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

_JSON = "application/json"
#: Longest accepted integer parameter, in digits (fits in int64).
_MAX_INT_DIGITS = 18
_INT_PATTERN = re.compile(r"[0-9]{1,%d}" % _MAX_INT_DIGITS, re.ASCII)
_MAX_QUERY_FIELDS = 16
_MAX_PARAM_CHARS = 4096
_TOP_N_DEFAULT = 10
_TOP_N_MAX = 1000
#: Steps decoded at once by metrics_series (bounds memory for 1,000 classes).
_SERIES_CHUNK_ELEMENTS = 8_000_000
#: Python's sampling default for tensors of a plugin with no hint; the Rust
#: data server keeps up to 100.
_DEFAULT_SAMPLES_PYTHON = 10
_DEFAULT_SAMPLES_RUST = 100

class _HttpError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _bad_request(message: str) -> _HttpError:
    return _HttpError(400, message)


# --- Parameters ------------------------------------------------------------------


def _query(request: wrappers.Request) -> Dict[str, str]:
    """Query parameters, strictly decoded; each name at most once."""
    raw = request.environ.get("QUERY_STRING", "")
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    try:
        pairs = urllib.parse.parse_qsl(
            raw,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_QUERY_FIELDS,
        )
    except UnicodeDecodeError:
        raise _bad_request("query parameters must be UTF-8 after percent-decoding") from None
    except ValueError:
        raise _bad_request("too many query parameters") from None
    result: Dict[str, str] = {}
    for name, value in pairs:
        if name in result:
            raise _bad_request(f"parameter {name!r} given more than once")
        result[name] = value
    return result


def _string_param(query: Dict[str, str], name: str) -> str:
    value = query.get(name)
    if value is None or value == "":
        raise _bad_request(f"missing parameter {name!r}")
    if len(value) > _MAX_PARAM_CHARS:
        raise _bad_request(f"parameter {name!r} is too long")
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        raise _bad_request(f"parameter {name!r} contains control characters")
    return value


def _int_param(query: Dict[str, str], name: str, default: Optional[int] = None) -> int:
    value = query.get(name)
    if value is None:
        if default is not None:
            return default
        raise _bad_request(f"missing parameter {name!r}")
    if _INT_PATTERN.fullmatch(value) is None:
        if re.fullmatch(r"[0-9]+", value, re.ASCII):
            raise _bad_request(f"parameter {name!r} is too large: {value[:24]!r}")
        raise _bad_request(f"parameter {name!r} must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def _class_param(query: Dict[str, str], name: str, num_classes: int) -> int:
    index = _int_param(query, name)
    if index >= num_classes:
        raise _bad_request(f"parameter {name!r} = {index} is out of range [0, {num_classes})")
    return index


# --- JSON helpers --------------------------------------------------------------------
#
# Large numeric payloads (a 1,000-class matrix is 1M numbers; a metrics series
# 500 x n x 4 ratios) are formatted with numpy into bytes instead of going
# through json.dumps number by number, which dominated server time.

#: Ratios (precision, recall, F1, accuracy, shares) are given with this many
#: decimals: exact enough for display, and fast to format.
RATIO_DECIMALS = 6
_RATIO_SCALE = 10**RATIO_DECIMALS


def _ratio_ints(values: Any) -> np.ndarray:
    """Ratios in [0, 1] as integers in units of 1e-6; NaN -> -1."""
    x = np.asarray(values, dtype=np.float64)
    nan = np.isnan(x)
    scaled = np.rint(np.clip(np.where(nan, 0.0, x), 0.0, 1.0) * _RATIO_SCALE).astype(np.int64)
    return np.where(nan, -1, scaled)


def _ratios(values: Any) -> List[Optional[float]]:
    """Ratios as a JSON-able list, rounded like :func:`_ratios_json`, NaN -> None."""
    return [None if v < 0 else v / _RATIO_SCALE for v in _ratio_ints(values).reshape(-1).tolist()]


def _ratios_json(values: Any) -> bytes:
    """JSON of a 1-D or 2-D array of ratios in [0, 1] (NaN -> ``null``).

    Every number is written as ``d.dddddd``; ``null`` is padded with JSON
    whitespace to the same width, so the text is built with array operations.
    """
    v = _ratio_ints(values)
    if v.ndim == 1:
        v = v[None, :]
        one_dimensional = True
    else:
        one_dimensional = False
    rows, cols = v.shape
    width = RATIO_DECIMALS + 2
    tokens = np.empty((rows, cols, width + 1), dtype=np.uint8)
    positive = np.maximum(v, 0)
    tokens[:, :, 0] = 48 + positive // _RATIO_SCALE
    tokens[:, :, 1] = ord(".")
    for d in range(RATIO_DECIMALS):
        tokens[:, :, width - 1 - d] = 48 + (positive // 10**d) % 10
    tokens[v < 0, :width] = np.frombuffer(b"null" + b" " * (width - 4), dtype=np.uint8)
    tokens[:, :, width] = ord(",")
    if one_dimensional:
        if cols == 0:
            return b"[]"
        return b"[" + tokens.reshape(-1)[:-1].tobytes() + b"]"
    if rows == 0:
        return b"[]"
    if cols == 0:
        return b"[" + b",".join([b"[]"] * rows) + b"]"
    tokens[:, -1, width] = ord("]")
    out = np.empty((rows, cols * (width + 1) + 2), dtype=np.uint8)
    out[:, 0] = ord("[")
    out[:, 1:-1] = tokens.reshape(rows, -1)
    out[:, -1] = ord(",")
    return b"[" + out.reshape(-1)[:-1].tobytes() + b"]"


def _ints_json(values: Any) -> bytes:
    """Compact JSON of a 1-D or 2-D array of non-negative integers.

    Digits are computed for all cells at once into fixed-width slots, and the
    unused leading slots removed in one pass; the result equals
    ``json.dumps(values.tolist(), separators=(",", ":"))``.
    """
    m = np.asarray(values, dtype=np.int64)
    one_dimensional = m.ndim == 1
    if one_dimensional:
        m = m[None, :]
    rows, cols = m.shape
    if rows == 0:
        return b"[]"
    if cols == 0:
        return b"[]" if one_dimensional else b"[" + b",".join([b"[]"] * rows) + b"]"
    top = int(m.max())
    width = len(str(top))
    v = m.astype(np.uint32) if top < 2**32 else m.astype(np.uint64)
    stride = width + 1
    slots = np.zeros((rows, cols, stride), dtype=np.uint8)  # 0 marks an unused slot
    for d in range(width):
        power = v.dtype.type(10**d)
        digits = ((v // power) % 10).astype(np.uint8) + 48
        if d == 0:
            slots[:, :, width - 1] = digits
        else:
            np.copyto(slots[:, :, width - 1 - d], digits, where=v >= power)
    slots[:, :, width] = ord(",")
    if one_dimensional:
        data = slots.reshape(-1)
        data = data[data != 0]
        return b"[" + data[:-1].tobytes() + b"]"
    slots[:, -1, width] = ord("]")
    out = np.empty((rows, cols * stride + 2), dtype=np.uint8)
    out[:, 0] = ord("[")
    out[:, 1:-1] = slots.reshape(rows, -1)
    out[:, -1] = ord(",")
    data = out.reshape(-1)
    data = data[data != 0]
    return b"[" + data[:-1].tobytes() + b"]"


def _object_json(fields: Dict[str, Any], raw: Dict[str, bytes]) -> bytes:
    """A JSON object of ordinary ``fields`` followed by pre-encoded ``raw`` ones."""
    head = json.dumps(fields, separators=(",", ":"), allow_nan=False).encode("ascii")
    parts = [head[:-1]]
    for name, value in raw.items():
        parts.append(b"," + json.dumps(name).encode("ascii") + b":" + value)
    parts.append(b"}")
    if not fields:
        parts[0] = b"{"
        if raw:
            parts[1] = parts[1][1:]
    return b"".join(parts)


#: Bodies larger than this are gzipped here at level 1 (when the client
#: accepts gzip): ``Respond``'s own level-3 compression of a 3 MB dense
#: 1,000-class matrix costs more than everything else in the request.
_FAST_GZIP_MIN_BYTES = 256 * 1024
#: With the request header ``X-Confusion-Latest: 1`` the ``tags`` route also
#: answers ``"latest": {run: {tag: rows}}``, the matrix at the last step of each
#: series of at most this many classes (what the tab draws first).
_LATEST_HEADER = "X-Confusion-Latest"
_LATEST_MAX_CLASSES = 100


def _accepts_gzip(request: wrappers.Request) -> bool:
    for item in request.headers.get("Accept-Encoding", "").split(","):
        name, _, params = item.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            quality = params.replace(" ", "").lower()
            if quality.startswith("q=") and quality[2:] in ("0", "0.", "0.0", "0.00", "0.000"):
                continue
            return True
    return False


def _json_response(request: wrappers.Request, payload: Any, code: int = 200) -> wrappers.Response:
    if not isinstance(payload, (str, bytes)):
        payload = json.dumps(payload, separators=(",", ":"), allow_nan=False)
    if isinstance(payload, str):
        payload = payload.encode("utf-8")
    if len(payload) >= _FAST_GZIP_MIN_BYTES and _accepts_gzip(request):
        compressed = gzip.compress(payload, compresslevel=1, mtime=0)
        return http_util.Respond(request, compressed, _JSON, code=code, content_encoding="gzip")
    return http_util.Respond(request, payload, _JSON, code=code)


def _error_response(request: wrappers.Request, code: int, message: str) -> wrappers.Response:
    return _json_response(request, {"error": message}, code=code)


def _route(handler: Callable[..., wrappers.Response]) -> Callable[..., Any]:
    """Wrap a route body: errors become JSON with a status, never a traceback."""

    @functools.wraps(handler)
    @wrappers.Request.application
    def wrapper(self: "ConfusionPlugin", request: wrappers.Request) -> wrappers.Response:
        try:
            if request.method not in ("GET", "HEAD"):
                raise _HttpError(405, f"method {request.method} not allowed")
            return handler(self, request)
        except _HttpError as error:
            return _error_response(request, error.code, error.message)
        except NotFound as error:
            return _error_response(request, 404, str(error))
        except tb_errors.PublicError as error:
            return _error_response(request, error.http_code, str(error))
        except Exception:  # pylint: disable=broad-except
            logger.exception("%s: internal error serving %s", PLUGIN_NAME, request.path)
            return _error_response(request, 500, "internal error in the confusion plugin; see the TensorBoard log")

    return wrapper


# --- Plugin ---------------------------------------------------------------------------


class ConfusionPlugin(base_plugin.TBPlugin):
    """Serves confusion matrices, per-class metrics and cell examples."""

    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        self._data_provider = context.data_provider
        self._reader = ConfusionReader(context.data_provider) if context.data_provider is not None else None
        self._sampling_hints = dict(context.sampling_hints or {})
        self._default_samples = _default_samples(context)
        self._static_files = _list_static_files(STATIC_DIR)

    def get_plugin_apps(self) -> Dict[str, Callable[..., Any]]:
        return {
            "/tags": self._serve_tags,
            "/matrix": self._serve_matrix,
            "/metrics": self._serve_metrics,
            "/metrics_series": self._serve_metrics_series,
            "/cell_series": self._serve_cell_series,
            "/top_confusions": self._serve_top_confusions,
            "/examples": self._serve_examples,
            "/sprite": self._serve_sprite,
            "/static/*": self._serve_static,
        }

    def is_active(self) -> bool:
        """Always False: the tab is enabled through ``data_plugin_names``."""
        return False

    def data_plugin_names(self) -> Iterable[str]:
        return (PLUGIN_NAME,)

    def frontend_metadata(self) -> base_plugin.FrontendMetadata:
        return base_plugin.FrontendMetadata(
            es_module_path="/static/index.js",
            tab_name="Confusion",
        )

    # --- helpers ---

    def _reader_or_404(self) -> ConfusionReader:
        if self._reader is None:
            raise _HttpError(404, "TensorBoard has no data provider")
        return self._reader

    @staticmethod
    def _ids(request: wrappers.Request):
        return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)

    def _samples_limit(self) -> Optional[int]:
        hint = self._sampling_hints.get(PLUGIN_NAME)
        if hint is None:
            return self._default_samples
        return None if hint == 0 else int(hint)

    # --- routes ---

    @_route
    def _serve_tags(self, request: wrappers.Request) -> wrappers.Response:
        reader = self._reader_or_404()
        ctx, eid = self._ids(request)
        _query(request)
        # The tab's first request sends this header to get, with the listing,
        # the matrices it draws first (see _LATEST_MAX_CLASSES).
        want_latest = request.headers.get(_LATEST_HEADER, "0").strip()
        if want_latest not in ("0", "1"):
            raise _bad_request(f"header {_LATEST_HEADER} must be 0 or 1")
        listing = reader.list_matrix_series(ctx, eid)
        examples = reader.examples_steps(ctx, eid) if listing else {}
        limit = self._samples_limit()
        runs: Dict[str, Any] = {}
        latest: Dict[str, Dict[str, Any]] = {}
        for run in sorted(listing):
            tags: Dict[str, Any] = {}
            for tag in sorted(listing[run]):
                values = reader.read_matrices(ctx, eid, run, tag, listing[run][tag])
                series = values.series
                steps = values.steps.tolist()
                examples_steps = examples.get((run, tag), [])
                tags[tag] = {
                    "num_classes": series.num_classes,
                    "class_names": series.class_names,
                    "description": series.description,
                    "steps": steps,
                    "wall_times": values.wall_times.tolist(),
                    "examples_steps": examples_steps,
                    "samples_limit": limit,
                    "possibly_sampled": limit is not None
                    and (len(steps) >= limit or len(examples_steps) >= limit),
                }
                if want_latest == "1" and steps and series.num_classes <= _LATEST_MAX_CLASSES:
                    # the matrix the tab draws first, so it needs no second round trip;
                    # the series was decoded above, this only densifies one step
                    try:
                        rows = values.dense(len(steps) - 1)
                    except ValueError:
                        rows = None  # unreadable: the tab asks /matrix and shows its error
                    if rows is not None:
                        latest.setdefault(run, {})[tag] = np.asarray(rows, dtype=np.int64).tolist()
            runs[run] = tags
        payload: Dict[str, Any] = {"runs": runs}
        if want_latest == "1":
            payload["latest"] = latest
        return _json_response(request, payload)

    @staticmethod
    def _run_tag_step(request: wrappers.Request):
        """The query and its required ``run``, ``tag`` and ``step``."""
        query = _query(request)
        return query, _string_param(query, "run"), _string_param(query, "tag"), _int_param(query, "step")

    def _step_request(self, request: wrappers.Request):
        """Parse run/tag/step, read the series; returns (query, values, position)."""
        query, run, tag, step = self._run_tag_step(request)
        values = self._reader_or_404().read_matrices(*self._ids(request), run, tag)
        return query, values, values.position(step)

    def _series_request(self, request: wrappers.Request):
        query = _query(request)
        run = _string_param(query, "run")
        tag = _string_param(query, "tag")
        return query, self._reader_or_404().read_matrices(*self._ids(request), run, tag)

    @staticmethod
    def _dense(values, i: int) -> np.ndarray:
        try:
            return values.dense(i)
        except ValueError as error:
            logger.warning("%s: unreadable matrix in %s/%s: %s", PLUGIN_NAME, values.series.run, values.series.tag, error)
            raise _HttpError(404, "the stored matrix at this step is unreadable") from None

    @_route
    def _serve_matrix(self, request: wrappers.Request) -> wrappers.Response:
        _, values, i = self._step_request(request)
        series = values.series
        matrix = self._dense(values, i)
        fields = {
            "run": series.run,
            "tag": series.tag,
            "step": int(values.steps[i]),
            "wall_time": float(values.wall_times[i]),
            "class_names": series.class_names,
        }
        return _json_response(request, _object_json(fields, {"matrix": _ints_json(matrix)}))

    @_route
    def _serve_metrics(self, request: wrappers.Request) -> wrappers.Response:
        _, values, i = self._step_request(request)
        series = values.series
        matrix = self._dense(values, i)
        result = metrics.per_class_metrics(matrix)
        confused_index, confused_count = metrics.most_confused_with(matrix)
        precision = _ratios(result["precision"])
        recall = _ratios(result["recall"])
        f1 = _ratios(result["f1"])
        support = result["support"].tolist()
        predicted = result["predicted"].tolist()
        confused_index = confused_index.tolist()
        confused_count = confused_count.tolist()
        classes = [
            {
                "index": c,
                "name": series.class_names[c],
                "support": support[c],
                "predicted": predicted[c],
                "precision": precision[c],
                "recall": recall[c],
                "f1": f1[c],
                "most_confused_with": None if confused_index[c] < 0 else confused_index[c],
                "most_confused_count": confused_count[c],
            }
            for c in range(series.num_classes)
        ]
        return _json_response(
            request,
            {
                "run": series.run,
                "tag": series.tag,
                "step": int(values.steps[i]),
                "accuracy": _ratios(result["accuracy"])[0],
                "total": int(sum(support)),
                "classes": classes,
            },
        )

    @_route
    def _serve_metrics_series(self, request: wrappers.Request) -> wrappers.Response:
        _, values = self._series_request(request)
        series = values.series
        n = series.num_classes
        count = values.steps.size
        chunk = max(1, _SERIES_CHUNK_ELEMENTS // (n * n))
        parts: Dict[str, List[np.ndarray]] = {key: [] for key in ("accuracy", "precision", "recall", "f1", "support")}
        for start in range(0, count, chunk):
            stop = min(count, start + chunk)
            try:
                stacked = values.dense_range(start, stop)
            except ValueError as error:
                logger.warning("%s: unreadable matrix in %s/%s: %s", PLUGIN_NAME, series.run, series.tag, error)
                raise _HttpError(404, "a stored matrix of this series is unreadable") from None
            result = metrics.per_class_metrics(stacked)
            for key, chunks in parts.items():
                chunks.append(result[key])
        empty = {"accuracy": np.zeros(0), "support": np.zeros((0, n), dtype=np.int64)}

        def joined(key: str) -> np.ndarray:
            if not parts[key]:
                return empty.get(key, np.zeros((0, n)))
            return np.concatenate(parts[key])

        fields = {
            "run": series.run,
            "tag": series.tag,
            "class_names": series.class_names,
            "steps": values.steps.tolist(),
        }
        raw = {key: _ratios_json(joined(key)) for key in ("accuracy", "precision", "recall", "f1")}
        raw["support"] = _ints_json(joined("support"))
        return _json_response(request, _object_json(fields, raw))

    @_route
    def _serve_cell_series(self, request: wrappers.Request) -> wrappers.Response:
        query, values = self._series_request(request)
        n = values.series.num_classes
        true = _class_param(query, "true", n)
        predicted = _class_param(query, "predicted", n)
        counts: List[int] = []
        row_totals: List[int] = []
        for i in range(values.steps.size):
            matrix = self._dense(values, i)
            counts.append(int(matrix[true, predicted]))
            row_totals.append(int(matrix[true].sum()))
        return _json_response(
            request, {"steps": values.steps.tolist(), "counts": counts, "row_totals": row_totals}
        )

    @_route
    def _serve_top_confusions(self, request: wrappers.Request) -> wrappers.Response:
        query, values, i = self._step_request(request)
        n = _int_param(query, "n", default=_TOP_N_DEFAULT)
        if not 1 <= n <= _TOP_N_MAX:
            raise _bad_request(f"parameter 'n' = {n} is out of range [1, {_TOP_N_MAX}]")
        names = values.series.class_names
        matrix = self._dense(values, i)
        row_totals = matrix.sum(axis=1).tolist()
        top = metrics.top_confusions(matrix, n)
        confusions = [
            {
                "true": t,
                "predicted": p,
                "true_name": names[t],
                "predicted_name": names[p],
                "count": count,
                "row_share": share,
            }
            for (t, p, count), share in zip(top, _ratios([c / row_totals[t] for t, _, c in top]))
        ]
        return _json_response(request, {"confusions": confusions})

    def _examples_request(self, request: wrappers.Request):
        query, run, tag, step = self._run_tag_step(request)
        reader = self._reader_or_404()
        ctx, eid = self._ids(request)
        series = reader.matrix_series(ctx, eid, run, tag)
        return query, series, reader.read_examples(ctx, eid, run, tag, step)

    @_route
    def _serve_examples(self, request: wrappers.Request) -> wrappers.Response:
        query, series, found = self._examples_request(request)
        true = _class_param(query, "true", series.num_classes)
        predicted = _class_param(query, "predicted", series.num_classes)
        index = found.index
        width, height = int(index["tile_width"]), int(index["tile_height"])
        columns = max(1, int(index["columns"]))
        examples = [
            {
                "tile": tile,
                "x": (tile % columns) * width,
                "y": (tile // columns) * height,
                "confidence": index["confidence"][tile],
                "dataset_index": index["index"][tile],
            }
            for tile in range(len(index["true"]))
            if index["true"][tile] == true and index["predicted"][tile] == predicted
        ]
        sprite = "sprite?" + urllib.parse.urlencode(
            {"run": series.run, "tag": series.tag, "step": found.step}, quote_via=urllib.parse.quote
        )
        return _json_response(
            request,
            {
                "tile_width": width,
                "tile_height": height,
                "channels": int(index["channels"]),
                "columns": columns,
                "sprite": sprite,
                "examples": examples,
            },
        )

    @_route
    def _serve_sprite(self, request: wrappers.Request) -> wrappers.Response:
        _, _, found = self._examples_request(request)
        png = self._reader_or_404().read_blob(plugin_util.context(request.environ), found.sprite_key)
        return http_util.Respond(request, png, "image/png")

    @_route
    def _serve_static(self, request: wrappers.Request) -> wrappers.Response:
        path = request.environ.get("PATH_INFO", "")
        marker = f"/plugin/{PLUGIN_NAME}/static/"
        position = path.find(marker)
        name = path[position + len(marker):] if position >= 0 else ""
        full_path = self._static_files.get(name)
        if full_path is None:
            raise _HttpError(404, "no such static file")
        with open(full_path, "rb") as handle:
            content = handle.read()
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if name.endswith(".js") or name.endswith(".mjs"):
            content_type = "application/javascript"
        return http_util.Respond(request, content, content_type)


def _list_static_files(root: str) -> Dict[str, str]:
    """``{relative posix path: absolute path}`` of the regular files under
    ``root``, the only names the static route serves (hidden files and
    symbolic links left out)."""
    files: Dict[str, str] = {}
    if not os.path.isdir(root):
        return files
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [d for d in subdirs if not d.startswith(".") and not os.path.islink(os.path.join(directory, d))]
        for name in names:
            full = os.path.join(directory, name)
            if name.startswith(".") or os.path.islink(full) or not os.path.isfile(full):
                continue
            files[os.path.relpath(full, root).replace(os.sep, "/")] = full
    return files


def _default_samples(context: base_plugin.TBContext) -> int:
    """How many steps TensorBoard keeps of a plugin without a sampling hint."""
    flags = context.flags
    if getattr(flags, "load_fast", None) == "false":
        return _DEFAULT_SAMPLES_PYTHON
    provider_module = type(context.data_provider).__module__ if context.data_provider is not None else ""
    return _DEFAULT_SAMPLES_RUST if "grpc" in provider_module else _DEFAULT_SAMPLES_PYTHON


class ConfusionLoader(base_plugin.TBLoader):
    """Loads :class:`ConfusionPlugin` and keeps every step by default.

    Without a hint TensorBoard keeps only a sample of a third-party tensor
    series (10 steps with ``--load_fast=false``, 100 with the Rust server).
    ``fix_flags`` adds ``tb_fmnist_confusion=0`` (keep all) to
    ``--samples_per_plugin`` unless the user gave a value for this plugin.
    """

    def fix_flags(self, flags: Any) -> None:
        hints = getattr(flags, "samples_per_plugin", None)
        if isinstance(hints, str):  # unparsed (e.g. flags built by hand)
            parsed: Dict[str, int] = {}
            for token in hints.split(","):
                if token.strip():
                    key, _, value = token.strip().partition("=")
                    try:
                        parsed[key.strip()] = int(value)
                    except ValueError:
                        raise base_plugin.FlagsError(f"--samples_per_plugin: bad entry {token!r}") from None
            hints = parsed
        hints = dict(hints or {})
        hints.setdefault(PLUGIN_NAME, 0)
        flags.samples_per_plugin = hints

    def load(self, context: base_plugin.TBContext) -> ConfusionPlugin:
        return ConfusionPlugin(context)
