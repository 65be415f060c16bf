"""The bounds the plugin puts on what it accepts and what it answers.

Both route families (:mod:`.views`, :mod:`.diagnostics_views`) refuse an
answer that would be too large with :class:`ResponseTooLargeError` (HTTP 413)
instead of taking the server's memory; :mod:`.queries` (parameters) and
:mod:`.reader` (listing) accept the same run and tag names. A leaf of the
server side: it imports nothing of the package.
"""
from __future__ import annotations

from typing import Any, Optional

from tensorboard import errors

#: Largest JSON answer, in bytes, a route builds; larger ones are refused.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Longest run or tag name (and string parameter), in characters.
MAX_NAME_CHARS = 4096


class ResponseTooLargeError(errors.PublicError):
    """An answer larger than ``MAX_RESPONSE_BYTES`` (HTTP 413)."""

    http_code = 413


def bounded(estimate: int, what: str) -> None:
    """Refuse an answer of about ``estimate`` bytes if over the bound."""
    if estimate > MAX_RESPONSE_BYTES:
        raise ResponseTooLargeError(
            f"{what} would be about {estimate / 1e6:,.0f} MB of JSON; the plugin answers at most "
            f"{MAX_RESPONSE_BYTES / 1e6:,.0f} MB"
        )


def bounded_counts(what: str, *counts: Any) -> None:
    """:func:`bounded` for answers of integer count arrays: each cell costs
    at most the digits of the array's largest count plus a comma."""
    bounded(sum(a.size * (len(str(int(a.max(initial=0)))) + 1) for a in counts), what)


def name_problem(value: str) -> Optional[str]:
    """Why a run or tag name cannot be a parameter value (empty, longer
    than ``MAX_NAME_CHARS`` characters, or holding control characters), or
    None. The reader does not list series whose names fail this."""
    if value == "":
        return "is empty"
    if len(value) > MAX_NAME_CHARS:
        return "is too long"
    if any(ord(ch) < 32 or ch == "\x7f" for ch in value):
        return "contains control characters"
    return None
