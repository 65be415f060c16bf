"""Worker of the 2-process FSDP2 (``fully_shard``) gloo test (imported by spawned processes).

Rank 0 saves, for each step, the full (unsharded) gradients and weights as
every rank computes them with ``full_tensor()``, and the warnings it saw.
"""
from __future__ import annotations

import datetime
import warnings

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.tensorboard import SummaryWriter

from tb_fmnist_plugin.hooks import attach_hooks

STEPS = 2


def make_model() -> nn.Module:
    """9 output rows: shards of 5 and 4 rows, so the shards are uneven."""
    return nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Linear(9, 3))


def _full(tensors):
    return {name: t.full_tensor().detach().clone() for name, t in tensors}


def _step(model, optimizer, x, y, record=None):
    optimizer.zero_grad()
    nn.functional.cross_entropy(model(x), y).backward()
    if record is not None:
        record["grads"].append(_full((n, p.grad) for n, p in model.named_parameters()))
        record["before"].append(_full(model.named_parameters()))
    optimizer.step()
    if record is not None:
        record["after"].append(_full(model.named_parameters()))


def worker(rank: int, world: int, port: int, logdir: str, result_file: str) -> None:
    from torch.distributed.fsdp import fully_shard

    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
        timeout=datetime.timedelta(seconds=60),  # a collective one rank skips fails here instead of hanging
    )
    try:
        torch.manual_seed(0)
        model = make_model()
        fully_shard(model[0])
        fully_shard(model[2])
        fully_shard(model)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
        generator = torch.Generator().manual_seed(rank)
        data = [(torch.randn(4, 6, generator=generator), torch.randint(0, 3, (4,), generator=generator)) for _ in range(STEPS + 1)]
        record = {"grads": [], "before": [], "after": []}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            writer = SummaryWriter(f"{logdir}/optimizer") if rank == 0 else None
            monitor = attach_hooks(model, writer, optimizer=optimizer, log_every=1)  # log_graph on: must be skipped
            for x, y in data[:STEPS]:
                _step(model, optimizer, x, y, record)
            monitor.remove()
            # Without an optimizer: weights are logged, gradients and updates are not (one warning).
            writer2 = SummaryWriter(f"{logdir}/no_optimizer") if rank == 0 else None
            monitor = attach_hooks(model, writer2, log_every=1, log_graph=False)
            record["no_optimizer_weights"] = _full(model.named_parameters())  # as the logged forward sees them
            _step(model, optimizer, *data[STEPS])
            _step(model, optimizer, *data[STEPS])
            monitor.remove()
        if rank == 0:
            writer.close()
            writer2.close()
            record["warnings"] = [str(w.message) for w in caught]
            torch.save(record, result_file)
        # both ranks finished their collectives before either tears the group down
        # (a rank whose gloo peer closes mid-exchange can abort at exit)
        dist.barrier()
    finally:
        dist.destroy_process_group()
