"""The write API's one argument order, and the old orders still accepted.

Every ``write_*`` takes ``(writer, tag, data, step)`` positionally, in
TensorBoard's ``add_*`` order, and everything else by keyword; every ``*_pb``
builder takes ``(tag, data)``. Before, some took ``step`` before their data
or their options positionally. :func:`accepts_old_order` is the one owner of
the compatibility with those calls: it recognizes them, warns with a
``DeprecationWarning`` and maps them onto the new parameters by name. Remove
it and its decorations when the old orders stop being accepted.
"""
from __future__ import annotations

import functools
import inspect
import numbers
import warnings
from typing import Any, Callable, TypeVar

Function = TypeVar("Function", bound=Callable[..., Any])


def _is_step(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def accepts_old_order(*old: str) -> Callable[[Function], Function]:
    """Decorate a function whose positional parameters used to be ``old``.

    A call is in the old order when it passes more positional arguments than
    the function now takes, or an integer where ``old`` had ``step`` before
    the data (a data argument is an array, never an integer; a step always
    is one). Such a call warns and is passed on by name; any other call is
    passed on unchanged.
    """

    def decorate(function: Function) -> Function:
        parameters = inspect.signature(function).parameters.values()
        positional = [p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD]
        unknown = set(old) - {p.name for p in parameters}
        if unknown and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
            raise TypeError(f"{function.__name__} has no parameter {sorted(unknown)[0]!r}")
        early_step = None
        if "step" in old and "step" in positional and old.index("step") < positional.index("step"):
            early_step = old.index("step")
        name = function.__name__
        new_call = f"{name}({', '.join(positional)}, *, ...)"

        @functools.wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) <= len(positional) and (early_step is None or len(args) <= early_step or not _is_step(args[early_step])):
                return function(*args, **kwargs)
            if len(args) > len(old):
                raise TypeError(f"{name}() takes {len(positional)} positional arguments but {len(args)} were given")
            named = dict(zip(old, args))
            for key in named:
                if key in kwargs:
                    raise TypeError(f"{name}() got multiple values for argument {key!r}")
            warnings.warn(
                f"{name}({', '.join(old[:len(args)])}) is a deprecated argument order: call {new_call}, "
                f"everything after {positional[-1]} by keyword. The old order will stop working in a future release.",
                DeprecationWarning,
                stacklevel=2,
            )
            return function(**named, **kwargs)

        return call  # type: ignore[return-value]

    return decorate
