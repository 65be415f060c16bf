"""tb-fmnist-plugin: see why an image classifier is wrong, in TensorBoard.

Public names, imported only when first used (PEP 562): TensorBoard imports
this package when it loads the plugin and must not pay for torch, so
``import tb_fmnist_plugin`` loads neither torch nor the hooks, while
``from tb_fmnist_plugin import attach_hooks`` works as it always did.

- :func:`attach_hooks`, :class:`HookMonitor`, :class:`HookOptions`: the
  training side (:mod:`tb_fmnist_plugin.hooks`).
- :mod:`tb_fmnist_plugin.summary`: the format's write API.
- :mod:`tb_fmnist_plugin.metrics`: the one definition of per-class numbers.
"""
from __future__ import annotations

import importlib
from typing import Any

from tb_fmnist_plugin import _moved

__version__ = "0.3.0"

#: lazily imported public name -> the module that defines it.
_LAZY = {
    "attach_hooks": "tb_fmnist_plugin.hooks",
    "HookMonitor": "tb_fmnist_plugin.hooks",
    "HookOptions": "tb_fmnist_plugin.hooks",
}

__all__ = ["__version__", *_LAZY]

_moved.install(__name__)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
