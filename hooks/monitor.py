"""``attach_hooks`` and the monitor it returns: argument checks, the public
API, and writing evaluation results (confusion matrix, per-class scalars,
misclassified grid, per-cell examples)."""
from __future__ import annotations

import math
import numbers
import re
import warnings
from typing import Any, Callable, Iterable, List, Optional, Sequence, Tuple, Union

import torch
from torch import nn

from tb_fmnist_plugin import metrics, summary

from . import distributed
from .evaluation import EvalAccumulator, check_positive_int
from .grid import labeled_grid, to_unit_range
from .training import TrainingHooks

ModuleFilter = Union[None, Sequence[str], Callable[[str, nn.Module], bool]]

#: Methods a writer must have (``torch.utils.tensorboard.SummaryWriter`` has all).
WRITER_METHODS = ("add_scalar", "add_histogram_raw", "add_text", "add_image", "add_graph")


def _tag_part(name: str) -> str:
    """A class or set name made safe inside one tag component."""
    return re.sub(r"[^\w.\-]+", "_", name).strip("_") or "_"


def unwrap(model: nn.Module) -> nn.Module:
    """The user's module inside DistributedDataParallel / DataParallel / torch.compile wrappers."""
    while True:
        if isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel)):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(getattr(model, "_orig_mod"), nn.Module):
            model = model._orig_mod
        else:
            return model


def _check_writer(writer: Any) -> None:
    if writer is None:
        if distributed.is_distributed() and distributed.rank() != 0:
            return
        raise ValueError("writer is None: pass a torch.utils.tensorboard.SummaryWriter (only ranks other than 0 may pass None)")
    missing = [m for m in WRITER_METHODS if not callable(getattr(writer, m, None))]
    if not (callable(getattr(writer, "_get_file_writer", None)) or callable(getattr(writer, "add_summary", None))):
        missing.append("_get_file_writer or add_summary")
    if missing:
        raise TypeError(
            f"writer must be a SummaryWriter-like object; {type(writer).__name__} lacks {', '.join(missing)}"
        )


def _check_class_names(class_names: Any) -> Optional[List[str]]:
    if class_names is None:
        return None
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Iterable):
        raise TypeError(f"class_names must be a sequence of strings, got {type(class_names).__name__}")
    names = list(class_names)
    if not names:
        raise ValueError("class_names is empty")
    for name in names:
        if not isinstance(name, str) or not name:
            raise TypeError(f"class_names must be non-empty strings, got {name!r}")
    if len(set(names)) != len(names):
        raise ValueError("class_names has duplicates")
    return names


def _select_modules(root: nn.Module, modules: ModuleFilter) -> List[Tuple[str, nn.Module]]:
    named = [(n, m) for n, m in root.named_modules() if n]
    if modules is None:
        return [(n, m) for n, m in named if not any(True for _ in m.children())]
    if callable(modules):
        return [(n, m) for n, m in named if modules(n, m)]
    if isinstance(modules, str):
        modules = [modules]
    wanted = list(modules)
    known = dict(named)
    unknown = [n for n in wanted if n not in known]
    if unknown:
        raise ValueError(f"modules not found in the model: {unknown}; known names include {list(known)[:8]}")
    return [(n, known[n]) for n in wanted]


class HookMonitor:
    """Returned by :func:`attach_hooks`; see there. Context manager."""

    def __init__(
        self,
        model: nn.Module,
        writer: Any,
        class_names: Optional[Sequence[str]],
        optimizer: Optional[torch.optim.Optimizer],
        log_every: int,
        example_input: Any,
        *,
        modules: ModuleFilter,
        histogram_bins: int,
        histogram_sample: int,
        log_activations: bool,
        log_gradients: bool,
        log_weights: bool,
        log_updates: bool,
        log_graph: bool,
        eval_name: str,
        examples_per_cell: int,
        max_misclassified: int,
        grid_columns: int,
        image_mean: Any,
        image_std: Any,
    ) -> None:
        self.model = model
        self.writer = writer
        self.class_names = list(class_names) if class_names is not None else None
        self.eval_name = eval_name
        self.grid_columns = grid_columns
        self.image_mean = image_mean
        self.image_std = image_std
        self._removed = False
        root = unwrap(model)
        params = [(n, p) for n, p in root.named_parameters()]
        self._training = TrainingHooks(
            root,
            self._writer_here,
            optimizer,
            log_every,
            histogram_bins,
            _select_modules(root, modules) if log_activations else [],
            params,
            log_activations=log_activations,
            log_gradients=log_gradients,
            log_weights=log_weights,
            log_updates=log_updates,
            log_graph=log_graph,
            example_input=example_input,
            histogram_sample=histogram_sample,
        )
        self._eval = EvalAccumulator(
            len(self.class_names) if self.class_names is not None else None,
            examples_per_cell,
            max_misclassified,
        )

    # --- public API -------------------------------------------------------------

    @property
    def step(self) -> int:
        """Training steps counted so far (optimizer steps, or training forwards)."""
        return self._training.step

    @step.setter
    def step(self, value: int) -> None:
        self._training.step = check_positive_int(value, "step", minimum=0)

    @property
    def log_every(self) -> int:
        return self._training.log_every

    def record(self, outputs: Any, labels: Any, images: Any = None, indices: Any = None) -> None:
        """Accumulate one evaluation batch (``outputs`` logits ``[N, C]``,
        ``labels`` ``[N]``, optional ``images`` ``[N, C, H, W]`` as fed to the
        model and dataset ``indices`` ``[N]``). Raises on bad input."""
        self._check_alive()
        batch = self._eval.validate(outputs, labels, images, indices)
        self._eval.add(batch)

    def end_eval(self, step: int, name: Optional[str] = None) -> None:
        """Write what :meth:`record` accumulated at ``step`` and reset it.

        ``name`` overrides ``eval_name`` (e.g. ``"val"``); tags are
        ``confusion/<name>``, ``precision/<name>/<class>``, ... In a
        distributed run every rank must call this; rank 0 writes.
        """
        self._check_alive()
        step = check_positive_int(step, "step", minimum=0)
        name = _tag_part(name or self.eval_name)
        self._training.flush_pending()
        try:
            if distributed.is_distributed():
                matrix, candidates = distributed.reduce_eval(self._eval)
            else:
                matrix, candidates = self._eval.matrix(), self._eval.candidates()
            writer = self._writer_here()
            if writer is None:
                return
            if matrix is None:
                warnings.warn("end_eval: nothing was recorded since the last end_eval; nothing written", RuntimeWarning, stacklevel=2)
                return
            self._write_eval(writer, name, step, matrix, candidates)
        finally:
            # Start the next evaluation empty (class count from class_names or its first batch).
            self._eval.reset()
            self._eval.num_classes = len(self.class_names) if self.class_names is not None else None

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
            warnings.warn(f"tb_fmnist_plugin.hooks: could not write the last logging step: {error}", RuntimeWarning)
        self._training.remove()
        self._eval.reset()
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
        return self.class_names if self.class_names is not None else [str(i) for i in range(num_classes)]

    def _write_eval(self, writer: Any, name: str, step: int, matrix: torch.Tensor, candidates: dict) -> None:
        counts = matrix.numpy()
        num_classes = counts.shape[0]
        names = self._names(num_classes)
        tag = f"confusion/{name}"
        summary.write_confusion_matrix(writer, tag, counts, step, class_names=names)
        values = metrics.per_class_metrics(counts)
        for key in ("precision", "recall", "f1", "support"):
            for index, class_name in enumerate(names):
                value = float(values[key][index])
                if not math.isnan(value):
                    writer.add_scalar(f"{key}/{name}/{_tag_part(class_name)}", value, step)
        accuracy = float(values["accuracy"])
        if not math.isnan(accuracy):
            writer.add_scalar(f"accuracy/{name}", accuracy, step)
        cells = candidates.get("cells") or {}
        if cells and "images" in cells and cells["score"].numel():
            summary.write_cell_examples(
                writer,
                tag,
                step,
                to_unit_range(cells["images"], self.image_mean, self.image_std),
                cells["true"],
                cells["predicted"],
                cells["score"],
                cells["index"],
                class_names=names,
                num_classes=num_classes,
                max_per_cell=max(1, self._eval.examples_per_cell),
            )
        mistakes = candidates.get("mistakes") or {}
        if mistakes and "images" in mistakes and mistakes["score"].numel():
            try:
                images = to_unit_range(mistakes["images"], self.image_mean, self.image_std)
                labels = [
                    f"{names[t]} -> {names[p]} ({c:.2f})"
                    for t, p, c in zip(mistakes["true"].tolist(), mistakes["predicted"].tolist(), mistakes["score"].tolist())
                ]
                grid = labeled_grid(images, labels, nrow=self.grid_columns)
                writer.add_image(f"misclassified/{name}", grid, step, dataformats="CHW")
            except Exception as error:  # a missing font must not lose the matrix
                warnings.warn(f"tb_fmnist_plugin.hooks: misclassified grid skipped: {type(error).__name__}: {error}", RuntimeWarning)


def attach_hooks(
    model: nn.Module,
    writer: Any,
    class_names: Optional[Sequence[str]] = None,
    optimizer: Optional[torch.optim.Optimizer] = None,
    log_every: int = 100,
    example_input: Any = None,
    *,
    modules: ModuleFilter = None,
    histogram_bins: int = 30,
    histogram_sample: int = 16384,
    log_activations: bool = True,
    log_gradients: bool = True,
    log_weights: bool = True,
    log_updates: bool = True,
    log_graph: bool = True,
    eval_name: str = "test",
    examples_per_cell: int = 4,
    max_misclassified: int = 64,
    grid_columns: int = 8,
    image_mean: Any = 0.5,
    image_std: Any = 0.5,
) -> HookMonitor:
    """Attach logging hooks to ``model``; returns a :class:`HookMonitor`.

    See ``docs/hooks.md`` for every option and the tags written. Bad
    arguments raise ``TypeError``/``ValueError`` here.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    _check_writer(writer)
    names = _check_class_names(class_names)
    if optimizer is not None and not (
        callable(getattr(optimizer, "register_step_pre_hook", None))
        and callable(getattr(optimizer, "register_step_post_hook", None))
    ):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    log_every = check_positive_int(log_every, "log_every")
    histogram_bins = check_positive_int(histogram_bins, "histogram_bins")
    histogram_sample = check_positive_int(histogram_sample, "histogram_sample")
    examples_per_cell = check_positive_int(examples_per_cell, "examples_per_cell", minimum=0)
    max_misclassified = check_positive_int(max_misclassified, "max_misclassified", minimum=0)
    grid_columns = check_positive_int(grid_columns, "grid_columns")
    if not isinstance(eval_name, str) or not eval_name:
        raise ValueError(f"eval_name must be a non-empty string, got {eval_name!r}")
    for label, value in (("image_mean", image_mean), ("image_std", image_std)):
        flat = [value] if isinstance(value, numbers.Real) else list(value) if isinstance(value, (list, tuple)) else None
        if not flat or not all(isinstance(v, numbers.Real) and math.isfinite(v) for v in flat):
            raise ValueError(f"{label} must be a number or a sequence of numbers, got {value!r}")
    if names is not None and len(names) > 4096:
        raise ValueError("at most 4096 classes are supported")
    return HookMonitor(
        model,
        writer,
        names,
        optimizer,
        log_every,
        example_input,
        modules=modules,
        histogram_bins=histogram_bins,
        histogram_sample=histogram_sample,
        log_activations=log_activations,
        log_gradients=log_gradients,
        log_weights=log_weights,
        log_updates=log_updates,
        log_graph=log_graph,
        eval_name=eval_name,
        examples_per_cell=examples_per_cell,
        max_misclassified=max_misclassified,
        grid_columns=grid_columns,
        image_mean=image_mean,
        image_std=image_std,
    )
