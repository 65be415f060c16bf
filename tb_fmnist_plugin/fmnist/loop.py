"""One training run of ``tb-fmnist-train``: the reference loop, with logging.

:func:`run` trains the reference CNN (:class:`~tb_fmnist_plugin.fmnist.models.FashionMNISTCNN`)
with Adam and cross-entropy as the reference script does, writes its scalars
(``Training Loss`` at batch counts; ``Test Loss``, ``Test Accuracy`` and the
hooks' evaluations at the number of the epoch just completed, 1-based), and
logs everything else
through :func:`tb_fmnist_plugin.hooks.attach_hooks`. On one process or many
(``torchrun``: data-parallel, rank 0 writes and prints). Logging never stops
training: a failing logging call warns once and training goes on.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import math
import os
import shlex
import signal
import sys
import tempfile
import threading
import time
import warnings
from typing import Any, Callable, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

from tb_fmnist_plugin.fmnist import PROG, UsageError
from tb_fmnist_plugin.fmnist.data import MEAN, STD, DatasetUnavailableError, load_datasets, make_loaders
from tb_fmnist_plugin.fmnist.evaluation import apply_label_noise, evaluate, train_eval_loader
from tb_fmnist_plugin.fmnist.hparams import session_end_summary, session_start_summaries
from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.fmnist.synthetic import CLASSES
from tb_fmnist_plugin.format.events import file_writer_of
from tb_fmnist_plugin.hooks import attach_hooks
from tb_fmnist_plugin.metrics import top_confusions

__all__ = ["RunResult", "default_logdir", "run"]


@dataclasses.dataclass
class RunResult:
    """What a finished (or interrupted) run produced, for callers and tests."""

    logdir: str
    epochs_completed: int = 0
    test_loss: float = math.nan
    test_accuracy: float = math.nan
    confusion: Optional[np.ndarray] = None
    #: The fixed training subset evaluated each epoch (``--train-eval-size``); NaN/None when off.
    train_eval_accuracy: float = math.nan
    train_eval_confusion: Optional[np.ndarray] = None
    #: Test labels flipped by ``--label-noise`` (dataset indices), as in ``label_noise.json``.
    flipped_test_indices: Tuple[int, ...] = ()
    train_images: int = 0
    train_seconds: float = 0.0
    #: Same, without each epoch's first batch (graph tracing, first logging step).
    steady_images: int = 0
    steady_seconds: float = 0.0
    interrupted: bool = False
    rank: int = 0
    world_size: int = 1

    @property
    def train_images_per_s(self) -> float:
        """Training throughput over all ranks (images / s of the training loop)."""
        return self.train_images / self.train_seconds if self.train_seconds > 0 else math.nan

    @property
    def steady_images_per_s(self) -> float:
        """Throughput without each epoch's first batch (one-time costs excluded)."""
        return self.steady_images / self.steady_seconds if self.steady_seconds > 0 else math.nan


def default_logdir() -> str:
    """``runs/fashion_mnist_experiment_<YYYYmmdd_HHMMSS>``, as in the reference script."""
    return os.path.join("runs", "fashion_mnist_experiment_" + datetime.datetime.now().strftime("%Y%m%d_%H%M%S"))


# --- Environment -------------------------------------------------------------------


@dataclasses.dataclass
class _Dist:
    enabled: bool = False
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0


def _dist_from_env() -> _Dist:
    """Read torchrun's environment; distributed only when WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return _Dist()
    return _Dist(True, int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def _resolve_device(choice: str, dist: _Dist) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise UsageError("--device cuda was requested but no CUDA GPU is available here; use --device cpu (or auto)")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if dist.enabled:
        count = torch.cuda.device_count()
        if dist.local_rank >= count:
            raise UsageError(f"local rank {dist.local_rank} has no GPU ({count} visible); start fewer processes per node")
        torch.cuda.set_device(dist.local_rank)
        return torch.device("cuda", dist.local_rank)
    return torch.device("cuda")


def _check_logdir(path: str) -> None:
    """Create the log directory and prove it is writable, before training."""
    if "://" in path:  # s3://, gs://: would become a local folder named "s3:"
        raise UsageError(f"--logdir takes a local folder, got {path!r}: write locally and sync it to remote "
                         "storage (README: Remote logs)")
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(f"cannot write to the log directory {path!r}: {reason}; choose another with --logdir") from None


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only) so it shuts down like Ctrl-C."""
    try:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGTERM)

        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, handler)
    except (ValueError, OSError):
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- Logging helpers -------------------------------------------------------------


class _SafeLog:
    """Calls logging functions so that a failure warns once and never stops training."""

    def __init__(self) -> None:
        self._failed: set = set()

    def __call__(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # logging must not stop training
            if what not in self._failed:
                self._failed.add(what)
                warnings.warn(f"{PROG}: logging {what} failed, training continues: {type(error).__name__}: {error}",
                              RuntimeWarning, stacklevel=2)
            return None


def _confused_text(matrix: np.ndarray, names: Sequence[str], n: int = 3) -> str:
    pairs = top_confusions(matrix, n)
    if not pairs:
        return "no mistakes"
    return ", ".join(f"{names[t]} -> {names[p]} ({c})" for t, p, c in pairs)


def _view_command(logdir: str) -> str:
    return f"tensorboard --logdir {shlex.quote(logdir)}"


# --- The run -------------------------------------------------------------------


def run(args: argparse.Namespace, out: Any = None) -> RunResult:
    """Train and evaluate as ``args`` (the command's options) say; returns a :class:`RunResult`.

    Raises :class:`~tb_fmnist_plugin.fmnist.UsageError` for problems the user
    must fix. Ctrl-C or SIGTERM stops training, flushes and closes the logs and
    returns a result with ``interrupted=True``.
    """
    out = out if out is not None else sys.stdout
    dist = _dist_from_env()
    device = _resolve_device(args.device, dist)
    logdir = args.logdir or default_logdir()
    if dist.rank == 0:
        _check_logdir(logdir)
    if dist.enabled and not torch.distributed.is_initialized():
        torch.distributed.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        return _run(args, dist, device, logdir, out)
    finally:
        if dist.enabled and torch.distributed.is_initialized():
            with contextlib.suppress(Exception):
                torch.distributed.destroy_process_group()


def _run(args: argparse.Namespace, dist: _Dist, device: torch.device, logdir: str, out: Any) -> RunResult:
    main_rank = dist.rank == 0
    say = (lambda text: tqdm.write(text, file=out)) if main_rank else (lambda text: None)
    result = RunResult(logdir=logdir, rank=dist.rank, world_size=dist.world_size)
    torch.manual_seed(args.seed)

    try:
        train_set, test_set = load_datasets(
            args.dataset, args.data_dir, train_size=args.train_size, test_size=args.test_size,
            data_seed=args.data_seed, download=args.download, rank=dist.rank, world_size=dist.world_size,
        )
    except DatasetUnavailableError as error:
        raise UsageError(str(error)) from None
    result.flipped_test_indices = apply_label_noise(args, test_set, logdir if main_rank else None)
    names = list(CLASSES)
    train_loader, test_loader, train_sampler = make_loaders(
        train_set, test_set, batch_size=args.batch_size, seed=args.seed, num_workers=args.num_workers,
        rank=dist.rank, world_size=dist.world_size,
    )
    train_subset = None if args.no_hooks else train_eval_loader(args, train_set, len(test_set), dist.rank, dist.world_size)
    batches_per_epoch = len(train_loader) if args.limit_train_batches is None else min(len(train_loader), args.limit_train_batches)
    test_batches = len(test_loader) if args.limit_test_batches is None else min(len(test_loader), args.limit_test_batches)

    net = FashionMNISTCNN(len(names)).to(device)
    model: nn.Module = net
    if dist.enabled:
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    safe = _SafeLog()
    writer = SummaryWriter(log_dir=logdir) if main_rank else None
    interrupted = False
    monitor = None
    try:
        with _sigterm_as_interrupt():
            example = next(iter(train_loader))[0][: args.batch_size].to(device)
            if not args.no_hooks:
                monitor = safe(
                    "attach_hooks", attach_hooks, model, writer, class_names=names, optimizer=optimizer,
                    log_every=args.log_every, example_input=example, examples_per_cell=args.examples_per_cell,
                    max_misclassified=args.max_misclassified, image_mean=MEAN, image_std=STD,
                )
            elif writer is not None:
                with warnings.catch_warnings():  # torch.jit.trace's deprecation notice
                    warnings.simplefilter("ignore", FutureWarning)
                    was_training = net.training
                    net.eval()
                    safe("graph", writer.add_graph, net, example)
                    net.train(was_training)
            if writer is not None:
                summaries = safe("hparams", session_start_summaries, args, dist.world_size, device.type, len(train_set))
                for item in summaries or ():
                    safe("hparams", file_writer_of(writer).add_summary, item)
            say(
                f"{PROG}: {args.dataset} data ({len(train_set)} train / {len(test_set)} test images), "
                f"device {device}, {dist.world_size} process(es), logging to {logdir}"
                + ("" if monitor is not None else " (reference logging only)")
            )
            for epoch in range(args.epochs):
                if dist.enabled:
                    train_sampler.set_epoch(epoch)
                images_seen, seconds, first = _train_epoch(
                    model, train_loader, criterion, optimizer, device, epoch, args, batches_per_epoch,
                    writer, safe, main_rank and not args.no_progress, dist, out,
                )
                result.train_images += images_seen
                result.train_seconds += seconds
                result.steady_images += images_seen - first[0]
                result.steady_seconds += seconds - first[1]
                loss, accuracy, matrix = evaluate(net, test_loader, device, test_batches, monitor, dist.enabled, safe)
                result.test_loss, result.test_accuracy, result.confusion = loss, accuracy, matrix
                # the evaluation after epoch k (1-based, as printed below) is logged at step k
                eval_step = epoch + 1
                if writer is not None:
                    safe("Test Loss", writer.add_scalar, "Test Loss", loss, eval_step)
                    safe("Test Accuracy", writer.add_scalar, "Test Accuracy", accuracy, eval_step)
                if monitor is not None:
                    safe("end_eval", monitor.end_eval, step=eval_step)
                gap = ""
                if train_subset is not None and monitor is not None:
                    # The same statistics on training images, in eval mode: the train/test gap.
                    _, train_accuracy, train_matrix = evaluate(net, train_subset, device, test_batches, monitor, dist.enabled, safe)
                    result.train_eval_accuracy, result.train_eval_confusion = train_accuracy, train_matrix
                    safe("end_eval", monitor.end_eval, step=eval_step, name="train")
                    gap = f" (train subset {train_accuracy:.2f}%)"
                if writer is not None:
                    safe("flush", writer.flush)
                result.epochs_completed = epoch + 1
                say(
                    f"Epoch [{epoch + 1}/{args.epochs}] Test Loss: {loss:.4f}, Test Accuracy: {accuracy:.2f}%{gap}, "
                    f"train {images_seen / max(seconds, 1e-9):.0f} img/s; "
                    f"most confused: {_confused_text(matrix, names)}"
                )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if monitor is not None:
            safe("remove hooks", monitor.remove)
        if writer is not None:
            safe("hparams", lambda: file_writer_of(writer).add_summary(session_end_summary(not interrupted)))
            safe("flush", writer.flush)
            safe("close", writer.close)
    result.interrupted = interrupted
    if args.save_model and main_rank and not interrupted:
        directory = os.path.dirname(os.path.abspath(args.save_model))
        os.makedirs(directory, exist_ok=True)
        torch.save(net.state_dict(), args.save_model)
        say(f"Saved the weights to {args.save_model}")
    if interrupted:
        say(f"Interrupted after {result.epochs_completed} complete epoch(s); the logs so far are in {logdir}")
        say(f"View them with: {_view_command(logdir)}")
    else:
        parent = os.path.dirname(os.path.normpath(logdir)) or "."
        say(f"Done. Logs are in {logdir}")
        say(f"View them with: {_view_command(logdir)}   (or --logdir {shlex.quote(parent)} to compare runs)")
    return result


def _train_epoch(
    model: nn.Module, loader: Any, criterion: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
    epoch: int, args: argparse.Namespace, batches: int, writer: Any, safe: _SafeLog, progress: bool, dist: _Dist,
    out: Any,
) -> Tuple[int, float, Tuple[int, float]]:
    """One epoch of the reference training loop; returns (images over all ranks,
    seconds, (images, seconds) of the first batch)."""
    model.train()
    per_rank = min(len(loader.sampler.sampler), batches * args.batch_size)  # BatchSampler -> its sampler
    bar = tqdm(total=per_rank * dist.world_size, desc=f"Epoch {epoch + 1}/{args.epochs}", unit="img",
               unit_scale=True, disable=not progress, leave=False, file=sys.stderr, dynamic_ncols=True)
    seen = 0
    first = (0, 0.0)
    start = time.perf_counter()
    try:
        for batch_idx, (images, labels, _) in enumerate(loader):
            if batch_idx >= batches:
                break
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            optimizer.zero_grad()
            outputs = model(images)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            count = labels.shape[0] * dist.world_size
            seen += count
            if batch_idx == 0:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                first = (count, time.perf_counter() - start)
            if batch_idx % args.log_every == 0 and writer is not None:
                safe("Training Loss", writer.add_scalar, "Training Loss", loss.item(), epoch * batches + batch_idx)
            if progress:
                bar.update(count)
                if batch_idx % 20 == 0:
                    bar.set_postfix(loss=f"{loss.item():.4f}", refresh=False)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    finally:
        bar.close()
    return seen, time.perf_counter() - start, first
