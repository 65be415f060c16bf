"""Argument checks shared by the format writer, the hooks and the training job.

A leaf module: it imports nothing from this package, so any layer may use it
without creating an import cycle. Format knowledge (class names, the class
limit) lives in :mod:`tb_fmnist_plugin.metadata`, not here.
"""
import numbers
from typing import Any, Optional

__all__ = ["check_int"]


def check_int(
    value: Any,
    name: str,
    minimum: int = 0,
    *,
    maximum: Optional[int] = None,
    type_error: bool = False,
) -> int:
    """Return ``value`` as an ``int`` if it is an integer in range, else raise.

    Python and numpy integers are accepted; ``bool`` and non-integers are not.
    Out of range raises ``ValueError`` ("<name> must be an integer >= <minimum>,
    got <value!r>", or "in [<minimum>, <maximum>]" when ``maximum`` is given).
    A value that is not an integer raises ``ValueError`` too, or ``TypeError``
    when ``type_error`` is true (for callers whose contract is a ``TypeError``).
    """
    bound = f">= {minimum}" if maximum is None else f"in [{minimum}, {maximum}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if type_error:
            raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be an integer {bound}, got {value!r}")
    return int(value)
