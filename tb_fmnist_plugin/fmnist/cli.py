"""``tb-fmnist-train``: the reference Fashion-MNIST script as a command.

Trains the reference CNN with the reference defaults (batch 64, Adam lr 1e-3,
normalization mean 0.5 / std 0.5, logs in
``runs/fashion_mnist_experiment_<timestamp>``, scalars ``Training Loss``,
``Test Loss``, ``Test Accuracy``) and logs everything else through
:func:`tb_fmnist_plugin.hooks.attach_hooks`: graph, per-layer statistics and
histograms, per-class metrics, the confusion matrix with its examples and
misclassified grids every epoch, and the hyperparameters for the HParams
dashboard. Runs on one process or many (``torchrun``); see ``docs/training.md``.
This module parses the command line and maps outcomes to exit codes; the run
itself is :func:`tb_fmnist_plugin.fmnist.loop.run`.

Exit codes: 0 done, 2 bad usage (argparse errors, unwritable log directory,
CUDA requested without a GPU, missing Fashion-MNIST files), 130 interrupted
(Ctrl-C or SIGTERM; the logs written so far are flushed and stay readable).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Callable, Optional, Sequence

from tb_fmnist_plugin.fmnist import PROG, UsageError
from tb_fmnist_plugin.fmnist.loop import RunResult, run

__all__ = ["EXIT_INTERRUPTED", "EXIT_USAGE", "PROG", "RunResult", "UsageError", "build_parser", "main", "run"]

#: Exit code for usage errors (as argparse uses).
EXIT_USAGE = 2
#: Exit code after Ctrl-C / SIGTERM (128 + SIGINT).
EXIT_INTERRUPTED = 130


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


def _number(valid: Callable[[float], bool], requirement: str) -> Callable[[str], float]:
    """An argparse type: a finite number for which ``valid`` holds."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or not valid(value):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value

    parse.__name__ = requirement
    return parse


_positive_float = _number(lambda value: value > 0, "a positive number")
_fraction = _number(lambda value: 0 <= value < 1, "a fraction in [0, 1)")


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
                       help="evaluate on at most N batches per epoch, test set and training subset alike "
                            "(quick runs; default: all)")
    train.add_argument("--train-eval-size", type=_int_at_least(0), default=None, metavar="N",
                       help="also evaluate a fixed subset of N training images (eval mode) every epoch, "
                            "logged as confusion/train next to confusion/test to show the train/test gap "
                            "(default: as many as the test set; 0: off)")
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
    data.add_argument("--label-noise", type=_fraction, default=0.0, metavar="P",
                      help="flip a seeded fraction P of the test labels, each to another class of its "
                           "confusion group (e.g. Shirt <-> T-shirt/top), and list them in "
                           "<logdir>/label_noise.json: ground truth for the suspected label errors")
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
