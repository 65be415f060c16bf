"""Segmentation batches for the reference tests of dense outputs
(``test_dense_distributed.py``), and the worker of their 2-process gloo run
(imported by spawned processes)."""
from __future__ import annotations

from typing import List, Optional, Sequence, Tuple

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks

NAMES = ["background", "road", "car", "person", "sky"]
IGNORE = 255
SIZE = 16
#: The per-image parts, off for dense outputs anyway: turned off so the one-time warning does not come.
PER_IMAGE_OFF = {"log_label_issues": False, "example_record": False, "max_misclassified": 0}


def dense_batches(count: int = 6, batch: int = 4, seed: int = 7) -> List[Tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """``(logits [B, C, H, W], labels [B, H, W] with ~10% IGNORE, images
    [B, 3, H, W] in [-1, 1])``, the labelled class boosted in most pixels."""
    g = torch.Generator().manual_seed(seed)
    classes = len(NAMES)
    out = []
    for _ in range(count):
        labels = torch.randint(0, classes, (batch, SIZE, SIZE), generator=g)
        logits = torch.randn(batch, classes, SIZE, SIZE, generator=g)
        logits += 1.2 * nn.functional.one_hot(labels, classes).permute(0, 3, 1, 2)
        labels[torch.rand(batch, SIZE, SIZE, generator=g) < 0.1] = IGNORE
        images = torch.rand(batch, 3, SIZE, SIZE, generator=g) * 2 - 1
        out.append((logits, labels, images))
    return out


def record_all(logdir: Optional[str], data: Sequence[Tuple[torch.Tensor, ...]], step: int = 1) -> None:
    """Record ``data`` with a fresh monitor (``ignore_index=IGNORE``) and end
    one evaluation at ``step``; writes into ``logdir`` (None: no writer)."""
    writer = SummaryWriter(logdir) if logdir is not None else None
    monitor = attach_hooks(nn.Conv2d(3, len(NAMES), 1), writer, class_names=NAMES, ignore_index=IGNORE, log_graph=False,
                           **PER_IMAGE_OFF)
    for logits, labels, images in data:
        monitor.record(logits, labels, images)
    monitor.end_eval(step=step)
    monitor.remove()
    if writer is not None:
        writer.close()


def worker(rank: int, world: int, port: int, logdir: str) -> None:
    """Rank ``rank`` records every ``world``-th batch; rank 0 writes."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        record_all(logdir if rank == 0 else None, dense_batches()[rank::world])
    finally:
        dist.destroy_process_group()
