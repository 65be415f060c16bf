"""Training-side logging hooks: ``attach_hooks(model, writer)``.

Modules, one job each: :mod:`.options` (the options: :class:`HookOptions`' fields
are the one list of them, checked once),
:mod:`.wrappers` (the model and optimizer inside framework wrappers),
:mod:`.stats` (statistics on the device), :mod:`.rows` (a logging step's
statistics and their tags), :mod:`.training` (forward/gradient/optimizer hooks,
step counting; its warnings in :mod:`.training_warnings`), :mod:`.gradients`
(gradients read when the backward completes, before clipping), :mod:`.forwards` (which forwards are training steps; hook code
outside compiled graphs), :mod:`.activations` (per-module activation hooks),
:mod:`.parameters` (weight/gradient/update statistics), :mod:`.sharded`
(FSDP2 DTensor parameters), :mod:`.amp` (GradScaler), :mod:`.graph` (the graph, once), :mod:`.evaluation` and
:mod:`.topk` (confusion counts and example candidates), :mod:`.calibration`,
:mod:`.label_issues` and :mod:`.diagnostics` (why an evaluation is wrong:
calibration and suspected label errors), :mod:`.grid` (labeled image grids), :mod:`.distributed` (cross-rank reduction), :mod:`.output`
(one event per logging step), :mod:`.handles` (hooks that copies of the model
do not carry: :func:`copy_safe`), :mod:`.monitor` (the API).

Imports point one way: the training job imports this package, which imports
the format (:mod:`tb_fmnist_plugin.format.writers`, :mod:`tb_fmnist_plugin.format.metadata`)
and :mod:`tb_fmnist_plugin.format.checks`; the package root imports nothing of it.
"""
from .handles import copy_safe
from .monitor import HookMonitor, attach_hooks
from .options import HookOptions

__all__ = ["attach_hooks", "HookMonitor", "HookOptions", "copy_safe"]
