"""Process groups for multi-process runs (``--launcher``), shared by pre-training and detection.

``pytorch``: started by ``torchrun`` (RANK, WORLD_SIZE, LOCAL_RANK in the environment); ``slurm``:
one process per SLURM task. On GPUs mmengine's ``init_dist`` sets up NCCL and picks the GPU of the
local rank; on CPU (tests, debugging) the processes talk over gloo.
"""

from __future__ import annotations

import os

import torch

from evalsuite.errors import EvalsuiteError

LAUNCHERS = ("none", "pytorch", "slurm")


def check_launcher(launcher: str) -> None:
    if launcher not in LAUNCHERS:
        raise EvalsuiteError(f"unknown launcher {launcher!r}; valid launchers are: {', '.join(LAUNCHERS)}")


def init_distributed(launcher: str, cuda: bool) -> None:
    """Join the process group ``launcher`` describes; nothing for 'none' or an existing group."""
    check_launcher(launcher)
    if launcher == "none" or torch.distributed.is_initialized():
        return
    if cuda:
        from mmengine.dist import init_dist

        init_dist(launcher, backend="nccl")
    elif launcher == "pytorch":  # mmengine's init_dist assumes a GPU per process; CPU runs use gloo
        torch.distributed.init_process_group(backend="gloo")
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
