"""Argument checks shared by the format writer, the hooks and the training job.

A leaf module: it imports nothing from this package, so any layer may use it
without creating an import cycle. Format knowledge (class names, the class
limit) lives in :mod:`tb_fmnist_plugin.format.metadata`, not here.
"""
import numbers
from typing import Any, Optional

import numpy as np

__all__ = ["check_array", "check_int"]


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


def check_array(value: Any, what: str) -> np.ndarray:
    """``value`` (a tensor, array or nested sequence of numbers) as a numpy
    array; ``TypeError`` naming ``what`` otherwise. Tensors are detached and
    copied to the CPU."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{what} must be array-like: {error}") from None
    if array.dtype == object:
        raise TypeError(f"{what} must be a numeric array, not {type(value).__name__} of mixed objects")
    return array
