"""The TensorBoard plugin: its routes, and the loader TensorBoard starts it with.

Routes are specified in ``docs/http_api.md``. Each one is thin, in the manner
of TensorBoard's own plugins (e.g. ``pr_curves_plugin.py``): it parses the
request (:mod:`tb_fmnist_plugin.server.queries`), asks the matching ``*_impl`` of
:class:`tb_fmnist_plugin.server.views.ConfusionViews` for plain data, and answers it
as JSON (:mod:`tb_fmnist_plugin.server.json_encoding`, :mod:`tb_fmnist_plugin.server.responses`,
which also turns errors into JSON bodies). ``tags``, ``matrix`` and
``metrics_series`` keep their large encoded answers while the data they came
from is unchanged (``responses.memo_json``, keyed by the provider's listing).
"""
from __future__ import annotations

import mimetypes
import os
from typing import Any, Callable, Dict, Iterable, Optional, Tuple

from tensorboard import errors, plugin_util
from tensorboard.backend import http_util
from tensorboard.plugins import base_plugin
from werkzeug import wrappers

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server import json_encoding, queries, responses
from tb_fmnist_plugin.server.diagnostics_reader import DiagnosticsReader
from tb_fmnist_plugin.server.diagnostics_views import DiagnosticsViews
from tb_fmnist_plugin.server.reader import ConfusionReader
from tb_fmnist_plugin.server.record_reader import RecordReader
from tb_fmnist_plugin.server.record_views import LIMIT_DEFAULT, ORDERS, SORTS, RecordViews
from tb_fmnist_plugin.server.responses import route
from tb_fmnist_plugin.server.views import SERIES_METRICS, TOP_N_DEFAULT, ConfusionViews

PLUGIN_NAME = metadata.PLUGIN_NAME
STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")  # tb_fmnist_plugin/static

#: With this request header set to ``1`` the ``tags`` route also answers the
#: last matrix of each small series (see ``ConfusionViews.tags_impl``).
LATEST_HEADER = "X-Confusion-Latest"
#: Python's sampling default for tensors of a plugin with no hint; the Rust
#: data server keeps up to 100.
_DEFAULT_SAMPLES_PYTHON = 10
_DEFAULT_SAMPLES_RUST = 100


def _ids(request: wrappers.Request) -> Tuple[Any, str]:
    """TensorBoard's request context and experiment id of ``request``."""
    return plugin_util.context(request.environ), plugin_util.experiment_id(request.environ)


def _run_tag(query: Dict[str, str]) -> Tuple[str, str]:
    return queries.string_param(query, "run"), queries.string_param(query, "tag")


def _run_tag_step(query: Dict[str, str]) -> Tuple[str, str, int]:
    return (*_run_tag(query), queries.int_param(query, "step"))


def _cell(query: Dict[str, str]) -> Tuple[int, int]:
    return queries.int_param(query, "true"), queries.int_param(query, "predicted")


def _page(query: Dict[str, str]) -> Dict[str, Any]:
    """``sort``, ``order``, ``offset``, ``limit`` of a listing of examples."""
    return {"sort": queries.choice_param(query, "sort", SORTS, SORTS[0]),
            "order": queries.choice_param(query, "order", ORDERS, ORDERS[0]),
            "offset": queries.int_param(query, "offset", default=0),
            "limit": queries.int_param(query, "limit", default=LIMIT_DEFAULT)}


class ConfusionPlugin(base_plugin.TBPlugin):
    """Serves confusion matrices, per-class metrics and cell examples."""

    plugin_name = PLUGIN_NAME

    def __init__(self, context: base_plugin.TBContext) -> None:
        provider = context.data_provider
        reader = ConfusionReader(provider, logdir=context.logdir) if provider is not None else None
        self._views = ConfusionViews(reader, samples_limit=_samples_limit(context))
        self._diagnostics = DiagnosticsViews(DiagnosticsReader(reader) if reader is not None else None)
        self._record = RecordViews(RecordReader(reader) if reader is not None else None)
        self._static_files = _list_static_files(STATIC_DIR)
        self._bodies = responses.body_memo()

    def get_plugin_apps(self) -> Dict[str, Callable[..., Any]]:
        return {
            "/tags": self.tags_route,
            "/matrix": self.matrix_route,
            "/metrics": self.metrics_route,
            "/metrics_series": self.metrics_series_route,
            "/cell_series": self.cell_series_route,
            "/top_confusions": self.top_confusions_route,
            "/examples": self.examples_route,
            "/sprite": self.sprite_route,
            "/calibration": self.calibration_route,
            "/calibration_series": self.calibration_series_route,
            "/cell_confidence": self.cell_confidence_route,
            "/label_issues": self.label_issues_route,
            "/suspects": self.suspects_route,
            "/suspects_sprite": self.suspects_sprite_route,
            "/members": self.members_route,
            "/example_history": self.example_history_route,
            "/cell_changes": self.cell_changes_route,
            "/forgetting": self.forgetting_route,
            "/data_map": self.data_map_route,
            "/example_thumbnails_layout": self.example_thumbnails_layout_route,
            "/example_thumbnail": self.example_thumbnail_route,
            "/static/*": self.static_route,
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

    # --- routes: parse, call the view, encode ---

    @route
    def tags_route(self, request: wrappers.Request) -> wrappers.Response:
        queries.parse_query(request)  # takes no parameters, but rejects malformed ones
        with_latest = queries.flag_header(request, LATEST_HEADER)
        ids = _ids(request)
        listing = self._views.listing(*ids)

        def build() -> bytes:
            return json_encoding.dumps(self._views.tags_impl(*ids, with_latest=with_latest, listing=listing))

        return responses.memo_json(request, self._bodies, ("tags", ids[1], with_latest), listing.stamp, build)

    @route
    def matrix_route(self, request: wrappers.Request) -> wrappers.Response:
        ids, (run, tag, step) = _ids(request), _run_tag_step(queries.parse_query(request))
        series = self._views.series(*ids, run, tag)

        def build() -> bytes:
            body = self._views.matrix_impl(*ids, run, tag, step, series=series)
            return json_encoding.encode(body, int_arrays=("matrix",))

        return responses.memo_json(request, self._bodies, ("matrix", ids[1], run, tag, step), series.stamp, build)

    @route
    def metrics_route(self, request: wrappers.Request) -> wrappers.Response:
        body = self._views.metrics_impl(*_ids(request), *_run_tag_step(queries.parse_query(request)))
        return responses.json_response(request, body)

    @route
    def metrics_series_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        ids, (run, tag) = _ids(request), _run_tag(query)
        fields = queries.names_param(query, "metrics", SERIES_METRICS)
        classes = queries.ints_param(query, "classes", what="class")
        series = self._views.series(*ids, run, tag)

        def build() -> bytes:
            body = self._views.metrics_series_impl(*ids, run, tag, series=series, fields=fields, classes=classes)
            return json_encoding.encode(
                body, int_arrays=("support",), ratio_arrays=("accuracy", "precision", "recall", "f1", "iou")
            )

        key = ("metrics_series", ids[1], run, tag, fields, classes)
        return responses.memo_json(request, self._bodies, key, series.stamp, build)

    @route
    def cell_series_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        body = self._views.cell_series_impl(*_ids(request), *_run_tag(query), *_cell(query))
        return responses.json_response(request, body)

    @route
    def top_confusions_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        n = queries.int_param(query, "n", default=TOP_N_DEFAULT)
        body = self._views.top_confusions_impl(*_ids(request), *_run_tag_step(query), n=n)
        return responses.json_response(request, body)

    @route
    def examples_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        body = self._views.examples_impl(*_ids(request), *_run_tag_step(query), *_cell(query))
        return responses.json_response(request, body)

    @route
    def sprite_route(self, request: wrappers.Request) -> wrappers.Response:
        png = self._views.sprite_impl(*_ids(request), *_run_tag_step(queries.parse_query(request)))
        return http_util.Respond(request, png, "image/png")

    # --- diagnostics (calibration, label issues): diagnostics_views.py ---

    def _step_json(self, request: wrappers.Request, impl: Callable[..., Dict[str, Any]], **arrays: Any) -> wrappers.Response:
        """``impl(ctx, experiment, run, tag, step)`` as JSON; ``arrays`` name
        its numeric array fields (``json_encoding.encode``)."""
        body = impl(*_ids(request), *_run_tag_step(queries.parse_query(request)))
        return responses.json_response(request, json_encoding.encode(body, **arrays))

    @route
    def calibration_route(self, request: wrappers.Request) -> wrappers.Response:
        return self._step_json(request, self._diagnostics.calibration_impl)

    @route
    def calibration_series_route(self, request: wrappers.Request) -> wrappers.Response:
        body = self._diagnostics.calibration_series_impl(*_ids(request), *_run_tag(queries.parse_query(request)))
        return responses.json_response(request, json_encoding.encode(body, ratio_arrays=("ece", "class_ece")))

    @route
    def cell_confidence_route(self, request: wrappers.Request) -> wrappers.Response:
        return self._step_json(request, self._diagnostics.cell_confidence_impl, ratio_arrays=("mean_confidence",))

    @route
    def label_issues_route(self, request: wrappers.Request) -> wrappers.Response:
        return self._step_json(request, self._diagnostics.label_issues_impl, int_arrays=("confident_joint", "suspects"))

    @route
    def suspects_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        given, suggested = queries.optional_int_param(query, "given"), queries.optional_int_param(query, "suggested")
        body = self._diagnostics.suspects_impl(*_ids(request), *_run_tag_step(query), given=given, suggested=suggested)
        return responses.json_response(request, body)

    @route
    def suspects_sprite_route(self, request: wrappers.Request) -> wrappers.Response:
        png = self._diagnostics.suspects_sprite_impl(*_ids(request), *_run_tag_step(queries.parse_query(request)))
        return http_util.Respond(request, png, "image/png")

    # --- the per-example record: record_views.py ---

    @route
    def members_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        body = self._record.members_impl(*_ids(request), *_run_tag_step(query), *_cell(query), **_page(query))
        return responses.json_response(request, body)

    @route
    def example_history_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        body = self._record.example_history_impl(*_ids(request), *_run_tag(query), queries.int_param(query, "index"))
        return responses.json_response(request, body)

    @route
    def cell_changes_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        body = self._record.cell_changes_impl(
            *_ids(request), *_run_tag_step(query), *_cell(query), step_a=queries.optional_int_param(query, "step_a"),
            run_a=queries.optional_string_param(query, "run_a"), **_page(query))
        return responses.json_response(request, body)

    @route
    def forgetting_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        limit = queries.int_param(query, "limit", default=LIMIT_DEFAULT)
        return responses.json_response(request, self._record.forgetting_impl(*_ids(request), *_run_tag(query), limit=limit))

    @route
    def data_map_route(self, request: wrappers.Request) -> wrappers.Response:
        ids, (run, tag) = _ids(request), _run_tag(queries.parse_query(request))
        record = self._record.record(*ids, run, tag)

        def build() -> bytes:
            return json_encoding.dumps(self._record.data_map_impl(*ids, run, tag, record=record))

        return responses.memo_json(request, self._bodies, ("data_map", ids[1], run, tag), record.stamp, build)

    @route
    def example_thumbnails_layout_route(self, request: wrappers.Request) -> wrappers.Response:
        body = self._record.thumbnails_layout_impl(*_ids(request), *_run_tag_step(queries.parse_query(request)))
        return responses.json_response(request, body)

    @route
    def example_thumbnail_route(self, request: wrappers.Request) -> wrappers.Response:
        query = queries.parse_query(request)
        png = self._record.thumbnail_impl(*_ids(request), *_run_tag_step(query), queries.int_param(query, "page"))
        return http_util.Respond(request, png, "image/png")

    @route
    def static_route(self, request: wrappers.Request) -> wrappers.Response:
        path = request.environ.get("PATH_INFO", "")
        marker = f"/plugin/{PLUGIN_NAME}/static/"
        position = path.find(marker)
        name = path[position + len(marker):] if position >= 0 else ""
        full_path = self._static_files.get(name)
        if full_path is None:
            raise errors.NotFoundError("no such static file")
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


def _samples_limit(context: base_plugin.TBContext) -> Optional[int]:
    """How many steps of this plugin's series TensorBoard keeps (None: all)."""
    hint = dict(context.sampling_hints or {}).get(PLUGIN_NAME)
    if hint is not None:
        return None if hint == 0 else int(hint)
    # no hint: TensorBoard's own default for a plugin without one
    if getattr(context.flags, "load_fast", None) == "false":
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
