"""The data provider's calls that list and read this plugin's series, batched.

What the provider lists at one moment (:class:`Listing`, two calls), the
series of one run (one call), and every kept datum of many series in one call;
:class:`~tb_fmnist_plugin.server.reader.ConfusionReader` builds on them (its
``list_one`` and ``read_series`` are these functions).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Hashable, List, Sequence, Tuple

from tensorboard.data import provider

from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.server.series import MatrixSeries

#: ``downsample`` passed to the provider: larger than any plausible number of
#: kept steps, so the provider returns every step it holds.
READ_ALL = 10**9


@dataclasses.dataclass(frozen=True)
class Listing:
    """What the provider lists of this plugin's series at one moment (two
    calls): ``{run: {tag: time series}}`` of its tensors and blob sequences."""

    tensors: Dict[str, Dict[str, Any]]
    blob_sequences: Dict[str, Dict[str, Any]]

    @property
    def stamp(self) -> Hashable:
        """Changes whenever any listed series gets new data."""
        return (
            tuple(sorted((r, t, s.max_step, s.max_wall_time) for r, tags in self.tensors.items() for t, s in tags.items())),
            tuple(sorted((r, t, s.max_step, s.max_wall_time, s.max_length)
                         for r, tags in self.blob_sequences.items() for t, s in tags.items())),
        )


def list_one(list_series: Any, ctx: Any, experiment_id: str, run: str, *tags: str) -> Dict[str, Any]:
    """``list_series`` (``list_tensors`` or ``list_blob_sequences``) of
    the series ``tags`` of one run, in one call."""
    return list_series(ctx, experiment_id=experiment_id, plugin_name=metadata.PLUGIN_NAME,
                       run_tag_filter=provider.RunTagFilter(runs=[run], tags=list(tags)))


def read_series(read: Any, ctx: Any, experiment_id: str, series: Sequence[Any]) -> Dict[str, Any]:
    """Every kept datum of ``series`` (each a ``MatrixSeries``, read with
    its excluded-rows series, or a tuple starting ``(run, tag)``) in one
    call of ``read`` (the provider's ``read_tensors`` or
    ``read_blob_sequences``): ``{run: {tag: [datum]}}``, possibly with
    more series than asked (the filter is runs x tags)."""
    pairs: List[Tuple[str, str]] = []
    for s in series:
        if isinstance(s, MatrixSeries):
            pairs += [(s.run, t) for t in (s.tag, s.excluded_tag) if t is not None]
        else:
            pairs.append((s[0], s[1]))
    return read(
        ctx,
        experiment_id=experiment_id,
        plugin_name=metadata.PLUGIN_NAME,
        downsample=READ_ALL,
        run_tag_filter=provider.RunTagFilter(runs={r for r, _ in pairs}, tags={t for _, t in pairs}),
    )
