"""Writing a format ``Summary`` as one event through a writer: the writer
check, the step and walltime an event stores, metadata once per tag, and the
file writer behind a ``SummaryWriter`` (:func:`file_writer_of`, the one place
that reaches into its private API). Used by :mod:`.writers` and
:mod:`.diagnostics_writers`, and by the hooks for their batched events.
"""
from __future__ import annotations

import inspect
import math
import numbers
import weakref
from typing import Any, Callable, Optional, Sequence, Tuple

from tensorboard.compat.proto import summary_pb2

from tb_fmnist_plugin.format.checks import check_int

#: Largest step an event holds (int64).
_MAX_STEP = 2**63 - 1
#: ``SummaryWriter``'s private method returning its file writer.
_FILE_WRITER_METHOD = "_get_file_writer"

# Tags whose metadata a file writer already wrote; later values omit it, as
# TensorFlow's own writers do (readers keep the first metadata of a tag).
_tags_with_metadata: "weakref.WeakKeyDictionary[Any, set]" = weakref.WeakKeyDictionary()


def file_writer_of(writer: Any) -> Optional[Any]:
    """The file writer behind a ``SummaryWriter`` (the object whose
    ``add_summary(summary, global_step, walltime)`` writes one event), or
    None for a writer without one. For the format and the hooks, which write
    one ``Summary`` per step instead of an event per value."""
    get = getattr(writer, _FILE_WRITER_METHOD, None)
    return get() if callable(get) else None


def check_writer(writer: Any, methods: Sequence[str] = ()) -> None:
    """Raise ``TypeError`` unless ``writer`` can write summaries (a
    ``SummaryWriter``, see :func:`file_writer_of`, or ``add_summary``) and
    has each of ``methods`` (those a caller uses besides, e.g. ``add_scalar``)."""
    missing = [name for name in methods if not callable(getattr(writer, name, None))]
    if not (callable(getattr(writer, _FILE_WRITER_METHOD, None)) or callable(getattr(writer, "add_summary", None))):
        missing.append(f"{_FILE_WRITER_METHOD} or add_summary")
    if missing:
        raise TypeError(
            f"writer must be a SummaryWriter-like object (torch.utils.tensorboard.SummaryWriter); "
            f"{type(writer).__name__} lacks {', '.join(missing)}"
        )


def event_step_walltime(step: Any, walltime: Any) -> Tuple[int, Optional[float]]:
    """``step`` and ``walltime`` as an event stores them (int64 step >= 0,
    finite seconds or None); raises before anything is written."""
    step = check_int(step, "step", minimum=0, maximum=_MAX_STEP, type_error=True)
    if walltime is None:
        return step, None
    if isinstance(walltime, bool) or not isinstance(walltime, numbers.Real):
        raise TypeError(f"walltime must be seconds since the epoch or None, got {type(walltime).__name__}")
    if not math.isfinite(walltime):
        raise ValueError(f"walltime must be finite, got {walltime!r}")
    return step, float(walltime)


def write_summary(writer: Any, summary: summary_pb2.Summary, step: int, walltime: Optional[float]) -> None:
    """Write ``summary`` as one event of ``writer`` (checked, see
    :func:`check_writer`), each tag's metadata only in its first event."""
    check_writer(writer)
    file_writer = file_writer_of(writer)
    file_writer = writer if file_writer is None else file_writer
    try:
        seen = _tags_with_metadata.setdefault(file_writer, set())
    except TypeError:  # not weak-referenceable: always keep metadata
        seen = None
    new_tags = []
    for value in summary.value if seen is not None else ():
        if value.tag in seen:
            value.ClearField("metadata")
        else:
            new_tags.append(value.tag)
    file_writer.add_summary(summary, step, walltime)
    if seen is not None:  # only once written: a failed write leaves the next one its metadata
        seen.update(new_tags)


def write_function(build: Callable[..., summary_pb2.Summary], name: str, doc: str) -> Callable[..., None]:
    """The ``write_*`` function of the ``*_pb`` builder ``build(tag, data, *,
    options)``: ``name(writer, tag, data, step, *, options, walltime=None)``
    builds the ``Summary`` and writes it as one event at ``step``. Its
    parameters are the builder's, so each is written once; bad input raises
    before anything is written."""
    tag, data, *options = inspect.signature(build).parameters.values()
    keyword, positional = inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature(
        [
            inspect.Parameter("writer", positional, annotation=Any),
            tag,
            data,
            inspect.Parameter("step", positional, annotation=int),
            *options,
            inspect.Parameter("walltime", keyword, default=None, annotation=Optional[float]),
        ],
        return_annotation=None,
    )

    def write(*args: Any, **kwargs: Any) -> None:
        arguments = signature.bind(*args, **kwargs).arguments
        writer, step = arguments.pop("writer"), arguments.pop("step")
        step, walltime = event_step_walltime(step, arguments.pop("walltime", None))
        write_summary(writer, build(arguments.pop(tag.name), arguments.pop(data.name), **arguments), step, walltime)

    write.__signature__ = signature  # type: ignore[attr-defined]
    write.__name__ = write.__qualname__ = name
    write.__module__ = build.__module__
    write.__doc__ = doc
    return write
