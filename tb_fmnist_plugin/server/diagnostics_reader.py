"""Read the evaluation diagnostics (calibration and suspected label errors)
back through TensorBoard's data provider.

Each diagnostic series belongs to a matrix series
(:mod:`tb_fmnist_plugin.format.diagnostics_metadata`) and is used only under that
matrix's tag plus its kind's suffix, naming that matrix tag, with the
matrix's class count (:meth:`ConfusionReader.owned_content`); any other is
ignored, the problem logged once per series. A stored value that does not
decode (the format's checks) makes its step unreadable: a step route answers
404 saying why, a series route skips it. Listing, reading and the blobs the
Rust data server cannot hand out are :class:`~tb_fmnist_plugin.server.reader.ConfusionReader`'s;
this module adds the diagnostic kinds and a bounded cache of decoded values,
kept while the provider reports the same ``max_step`` and ``max_wall_time``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
from tensorboard import errors

from tb_fmnist_plugin.format import diagnostics_metadata as dm
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.caches import StampedCache
from tb_fmnist_plugin.server.reader import ConfusionReader, Listing
from tb_fmnist_plugin.server.series import ListedSeries, MatrixSeries, StepWrite

#: Decoded values kept between requests: at most this many series (or single
#: steps of one), of at most this many bytes in all.
_CACHE_MAX_ENTRIES = 10_000
_CACHE_MAX_BYTES = 128 * 1024 * 1024
_ARRAY_OVERHEAD_BYTES = 128

#: How each tensor kind's stored value decodes, given the series' metadata content.
_DECODERS: Dict[str, Callable[[Any, Dict[str, Any]], np.ndarray]] = {
    metadata.KIND_RELIABILITY: lambda value, content: dm.decode_reliability(value, content["num_classes"], content["bins"]),
    metadata.KIND_PREDICTED_RELIABILITY: lambda value, content: dm.decode_reliability(
        value, content["num_classes"], content["bins"], what="reliability bins by predicted class"),
    metadata.KIND_CLASSWISE: lambda value, content: dm.decode_classwise(value, content["num_classes"], content["bins"]),
    metadata.KIND_CELL_CONFIDENCE: lambda value, content: dm.decode_cell_values(value, content["num_classes"]),
    metadata.KIND_CLASS_LOSS: lambda value, content: dm.decode_class_loss(value, content["num_classes"]),
    metadata.KIND_CONFIDENT_JOINT: lambda value, content: metadata.decode_matrix(value, content["num_classes"]),
    metadata.KIND_LABEL_ISSUES: lambda value, content: metadata.decode_matrix(value, content["num_classes"]),
}
#: What an answer calls a kind's value ("the stored <what> value at step ...").
WHAT = {kind: suffix.lstrip("/").replace("_", " ") for kind, suffix in dm.SUFFIXES.items()}


def kind_name(kind: str) -> str:
    """The name the ``tags`` listing gives a kind: its tag suffix without
    the slash (``reliability``, ``cell_confidence``, ..., ``suspects``)."""
    return dm.SUFFIXES[kind].lstrip("/")


def _tag_of(kind: str) -> Callable[[str], str]:
    return lambda matrix_tag: dm.diagnostic_tag(matrix_tag, kind)


@dataclasses.dataclass(frozen=True)
class DiagnosticSteps:
    """Decoded values of one diagnostic tensor series: every readable step,
    or the one step asked for. ``unreadable`` maps each refused step to why."""

    kind: str
    run: str
    matrix_tag: str
    values: Dict[int, np.ndarray]
    unreadable: Dict[int, str]

    @property
    def steps(self) -> List[int]:
        """Readable steps, ascending."""
        return sorted(self.values)

    def get(self, step: int) -> Optional[np.ndarray]:
        """The value at ``step``, None when there is no readable one."""
        return self.values.get(step)

    def at(self, step: int) -> np.ndarray:
        """The value at ``step``; ``NotFoundError`` saying why there is none."""
        if step in self.values:
            return self.values[step]
        what = WHAT[self.kind]
        if step in self.unreadable:
            raise errors.NotFoundError(f"the stored {what} value at step {step} is unreadable: {self.unreadable[step]}")
        raise errors.NotFoundError(f"no {what} value at step {step} for run {self.run!r}, tag {self.matrix_tag!r}")

    @property
    def nbytes(self) -> int:
        return sum(v.nbytes + _ARRAY_OVERHEAD_BYTES for v in self.values.values()) + 64 * len(self.unreadable)


def listed_kinds(
    reader: ConfusionReader, listing: Listing, matrices: Dict[str, Dict[str, ListedSeries]]
) -> Dict[Tuple[str, str], List[str]]:
    """``{(run, matrix_tag): [kind names]}`` (sorted :func:`kind_name`) of
    the diagnostic series ``listing`` holds for the listed ``matrices``, as
    :class:`DiagnosticsReader` would use them; no provider call."""
    result: Dict[Tuple[str, str], List[str]] = {}
    for run, tags in matrices.items():
        run_matrices = {tag: listed.series for tag, listed in tags.items()}
        tensors, blobs = listing.tensors.get(run, {}), listing.blob_sequences.get(run, {})
        for matrix_tag in tags:
            names = []
            for kind in dm.SUFFIXES:
                tag = dm.diagnostic_tag(matrix_tag, kind)
                series = (blobs if kind == metadata.KIND_SUSPECTS else tensors).get(tag)
                if series is not None and reader.owned_content(run, tag, series, run_matrices, kind, _tag_of(kind)) is not None:
                    names.append(kind_name(kind))
            result[(run, matrix_tag)] = sorted(names)
    return result


class DiagnosticsReader:
    """Reads the diagnostic series of matrix series through ``reader``'s
    data provider; decoded tensor values are cached per (experiment, run,
    tag, step or whole series) while the series' listed stamp is unchanged."""

    def __init__(self, reader: ConfusionReader) -> None:
        self.reader = reader
        self._decoded = StampedCache(_CACHE_MAX_ENTRIES, _CACHE_MAX_BYTES)

    def matrix_series(self, ctx: Any, experiment_id: str, run: str, tag: str) -> MatrixSeries:
        """The matrix series ``(run, tag)`` (one provider call; 404 if none)."""
        return self.reader.matrix_series(ctx, experiment_id, run, tag)

    def read(
        self, ctx: Any, experiment_id: str, matrix: MatrixSeries, kinds: Sequence[str], step: Optional[int] = None
    ) -> Dict[str, DiagnosticSteps]:
        """The tensor ``kinds`` of ``matrix`` that are listed and belong to
        it, decoded at ``step`` (None: every step): one provider call to list
        them and, unless cached, one to read them."""
        tags = {kind: dm.diagnostic_tag(matrix.tag, kind) for kind in kinds}
        listed = self.reader.list_one(self.reader.provider.list_tensors, ctx, experiment_id, matrix.run,
                                      *tags.values()).get(matrix.run, {})
        result: Dict[str, DiagnosticSteps] = {}
        stale: List[Tuple[str, str, Dict[str, Any], Any]] = []
        for kind, tag in tags.items():
            series = listed.get(tag)
            content = self.reader.owned_content(matrix.run, tag, series, {matrix.tag: matrix}, kind, _tag_of(kind))
            if content is None:
                continue
            stamp = (series.max_step, series.max_wall_time, content["num_classes"], content.get("bins"))
            hit = self._decoded.get((experiment_id, matrix.run, tag, step), stamp)
            if hit is None:
                stale.append((kind, tag, content, stamp))
            else:
                result[kind] = hit
        if stale:
            read = self.reader.read_series(self.reader.provider.read_tensors, ctx, experiment_id,
                                           [(matrix.run, tag) for _, tag, _, _ in stale])
            for kind, tag, content, stamp in stale:
                decoded = self._decode(kind, matrix, tag, content, read.get(matrix.run, {}).get(tag, []), step)
                self._decoded.put((experiment_id, matrix.run, tag, step), stamp, decoded, decoded.nbytes)
                result[kind] = decoded
        return result

    def last_reliability(
        self, ctx: Any, experiment_id: str, listing: Listing, matrices: Dict[str, Dict[str, ListedSeries]]
    ) -> Dict[Tuple[str, str], np.ndarray]:
        """``{(run, matrix_tag): reliability bins [n, B, 3]}`` at the last
        listed step of each of ``matrices`` whose reliability series ``listing``
        holds with a readable value at that step (the run table's ECE). No
        provider call while cached (the same entries as :meth:`read` at that
        step), else one batched ``read_tensors`` for all the series with new data."""
        kind = metadata.KIND_RELIABILITY
        wanted: List[Tuple[str, str, int, Any]] = []  # run, matrix tag, step, cache key
        stale: List[Tuple[str, str, Dict[str, Any], Any, int, MatrixSeries]] = []
        found: Dict[Tuple[str, str], DiagnosticSteps] = {}
        for run, tags in matrices.items():
            run_matrices = {tag: listed.series for tag, listed in tags.items()}
            tensors = listing.tensors.get(run, {})
            for matrix_tag, listed in tags.items():
                tag = dm.diagnostic_tag(matrix_tag, kind)
                series = tensors.get(tag)
                if series is None or not listed.steps:
                    continue
                content = self.reader.owned_content(run, tag, series, run_matrices, kind, _tag_of(kind))
                if content is None:
                    continue
                step = listed.steps[-1]
                stamp = (series.max_step, series.max_wall_time, content["num_classes"], content.get("bins"))
                hit = self._decoded.get((experiment_id, run, tag, step), stamp)
                wanted.append((run, matrix_tag, step, stamp))
                if hit is None:
                    stale.append((run, tag, content, stamp, step, listed.series))
                else:
                    found[(run, matrix_tag)] = hit
        if stale:
            read = self.reader.read_series(self.reader.provider.read_tensors, ctx, experiment_id,
                                           [(run, tag) for run, tag, *_ in stale])
            for run, tag, content, stamp, step, matrix in stale:
                decoded = self._decode(kind, matrix, tag, content, read.get(run, {}).get(tag, []), step)
                self._decoded.put((experiment_id, run, tag, step), stamp, decoded, decoded.nbytes)
                found[(run, matrix.tag)] = decoded
        result: Dict[Tuple[str, str], np.ndarray] = {}
        for run, matrix_tag, step, _ in wanted:
            value = found[(run, matrix_tag)].get(step)
            if value is not None:
                result[(run, matrix_tag)] = value
        return result

    def require(self, found: Dict[str, DiagnosticSteps], kind: str, matrix: MatrixSeries) -> DiagnosticSteps:
        """``found[kind]``; ``NotFoundError`` when the matrix has no such series."""
        if kind not in found:
            raise errors.NotFoundError(f"no {WHAT[kind]} series for run {matrix.run!r}, tag {matrix.tag!r}")
        return found[kind]

    def _decode(
        self, kind: str, matrix: MatrixSeries, tag: str, content: Dict[str, Any], datums: Sequence[Any], step: Optional[int]
    ) -> DiagnosticSteps:
        """The readable values among ``datums`` (the last write of a step
        wins, as for every series: :mod:`~tb_fmnist_plugin.server.series`),
        at ``step`` only unless it is None; a refused value logged once."""
        last = {d.step: d for d in datums if step is None or d.step == step}
        values: Dict[int, np.ndarray] = {}
        unreadable: Dict[int, str] = {}
        for at in sorted(last):
            try:
                values[at] = _DECODERS[kind](last[at].numpy, content)
            except ValueError as error:
                unreadable[at] = str(error)
                self.reader.skips.warn(matrix.run, tag, str(error),
                                       what=f"the value at step {at} (and any other with the same problem)")
        return DiagnosticSteps(kind, matrix.run, matrix.tag, values, unreadable)

    def read_suspects(self, ctx: Any, experiment_id: str, matrix: MatrixSeries, step: int) -> Tuple[StepWrite, Dict[str, Any]]:
        """The suspects value of ``matrix`` at ``step`` and its decoded
        index; ``NotFoundError`` saying why."""
        kind = metadata.KIND_SUSPECTS
        return self.reader.read_indexed(ctx, experiment_id, matrix, step, kind, _tag_of(kind), dm.decode_suspects_index,
                                        WHAT[kind])

    def read_suspects_sprite(self, ctx: Any, experiment_id: str, matrix: MatrixSeries, step: int) -> bytes:
        """The PNG sprite of the suspects of ``matrix`` at ``step``; 404 when
        they were logged without images."""
        write, index = self.read_suspects(ctx, experiment_id, matrix, step)
        tag = dm.diagnostic_tag(matrix.tag, metadata.KIND_SUSPECTS)
        sprite = b"" if not has_images(index) else self.reader.blob(ctx, matrix.run, tag, step, write.datum.values,
                                                                     dm.SUSPECTS_SPRITE_BLOB, "suspects", write.rewritten)
        if not sprite:
            raise errors.NotFoundError(f"the suspects at step {step} were logged without images")
        return sprite


def has_images(index: Dict[str, Any]) -> bool:
    """Whether a decoded suspects index describes a sprite of thumbnails."""
    return all(index[key] > 0 for key in ("tile_width", "tile_height", "columns"))
