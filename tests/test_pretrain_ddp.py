"""DDP on two CPU processes (gloo): the same loss and update as one process on the global batch.

Views are identity crops here so that both set-ups see identical pixels (the augmentation
streams are per process); BN is the recipe's ``sync_bn`` option, global over processes.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.optim import OptimWrapper

from evalsuite.pretrain.base import MethodDDP
from evalsuite.pretrain.dist import all_reduce_mean
from evalsuite.pretrain.losses import nt_xent
from evalsuite.pretrain.syncbn import convert_sync_bn
from evalsuite.registry import METHODS, get

IDENTITY = dict(size=16, crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0, gray_p=0.0)
HEADS = {"simsiam": dict(dim=32, proj_layers=2, pred_hidden=8), "simclr": dict(hidden=32, dim=16, temperature=0.5)}
GLOBAL_BATCH = 16


def _batch() -> dict:
    g = torch.Generator().manual_seed(0)
    return {"inputs": torch.randint(0, 256, (GLOBAL_BATCH, 3, 16, 16), dtype=torch.uint8, generator=g),
            "labels": torch.zeros(GLOBAL_BATCH, dtype=torch.long)}


def _model(method: str):
    torch.manual_seed(0)
    model = get(METHODS, method)(arch="resnet_tiny", views=[IDENTITY, IDENTITY], **HEADS[method])
    return convert_sync_bn(model, torch.device("cpu"))


def _step(model, train_step, batch) -> dict:
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.5))
    out = train_step(batch, wrapper)
    return {"loss": all_reduce_mean(out["loss"]), "conv1": model.backbone.conv1.weight.detach().clone(),
            "head": next(model.projector.parameters()).detach().clone()}


def _worker(rank: int, world: int, port: int, path: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.set_num_threads(1)
    try:
        results = {method: _ddp_step(rank, world, method) for method in HEADS}
        if rank == 0:
            torch.save(results, path)
    finally:
        dist.destroy_process_group()


def _ddp_step(rank: int, world: int, method: str) -> dict:
    model = _model(method)
    ddp = MethodDDP(model)
    per = GLOBAL_BATCH // world
    local = {k: v[rank * per:(rank + 1) * per] for k, v in _batch().items()}
    local_only = None
    if method == "simclr":  # this process's loss with only its own negatives, before the step
        views = model.data_preprocessor(local, True)["inputs"]
        with torch.no_grad():
            z1, z2 = (model.projector(model.backbone(v)) for v in views)
        local_only = all_reduce_mean(_no_dist(nt_xent, z1, z2, model.temperature))
    return {**_step(model, ddp.train_step, local), "local_only": local_only}


def _no_dist(fn, *args):
    """Call ``fn`` as if this process were alone (no gathering)."""
    import evalsuite.pretrain.losses as losses

    saved_world, saved_gather = losses.world, losses.gather_with_grad
    losses.world, losses.gather_with_grad = (lambda: (0, 1)), (lambda x: x)
    try:
        return fn(*args)
    finally:
        losses.world, losses.gather_with_grad = saved_world, saved_gather


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ddp_results(tmp_path_factory) -> dict:
    path = str(tmp_path_factory.mktemp("ddp") / "rank0.pt")
    mp.spawn(_worker, args=(2, _free_port(), path), nprocs=2, join=True)
    return torch.load(path)


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(HEADS))
def test_two_processes_match_one_process_on_the_global_batch(method, ddp_results):
    ddp = ddp_results[method]
    model = _model(method)
    single = _step(model, model.train_step, _batch())
    assert ddp["loss"].item() == pytest.approx(single["loss"].item(), rel=1e-4, abs=1e-5)
    assert torch.allclose(ddp["conv1"], single["conv1"], atol=1e-5)
    assert torch.allclose(ddp["head"], single["head"], atol=1e-5)
    if method == "simclr":
        # with only its own 2 x 8 views a process has fewer negatives and a lower loss
        assert ddp["local_only"].item() < ddp["loss"].item() - 1e-3
