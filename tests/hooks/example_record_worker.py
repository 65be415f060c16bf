"""Worker of the 2-process per-example record test (imported by spawned
processes): a DistributedSampler whose padding repeats rows."""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.gloo import gloo_group

NAMES = [str(i) for i in range(10)]
ROWS = 45  # odd: the sampler pads rank 1 with a repeat of row 0


def dataset() -> TensorDataset:
    generator = torch.Generator().manual_seed(7)
    images = torch.randn(ROWS, 1, 28, 28, generator=generator)
    labels = torch.randint(0, 10, (ROWS,), generator=generator)
    return TensorDataset(images, labels, torch.arange(ROWS))


def model() -> FashionMNISTCNN:
    torch.manual_seed(0)
    return FashionMNISTCNN().eval()


def worker(rank: int, world: int, port: int, logdir: str) -> None:
    with gloo_group(rank, world, port):
        net = model()
        writer = SummaryWriter(logdir) if rank == 0 else None
        monitor = attach_hooks(net, writer, class_names=NAMES, log_graph=False)
        sampler = DistributedSampler(dataset(), num_replicas=world, rank=rank, shuffle=True, seed=3)
        with torch.no_grad():
            for x, y, index in DataLoader(dataset(), batch_size=8, sampler=sampler):
                monitor.record(net(x), y, x, indices=index)
        monitor.end_eval(step=2)
        monitor.remove()
        if writer is not None:
            writer.close()
