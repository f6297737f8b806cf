"""Fine-tune a detectron2 model end to end and score it (the detection transfer protocol).

SGD with momentum, linear warm-up and step decay (detectron2's ``build_optimizer`` /
``build_lr_scheduler``), multi-scale training by shortest-edge resize chosen from
``MIN_SIZE_TRAIN`` plus horizontal flip, single-scale testing (Goyal et al. 2019; He et al.
2020, Sec. 4.2). Mixed precision on CUDA when the recipe asks for it. Under ``--launcher`` the
model trains as DDP over the processes (the recipe's batch is the global batch, as in detectron2),
and the processes' weights are checked to be identical before scoring. A non-finite loss stops
training with an error that says what to change (random-init models diverge at the
pre-trained learning rate without a longer warm-up).
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import torch

from evalsuite.errors import EvalsuiteError
from evalsuite.launch import world
from evalsuite.progress import Progress


def train_model(model, cfg, train_loader, amp: bool, precise_bn_iters: int, log_every: int = 20,
                quiet: bool = True) -> dict:
    """Run ``cfg.SOLVER.MAX_ITER`` iterations (a progress bar on stderr unless ``quiet``); returns
    timings and the last losses."""
    from detectron2.solver import build_lr_scheduler, build_optimizer
    from detectron2.utils.events import EventStorage

    logger = logging.getLogger("evalsuite.detection")
    optimizer = build_optimizer(cfg, model)
    scheduler = build_lr_scheduler(cfg, optimizer)
    net = _ddp(model)
    use_amp = amp and cfg.MODEL.DEVICE.startswith("cuda")
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    max_iter = cfg.SOLVER.MAX_ITER
    model.train()
    data_iter = iter(train_loader)
    losses = {}
    start = time.perf_counter()
    with EventStorage(0) as storage, Progress(max_iter, "detection training", "iter", quiet or world()[0] != 0) as bar:
        for it in range(max_iter):
            storage.iter = it
            batch = next(data_iter)
            with torch.autocast("cuda", enabled=use_amp):
                loss_dict = net(batch)
            loss = sum(loss_dict.values())
            if not math.isfinite(loss.item()):
                raise EvalsuiteError(f"detection training diverged at iteration {it} (loss {loss.item()}); lower base_lr "
                                     "or lengthen warmup_iters (random-init backbones need both)")
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            losses = {k: round(float(v.detach()), 4) for k, v in loss_dict.items()}
            bar.update()
            if log_every and (it % log_every == 0 or it == max_iter - 1):
                logger.info("iter %d/%d loss %.3f lr %.5f", it + 1, max_iter, loss.item(), optimizer.param_groups[0]["lr"])
        if cfg.MODEL.DEVICE.startswith("cuda"):
            torch.cuda.synchronize()
        train_s = time.perf_counter() - start
        bn_s = _precise_bn(model, data_iter, precise_bn_iters)
    if world()[1] > 1:
        _average_buffers(model)
    replicas = check_replicas(model)
    return {"train_s": round(train_s, 3), "iters_per_s": round(max_iter / train_s, 4), "processes": replicas,
            "images_per_s": round(max_iter * cfg.SOLVER.IMS_PER_BATCH / train_s, 3), "precise_bn_s": bn_s,
            "last_losses": losses}


def _ddp(model):
    """The model wrapped in DDP when several processes train it (each takes batch / world images)."""
    if world()[1] == 1:
        return model
    device = next(model.parameters()).device
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, broadcast_buffers=False)


def _average_buffers(model) -> None:
    """Mean of the BN running statistics over processes (each estimated them on its own images)."""
    size = world()[1]
    for name, buf in model.named_buffers():
        if buf.is_floating_point() and ("running_mean" in name or "running_var" in name):
            torch.distributed.all_reduce(buf)
            buf.div_(size)


def check_replicas(model) -> int:
    """Raise unless every process holds the same weights (DDP keeps them equal; a silent divergence
    would score a different model per shard of the test set). Returns the number of processes."""
    size = world()[1]
    if size == 1:
        return 1
    with torch.no_grad():
        flat = torch.cat([p.detach().double().flatten() for p in model.parameters()])
        ramp = torch.linspace(1.0, 2.0, flat.numel(), dtype=torch.float64, device=flat.device)
        mine = torch.stack([flat.sum(), (flat * ramp).sum()])  # (2,) fingerprint
        every = [torch.empty_like(mine) for _ in range(size)]
        torch.distributed.all_gather(every, mine)
    if not all(torch.allclose(e, every[0], rtol=1e-9, atol=0) for e in every):
        raise EvalsuiteError(f"the {size} detection processes ended with different weights; check that every process "
                             "runs the same recipe and checkpoint")
    return size


def _precise_bn(model, data_iter, num_iters: int) -> float:
    """Recompute BN statistics with the trained weights (MoCo's detection configs, TEST.PRECISE_BN;
    Wu & Johnson 2021 'Rethinking Batch in BatchNorm'). Only BN layers in train mode are updated."""
    from fvcore.nn.precise_bn import get_bn_modules, update_bn_stats

    if num_iters <= 0 or not get_bn_modules(model):
        return 0.0
    start = time.perf_counter()
    with torch.no_grad():
        update_bn_stats(model, data_iter, num_iters)
    return round(time.perf_counter() - start, 3)


def run_inference(model, test_loader, evaluator) -> tuple[dict, float]:
    from detectron2.evaluation import inference_on_dataset

    model.eval()
    start = time.perf_counter()
    with torch.no_grad():
        results = inference_on_dataset(model, test_loader, evaluator)
    return results, round(time.perf_counter() - start, 3)


def detection_dir(work_dir: str, *parts: str) -> Path:
    path = Path(work_dir).joinpath("detection", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
