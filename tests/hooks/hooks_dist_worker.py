"""Worker of the 2-process gloo test (imported by spawned processes)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.fmnist.models import FashionMNISTCNN
from tb_fmnist_plugin.hooks import attach_hooks
from tests.support.gloo import gloo_group
from tests.support.hooks_helpers import batches, train

NAMES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def eval_batches():
    """6 batches of 8 with their dataset indices."""
    data = batches(6, batch=8, seed=123)
    return [(x, y, torch.arange(i * 8, i * 8 + 8)) for i, (x, y) in enumerate(data)]


def worker(rank: int, world: int, port: int, logdir: str, state_file: str) -> None:
    with gloo_group(rank, world, port):
        torch.manual_seed(0)
        model = FashionMNISTCNN()
        ddp = nn.parallel.DistributedDataParallel(model)
        optimizer = torch.optim.SGD(ddp.parameters(), lr=0.05)
        writer = SummaryWriter(logdir) if rank == 0 else None
        monitor = attach_hooks(ddp, writer, class_names=NAMES, optimizer=optimizer, log_every=1, log_graph=False)
        train(ddp, optimizer, batches(2, batch=4, seed=rank))
        ddp.eval()
        with torch.no_grad():
            for x, y, index in eval_batches()[rank::world]:
                monitor.record(ddp(x), y, x, index)
        monitor.end_eval(step=1)
        if rank == 0:
            torch.save(model.state_dict(), state_file)
        monitor.remove()
        if writer is not None:
            writer.close()
