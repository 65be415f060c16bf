"""The per-example record of every evaluation (``docs/hooks.md``, "Per-example
record"): each recorded row's identity, given label, predicted class, top-1
confidence and probability of the given label, written at ``end_eval`` with
the matrix as the value kinds of :mod:`tb_fmnist_plugin.format.example_record`.

The numbers come from the batch's existing softmax and argmax pass
(:meth:`~tb_fmnist_plugin.hooks.evaluation.EvalAccumulator.stage`, run by
:class:`~tb_fmnist_plugin.hooks.deferred.DeferredRecord` every few thousand
rows) and stay on the device as small tensors until ``end_eval``, which moves
them to the CPU once. Every row recorded with images has a ``uint8``
thumbnail (up to :data:`TILE_BYTES_FACTOR` times the byte budget), used only
when the evaluated ids changed, i.e. when a thumbnails value is written. Each
process keeps, per matrix tag, the thumbnails of its last evaluation
(:class:`TileCache`), so a later evaluation makes only those of rows not seen
before: a row whose key (dataset index, else position) and label are in the
cache reuses its tile (:mod:`~tb_fmnist_plugin.hooks.tile_reuse` says when a cache is trusted).

Identity: the dataset indices given to ``record(indices=...)`` (rows stored
sorted by index; a duplicated index keeps its first row, which also drops a
``DistributedSampler``'s padding), else positions in evaluation order (under
torchrun: rank 0's rows, then rank 1's, ...).
"""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch

from tb_fmnist_plugin.format import example_record as er
from tb_fmnist_plugin.format import record_writers

from .grid import Number
from .thumbnails import make_thumbnails, thumbnail_shape
from .tile_reuse import TileCache, TileReuse

#: Raw thumbnail bytes kept during an evaluation, as a multiple of the PNG budget.
TILE_BYTES_FACTOR = 4
_PREFIX = "tb_fmnist_plugin.hooks: "


class ExampleRecord:
    """Rows of the evaluation in progress, and per matrix tag the ids value
    last written (to write a new one only when the ids or labels change)."""

    def __init__(self, enabled: bool, max_bytes: int, thumbnail_size: int, mean: Number, std: Number) -> None:
        self.enabled = enabled
        self.max_bytes = max_bytes
        self.thumbnail_size, self.mean, self.std = thumbnail_size, mean, std
        self._written: Dict[str, Dict[str, Any]] = {}  # matrix tag -> last ids value
        self._warned: set = set()
        self._reuse = TileReuse()
        self.reset()

    def reset(self) -> None:
        """Drop the evaluation in progress."""
        self._parts: List[Dict[str, torch.Tensor]] = []
        self._tiles: List[_BatchTiles] = []
        self._tile_bytes = 0
        self._tiles_full = False
        self._with_indices = self._without_indices = 0
        self._rows = 0  # rows added so far (positions of the next batch start here)
        self._reuse.reset()

    # --- record() time ------------------------------------------------------------

    def tiles_of(self, images: torch.Tensor, labels: torch.Tensor, indices: Optional[torch.Tensor],
                 pending_rows: int) -> Optional["_BatchTiles"]:
        """The ``uint8`` thumbnails of a batch's rows for the once-per-run
        store: made for the rows not in a cache of earlier evaluations, or
        None when off or past the raw-bytes cap (made before the batch is
        added, so a failing ``record()`` keeps nothing). ``indices``: the
        batch's dataset indices (None: positions, after ``pending_rows``
        rows not yet added)."""
        count = images.shape[0]
        if not self.enabled or self.max_bytes == 0 or self._tiles_full or count == 0:
            return None
        size = images.shape[1] * int(np.prod(thumbnail_shape(images.shape[2], images.shape[3], self.thumbnail_size)))
        if self._tile_bytes + count * size > TILE_BYTES_FACTOR * self.max_bytes:
            self._tiles_full = True  # later batches have none: the rows with a thumbnail stay a prefix
            return None
        images = images.detach()
        by_index = indices is not None
        keys = indices if by_index else torch.arange(self._rows + pending_rows, self._rows + pending_rows + count)
        source, slots = self._reuse.reusable(
            keys, labels, by_index, lambda rows: self._make(images, torch.from_numpy(rows)).cpu().numpy())
        made_rows = None if slots is None else np.flatnonzero(slots < 0)
        made = None
        if made_rows is None:
            made = self._make(images, None)
        elif made_rows.size:
            made = self._make(images, torch.from_numpy(made_rows))
        self._tile_bytes += count * size
        return _BatchTiles(count, made, made_rows, source, slots)

    def _make(self, images: torch.Tensor, rows: Optional[torch.Tensor]) -> torch.Tensor:
        return make_thumbnails(images, self.thumbnail_size, self.mean, self.std, rows)

    def add(self, labels: torch.Tensor, predicted: torch.Tensor, keep: torch.Tensor, p_given: torch.Tensor,
            confidence: torch.Tensor, indices: torch.Tensor, tiles: Sequence[Optional["_BatchTiles"]],
            given_indices: Sequence[bool]) -> None:
        """Keep the rows of added batches (device tensors; nothing can fail)."""
        if not self.enabled:
            return
        self._parts.append({
            "ints": torch.stack([labels, torch.where(keep, predicted, -1), indices]),
            "floats": torch.stack([p_given.float(), confidence.float()]),
        })
        self._tiles.extend(made for made in tiles if made is not None)
        self._rows += labels.numel()
        self._with_indices += sum(given_indices)
        self._without_indices += len(given_indices) - sum(given_indices)

    # --- end_eval() ---------------------------------------------------------------

    def local_rows(self, tag: str) -> Optional[Dict[str, np.ndarray]]:
        """This process's rows of matrix ``tag`` as numpy (one transfer per
        tensor kind), or None when off; keeps their tiles for later evaluations."""
        if not self.enabled:
            return None
        ints = torch.cat([p["ints"] for p in self._parts], dim=1) if self._parts else torch.zeros((3, 0), dtype=torch.long)
        floats = torch.cat([p["floats"] for p in self._parts], dim=1) if self._parts else torch.zeros((2, 0))
        ints, floats = ints.cpu().numpy(), floats.cpu().numpy()
        rows = {"label": ints[0], "predicted": ints[1], "index": ints[2], "p_given": floats[0], "confidence": floats[1],
                "partial_indices": np.asarray(self._with_indices > 0 and self._without_indices > 0)}
        rows["tiles"] = _BatchTiles.assemble(self._tiles)
        by_index = self._without_indices == 0
        keys = rows["index"] if by_index else np.arange(rows["label"].size)
        self._reuse.remember(tag, by_index, keys, rows["label"], rows["tiles"])
        return rows

    def write(self, writer: Any, tag: str, step: int, names: List[str], parts: Sequence[Dict[str, np.ndarray]],
              distributed: bool = False) -> None:
        """Write the record of matrix ``tag`` at ``step`` from every rank's
        rows (rank order), on rank 0."""
        rows = {key: np.concatenate([p[key] for p in parts]) for key in ("label", "predicted", "index", "p_given", "confidence")}
        tiles = [p["tiles"] for p in parts if p["tiles"] is not None]
        tiles_all = np.concatenate(tiles) if tiles else None
        # each rank's first rows have a thumbnail (up to the cap); slot = their place in tiles_all
        has_tile = np.concatenate([np.arange(p["label"].size) < (0 if p["tiles"] is None else p["tiles"].shape[0])
                                   for p in parts])
        slot = np.cumsum(has_tile) - 1
        if any(bool(p["partial_indices"]) for p in parts):
            self._warn_once("partial", "record() got indices for some batches of an evaluation and not for others; "
                            "the per-example record uses positions. Pass indices to every record() call.")
        order = self._identity(rows, tag, distributed)
        identity = er.IDENTITY_INDEX if order is not None else er.IDENTITY_POSITION
        if order is not None:
            rows = {key: value[order] for key, value in rows.items()}
        if order is not None:
            has_tile, slot = has_tile[order], slot[order]
        tile_row = np.flatnonzero(has_tile)
        index = rows["index"] if identity == er.IDENTITY_INDEX else np.arange(rows["label"].size)
        last = self._written.get(tag)
        if identity == er.IDENTITY_POSITION and last is not None and last["identity"] == identity and \
                not np.array_equal(last["label"], rows["label"]):
            self._warn_once("order", f"the labels at the same positions of {tag} changed since the last evaluation (the "
                            "evaluation order or the labels changed), so the per-example record cannot follow examples "
                            "across evaluations. Pass record(..., indices=...) with each batch's dataset indices.")
        changed = last is None or last["identity"] != identity or not np.array_equal(last["index"], index) \
            or not np.array_equal(last["label"], rows["label"])
        if changed:
            record_writers.write_example_ids(writer, tag, index, step, labels=rows["label"], identity=identity,
                                             class_names=names)
            self._written[tag] = {"identity": identity, "index": index, "label": rows["label"], "step": step}
            if tiles_all is not None and self.max_bytes > 0:
                images = tiles_all[slot[tile_row]]
                wrong = rows["predicted"][tile_row] != rows["label"][tile_row]
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    record_writers.write_example_thumbnails(
                        writer, tag, images, step, rows=tile_row, class_names=names, max_bytes=self.max_bytes,
                        priority=wrong, num_rows=index.size)
                if caught or tile_row.size < index.size:
                    self._warn_once("budget", f"{tag}: thumbnails of some examples are left out of the per-example record "
                                    f"(kept within example_thumbnails_max_bytes={self.max_bytes:,}, misclassified first); "
                                    "raise the option to keep more.")
        record_writers.write_example_predictions(
            writer, tag, rows["predicted"], step, p_given=np.nan_to_num(rows["p_given"]),
            confidence=np.nan_to_num(rows["confidence"]), labels=rows["label"], ids_step=self._written[tag]["step"],
            class_names=names)

    def _identity(self, rows: Dict[str, np.ndarray], tag: str, distributed: bool) -> Optional[np.ndarray]:
        """The order of the rows sorted by dataset index, first of each
        duplicate kept; None for positions (some row without an index)."""
        index = rows["index"]
        if index.size == 0 or (index < 0).any():
            if distributed:
                self._warn_once("torchrun", "under torchrun without record(..., indices=...) the per-example record "
                                "uses positions (rank 0's rows, then rank 1's, ...) and cannot drop a "
                                "DistributedSampler's padding. Pass the dataset indices.")
            return None
        _, first = np.unique(index, return_index=True)
        dropped = index.size - first.size
        world = torch.distributed.get_world_size() if distributed else 1
        if dropped > (world - 1 if distributed else 0):
            self._warn_once("duplicates", f"{dropped} rows recorded for {tag} repeat a dataset index already recorded "
                            "in the same evaluation; the per-example record keeps the first of each.")
        return first

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(_PREFIX + message + " Not repeated for this monitor.", RuntimeWarning, stacklevel=4)


class _BatchTiles:
    """A batch's thumbnails: ``made`` (a device tensor) for the rows
    ``made_rows`` (None: every row), the others' at ``slots`` of ``source``."""

    def __init__(self, count: int, made: Optional[torch.Tensor], made_rows: Optional[np.ndarray],
                 source: Optional[TileCache], slots: Optional[np.ndarray]) -> None:
        self.count, self.made, self.made_rows, self.source, self.slots = count, made, made_rows, source, slots

    @staticmethod
    def assemble(batches: Sequence["_BatchTiles"]) -> Optional[np.ndarray]:
        """The tiles of every batch's rows in row order (numpy; one transfer)."""
        if not batches:
            return None
        made = [b.made for b in batches if b.made is not None]
        made_all = torch.cat(made).cpu().numpy() if made else None
        if all(b.slots is None for b in batches):
            return made_all
        shape = made_all.shape[1:] if made_all is not None else next(b.source.tiles.shape[1:] for b in batches if b.source)
        out = np.empty((sum(b.count for b in batches),) + tuple(shape), dtype=np.uint8)
        row = taken = 0
        for b in batches:
            part = out[row:row + b.count]
            if b.slots is None:
                part[:] = made_all[taken:taken + b.count]
                taken += b.count
            else:
                reused = b.slots >= 0
                part[reused] = b.source.tiles[b.slots[reused]]
                if b.made_rows.size:
                    part[b.made_rows] = made_all[taken:taken + b.made_rows.size]
                taken += b.made_rows.size
            row += b.count
        return out
