"""``tb-fmnist-train``: the reference Fashion-MNIST script as a command.

Trains the reference CNN (:class:`tb_fmnist_plugin.models.FashionMNISTCNN`)
with the reference defaults (batch 64, Adam lr 1e-3, normalization mean 0.5 /
std 0.5, logs in ``runs/fashion_mnist_experiment_<timestamp>``, scalars
``Training Loss``, ``Test Loss``, ``Test Accuracy``) and logs everything else
through :func:`tb_fmnist_plugin.attach_hooks`: graph, per-layer statistics and
histograms, per-class metrics, the confusion matrix with its examples and
misclassified grids every epoch, and the hyperparameters for the HParams
dashboard. Runs on one process or many (``torchrun``); see ``docs/training.md``.

Exit codes: 0 done, 2 bad usage (argparse errors, unwritable log directory,
CUDA requested without a GPU, missing Fashion-MNIST files), 130 interrupted
(Ctrl-C or SIGTERM; the logs written so far are flushed and stay readable).
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
import time
import warnings
from typing import Any, Callable, Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import torch
from torch import nn

from tb_fmnist_plugin import datasets
from tb_fmnist_plugin.metrics import top_confusions
from tb_fmnist_plugin.models import FashionMNISTCNN

PROG = "tb-fmnist-train"
#: Normalization of the reference script: ``Normalize((0.5,), (0.5,))``.
MEAN, STD = 0.5, 0.5
#: Exit code for usage errors (as argparse uses).
EXIT_USAGE = 2
#: Exit code after Ctrl-C / SIGTERM (128 + SIGINT).
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


@dataclasses.dataclass
class RunResult:
    """What a finished (or interrupted) run produced, for callers and tests."""

    logdir: str
    epochs_completed: int = 0
    test_loss: float = math.nan
    test_accuracy: float = math.nan
    confusion: Optional[np.ndarray] = None
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


# --- Arguments -------------------------------------------------------------------


def _int_at_least(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value

    parse.__name__ = f"integer >= {minimum}"
    return parse


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def default_logdir() -> str:
    """``runs/fashion_mnist_experiment_<YYYYmmdd_HHMMSS>``, as in the reference script."""
    return os.path.join("runs", "fashion_mnist_experiment_" + datetime.datetime.now().strftime("%Y%m%d_%H%M%S"))


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the uninformative ``None``/``False`` ones."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default is False:
            return action.help or ""
        return super()._get_help_string(action) or ""


def build_parser() -> argparse.ArgumentParser:
    """The command line; every option says what it does and its default."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=(
            "Train the reference Fashion-MNIST CNN and log everything to TensorBoard: "
            "loss/accuracy scalars, graph, per-layer statistics and histograms, per-class "
            "metrics, confusion matrices with example images, misclassified grids and "
            "hyperparameters. Runs offline on a built-in synthetic dataset by default; "
            "use torchrun for multi-process data-parallel training."
        ),
        epilog="Exit codes: 0 done, 2 usage error, 130 interrupted. Details: docs/training.md",
        formatter_class=_HelpFormatter,
    )
    train = parser.add_argument_group("training")
    train.add_argument("--epochs", type=_int_at_least(1), default=10,
                       help="number of passes over the training set (the reference script uses 100)")
    train.add_argument("--batch-size", type=_int_at_least(1), default=64,
                       help="images per training/test batch (per process under torchrun)")
    train.add_argument("--lr", type=_positive_float, default=1e-3, help="Adam learning rate")
    train.add_argument("--seed", type=int, default=0,
                       help="seed for weight initialization and shuffling")
    train.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                       help="where to train: auto = CUDA if available, else CPU")
    train.add_argument("--limit-train-batches", type=_int_at_least(1), default=None, metavar="N",
                       help="train on at most N batches per epoch (quick runs; default: all)")
    train.add_argument("--limit-test-batches", type=_int_at_least(1), default=None, metavar="N",
                       help="evaluate on at most N batches per epoch (quick runs; default: all)")
    train.add_argument("--save-model", default=None, metavar="PATH",
                       help="save the final weights (state_dict of the CNN) to PATH")

    data = parser.add_argument_group("data")
    data.add_argument("--dataset", choices=("synthetic", "fashion-mnist"), default="synthetic",
                      help="synthetic: built-in procedural Fashion-MNIST stand-in, no download; "
                           "fashion-mnist: the real dataset from --data-dir (see --download)")
    data.add_argument("--data-dir", default="./data",
                      help="where real Fashion-MNIST lives (<data-dir>/FashionMNIST/raw) and where "
                           "the synthetic dataset is cached")
    data.add_argument("--download", action="store_true",
                      help="download real Fashion-MNIST into --data-dir if missing (needs network)")
    data.add_argument("--train-size", type=_int_at_least(1), default=60_000,
                      help="synthetic training-set size")
    data.add_argument("--test-size", type=_int_at_least(1), default=10_000,
                      help="synthetic test-set size")
    data.add_argument("--data-seed", type=int, default=0,
                      help="seed of the synthetic images (kept apart from --seed so runs "
                           "with different seeds see the same data)")
    data.add_argument("--num-workers", type=_int_at_least(0), default=0,
                      help="DataLoader worker processes (0 loads in the training process; the "
                           "data is in memory, so 0 is usually fastest)")

    logging_ = parser.add_argument_group("logging")
    logging_.add_argument("--logdir", default=None,
                          help="TensorBoard run directory (default: runs/fashion_mnist_experiment_<timestamp>)")
    logging_.add_argument("--log-every", type=_int_at_least(1), default=100, metavar="N",
                          help="log the training loss and layer statistics every N batches")
    logging_.add_argument("--examples-per-cell", type=_int_at_least(0), default=4, metavar="K",
                          help="example images kept per confusion-matrix cell (0: none)")
    logging_.add_argument("--max-misclassified", type=_int_at_least(0), default=64, metavar="N",
                          help="images in the misclassified grid per epoch (0: no grid)")
    logging_.add_argument("--no-hooks", action="store_true",
                          help="baseline: log only what the reference script logs (scalars and "
                               "graph), without attach_hooks")
    logging_.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


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
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(f"cannot write to the log directory {path!r}: {reason}; choose another with --logdir") from None


# --- Data ----------------------------------------------------------------------


class _BatchView(torch.utils.data.Dataset):
    """Serves whole batches from a dataset's ``.data``/``.targets`` tensors.

    Indexed with a list of indices, returns ``(images, labels, indices)``:
    images ``float32 [B, 1, 28, 28]`` computed exactly as
    ``ToTensor()`` then ``Normalize((0.5,), (0.5,))`` would, without building a
    PIL image per item (several times faster on a CPU).
    """

    def __init__(self, data: torch.Tensor, targets: torch.Tensor) -> None:
        self.data = data
        self.targets = torch.as_tensor(targets, dtype=torch.long)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, indices: Sequence[int]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        index = torch.as_tensor(indices, dtype=torch.long)
        images = self.data[index].unsqueeze(1).to(torch.float32).div(255)
        images = images.sub_(MEAN).div_(STD)
        return images, self.targets[index], index


class _ShardSampler(torch.utils.data.Sampler):
    """Indices ``rank, rank + world, ...``: every example on exactly one rank
    (``DistributedSampler`` would pad with duplicates, which would count some
    test images twice in the confusion matrix)."""

    def __init__(self, size: int, rank: int, world_size: int) -> None:
        self.indices = list(range(rank, size, world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)


def _load_datasets(args: argparse.Namespace, dist: _Dist) -> Tuple[Any, Any]:
    if args.dataset == "synthetic":
        train = datasets.SyntheticFashionMNIST(args.data_dir, train=True, size=args.train_size, seed=args.data_seed)
        test = datasets.SyntheticFashionMNIST(args.data_dir, train=False, size=args.test_size, seed=args.data_seed)
        return train, test
    # Real data: under torchrun only rank 0 downloads, the others wait for it.
    first_error: Optional[datasets.DatasetUnavailableError] = None
    if dist.enabled and args.download:
        if dist.rank == 0:
            try:
                datasets.load_fashion_mnist(args.data_dir, True, download=True)
                datasets.load_fashion_mnist(args.data_dir, False, download=True)
            except datasets.DatasetUnavailableError as error:
                first_error = error
        torch.distributed.barrier()
        if first_error is not None:
            raise UsageError(str(first_error))
    try:
        train = datasets.load_fashion_mnist(args.data_dir, True, download=args.download)
        test = datasets.load_fashion_mnist(args.data_dir, False, download=args.download)
    except datasets.DatasetUnavailableError as error:
        raise UsageError(str(error)) from None
    return train, test


def _loaders(train_set: Any, test_set: Any, args: argparse.Namespace, dist: _Dist) -> Tuple[Any, Any, Any]:
    """(train loader, test loader, train sampler). Each loader yields batches."""
    from torch.utils.data import BatchSampler, DataLoader, DistributedSampler, RandomSampler

    train_view = _BatchView(train_set.data, train_set.targets)
    test_view = _BatchView(test_set.data, test_set.targets)
    if dist.enabled:
        sampler: Any = DistributedSampler(
            train_view, num_replicas=dist.world_size, rank=dist.rank, shuffle=True, seed=args.seed
        )
    else:
        sampler = RandomSampler(train_view, generator=torch.Generator().manual_seed(args.seed))
    common = dict(batch_size=None, num_workers=args.num_workers, persistent_workers=args.num_workers > 0)
    train_loader = DataLoader(train_view, sampler=BatchSampler(sampler, args.batch_size, drop_last=False), **common)
    test_sampler = _ShardSampler(len(test_view), dist.rank, dist.world_size)
    test_loader = DataLoader(test_view, sampler=BatchSampler(test_sampler, args.batch_size, drop_last=False), **common)
    return train_loader, test_loader, sampler


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


def _hparams_summaries(args: argparse.Namespace, dist: _Dist, device: torch.device, train_size: int) -> Tuple[Any, Any]:
    """(experiment, session start) summaries for the HParams dashboard, written
    into the run's own event file; metrics are the run's own scalar tags."""
    from torch.utils.tensorboard.summary import hparams

    values: Dict[str, Any] = {
        "lr": float(args.lr),
        "batch_size": int(args.batch_size),
        "epochs": int(args.epochs),
        "dataset": str(args.dataset),
        "train_size": int(train_size),
        "seed": int(args.seed),
        "world_size": int(dist.world_size),
        "device": device.type,
        "optimizer": "Adam",
        "hooks": "off" if args.no_hooks else "on",  # a string: the hparams API stores bools as 0/1
    }
    domains = {
        "dataset": ["fashion-mnist", "synthetic"],
        "device": ["cpu", "cuda"],
        "optimizer": ["Adam"],
        "hooks": ["off", "on"],
    }
    metrics = {"Test Accuracy": 0.0, "Test Loss": 0.0, "Training Loss": 0.0}
    if not args.no_hooks:
        metrics["accuracy/test"] = 0.0
    experiment, session_start, _ = hparams(values, metrics, hparam_domain_discrete=domains)
    return experiment, session_start


def _session_end_summary(success: bool) -> Any:
    """Session end for the HParams dashboard: success, or failure (interrupted;
    the hparams API has no 'aborted' status)."""
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.plugins.hparams.api_pb2 import Status
    from tensorboard.plugins.hparams.metadata import PLUGIN_DATA_VERSION, PLUGIN_NAME, SESSION_END_INFO_TAG
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData, SessionEndInfo

    status = Status.Value("STATUS_SUCCESS" if success else "STATUS_FAILURE")
    content = HParamsPluginData(session_end_info=SessionEndInfo(status=status, end_time_secs=time.time()),
                                version=PLUGIN_DATA_VERSION)
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME,
                                                                  content=content.SerializeToString()))
    return Summary(value=[Summary.Value(tag=SESSION_END_INFO_TAG, metadata=meta)])


def _confused_text(matrix: np.ndarray, names: Sequence[str], n: int = 3) -> str:
    pairs = top_confusions(matrix, n)
    if not pairs:
        return "no mistakes"
    return ", ".join(f"{names[t]} -> {names[p]} ({c})" for t, p, c in pairs)


def _view_command(logdir: str) -> str:
    return f"tensorboard --logdir {shlex.quote(logdir)}"


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Turn SIGTERM into KeyboardInterrupt (main thread only) so it shuts down like Ctrl-C."""
    try:
        import threading

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


# --- The run -------------------------------------------------------------------


def run(args: argparse.Namespace, out: Any = None) -> RunResult:
    """Train and evaluate as ``args`` say; returns a :class:`RunResult`.

    Raises :class:`UsageError` for problems the user must fix. Ctrl-C or
    SIGTERM stops training, flushes and closes the logs and returns a result
    with ``interrupted=True``.
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
    from tqdm import tqdm

    main_rank = dist.rank == 0
    say = (lambda text: tqdm.write(text, file=out)) if main_rank else (lambda text: None)
    result = RunResult(logdir=logdir, rank=dist.rank, world_size=dist.world_size)
    torch.manual_seed(args.seed)

    train_set, test_set = _load_datasets(args, dist)
    names = list(datasets.CLASSES)
    train_loader, test_loader, train_sampler = _loaders(train_set, test_set, args, dist)
    batches_per_epoch = len(train_loader) if args.limit_train_batches is None else min(len(train_loader), args.limit_train_batches)
    test_batches = len(test_loader) if args.limit_test_batches is None else min(len(test_loader), args.limit_test_batches)

    net = FashionMNISTCNN(len(names)).to(device)
    model: nn.Module = net
    if dist.enabled:
        model = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)

    safe = _SafeLog()
    writer = None
    if main_rank:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=logdir)
    interrupted = False
    monitor = None
    try:
        with _sigterm_as_interrupt():
            example = next(iter(train_loader))[0][: args.batch_size].to(device)
            if not args.no_hooks:
                from tb_fmnist_plugin import attach_hooks

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
                summaries = safe("hparams", _hparams_summaries, args, dist, device, len(train_set))
                for item in summaries or ():
                    safe("hparams", writer.file_writer.add_summary, item)
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
                loss, accuracy, matrix = _evaluate(net, test_loader, device, test_batches, monitor, dist, safe)
                result.test_loss, result.test_accuracy, result.confusion = loss, accuracy, matrix
                if writer is not None:
                    safe("Test Loss", writer.add_scalar, "Test Loss", loss, epoch)
                    safe("Test Accuracy", writer.add_scalar, "Test Accuracy", accuracy, epoch)
                if monitor is not None:
                    safe("end_eval", monitor.end_eval, step=epoch)
                if writer is not None:
                    safe("flush", writer.flush)
                result.epochs_completed = epoch + 1
                say(
                    f"Epoch [{epoch + 1}/{args.epochs}] Test Loss: {loss:.4f}, Test Accuracy: {accuracy:.2f}%, "
                    f"train {images_seen / max(seconds, 1e-9):.0f} img/s; "
                    f"most confused: {_confused_text(matrix, names)}"
                )
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if monitor is not None:
            safe("remove hooks", monitor.remove)
        if writer is not None:
            safe("hparams", lambda: writer.file_writer.add_summary(_session_end_summary(not interrupted)))
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
    from tqdm import tqdm

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


def _evaluate(
    net: nn.Module, loader: Any, device: torch.device, batches: int, monitor: Any, dist: _Dist, safe: _SafeLog,
) -> Tuple[float, float, np.ndarray]:
    """Test loss (mean per image), accuracy (%) and confusion counts, summed over ranks.

    Uses the bare network, not the DDP wrapper: evaluation needs no gradient
    synchronization, and ranks may hold different numbers of batches.
    """
    net.eval()
    num_classes = len(datasets.CLASSES)
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, count
    counts = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
    with torch.no_grad():
        for batch_idx, (images, labels, indices) in enumerate(loader):
            if batch_idx >= batches:
                break
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            outputs = net(images)
            predicted = outputs.argmax(dim=1)
            totals[0] += nn.functional.cross_entropy(outputs, labels, reduction="sum").to(torch.float64)
            totals[1] += (predicted == labels).sum()
            totals[2] += labels.shape[0]
            counts += torch.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
            if monitor is not None:
                safe("record", monitor.record, outputs, labels, images, indices)
    if dist.enabled:
        torch.distributed.all_reduce(totals)
        torch.distributed.all_reduce(counts)
    loss_sum, correct, count = totals.tolist()
    matrix = counts.reshape(num_classes, num_classes).cpu().numpy()
    if count == 0:
        return math.nan, math.nan, matrix
    return loss_sum / count, 100.0 * correct / count, matrix


# --- Entry point ---------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point: parse ``argv`` and run; returns the exit code.

    Argparse errors exit (SystemExit 2) with usage; other usage errors print
    one ``tb-fmnist-train: error: ...`` line and return 2.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = run(args)
    except UsageError as error:
        # Under torchrun every rank meets the same problem; say it once.
        if os.environ.get("RANK", "0") in ("", "0"):
            print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # before training started (e.g. while generating data)
        print(f"{PROG}: interrupted before training started", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_INTERRUPTED if result.interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
