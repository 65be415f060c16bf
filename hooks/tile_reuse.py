"""Thumbnails of the per-example record made once per example, not once per
evaluation (:mod:`tb_fmnist_plugin.hooks.example_record`).

A thumbnails value is written only when a matrix tag's ids change, but which
evaluation changes them is known only at ``end_eval``, so every recorded row
needs its tile at hand. Each process keeps, per matrix tag, the tiles of its
last evaluation's rows (:class:`TileCache`, at most the raw-bytes cap of one
evaluation); a later batch makes tiles only for rows whose key (dataset index,
else position) and label are not in the cache of that evaluation's source.

The source is chosen on the first batch that matches a cache (the tag of the
last ``end_eval`` tried first), since ``record()`` does not know the tag: a
cache is trusted only when the tiles of up to :data:`SPOT_ROWS` matching rows,
made afresh, equal the cached ones byte for byte (a different set with the
same indices and labels, e.g. a corrupted copy of the test set, is refused).
With positions a batch reuses tiles only when every row matches. The lookup
is numpy on the host for CPU keys and labels, else torch on their device with
one small transfer per batch.
"""
from __future__ import annotations

from typing import Callable, Dict, Optional, Set, Tuple

import numpy as np
import torch

#: Rows made afresh and compared with a cache before it is trusted.
SPOT_ROWS = 2


class TileCache:
    """Rows of one matrix tag that had a tile at this process's last
    evaluation: sorted distinct ``keys``, their ``labels`` and ``tiles``."""

    def __init__(self, by_index: bool, keys: np.ndarray, labels: np.ndarray, tiles: np.ndarray) -> None:
        _, first = np.unique(keys, return_index=True)  # sorted; a repeated key keeps its first row
        self.by_index = by_index
        self.keys, self.labels, self.tiles = keys[first], labels[first], tiles[first]
        self._on_device: Dict[torch.device, Tuple[torch.Tensor, torch.Tensor]] = {}

    def slots(self, keys: torch.Tensor, labels: torch.Tensor) -> np.ndarray:
        """``[n]`` slot of each row whose key and label are cached, -1 else."""
        keys, labels = keys.long(), labels.long()
        if self.keys.size == 0:
            return np.full(keys.shape[0], -1, dtype=np.int64)
        if keys.device.type == "cpu" and labels.device.type == "cpu":
            k, lab = keys.numpy(), labels.numpy()
            pos = np.searchsorted(self.keys, k).clip(max=self.keys.size - 1)
            return np.where((self.keys[pos] == k) & (self.labels[pos] == lab), pos, -1)
        if keys.device not in self._on_device:
            self._on_device[keys.device] = (torch.from_numpy(self.keys).to(keys.device),
                                            torch.from_numpy(self.labels).to(keys.device))
        dev_keys, dev_labels = self._on_device[keys.device]
        pos = torch.searchsorted(dev_keys, keys).clamp_(max=dev_keys.numel() - 1)
        hit = (dev_keys[pos] == keys) & (dev_labels[pos] == labels.to(keys.device))
        return torch.where(hit, pos, -1).cpu().numpy()


class TileReuse:
    """Per matrix tag caches, and the source chosen for the evaluation in progress."""

    def __init__(self) -> None:
        self.caches: Dict[str, TileCache] = {}
        self.last_tag: Optional[str] = None
        self.reset()

    def reset(self) -> None:
        """Forget the evaluation in progress's source (the caches stay)."""
        self._source: Optional[TileCache] = None
        self._refused: Set[str] = set()

    def reusable(self, keys: torch.Tensor, labels: torch.Tensor, by_index: bool,
                 make: Callable[[np.ndarray], np.ndarray]) -> Tuple[Optional[TileCache], Optional[np.ndarray]]:
        """The source cache and each row's slot in it (-1: make its tile), or
        ``(None, None)`` when nothing is reused. ``make(rows)`` makes the
        tiles of the batch's ``rows`` (numpy), for the check of a new source."""
        if self._source is not None:
            slots = self._source.slots(keys, labels) if self._source.by_index == by_index else None
            return self._accept(self._source, slots, by_index)
        for tag in sorted(self.caches, key=lambda t: t != self.last_tag):  # the last tag first
            cache = self.caches[tag]
            if tag in self._refused or cache.by_index != by_index:
                continue
            slots = cache.slots(keys, labels)
            hit = np.flatnonzero(slots >= 0)
            if hit.size == 0 or (not by_index and hit.size < slots.size):
                continue  # nothing to judge the cache by yet
            spot = hit[:SPOT_ROWS]
            cached = cache.tiles[slots[spot]]
            fresh = make(spot)
            if fresh.shape == cached.shape and np.array_equal(fresh, cached):
                self._source = cache
                return self._accept(cache, slots, by_index)
            self._refused.add(tag)
        return None, None

    @staticmethod
    def _accept(cache: TileCache, slots: Optional[np.ndarray],
                by_index: bool) -> Tuple[Optional[TileCache], Optional[np.ndarray]]:
        if slots is None or not (slots >= 0).any() or (not by_index and (slots < 0).any()):
            return None, None  # positions: a batch reuses only when every row matches
        return cache, slots

    def remember(self, tag: str, by_index: bool, keys: np.ndarray, labels: np.ndarray, tiles: Optional[np.ndarray]) -> None:
        """Keep the tiles of ``tag``'s evaluation just ended (rows ``0..T-1``
        of ``keys``/``labels`` have ``tiles[0..T-1]``) for the next ones."""
        self.last_tag = tag
        if tiles is None or tiles.shape[0] == 0:
            self.caches.pop(tag, None)
            return
        count = tiles.shape[0]
        self.caches[tag] = TileCache(by_index, keys[:count], labels[:count], tiles)
