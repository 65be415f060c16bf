"""Mixed precision with a ``GradScaler`` (``attach_hooks(grad_scaler=...)``).

The gradients a backward leaves are multiplied by the loss scale until
``scaler.step`` unscales them, and ``scaler.step`` skips the optimizer step
when they hold inf/NaN. :class:`ScalerWatch` gives the loss scale of a
backward (to divide statistics read before unscaling by it) and notices each
``scaler.update()``, which ends an iteration, with whether that iteration's
step was skipped (kept on the device until a logging step writes the count).
"""
from __future__ import annotations

import sys
from typing import Any, List, Optional

import torch

from .rows import Row, RowKind

#: What a ``grad_scaler`` must have (``torch.amp.GradScaler`` and its
#: subclasses, e.g. FSDP's ``ShardedGradScaler``, have all).
SCALER_METHODS = ("scale", "unscale_", "step", "update", "get_scale", "is_enabled")


def check_grad_scaler(scaler: Any) -> Any:
    """``scaler`` if it looks like a ``torch.amp.GradScaler`` (or is None), else ``TypeError``."""
    if scaler is None:
        return None
    missing = [name for name in SCALER_METHODS if not callable(getattr(scaler, name, None))]
    if missing:
        raise TypeError(f"grad_scaler must be a torch.amp.GradScaler, got {type(scaler).__name__} (no {', '.join(missing)})")
    return scaler


#: Frames searched upwards from an optimizer step hook for a ``GradScaler.step``.
MAX_SCALER_FRAMES = 12
#: ``GradScaler`` methods that call ``optimizer.step()`` (subclasses keep these names).
_SCALER_STEP_NAMES = ("step", "_maybe_opt_step")


def loss_scale(scaler: Any) -> Optional[torch.Tensor]:
    """``scaler``'s loss scale now (a copy, on the scaler's device), or None
    when it is disabled or has not scaled anything yet."""
    if not scaler.is_enabled():
        return None
    scale = getattr(scaler, "_scale", None)
    if isinstance(scale, torch.Tensor):
        return scale.detach().clone()  # update() changes it in place
    value = float(scaler.get_scale())
    return torch.tensor(value) if value > 0 else None


def running_scaler() -> Any:
    """The ``torch.amp.GradScaler`` whose ``step()`` is running the optimizer
    step that called this (from a step hook), or None. Logging steps only:
    it reads a few frames."""
    kind = getattr(getattr(torch, "amp", None), "GradScaler", None)
    frame = sys._getframe(1)
    for _ in range(MAX_SCALER_FRAMES):
        if frame is None or kind is None:
            return None
        if frame.f_code.co_name in _SCALER_STEP_NAMES:
            owner = frame.f_locals.get("self")
            if isinstance(owner, kind):
                return owner
        frame = frame.f_back
    return None


class ScalerWatch:
    """Reads one ``GradScaler``'s state; never changes it."""

    def __init__(self, scaler: Any) -> None:
        self.scaler = scaler
        # update() replaces this per-iteration dict with a fresh one: seeing
        # another object means an iteration ended; the old one still holds
        # that iteration's found-inf flags.
        self._iteration = self._states()
        self._found_inf: List[torch.Tensor] = []
        self._skipped: Optional[torch.Tensor] = None

    def _states(self) -> Any:
        return getattr(self.scaler, "_per_optimizer_states", None)

    def scale(self) -> Optional[torch.Tensor]:
        """The loss scale now (a copy, on the scaler's device), or None when
        the scaler is disabled or has not scaled anything yet."""
        return loss_scale(self.scaler)

    def poll(self) -> bool:
        """Whether ``update()`` ran since the last poll (host-side, no sync).
        Keeps that iteration's found-inf flags for :meth:`rows`."""
        current = self._states()
        if current is None or current is self._iteration:
            return False
        finished, self._iteration = self._iteration, current
        for state in (finished or {}).values():
            self._found_inf.extend((state.get("found_inf_per_device") or {}).values())
        return True

    def rows(self, scale: Optional[torch.Tensor]) -> List[Row]:
        """``amp/skipped_steps`` (iterations whose step the scaler skipped so
        far) and ``amp/loss_scale`` (``scale``, the logging step's), as rows."""
        flags, self._found_inf = self._found_inf, []
        if flags:
            device = flags[0].device
            skipped = torch.stack([(f.to(device).reshape(()) > 0) for f in flags]).sum()
            self._skipped = skipped if self._skipped is None else self._skipped + skipped
        rows = []
        if self._skipped is not None:
            rows.append(Row(RowKind.SCALAR, "amp/skipped_steps", 1, self._skipped.reshape(1)))
        elif self.scaler.is_enabled():
            rows.append(Row(RowKind.SCALAR, "amp/skipped_steps", 1, torch.zeros(1)))
        if scale is not None:
            rows.append(Row(RowKind.SCALAR, "amp/loss_scale", 1, scale.reshape(1)))
        return rows
