"""The trainer's per-epoch monitor: collapse std, online kNN, NaN stop, our-format checkpoints.

It runs before mmengine's ``CheckpointHook`` (higher priority), so an epoch whose loss went NaN
raises before anything is saved and the last good checkpoint stays the newest one.
"""

from __future__ import annotations

import json
import math
import time
import zlib
from pathlib import Path

import torch
from mmengine.hooks import Hook
from mmengine.registry import HOOKS

from evalsuite.atomic import write_text
from evalsuite.checkpoint import save_backbone
from evalsuite.errors import EvalsuiteError
from evalsuite.imaging import forward_batches
from evalsuite.neighbours import knn_scores
from evalsuite.pretrain.dist import all_reduce_mean, world


def _unwrap(model):
    return getattr(model, "module", model)


def embed(model, images: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """(N, 3, S, S) uint8 -> (N, D) float backbone features on its device, eval mode (BN running
    stats), through the evaluation's own forward (``evalsuite.imaging.forward_batches``)."""
    backbone = _unwrap(model).backbone
    was_training = backbone.training
    backbone.eval()
    batches = (images[start:start + batch_size] for start in range(0, len(images), batch_size))
    out = forward_batches(backbone, batches, next(backbone.parameters()).device)
    backbone.train(was_training)
    return out


def knn_accuracy(model, bank: tuple[torch.Tensor, torch.Tensor], query: tuple[torch.Tensor, torch.Tensor],
                 k: int, temperature: float, num_classes: int) -> float:
    """Weighted kNN top-1 (Wu et al. 2018, Sec. 3.4) of ``query`` against ``bank`` features."""
    feats = embed(model, bank[0])
    scores = knn_scores(feats, bank[1].to(feats.device), embed(model, query[0]), (k,), temperature, num_classes)[k]
    return (scores.argmax(1).cpu() == query[1].cpu()).float().mean().item()


def epoch_seed(seed: int, epoch: int, rank: int) -> int:
    return zlib.crc32(f"{seed}/{epoch}/{rank}".encode())


@HOOKS.register_module()
class PretrainMonitorHook(Hook):
    """Args:
        meta: metadata stored with every backbone checkpoint (arch, method, dataset, recipe, commit).
        seed: run seed; augmentation streams are reseeded per (seed, epoch, rank).
        knn_data: (bank images, bank labels, query images, query labels, num_classes) or None.
        knn_interval, knn_k, knn_t: online kNN every N epochs (k=200, T=0.1: the CIFAR protocol of
            the SSL libraries this trainer compares with).
        save_interval: epochs between ``backbone_latest.pth`` writes; the last epoch writes ``backbone.pth``.
    """

    priority = "ABOVE_NORMAL"

    def __init__(self, meta: dict, seed: int = 0, knn_data=None, knn_interval: int = 10, knn_k: int = 200,
                 knn_t: float = 0.1, save_interval: int = 1) -> None:
        self.meta, self.seed, self.knn_data = meta, seed, knn_data
        self.knn_interval, self.knn_k, self.knn_t, self.save_interval = knn_interval, knn_k, knn_t, save_interval
        self._start = 0.0
        self._compile_reported = False
        self.history: list[dict] = []

    def before_train(self, runner) -> None:
        """On a resume, keep the metrics of the epochs the checkpoint holds and drop later ones, so
        ``metrics.jsonl`` never repeats an epoch and ``history`` covers the whole run."""
        path = Path(runner.work_dir) / "metrics.jsonl"
        lines = path.read_text().splitlines() if path.is_file() else []
        self.history = [r for r in map(json.loads, filter(None, lines)) if r["epoch"] <= runner.epoch]
        if world()[0] == 0 and len(self.history) != len(lines):
            write_text(path, "".join(json.dumps(r) + "\n" for r in self.history))

    def before_train_epoch(self, runner) -> None:
        rank, _ = world()
        _unwrap(runner.model).data_preprocessor.reseed(epoch_seed(self.seed, runner.epoch, rank))
        sampler = getattr(runner.train_dataloader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(runner.epoch)
        self._start = time.perf_counter()

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if outputs and not math.isfinite(float(outputs["loss"])):
            self._stop(runner, f"iteration {runner.iter + 1}")

    def _stop(self, runner, where: str) -> None:
        last = Path(runner.work_dir) / "backbone_latest.pth"
        kept = f"the last good checkpoint is {last}" if last.exists() else "no checkpoint had been written yet"
        raise EvalsuiteError(f"the loss became NaN/inf at {where} (epoch {runner.epoch + 1}); training stopped and "
                             f"{kept}; lower the learning rate or check the data")

    def after_train_epoch(self, runner) -> None:
        model = _unwrap(runner.model)
        sums = all_reduce_mean(model.pop_epoch_stats()).tolist()  # the epoch's one host sync
        if next(model.parameters()).is_cuda:
            torch.cuda.synchronize()  # so the epoch time covers the queued GPU work
        seconds = time.perf_counter() - self._start
        epoch = runner.epoch + 1
        if not all(math.isfinite(v) for v in sums):
            self._stop(runner, "some iteration")
        steps = max(sums[2], 1.0)
        record = {"epoch": epoch, "loss": sums[0] / steps, "std": sums[1] / steps, "epoch_s": round(seconds, 3),
                  "img_per_s": round(steps * self._global_batch(runner) / max(seconds, 1e-9), 1)}
        fast = getattr(model, "fast_step", None)
        if fast is not None and fast.compile_s is not None and not self._compile_reported:
            record["compile_s"] = fast.compile_s  # inside this epoch's epoch_s, reported apart
            self._compile_reported = True
        if self.knn_data is not None and (epoch % self.knn_interval == 0 or epoch == runner.max_epochs):
            bank_x, bank_y, query_x, query_y, classes = self.knn_data
            record["knn"] = knn_accuracy(runner.model, (bank_x, bank_y), (query_x, query_y), self.knn_k, self.knn_t, classes)
        self.history.append(record)
        runner.logger.info("epoch " + " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in record.items()))
        for key in ("loss", "std", "knn", "img_per_s"):
            if key in record:
                runner.message_hub.update_scalar(f"train/epoch_{key}", record[key])
        if world()[0] == 0:
            self._write(runner, record, epoch)

    def _global_batch(self, runner) -> int:
        loader = runner.train_dataloader
        return getattr(loader, "batch_size", 1) * world()[1]

    def _write(self, runner, record: dict, epoch: int) -> None:
        work = Path(runner.work_dir)
        with open(work / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        state = _unwrap(runner.model).backbone_state_dict()
        meta = {**self.meta, "epochs": epoch, **({"knn_online": record["knn"]} if "knn" in record else {})}
        if epoch % self.save_interval == 0 or epoch == runner.max_epochs:
            save_backbone(work / "backbone_latest.pth", state, **meta)
        if epoch == runner.max_epochs:
            save_backbone(work / "backbone.pth", state, **meta)
