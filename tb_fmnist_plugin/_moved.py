"""Old import paths of modules that moved into ``format/`` and ``server/``.

Before version 0.2 the package was one flat folder; code (and TensorBoard's
entry point of an install that was not redone) may still import
``tb_fmnist_plugin.metadata`` or ``tb_fmnist_plugin.plugin``. A finder maps
each old name to the module's new home, so both names give the same module
object; importing an old name warns once (``DeprecationWarning``).
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Optional, Sequence

#: old module name (under the package) -> where it lives now.
MOVED = {
    "checks": "tb_fmnist_plugin.format.checks",
    "metadata": "tb_fmnist_plugin.format.metadata",
    "diagnostics_metadata": "tb_fmnist_plugin.format.diagnostics_metadata",
    "sprites": "tb_fmnist_plugin.format.sprites",
    "diagnostics_summary": "tb_fmnist_plugin.format.diagnostics_writers",
    "plugin": "tb_fmnist_plugin.server.plugin",
    "views": "tb_fmnist_plugin.server.views",
    "diagnostics_views": "tb_fmnist_plugin.server.diagnostics_views",
    "reader": "tb_fmnist_plugin.server.reader",
    "diagnostics_reader": "tb_fmnist_plugin.server.diagnostics_reader",
    "series": "tb_fmnist_plugin.server.series",
    "caches": "tb_fmnist_plugin.server.caches",
    "event_blobs": "tb_fmnist_plugin.server.event_blobs",
    "queries": "tb_fmnist_plugin.server.queries",
    "responses": "tb_fmnist_plugin.server.responses",
    "json_encoding": "tb_fmnist_plugin.server.json_encoding",
}


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, old: str, new: str) -> None:
        self.old, self.new = old, new

    def create_module(self, spec) -> ModuleType:
        warnings.warn(
            f"{self.old} moved to {self.new} in tb-fmnist-plugin 0.2; import it from there "
            "(the old name keeps working for now)",
            DeprecationWarning,
            stacklevel=2,
        )
        module = importlib.import_module(self.new)
        self.spec, self.loader = module.__spec__, module.__loader__
        return module

    def exec_module(self, module: ModuleType) -> None:
        """Nothing to run: the module was imported under its new name. The
        import system set the old name's spec on it; give it back its own."""
        module.__spec__, module.__loader__ = self.spec, self.loader


class MovedModuleFinder(importlib.abc.MetaPathFinder):
    """Finds ``tb_fmnist_plugin.<old name>`` as the module it became."""

    def __init__(self, package: str) -> None:
        self.prefix = package + "."

    def find_spec(self, fullname: str, path: Optional[Sequence[str]] = None, target=None):
        if not fullname.startswith(self.prefix):
            return None
        new = MOVED.get(fullname[len(self.prefix):])
        if new is None:
            return None
        return importlib.util.spec_from_loader(fullname, _MovedLoader(fullname, new))


def install(package: str) -> None:
    """Put the finder on ``sys.meta_path`` once."""
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder(package))
