"""Process groups for multi-process runs (``--launcher``), shared by pre-training and evaluation.

``pytorch``: started by ``torchrun`` (RANK, WORLD_SIZE, LOCAL_RANK in the environment); ``slurm``:
one process per SLURM task. On GPUs mmengine's ``init_dist`` sets up NCCL and picks the GPU of the
local rank; on CPU (tests, debugging) the processes talk over gloo.
"""

from __future__ import annotations

import os
from datetime import timedelta

import torch

from evalsuite.errors import EvalsuiteError

LAUNCHERS = ("none", "pytorch", "slurm")


def check_launcher(launcher: str) -> None:
    if launcher not in LAUNCHERS:
        raise EvalsuiteError(f"unknown launcher {launcher!r}; valid launchers are: {', '.join(LAUNCHERS)}")


def init_distributed(launcher: str, cuda: bool, timeout: timedelta | None = None) -> None:
    """Join the process group ``launcher`` describes; nothing for 'none' or an existing group.
    ``timeout``: how long a collective may wait (None: torch's default)."""
    check_launcher(launcher)
    if launcher == "none" or torch.distributed.is_initialized():
        return
    wait = {"timeout": timeout} if timeout is not None else {}
    if cuda:
        from mmengine.dist import init_dist

        # mmengine takes the timeout in seconds and makes the timedelta itself
        init_dist(launcher, backend="nccl", **{k: int(v.total_seconds()) for k, v in wait.items()})
    elif launcher == "pytorch":  # mmengine's init_dist assumes a GPU per process; CPU runs use gloo
        torch.distributed.init_process_group(backend="gloo", **wait)
    else:
        raise EvalsuiteError(f"launcher {launcher!r} needs CUDA GPUs; on CPU use --launcher pytorch (torchrun)")


def world() -> tuple[int, int]:
    """(rank, world_size); (0, 1) outside ``torch.distributed``."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_device(cuda: bool) -> torch.device:
    """This process's device: the GPU of its local rank, or the CPU."""
    if not cuda:
        return torch.device("cpu")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", torch.cuda.current_device())))


def rank_span(size: int, rank: int, world_size: int) -> tuple[int, int]:
    """The contiguous images [start, stop) of ``size`` that process ``rank`` of ``world_size`` takes:
    every image once and no padding (DistributedSampler pads 50,000 to a multiple of the world size
    with repeated images, which would count twice in a score); sizes differ by at most one."""
    return size * rank // world_size, size * (rank + 1) // world_size


def all_true(flag: bool) -> bool:
    """Whether ``flag`` holds in every process (itself outside ``torch.distributed``)."""
    if world()[1] == 1:
        return flag
    value = torch.tensor([0 if flag else 1], device=_collective_device())
    torch.distributed.all_reduce(value, op=torch.distributed.ReduceOp.MAX)
    return int(value.item()) == 0


def barrier() -> None:
    """Wait for every process (nothing outside ``torch.distributed``)."""
    if world()[1] > 1:
        torch.distributed.barrier()


def _collective_device() -> torch.device:
    """NCCL moves only CUDA tensors; gloo only CPU ones."""
    return local_device(True) if torch.distributed.get_backend() == "nccl" else torch.device("cpu")
