"""Bounded, thread-safe caches of the plugin server, and its once-per-series log.

:class:`StampedCache` keeps values computed from a series (decoded matrices,
encoded answers) while the data they came from is unchanged: each entry is
stored with a *stamp* (e.g. the series' ``max_step`` and ``max_wall_time``
as the data provider lists them) and is a miss once the stamp differs. Its
size is bounded in entries and bytes, least recently used first out, so the
server's memory stays bounded however large the logdir.

:class:`SkipLog` logs each problem of a series once, however many requests
meet it.
"""
from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable, Optional, Set, Tuple

logger = logging.getLogger(__name__)


def caching_enabled() -> bool:
    """False when ``TB_FMNIST_PLUGIN_CACHE_ENTRIES=0`` (the benchmark's cold
    reads: every request then reads from the data provider)."""
    return os.environ.get("TB_FMNIST_PLUGIN_CACHE_ENTRIES", "").strip() != "0"


class StampedCache:
    """``key -> (stamp, value, nbytes)``, at most ``max_entries`` entries and
    ``max_bytes`` bytes (a value larger than ``max_bytes`` is not kept)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self._max_entries = max_entries if caching_enabled() else 0
        self._max_bytes = max_bytes
        self._entries: "OrderedDict[Hashable, Tuple[Hashable, Any, int]]" = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: Hashable) -> Optional[Any]:
        """The value stored for ``key`` with this ``stamp``, or None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def latest(self, key: Hashable) -> Optional[Tuple[Hashable, Any]]:
        """``(stamp, value)`` stored for ``key`` whatever its stamp, or None:
        a value to extend when its data only grew (then ``put`` it again)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0], entry[1]

    def put(self, key: Hashable, stamp: Hashable, value: Any, nbytes: int) -> None:
        """Keep ``value`` (about ``nbytes`` bytes) for ``key`` at ``stamp``."""
        if self._max_entries <= 0 or nbytes > self._max_bytes:
            return
        with self._lock:
            self._drop(key)
            self._entries[key] = (stamp, value, nbytes)
            self._bytes += nbytes
            while len(self._entries) > self._max_entries or self._bytes > self._max_bytes:
                self._drop(next(iter(self._entries)))

    def retain(self, keep: Callable[[Hashable], bool]) -> None:
        """Drop every entry whose key ``keep`` refuses (e.g. gone series)."""
        with self._lock:
            for key in [key for key in self._entries if not keep(key)]:
                self._drop(key)

    def _drop(self, key: Hashable) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]


class SkipLog:
    """Warns once per (run, tag, problem): a value the reader skips is named
    in the log the first time, not on every request that meets it again."""

    #: Distinct problems remembered; past this the log stays quiet.
    MAX_REMEMBERED = 100_000

    def __init__(self) -> None:
        self._seen: Set[Tuple[str, str, str]] = set()
        self._lock = threading.Lock()

    def warn(self, run: str, tag: str, problem: str, what: str = "series") -> None:
        """Log ``problem`` of the series ``(run, tag)`` unless logged before;
        ``what`` says what is skipped (the series, a step of it, ...)."""
        key = (run, tag, problem)
        with self._lock:
            if key in self._seen or len(self._seen) >= self.MAX_REMEMBERED:
                return
            self._seen.add(key)
        logger.warning("tb_fmnist_confusion: skipping %s of run %r, tag %r: %s", what, run, tag, problem)
