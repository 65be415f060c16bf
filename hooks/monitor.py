"""``attach_hooks`` and the monitor it returns: the public API, and writing
evaluation results (confusion matrix, per-class scalars, misclassified grid,
per-cell examples)."""
from __future__ import annotations

import dataclasses
import inspect
import math
import re
import typing
import warnings
from typing import Any, List, Optional, Sequence

import torch
from torch import nn

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.format import metadata
from tb_fmnist_plugin.format import writers as summary
from tb_fmnist_plugin.format.checks import check_int

from . import distributed
from .amp import check_grad_scaler
from .deferred import DeferredRecord
from .dense import DenseEval, dense_scalars, mixed_outputs_error, warn_per_image_parts_off
from .diagnostics import EvalDiagnostics, write_diagnostics
from .evaluation import EvalAccumulator, EvalResult, logits_of, looks_like_probabilities
from .example_record import ExampleRecord
from .grid import GRID_PNG_LEVEL, labeled_grid
from .options import HookOptions, as_options
from .output import StepWriter
from .training import TrainingHooks
from .wrappers import check_model, check_optimizer, unwrap_model

#: Methods a writer must have besides what the format needs
#: (``torch.utils.tensorboard.SummaryWriter`` has all).
WRITER_METHODS = ("add_scalar", "add_histogram_raw", "add_text", "add_image", "add_graph")


def _tag_part(name: str) -> str:
    """A class or set name made safe inside one tag component."""
    return re.sub(r"[^\w.\-]+", "_", name).strip("_") or "_"


def _check_writer(writer: Any) -> None:
    """``None`` is allowed on ranks other than 0 of a distributed job."""
    if writer is None:
        if distributed.is_distributed() and distributed.rank() != 0:
            return
        raise ValueError("writer is None: pass a torch.utils.tensorboard.SummaryWriter (only ranks other than 0 may pass None)")
    summary.check_writer(writer, WRITER_METHODS)


class HookMonitor:
    """Returned by :func:`attach_hooks`; see there. Context manager.

    Built directly, it checks its arguments as ``attach_hooks`` does:
    ``options`` must be a :class:`HookOptions` (None: the defaults), whose
    values were checked when it was built.
    """

    def __init__(
        self,
        model: nn.Module,
        writer: Any,
        optimizer: Optional[torch.optim.Optimizer] = None,
        example_input: Any = None,
        options: Optional[HookOptions] = None,
        grad_scaler: Any = None,
    ) -> None:
        check_model(model)
        _check_writer(writer)
        inner_optimizer = check_optimizer(optimizer)
        scaler = check_grad_scaler(grad_scaler)
        options = as_options(options)
        self.model = model
        self.writer = writer
        self.options = options
        self._removed = False
        self._training = TrainingHooks(unwrap_model(model), self._writer_here, inner_optimizer, options, example_input, scaler)
        self._eval = EvalAccumulator(
            options.num_classes,
            options.examples_per_cell,
            options.max_misclassified,
            thumbnail_size=options.thumbnail_size,
            image_mean=options.image_mean,
            image_std=options.image_std,
            ignore_index=options.ignore_index,
        )
        self._diagnostics = EvalDiagnostics(
            bins=options.calibration_bins if options.log_calibration else 0,
            label_issues=options.log_label_issues,
            topk=options.label_issue_topk,
            max_suspects=options.max_suspects,
        )
        self._record = ExampleRecord(options.example_record, options.example_thumbnails_max_bytes,
                                     options.thumbnail_size, options.image_mean, options.image_std)
        self._deferred = DeferredRecord(self._eval, self._diagnostics, self._record)
        self._dense = DenseEval(self._diagnostics, options.num_classes, options.examples_per_cell, class_dim=options.class_dim,
                                ignore_index=options.ignore_index, thumbnail_size=options.thumbnail_size,
                                image_mean=options.image_mean, image_std=options.image_std)
        self._ignored = 0  # classification rows labelled ignore_index this evaluation
        self._warned_dense = False
        self._warned_nan_rows = False
        self._warned_probabilities = False
        self._check_outputs = True  # on the first record() of each evaluation, until it warned

    # --- public API -------------------------------------------------------------

    @property
    def step(self) -> int:
        """Training steps counted so far (optimizer steps, or training forwards)."""
        return self._training.step

    @step.setter
    def step(self, value: int) -> None:
        self._training.step = check_int(value, "step", minimum=0)

    @property
    def log_every(self) -> int:
        return self._training.log_every

    def record(self, outputs: Any, labels: Any, images: Any = None, indices: Any = None) -> None:
        """Accumulate one evaluation batch (``outputs`` logits ``[N, C]``,
        ``labels`` ``[N]``, optional ``images`` ``[N, C, H, W]`` as fed to the
        model and dataset ``indices`` ``[N]``). Dense outputs (one prediction
        per pixel or token, the classes at the ``class_dim`` option) take
        labels of their shape without the class dimension (see
        :mod:`~tb_fmnist_plugin.hooks.dense`). Raises on bad input."""
        self._check_alive()
        dense = logits_of(outputs).dim() > 2
        if (self._dense.active and not dense) or (dense and (self._eval.recorded or self._eval.pending_rows)):
            raise mixed_outputs_error(self._dense.active)
        if dense:
            batch = self._dense.validate(outputs, labels, images, indices)
            self._warned_dense = self._warned_dense or warn_per_image_parts_off(self.options, stacklevel=2)
            checked = self._dense.add(batch)  # the calibration subsample's logits
        else:
            batch = self._eval.validate(outputs, labels, images, indices, self.options.class_dim)
            self._deferred.add(batch)
            self._ignored += batch["ignored"]
            checked = batch["logits"]
        if self._check_outputs and checked.shape[0]:  # once per evaluation: a device sync
            self._check_outputs = False
            self._warn_probabilities(checked)

    def end_eval(self, step: int, name: Optional[str] = None) -> None:
        """Write what :meth:`record` accumulated at ``step`` and reset it.

        ``name`` overrides ``eval_name`` (e.g. ``"val"``); tags are
        ``confusion/<name>``, ``precision/<name>/<class>``, ... In a
        distributed run every rank must call this; rank 0 writes.
        """
        self._check_alive()
        step = check_int(step, "step", minimum=0)
        name = _tag_part(name or self.options.eval_name)
        self._training.flush_pending()
        try:
            self._deferred.flush()
            dense, result, ignored, diagnostics = distributed.collect(self._dense, self._eval, self._diagnostics, self._ignored)
            classes = result.matrix.shape[0] if result.matrix is not None else 0
            rows = self._record.local_rows(f"confusion/{name}") if result.matrix is not None and not dense else None
            if rows is not None and distributed.is_distributed():
                rows = distributed.gather_rows(rows)
            writer = self._writer_here()
            if writer is None:
                return
            if result.matrix is None:
                warnings.warn("end_eval: nothing was recorded since the last end_eval; nothing written", RuntimeWarning, stacklevel=2)
                return
            self._warn_nan_rows(result, name, step)
            self._write_eval(writer, name, step, result, unit=(self._dense.unit or "pixels") if dense else None, ignored=ignored)
            write_diagnostics(writer, name, f"confusion/{name}", step, self._names(classes), diagnostics)
            if rows is not None:
                parts = rows if isinstance(rows, list) else [rows]
                self._record.write(writer, f"confusion/{name}", step, self._names(classes), parts, distributed.is_distributed())
        finally:
            # Start the next evaluation empty (class count from class_names or its first batch).
            self._deferred.reset()
            self._dense.reset(self.options.num_classes)
            self._ignored = 0
            self._eval.num_classes = self.options.num_classes
            self._check_outputs = not self._warned_probabilities

    def log_graph(self, example_input: Any, module: Optional[nn.Module] = None) -> bool:
        """Write the model graph now, traced from ``example_input`` (a tensor
        or a tuple of positional inputs, moved to the model's device), as the
        ``log_graph`` option does at the first training forward, which is then
        skipped. ``module`` traces something else in the model's place (e.g. a
        wrapper whose output is a plain tensor). Returns whether it was
        written; a failing trace warns instead of raising."""
        self._check_alive()
        return self._training.trace_graph(example_input, module if module is not None else self._training.root, stacklevel=3)

    def flush(self) -> None:
        """Write anything a logging step still holds and flush the writer."""
        self._training.flush_pending()
        writer = self._writer_here()
        if writer is not None and callable(getattr(writer, "flush", None)):
            writer.flush()

    def remove(self) -> None:
        """Remove every hook and drop every held tensor; safe to call twice."""
        if self._removed:
            return
        try:
            self._training.flush_pending()
        except Exception as error:  # never fail teardown
            warnings.warn(f"tb_fmnist_plugin.hooks: could not write the last logging step: {error}", RuntimeWarning, stacklevel=2)
        self._training.remove()
        self._deferred.reset()
        self._dense.reset(self.options.num_classes)
        self._removed = True

    @property
    def removed(self) -> bool:
        return self._removed

    def __enter__(self) -> "HookMonitor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.remove()

    # --- internals ----------------------------------------------------------------

    def _check_alive(self) -> None:
        if self._removed:
            raise RuntimeError("this monitor was removed; call attach_hooks again")

    def _writer_here(self) -> Any:
        """The writer on rank 0 (or without torch.distributed), else None."""
        if self.writer is None or distributed.rank() != 0:
            return None
        return self.writer

    def _names(self, num_classes: int) -> List[str]:
        names = self.options.class_names
        return list(names) if names is not None else metadata.default_class_names(num_classes)

    def _warn_nan_rows(self, result: EvalResult, name: str, step: int) -> None:
        """Once per monitor: rows with NaN logits are left out of the matrix."""
        if result.nan_rows == 0 or self._warned_nan_rows:
            return
        self._warned_nan_rows = True
        total = result.nan_rows + int(result.matrix.sum())
        warnings.warn(
            f"tb_fmnist_plugin.hooks: end_eval(step={step}): {result.nan_rows} of {total} recorded rows had NaN "
            f"logits; they are left out of confusion/{name}, its metrics and examples, and counted in the scalar "
            f"nonfinite/{name}. Not repeated for this monitor.",
            RuntimeWarning,
            stacklevel=3,
        )

    def _warn_probabilities(self, logits: torch.Tensor) -> None:
        """Once per monitor: ``record()`` got probabilities, not logits."""
        if not looks_like_probabilities(logits):
            return
        self._warned_probabilities = True
        warnings.warn(
            "tb_fmnist_plugin.hooks: record() got outputs that look like probabilities (every row is non-negative "
            "and sums to 1), but it takes logits and applies softmax itself, so the confidences, the calibration "
            "(ECE, reliability) and the label-issue scores logged from them are wrong (the confusion matrix is "
            "right). Pass the logits, or torch.log(probabilities), whose softmax is the probabilities (a model "
            "ending in softmax: end it in log_softmax). Not repeated for this monitor.",
            RuntimeWarning,
            stacklevel=3,
        )

    def _write_eval(self, writer: Any, name: str, step: int, result: EvalResult, unit: Optional[str] = None, ignored: int = 0) -> None:
        """The matrix (``unit``: what a count is, None for classification),
        its scalars and examples; ``ignored``: rows or positions left out."""
        counts = result.matrix.numpy()
        candidates = result.candidates
        num_classes = counts.shape[0]
        names = self._names(num_classes)
        tag = f"confusion/{name}"
        summary.write_confusion_matrix(writer, tag, counts, step, class_names=names, unit=unit)
        summary.write_excluded_rows(writer, tag, result.nan_rows, step)
        scalars = StepWriter(writer, step)  # one event, not 4 per class (4,000 at 1,000 classes)
        scalars.scalar(f"nonfinite/{name}", result.nan_rows)
        if unit is not None or ignored:
            scalars.scalar(f"ignored_labels/{name}", ignored)
        values = metrics.per_class_metrics(counts)
        for key in ("precision", "recall", "f1", "support"):
            for index, class_name in enumerate(names):
                value = float(values[key][index])
                if not math.isnan(value):
                    scalars.scalar(f"{key}/{name}/{_tag_part(class_name)}", value)
        accuracy = float(values["accuracy"])
        if not math.isnan(accuracy):
            scalars.scalar(f"accuracy/{name}", accuracy)
        for scalar_tag, value in (dense_scalars(counts, names, name, _tag_part) if unit is not None else {}).items():
            scalars.scalar(scalar_tag, value)
        scalars.close()
        cells = candidates.get("cells") or {}
        if cells and "images" in cells and cells["score"].numel():
            summary.write_cell_examples(
                writer,
                tag,
                cells["images"],  # uint8 thumbnails, already denormalized
                step,
                true_labels=cells["true"],
                predicted_labels=cells["predicted"],
                confidences=cells["score"],
                dataset_indices=cells["index"],
                class_names=names,
                num_classes=num_classes,
                max_per_cell=max(1, self._eval.examples_per_cell),
            )
        mistakes = candidates.get("mistakes") or {}
        if mistakes and "images" in mistakes and mistakes["score"].numel():
            try:
                images = mistakes["images"]  # uint8 thumbnails, already denormalized
                labels = [
                    f"{names[t]} -> {names[p]} ({c:.2f})"
                    for t, p, c in zip(mistakes["true"].tolist(), mistakes["predicted"].tolist(), mistakes["score"].tolist())
                ]
                grid = labeled_grid(images, labels, nrow=self.options.grid_columns)
                out = StepWriter(writer, step)
                out.image(f"misclassified/{name}", grid, png_level=GRID_PNG_LEVEL)
                out.close()
            except Exception as error:  # a missing font must not lose the matrix
                warnings.warn(f"tb_fmnist_plugin.hooks: misclassified grid skipped: {type(error).__name__}: {error}", RuntimeWarning, stacklevel=2)


#: Stands for an option passed neither positionally nor by keyword.
_UNSET: Any = object()


def attach_hooks(
    model: nn.Module,
    writer: Any,
    class_names: Optional[Sequence[str]] = _UNSET,
    optimizer: Optional[torch.optim.Optimizer] = None,
    log_every: int = _UNSET,
    example_input: Any = None,
    *,
    grad_scaler: Any = None,
    options: Optional[HookOptions] = None,
    **option_values: Any,
) -> HookMonitor:
    """Attach logging hooks to ``model``; returns a :class:`HookMonitor`.

    The options are the fields of :class:`HookOptions` (see ``docs/hooks.md``),
    passed by keyword (``class_names`` and ``log_every`` also positionally),
    or as ``options=HookOptions(...)``, which keywords then override. Bad
    arguments raise ``TypeError``/``ValueError`` here, before any hook is
    registered; an unknown option raises ``TypeError`` naming it. Wrapped
    models (DDP, ``torch.compile``) and optimizers (anything keeping the real
    one in ``.optimizer``) are unwrapped. Pass the ``torch.amp.GradScaler``
    scaling the loss, if any, as ``grad_scaler``.
    """
    positional = {"class_names": class_names, "log_every": log_every}
    values = {**{name: value for name, value in positional.items() if value is not _UNSET}, **option_values}
    checked = HookOptions.from_keywords(values, base=options)
    return HookMonitor(model, writer, optimizer, example_input, checked, grad_scaler=grad_scaler)


def _signature() -> inspect.Signature:
    """``attach_hooks``' signature with every option as a parameter, defaults
    and types from :class:`HookOptions`' fields (what ``help()`` shows)."""
    own = inspect.signature(attach_hooks)
    hints = {**typing.get_type_hints(HookOptions), **typing.get_type_hints(attach_hooks)}
    fields = {field.name: field for field in dataclasses.fields(HookOptions)}
    parameters = [
        parameter.replace(annotation=hints[name], default=fields[name].default if name in fields else parameter.default)
        for name, parameter in own.parameters.items()
        if parameter.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    parameters += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=field.default, annotation=hints[name])
        for name, field in fields.items()
        if name not in own.parameters
    ]
    return own.replace(parameters=parameters, return_annotation=HookMonitor)


attach_hooks.__signature__ = _signature()  # type: ignore[attr-defined]
