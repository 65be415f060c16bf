"""Training-side logging hooks: ``attach_hooks(model, writer)``.

Modules, one job each: :mod:`.stats` (statistics on the device),
:mod:`.training` (forward/gradient/optimizer hooks, step counting),
:mod:`.graph` (the graph, once), :mod:`.evaluation` and :mod:`.topk`
(confusion counts and example candidates), :mod:`.grid` (labeled image grids),
:mod:`.distributed` (cross-rank reduction), :mod:`.monitor` (the API).
"""
from .monitor import HookMonitor, attach_hooks

__all__ = ["attach_hooks", "HookMonitor"]
