"""Strict parsing of the routes' query parameters and request headers.

Every malformed input raises :class:`tensorboard.errors.InvalidArgumentError`
(HTTP 400) with a message naming the parameter; nothing here reads data.
"""
from __future__ import annotations

import re
import urllib.parse
from typing import Dict, Optional, Sequence, Tuple

from tensorboard import errors
from werkzeug import wrappers

from tb_fmnist_plugin.server.limits import name_problem

#: Longest accepted integer parameter, in digits (fits in int64).
_MAX_INT_DIGITS = 18
_INT_PATTERN = re.compile(r"[0-9]{1,%d}" % _MAX_INT_DIGITS, re.ASCII)
_DIGITS_PATTERN = re.compile(r"[0-9]+", re.ASCII)
_MAX_QUERY_FIELDS = 16


def parse_query(request: wrappers.Request) -> Dict[str, str]:
    """Query parameters, strictly decoded as UTF-8; each name at most once."""
    raw = request.environ.get("QUERY_STRING", "")
    if isinstance(raw, bytes):
        raw = raw.decode("latin-1")
    try:
        pairs = urllib.parse.parse_qsl(
            raw,
            keep_blank_values=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=_MAX_QUERY_FIELDS,
        )
    except UnicodeDecodeError:
        raise errors.InvalidArgumentError("query parameters must be UTF-8 after percent-decoding") from None
    except ValueError:
        raise errors.InvalidArgumentError("too many query parameters") from None
    result: Dict[str, str] = {}
    for name, value in pairs:
        if name in result:
            raise errors.InvalidArgumentError(f"parameter {name!r} given more than once")
        result[name] = value
    return result


def string_param(query: Dict[str, str], name: str) -> str:
    """A required string that :func:`name_problem` accepts."""
    value = query.get(name)
    if value is None or value == "":
        raise errors.InvalidArgumentError(f"missing parameter {name!r}")
    problem = name_problem(value)
    if problem is not None:
        raise errors.InvalidArgumentError(f"parameter {name!r} {problem}")
    return value


def int_param(query: Dict[str, str], name: str, default: Optional[int] = None) -> int:
    """A non-negative integer written in ASCII digits only (no sign, space or
    underscore), at most 18 of them; required unless ``default`` is given."""
    value = query.get(name)
    if value is None:
        if default is not None:
            return default
        raise errors.InvalidArgumentError(f"missing parameter {name!r}")
    return _int_value(name, value)


def _int_value(name: str, value: str) -> int:
    """``value`` of parameter ``name`` as :func:`int_param` accepts it; 400 otherwise."""
    if _INT_PATTERN.fullmatch(value) is None:
        if _DIGITS_PATTERN.fullmatch(value):
            raise errors.InvalidArgumentError(f"parameter {name!r} is too large: {value[:24]!r}")
        raise errors.InvalidArgumentError(f"parameter {name!r} must be a non-negative integer, got {value[:40]!r}")
    return int(value)


def optional_int_param(query: Dict[str, str], name: str) -> Optional[int]:
    """:func:`int_param` when the parameter is given, None when absent."""
    return None if query.get(name) is None else int_param(query, name)


def names_param(query: Dict[str, str], name: str, allowed: Sequence[str]) -> Optional[Tuple[str, ...]]:
    """An optional comma-separated list of distinct names among ``allowed``
    (None when absent); 400 otherwise."""
    value = query.get(name)
    if value is None:
        return None
    names = tuple(value.split(","))
    if len(set(names)) != len(names) or not set(names) <= set(allowed):
        raise errors.InvalidArgumentError(f"parameter {name!r} must list distinct names of {', '.join(allowed)}")
    return names


def choice_param(query: Dict[str, str], name: str, allowed: Sequence[str], default: str) -> str:
    """An optional parameter that is one of ``allowed`` (``default`` when absent); 400 otherwise."""
    value = query.get(name, default)
    if value not in allowed:
        raise errors.InvalidArgumentError(f"parameter {name!r} must be one of {', '.join(allowed)}, got {value[:40]!r}")
    return value


def optional_string_param(query: Dict[str, str], name: str) -> Optional[str]:
    """:func:`string_param` when the parameter is given, None when absent."""
    return None if query.get(name) is None else string_param(query, name)


def ints_param(query: Dict[str, str], name: str, what: str = "value") -> Optional[Tuple[int, ...]]:
    """An optional comma-separated list of distinct integers (each a ``what``),
    each as :func:`int_param` accepts it (None when absent); 400 otherwise."""
    value = query.get(name)
    if value is None:
        return None
    values = tuple(_int_value(name, item) for item in value.split(","))
    if len(set(values)) != len(values):
        raise errors.InvalidArgumentError(f"parameter {name!r} lists a {what} more than once")
    return values


def class_index(name: str, index: int, num_classes: int) -> int:
    """``index`` if it names one of ``num_classes`` classes; 400 otherwise."""
    if index >= num_classes:
        raise errors.InvalidArgumentError(f"parameter {name!r} = {index} is out of range [0, {num_classes})")
    return index


def int_in_range(name: str, value: int, low: int, high: int) -> int:
    """``value`` if ``low <= value <= high``; 400 otherwise."""
    if not low <= value <= high:
        raise errors.InvalidArgumentError(f"parameter {name!r} = {value} is out of range [{low}, {high}]")
    return value


def flag_header(request: wrappers.Request, name: str) -> bool:
    """A request header that is ``0`` (the default when absent) or ``1``."""
    value = request.headers.get(name, "0").strip()
    if value not in ("0", "1"):
        raise errors.InvalidArgumentError(f"header {name} must be 0 or 1")
    return value == "1"
