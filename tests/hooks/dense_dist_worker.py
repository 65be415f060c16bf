"""Worker of the 2-process gloo test of dense outputs (imported by spawned processes)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks, distributed
from tests.support.gloo import gloo_group

OPTIONS = {"ignore_index": 255, "examples_per_cell": 2, "log_graph": False, "log_label_issues": False,
           "example_record": False, "max_misclassified": 0, "image_mean": 0, "image_std": 1}


def dense_batches():
    """4 segmentation batches ``(logits [2, 3, 8, 8], labels with a 255 row, uint8 images, indices)``."""
    g = torch.Generator().manual_seed(21)
    out = []
    for i in range(4):
        labels = torch.randint(0, 3, (2, 8, 8), generator=g)
        labels[:, 0] = 255
        logits = torch.randn(2, 3, 8, 8, generator=g)
        images = torch.randint(0, 256, (2, 3, 8, 8), dtype=torch.uint8, generator=g)
        out.append((logits, labels, images, torch.arange(2 * i, 2 * i + 2)))
    return out


def record_all(monitor, parts) -> None:
    for logits, labels, images, index in parts:
        monitor.record(logits, labels, images, index)


def worker(rank: int, world: int, port: int, logdir: str) -> None:
    with gloo_group(rank, world, port):
        writer = SummaryWriter(logdir) if rank == 0 else None
        monitor = attach_hooks(nn.Conv2d(3, 3, 1), writer, **OPTIONS)
        record_all(monitor, dense_batches()[rank::world])
        counts = distributed.sum_counts(monitor._dense.counts)
        assert counts.dtype == torch.int64, counts.dtype  # the reduction keeps int64
        monitor.end_eval(step=1)
        monitor.remove()
        if writer is not None:
            writer.close()
