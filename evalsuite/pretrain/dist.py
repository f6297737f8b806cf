"""Distributed helpers that degrade to no-ops in a single process."""

from __future__ import annotations

import torch
import torch.distributed as dist


def world() -> tuple[int, int]:
    """(rank, world_size); (0, 1) outside ``torch.distributed``."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def gather_with_grad(x: torch.Tensor) -> torch.Tensor:
    """(N, D) per process -> (world * N, D), rank order; gradients flow back to every process.

    SimCLR (Chen et al. 2020, Sec. 2 and App. B.1) draws negatives from the global batch; the
    backward of ``torch.distributed.nn.all_gather`` sums each slice's gradient over processes.
    """
    _, size = world()
    if size == 1:
        return x
    from torch.distributed.nn.functional import all_gather

    return torch.cat(all_gather(x), dim=0)


@torch.no_grad()
def gather_no_grad(x: torch.Tensor) -> torch.Tensor:
    """(N, ...) per process -> (world * N, ...), no gradient (queues, monitors)."""
    _, size = world()
    if size == 1:
        return x
    out = [torch.empty_like(x) for _ in range(size)]
    dist.all_gather(out, x.contiguous())
    return torch.cat(out, dim=0)


def all_reduce_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean of ``x`` over processes (no gradient), for logged scalars."""
    _, size = world()
    if size == 1:
        return x
    x = x.detach().clone()
    dist.all_reduce(x)
    return x / size
