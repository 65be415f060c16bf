"""``ConfusionCallback`` for the Hugging Face ``Trainer``.

    from tb_fmnist_plugin.integrations.transformers import ConfusionCallback

    trainer = Trainer(model=model, args=args, ..., callbacks=[ConfusionCallback()])

Class names come from ``model.config.id2label``. The callback writes into
the directory of the Trainer's own TensorBoard logging (``report_to``
"tensorboard": its ``TensorBoardCallback``'s folder, i.e.
``TENSORBOARD_LOGGING_DIR`` or ``<output_dir>/runs/<date>_<host>``; without
it the same rule), so losses, learning rate and these dashboards are one run.
See ``docs/integrations.md``.

Only the callback API is used: a ``TrainerCallback`` gets no reference to the
Trainer or its other callbacks, so the folder is found by that rule (the
``TensorBoardCallback`` picks it at ``on_train_begin``, just before this
callback), and an evaluation forward is recorded once ``on_prediction_step``
says its dataloader is the Trainer's ``eval_dataloader``.
"""
from __future__ import annotations

import os
import socket
import time
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
from torch import nn

from . import missing_framework

try:
    from accelerate.state import GradientState
    from transformers import TrainerCallback
    from transformers.integrations import TensorBoardCallback, get_reporting_integration_callbacks
    from transformers.integrations.integration_utils import default_logdir  # the Trainer's runs/<date>_<host>
except ImportError as error:
    raise missing_framework(__name__, "the Hugging Face Trainer (transformers and accelerate)", '"tb-fmnist-plugin[transformers]"', error) from error

from .session import EvalBatch, HookSession, as_image_batch, batch_indices, logits_from, optional_callable

__all__ = ["ConfusionCallback"]
#: Forward calls kept until the Trainer says which dataloader it evaluates (one per batch in its loop).
MAX_PENDING = 4
#: The warning of an evaluation whose forwards had no labels.
UNLABELED = (
    "tb_fmnist_plugin.integrations: {unlabeled} of {total} evaluation batches reached the model without labels, "
    "so confusion/{name} {outcome}. If the batches hold \"{label}\", the Trainer's compute_loss took them out "
    "before calling the model (label_smoothing_factor, compute_loss_func, or a compute_loss that pops them): call "
    "callback.attach(trainer) once after building the Trainer, so the labels are read in its prediction_step "
    "first. Otherwise give the evaluation dataset a \"{label}\" column (or set TrainingArguments.label_names), "
    "or pass get_labels=lambda inputs: ... to ConfusionCallback."
)


def id2label_names(model: nn.Module) -> Optional[List[str]]:
    """``model.config.id2label`` as a list in label order, or None."""
    mapping = getattr(getattr(model, "config", None), "id2label", None)
    if not mapping:
        return None
    labels = {int(key): str(value) for key, value in mapping.items()}
    return [labels[i] for i in range(len(labels))] if set(labels) == set(range(len(labels))) else None


def evaluation_rows(count: int) -> Tuple[int, Any]:
    """How many of this process's ``count`` rows to record, and the dataloader
    being iterated (accelerate's ``GradientState``); ``(0, None)`` outside one.

    accelerate evens out the last evaluation batch over the processes by
    repeating samples, which the Trainer drops again (``gather_for_metrics``);
    so are they here. Whether the dataloader is the Trainer's evaluation
    dataloader is known later, at ``on_prediction_step``.
    """
    state = GradientState()
    if not state.in_dataloader:
        return 0, None
    loader = state.active_dataloader
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()) or torch.distributed.get_world_size() == 1:
        return count, loader
    if not state.end_of_dataloader or state.remainder <= 0:
        return count, loader
    return max(0, min(count, state.remainder - torch.distributed.get_rank() * count)), loader


def reports_to_tensorboard(args: Any) -> bool:
    """Whether the Trainer made a ``TensorBoardCallback`` (``report_to``)."""
    try:
        return any(issubclass(kind, TensorBoardCallback) for kind in get_reporting_integration_callbacks(args.report_to))
    except (ValueError, TypeError):
        return False


def made_run_folder(parent: str, trial: Optional[str], since: float, other_than: Optional[str]) -> str:
    """The ``<parent>/runs/<date>_<host>[/<trial>]`` folder the
    ``TensorBoardCallback`` made at this ``train()``'s start: the one named
    for now if it exists, else the newest made since ``since`` (the clock may
    have turned a second, or other callbacks taken time, since it chose the
    name), else the name for now."""
    def named(folder: str) -> str:
        return os.path.join(folder, trial) if trial else folder

    now = named(os.path.join(parent, default_logdir()))
    if os.path.isdir(now):
        return now
    runs = os.path.join(parent, "runs")
    try:
        entries = [named(os.path.join(runs, name)) for name in os.listdir(runs) if name.endswith("_" + socket.gethostname())]
    except OSError:
        return now
    made = [(os.path.getmtime(path), path) for path in entries if os.path.isdir(path) and path != other_than]
    made = [(when, path) for when, path in made if when >= since]
    return max(made)[1] if made else now


class LogitsView(nn.Module):
    """The model with its logits as the only output, for tracing the graph.

    It calls the class's ``forward``: under ``bf16``/``fp16`` accelerate
    replaces the instance's ``forward`` with one that turns autocast on,
    which tracing cannot hold as constants."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, *inputs: Any) -> Any:
        return logits_from(type(self.model).forward(self.model, *inputs))


class TrainerSession(HookSession):
    """Hooks on a ``PreTrainedModel``; writer in the Trainer's TensorBoard run folder."""

    def __init__(self, class_names, options, get_labels, get_images) -> None:
        super().__init__(class_names, options)
        self.get_labels = optional_callable(get_labels, "get_labels")
        self.get_images = optional_callable(get_images, "get_images")
        self.args: Any = None
        self._writer: Any = None
        self._run_dir: Optional[str] = None  # the TensorBoardCallback's folder, from the first train()
        self._created = time.time()
        self._pending: List[Tuple[Any, Optional[EvalBatch]]] = []  # (dataloader, batch or None: no labels) until on_prediction_step
        self._batches = [0, 0]  # this evaluation's confirmed batches: [all, without labels]
        self._step_labels: Any = None  # the labels of the batch in prediction_step (see attach)
        self._trainer: Any = None

    def configure(self, args: Any, model: nn.Module) -> None:
        self.args = args
        if self.class_names is None:
            self.class_names = id2label_names(model)
        self.watch(model)

    def start_run(self, args: Any, state: Any) -> None:
        """At ``on_train_begin``, after the Trainer's ``TensorBoardCallback``
        (a default callback, so called first) chose its folder by the rule in
        the module doc: take the same folder."""
        if not (state.is_world_process_zero and reports_to_tensorboard(args)):
            return
        trial = state.trial_name if state.is_hyper_param_search else None
        if getattr(args, "logging_dir", None):  # transformers 4: the TensorBoardCallback's folder
            self._run_dir = os.path.join(args.logging_dir, trial) if trial else args.logging_dir
        elif trial or self._run_dir is None:  # transformers 5 keeps its first folder but per trial
            env = None if trial else os.getenv("TENSORBOARD_LOGGING_DIR")
            other = self._writer.log_dir if self._writer is not None else None
            self._run_dir = os.path.expanduser(env) if env else made_run_folder(args.output_dir, trial, self._created, other)

    def log_dir(self) -> str:
        """The Trainer's TensorBoard folder (see the module doc)."""
        if self._run_dir is not None:
            return self._run_dir
        if self._writer is not None:
            return self._writer.log_dir
        if getattr(self.args, "logging_dir", None):  # transformers 4: the TensorBoardCallback's folder
            return self.args.logging_dir
        env = os.getenv("TENSORBOARD_LOGGING_DIR")
        return os.path.expanduser(env) if env else os.path.join(self.args.output_dir, default_logdir())

    def writer(self) -> Any:
        if self.args is None or self.args.process_index != 0:
            return None
        where = self.log_dir()
        if self._writer is not None and os.path.abspath(self._writer.log_dir) != os.path.abspath(where):
            self.close_writer()  # made before training, and the TensorBoardCallback chose another folder
        if self._writer is None:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=where)
        return self._writer

    def written_dir(self) -> Optional[str]:
        return self._writer.log_dir if self._writer is not None else None

    def flush_writer(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def eval_batch(self, module, args, kwargs, output) -> Optional[EvalBatch]:
        logits = logits_from(output)
        labels = self.get_labels(kwargs) if self.get_labels is not None else kwargs.get(self.label_name())
        if labels is None and isinstance(logits, torch.Tensor) and logits.dim() >= 1:
            step = self._step_labels
            labels = step if isinstance(step, torch.Tensor) and step.dim() >= 1 and step.shape[0] == logits.shape[0] else None
        if labels is None:
            self._keep(evaluation_rows(0)[1], None)  # counted if the Trainer evaluates this dataloader
            return None
        count = len(labels)
        keep, loader = evaluation_rows(count)
        if keep == 0:
            return None
        if self.get_images is not None:
            images = self.get_images(kwargs)
        else:
            images = as_image_batch(kwargs.get(getattr(module, "main_input_name", "pixel_values"), args[0] if args else None), count)
        indices = batch_indices(kwargs, count)  # "index"/"indices" in the inputs: the per-example record's identity
        if keep < count:
            logits, labels = logits[:keep], labels[:keep]
            images = images[:keep] if images is not None else None
            indices = indices[:keep] if indices is not None else None
        self._keep(loader, (logits.detach().clone(), labels, images, indices))
        return None  # recorded by confirm() if the Trainer evaluates this dataloader

    def _keep(self, loader: Any, batch: Optional[EvalBatch]) -> None:
        """Hold a forward call's batch (None: it had no labels) until :meth:`confirm`."""
        if loader is None:
            return
        if self._pending and self._pending[-1][0] is not loader:
            self._pending = []  # a forward in another dataloader: the earlier ones were no evaluation
        self._pending = self._pending[-(MAX_PENDING - 1):] + [(loader, batch)]

    def confirm(self, eval_dataloader: Any) -> None:
        """Record the kept forward calls that ran in ``eval_dataloader``, the
        dataloader the Trainer evaluates (its callbacks' ``eval_dataloader``,
        set when its evaluation loop starts): a forward call of the user's own
        is no evaluation. Called at ``on_prediction_step``, after each batch."""
        pending, self._pending = self._pending, []
        for loader, batch in pending:
            if eval_dataloader is not None and loader is eval_dataloader:
                self._batches[0] += 1
                if batch is None:
                    self._batches[1] += 1
                else:
                    self.record(lambda batch=batch: batch)

    def end_eval(self, step: int, name: str, quiet: bool = False) -> None:
        """As :meth:`HookSession.end_eval`; batches without labels warn
        (:data:`UNLABELED`) unless ``quiet`` (``predict()`` on unlabeled data)."""
        (total, unlabeled), self._batches = self._batches, [0, 0]
        if unlabeled and not quiet:
            outcome = "is not written" if unlabeled == total else "leaves them out"
            warnings.warn(
                UNLABELED.format(unlabeled=unlabeled, total=total, name=name, outcome=outcome, label=self.label_name()),
                RuntimeWarning,
                stacklevel=3,
            )
        super().end_eval(step, name, quiet=quiet or unlabeled == total > 0)

    def attach(self, trainer: Any) -> None:
        """Read each evaluation batch's labels in ``trainer.prediction_step``
        before its ``compute_loss`` can take them out of the inputs (the
        model's forward then gets none); :meth:`remove` restores it."""
        self.detach()
        original = trainer.prediction_step

        def prediction_step(model: nn.Module, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            self._step_labels = inputs.get(self.label_name()) if isinstance(inputs, Mapping) else None
            try:
                return original(model, inputs, *args, **kwargs)
            finally:
                self._step_labels = None

        trainer.prediction_step = prediction_step
        self._trainer = trainer

    def detach(self) -> None:
        if self._trainer is not None:
            self._trainer.__dict__.pop("prediction_step", None)
            self._trainer = None

    def label_name(self) -> str:
        names = getattr(self.args, "label_names", None)
        return names[0] if names and len(names) == 1 else "labels"

    def graph_input(self, module, args, kwargs) -> Optional[Tuple[Any, ...]]:
        main = kwargs.get(getattr(module, "main_input_name", "pixel_values"))
        return (main,) if isinstance(main, torch.Tensor) else tuple(args)

    def graph_module(self) -> nn.Module:
        return LogitsView(self.model)

    def remove(self) -> None:
        super().remove()
        self._pending = []
        self.close_writer()


class ConfusionCallback(TrainerCallback):
    """Logging hooks and the Confusion tab for a Hugging Face ``Trainer``, in one line.

    Args:
      class_names: one name per class (default ``model.config.id2label``).
      get_labels: ``inputs -> labels``, given the keyword inputs of the
        model's forward (default ``inputs["labels"]``, or the single name in
        ``TrainingArguments.label_names``).
      get_images: ``inputs -> images`` for the example grids (default: the
        model's main input, ``pixel_values``).
      log_every: log training statistics every this many global steps.
      **hook_options: any other keyword option of ``attach_hooks``.

    Training hooks are attached at ``on_train_begin`` with the Trainer's
    optimizer and removed at ``on_train_end``; each ``evaluate()`` ends with
    ``confusion/eval`` (``confusion/<metric_key_prefix>``) at the global
    step, ``predict()`` on labeled data with ``confusion/test``. One forward
    hook, which captures evaluation predictions, stays on the model from the
    Trainer's creation until :meth:`remove`, so ``trainer.evaluate()`` before
    or after ``train()`` is recorded too.
    """

    def __init__(
        self,
        class_names: Optional[Sequence[str]] = None,
        *,
        get_labels: Optional[Callable[[Dict[str, Any]], Any]] = None,
        get_images: Optional[Callable[[Dict[str, Any]], Any]] = None,
        log_every: int = 100,
        **hook_options: Any,
    ) -> None:
        self._session = TrainerSession(class_names, dict(hook_options, log_every=log_every), get_labels, get_images)

    @property
    def monitor(self) -> Any:
        """The :class:`~tb_fmnist_plugin.hooks.HookMonitor` while attached, else None."""
        return self._session.monitor

    @property
    def log_dir(self) -> Optional[str]:
        """The folder written to (on the main process, once written), else None."""
        return self._session.written_dir()

    def remove(self) -> None:
        """Remove every hook from the model (and from the Trainer, see
        :meth:`attach`) and close the writer."""
        self._session.remove()
        self._session.detach()

    def attach(self, trainer: Any) -> "ConfusionCallback":
        """For Trainers whose ``compute_loss`` takes the labels out of the
        inputs before calling the model (``label_smoothing_factor``,
        ``compute_loss_func``, a custom ``compute_loss`` that pops
        ``"labels"``): read each evaluation batch's labels in
        ``trainer.prediction_step`` first. Call once after building the
        Trainer; returns the callback."""
        self._session.attach(trainer)
        return self

    def on_init_end(self, args, state, control, model=None, **kwargs):
        if model is not None:
            self._session.configure(args, model)

    def on_train_begin(self, args, state, control, model=None, optimizer=None, **kwargs):
        self._session.configure(args, model)
        self._session.start_run(args, state)
        self._session.start_training(optimizer, state.global_step)

    def on_prediction_step(self, args, state, control, eval_dataloader=None, **kwargs):
        self._session.confirm(eval_dataloader)

    def on_step_begin(self, args, state, control, **kwargs):
        self._session.sync_step(state.global_step)

    def on_evaluate(self, args, state, control, metrics=None, eval_dataloader=None, **kwargs):
        self._session.confirm(eval_dataloader)
        self._session.end_eval(state.global_step, _set_name(metrics, "eval"))

    def on_predict(self, args, state, control, metrics=None, eval_dataloader=None, **kwargs):
        self._session.confirm(eval_dataloader)
        self._session.end_eval(state.global_step, _set_name(metrics, "test"), quiet=True)

    def on_train_end(self, args, state, control, **kwargs):
        self._session.stop_training()
        self._session.flush_writer()


def _set_name(metrics: Optional[Dict[str, Any]], default: str) -> str:
    """The evaluated set's name: the Trainer's ``metric_key_prefix`` (``eval``,
    ``eval_<name>`` for a dict of datasets, ``test``), read off its metrics."""
    for key in metrics or {}:
        if key.endswith("_runtime"):
            return key[: -len("_runtime")]
    return default
