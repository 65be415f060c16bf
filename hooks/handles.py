"""Hook callables that are not carried into copies of what they hook.

Torch keeps hooks in ordinary dicts of the module, tensor or optimizer, so
``copy.deepcopy(model)``, ``pickle``/``torch.save(model)`` and
``torch.optim.swa_utils.AveragedModel(model)`` copy them too. Ours lead
back to the monitor and its ``SummaryWriter`` (which holds a lock), so the
copy would fail with ``cannot pickle '_thread.lock' object``; and a copy
that could be made would log into the original's run.

Every hook this package registers is therefore a :class:`CopySafeHook`: it
calls the hook on the object it was registered on, and every copy of it is
:data:`INERT`, a standard-library function that takes any positional
arguments (torch calls hooks with positional arguments only) and returns
None, so a forward hook leaves the output alone. A copied or loaded model
keeps an inert entry in its hook dict: it logs nothing, needs nothing of
this package to be unpickled (the entry pickles as a reference to
``contextlib.nullcontext.__exit__``), and runs as it would without hooks,
also under ``torch.compile`` (which traces the empty function: no graph
break). ``torch.jit.script`` refuses a copy as it refuses any module with
Python hooks.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Dict, Tuple

#: What a copy of a hook is: ``def __exit__(self, *excinfo): pass`` (Python
#: 3.7 and later), importable wherever Python is.
INERT: Callable[..., None] = contextlib.nullcontext.__exit__


class CopySafeHook:
    """``fn`` as a hook whose copies (deep copy, pickle) are :data:`INERT`."""

    __slots__ = ("fn",)

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __reduce__(self) -> Tuple[Any, Tuple[Any, str]]:
        return getattr, (contextlib.nullcontext, "__exit__")

    def __deepcopy__(self, memo: Dict[int, Any]) -> Callable[..., None]:
        return INERT

    def __copy__(self) -> Callable[..., None]:
        return INERT

    def __repr__(self) -> str:
        return f"CopySafeHook({self.fn!r})"


def copy_safe(fn: Callable[..., Any]) -> CopySafeHook:
    """``fn`` wrapped as a :class:`CopySafeHook` (register this, not ``fn``)."""
    return CopySafeHook(fn)
