"""A 2-process test worker's process group: gloo over TCP on 127.0.0.1."""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch.distributed as dist


@contextlib.contextmanager
def gloo_group(rank: int, world: int, port: int) -> Iterator[None]:
    """Join the group for the body; on a normal exit every rank meets at a
    barrier before the group is torn down (a rank whose gloo peer closes
    mid-exchange can abort at exit); on an error the group is torn down at once."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world)
    try:
        yield
        dist.barrier()
    finally:
        dist.destroy_process_group()
