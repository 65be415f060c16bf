"""What ``tb-fmnist-train`` evaluates each epoch: the test set (with
``--label-noise``, some of its labels flipped, the truth written into the run
directory) and a fixed subset of the training set (``--train-eval-size``),
both through the monitor's ``record``.
"""
from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any, Callable, Optional, Tuple

import numpy as np
import torch
from torch import nn

from tb_fmnist_plugin import metrics
from tb_fmnist_plugin.fmnist import UsageError
from tb_fmnist_plugin.fmnist.data import add_label_noise, make_eval_loader, subset_indices
from tb_fmnist_plugin.fmnist.synthetic import CLASSES

__all__ = ["LABEL_NOISE_FILE", "apply_label_noise", "evaluate", "train_eval_loader"]

#: File in the run directory listing the test labels flipped by ``--label-noise``.
LABEL_NOISE_FILE = "label_noise.json"


def apply_label_noise(args: argparse.Namespace, test_set: Any, logdir: Optional[str]) -> Tuple[int, ...]:
    """Flip ``--label-noise`` of the test labels in place (seeded with
    ``--data-seed``, the same on every rank) and, given ``logdir`` (rank 0),
    write what was flipped to ``<logdir>/label_noise.json`` (atomically).
    Returns the flipped dataset indices; raises ``UsageError`` for a fraction
    the confusion groups cannot hold."""
    if args.label_noise <= 0:
        return ()
    try:
        record = add_label_noise(test_set, args.label_noise, seed=args.data_seed)
    except ValueError as error:
        raise UsageError(f"--label-noise: {error}") from None
    if logdir is not None:
        path = os.path.join(logdir, LABEL_NOISE_FILE)
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(dict(record, split="test", dataset=args.dataset), handle)
            handle.write("\n")
        os.replace(path + ".tmp", path)
    return tuple(record["indices"])


def train_eval_loader(args: argparse.Namespace, train_set: Any, test_size: int, rank: int, world_size: int) -> Any:
    """Batches of the fixed training subset evaluated each epoch
    (``--train-eval-size``, default ``test_size``; drawn with ``--data-seed``),
    or None when it is 0."""
    size = test_size if args.train_eval_size is None else args.train_eval_size
    if size <= 0:
        return None
    return make_eval_loader(
        train_set, subset_indices(len(train_set), size, seed=args.data_seed).tolist(),
        batch_size=args.batch_size, num_workers=args.num_workers, rank=rank, world_size=world_size,
    )


def evaluate(
    net: nn.Module, loader: Any, device: torch.device, batches: int, monitor: Any, distributed: bool,
    safe: Callable[..., Any],
) -> Tuple[float, float, np.ndarray]:
    """Loss (mean per image), accuracy (%) and confusion counts of ``loader``,
    summed over ranks when ``distributed``; each batch also goes to
    ``monitor.record`` (through ``safe``, which never lets logging stop training).
    The accuracy is :func:`tb_fmnist_plugin.metrics.per_class_metrics`' of the
    counts, the one definition the hooks and the plugin use too.

    Uses the bare network, not the DDP wrapper: evaluation needs no gradient
    synchronization, and ranks may hold different numbers of batches.
    """
    net.eval()
    num_classes = len(CLASSES)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    counts = torch.zeros(num_classes * num_classes, dtype=torch.long, device=device)
    with torch.no_grad():
        for batch_idx, (images, labels, indices) in enumerate(loader):
            if batch_idx >= batches:
                break
            images = images.to(device, non_blocking=True)
            labels = labels.to(device, non_blocking=True)
            outputs = net(images)
            predicted = outputs.argmax(dim=1)
            loss_sum += nn.functional.cross_entropy(outputs, labels, reduction="sum").to(torch.float64)
            counts += torch.bincount(labels * num_classes + predicted, minlength=num_classes * num_classes)
            if monitor is not None:
                safe("record", monitor.record, outputs, labels, images, indices)
    if distributed:
        torch.distributed.all_reduce(loss_sum)
        torch.distributed.all_reduce(counts)
    matrix = counts.reshape(num_classes, num_classes).cpu().numpy()
    count = int(matrix.sum())
    if count == 0:
        return math.nan, math.nan, matrix
    return float(loss_sum) / count, 100.0 * float(metrics.per_class_metrics(matrix)["accuracy"]), matrix
