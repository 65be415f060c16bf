"""Per-module activation statistics of a logging step's forward.

Eager: the forward hooks are added when the logging step's forward starts and
removed when it ends, so other steps do not call them. Under
``torch.compile`` (noticed when the root hook runs in a compiled frame) they
stay installed: compiled code does not see hooks added or removed after it
was compiled. Each hook then only reads :attr:`ActivationCapture.active`, on
which dynamo guards: a step that does not log runs a variant compiled as
without hooks, a logging step a second variant in which each watched output's
statistics are computed eagerly (a graph break after the module).
"""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Sequence, Tuple

import torch
from torch import nn

from . import forwards, graph
from .handles import copy_safe
from .rows import Row, RowKind


def _walk_tensors(value: Any, path: str = "") -> List[Tuple[str, torch.Tensor]]:
    """Floating-point tensors in a (nested) output with a path suffix each."""
    if isinstance(value, torch.Tensor):
        return [(path, value)] if value.is_floating_point() else []
    found: List[Tuple[str, torch.Tensor]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(_walk_tensors(item, f"{path}/{key}"))
    elif isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            found.extend(_walk_tensors(item, f"{path}/{index}"))
    return found


class ActivationCapture:
    """The watched modules' forward hooks of one monitor.

    ``summary_row(kind, name, tensor)`` makes a row, ``add(row)`` keeps it,
    ``fail(error)`` reports an error (and should call :meth:`stop`).
    """

    def __init__(
        self,
        modules: Sequence[Tuple[str, nn.Module]],
        summary_row: Callable[[RowKind, str, torch.Tensor], Row],
        add: Callable[[Row], None],
        fail: Callable[[BaseException], None],
    ) -> None:
        self.modules = list(modules)
        self.summary_row = summary_row
        self.add = add
        self.fail = fail
        self.active = False  # read by the hooks; dynamo guards on it
        self.permanent = False  # hooks stay installed (compiled model)
        self._handles: List[Any] = []
        self._calls: Dict[str, int] = {}
        self._recorded = 0

    def start(self, compiling: bool) -> None:
        """Capture the outputs of the forward that starts now."""
        self._calls = {}
        self._recorded = 0
        if compiling and not self.permanent:
            self._uninstall()
            self.permanent = True
        if not self._handles:
            for name, module in self.modules:
                self._handles.append(module.register_forward_hook(copy_safe(self._make_hook(name))))
        self.active = True

    def stop(self) -> bool:
        """End the capture (eager: remove the hooks); whether a hook ran."""
        self.active = False
        if not self.permanent:
            self._uninstall()
        return self._recorded > 0

    def remove(self) -> None:
        self.active = False
        self.permanent = False
        self._uninstall()

    def _uninstall(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _make_hook(self, name: str) -> Callable[..., None]:
        def hook(module: nn.Module, args: Tuple[Any, ...], output: Any) -> None:
            if self.active:
                forwards.outside_graph(self._record, name, output)

        return hook

    def _record(self, name: str, output: Any) -> None:
        if not self.active or graph.tracing():
            return
        self._recorded += 1
        try:
            calls = self._calls.get(name, 0)
            self._calls[name] = calls + 1
            base = name if calls == 0 else f"{name}/call{calls}"
            for suffix, tensor in _walk_tensors(output):
                self.add(self.summary_row(RowKind.ACTIVATION, base + suffix, tensor))
        except Exception as error:
            self.fail(error)
