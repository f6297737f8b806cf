"""Fine-tuning the whole network with a fresh linear head.

Protocol of Ericsson et al. 2021, 'How Well Do Self-Supervised Models Transfer?' (Sec. 3,
many-shot recognition, fine-tune), which shortens Kornblith et al. 2019 ('Do Better ImageNet
Models Transfer Better?', Sec. 3 and App. A.5) to 5,000 steps: SGD with Nesterov momentum 0.9,
batch 64, cosine learning-rate decay, random-resized crop + horizontal flip for training and
resize + centre crop for testing, batch norm in training mode. The learning rate comes from
logspace(-4, -1, 4) and the weight decay from {0} and logspace(-6, -3, 4), the decay divided by
the learning rate (so the per-step shrinkage lr x wd' equals the grid value); both are chosen on
the validation split, then the best pair is retrained on train+val and scored once on test.

Runs resume: finished grid points and the in-progress run's weights are kept under
``ctx.work_dir/finetune/<key>/`` (key: backbone weights, dataset, seed, settings) and the folder
is removed once the test score exists.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import ClassVar
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import ConcatDataset, Dataset

from evalsuite.atomic import write_text
from evalsuite.imaging import normalize_batch
from evalsuite.progress import progress
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, NON_DECREASING, POSITIVE, UNIT, WORKERS, ruled
from evalsuite.tasks.base import EvalContext, TaskOutput
from evalsuite.tasks.finetune_data import (
    autocast,
    classification_loss,
    cosine,
    evaluate,
    evaluate_all,
    stream_loader,
    train_transform,
    train_val_split,
)
from evalsuite.tasks.resume import atomic_save, finish, load_snapshot, weights_fingerprint, work_folder


class RunState:
    """``state.json``: the val score of every finished grid point and, at the end, the test score."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.path = folder, folder / "state.json"
        self.data = json.loads(self.path.read_text()) if self.path.is_file() else {"val": {}}

    def save(self) -> None:
        write_text(self.path, json.dumps(self.data, indent=1))


def train_step(net: nn.Module, opt: torch.optim.Optimizer, images: torch.Tensor, targets: torch.Tensor,
               multilabel: bool, device: torch.device) -> torch.Tensor:
    """One SGD step on a batch of uint8 images (B, 3, H, W); returns the loss (not synchronised)."""
    with autocast(device):
        logits = net(normalize_batch(images, device)).float()  # (B, C)
    targets = targets.to(device, non_blocking=True)
    loss = classification_loss(logits, targets, multilabel)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach()


@TASKS.register_module("finetune")
@dataclass(frozen=True)
class Finetune:
    """Args:
        steps: SGD steps per run (Ericsson et al. 2021, Sec. 3: 5,000; Kornblith et al. 2019: 20,000).
        batch_size: images per step (Ericsson et al. 2021 / Kornblith et al. 2019 App. A.5: 64).
        lrs: learning-rate grid (logspace(-4, -1, 4), ibid.).
        wds: weight-decay grid ({0} and logspace(-6, -3, 4), ibid.).
        wd_over_lr: divide each wd by the lr, as Kornblith et al. 2019 App. A.5 do.
        momentum, nesterov: SGD with Nesterov momentum 0.9 (ibid.).
        crop_scale: area range of the random-resized crop (torchvision / Inception default 0.08-1).
        flip: random horizontal flips in training.
        eval_batch_size, num_workers: evaluation batch size; data-loader workers (-1: automatic).
        save_every: steps between resumable snapshots of the in-progress run.
    """

    #: Where its columns stand in report tables (``evalsuite.report.tables``): frozen-feature probes,
    #: then low-shot, fine-tuning and detection.
    REPORT_ORDER: ClassVar[int] = 4

    steps: int = ruled(5000, AT_LEAST_1, NON_DECREASING)
    batch_size: int = ruled(64, AT_LEAST_1)
    lrs: tuple[float, ...] = ruled((1e-4, 1e-3, 1e-2, 1e-1), POSITIVE)
    wds: tuple[float, ...] = ruled((0.0, 1e-6, 1e-5, 1e-4, 1e-3), AT_LEAST_0)
    wd_over_lr: bool = True
    momentum: float = ruled(0.9, AT_LEAST_0)
    nesterov: bool = True
    crop_scale: tuple[float, float] = ruled((0.08, 1.0), UNIT, NON_DECREASING)
    flip: bool = True
    eval_batch_size: int = ruled(256, AT_LEAST_1)
    num_workers: int = ruled(-1, WORKERS)
    save_every: int = ruled(500, AT_LEAST_1)

    #: The smallest settings that run every code path (grid, retrain, test), for the registry-wide
    #: contract test (tests/test_contracts.py); not a protocol.
    SMOKE: ClassVar[dict] = dict(steps=2, batch_size=8, lrs=(0.1,), wds=(0.0,), eval_batch_size=32, num_workers=0)

    def __post_init__(self) -> None:
        if not self.lrs or not self.wds or self.steps < 1:
            raise ValueError(f"finetune needs non-empty lrs and wds and steps >= 1, got lrs={list(self.lrs)}, "
                             f"wds={list(self.wds)}, steps={self.steps}")

    def grid(self) -> list[tuple[float, float]]:
        return [(lr, wd) for lr in self.lrs for wd in self.wds]

    def run(self, ctx: EvalContext) -> TaskOutput:
        spec = ctx.spec
        probe = ctx.backbone()
        small_input = bool(getattr(probe, "small_input", False))
        folder = work_folder(ctx, "finetune", self, weights_fingerprint(probe))
        del probe
        train, val, split_info = train_val_split(spec, ctx.seed)
        state = RunState(folder)
        for i, (lr, wd) in enumerate(self.grid()):
            key = f"lr={lr:g},wd={wd:g}"
            if key not in state.data["val"]:
                net = self.train_run(ctx, train, lr, wd, folder / f"run{i}.pt", small_input)
                state.data["val"][key] = evaluate(net, val, spec, small_input, ctx.device, self.eval_batch_size,
                                                  self.num_workers)
                state.save()
        curve = [(lr, wd, state.data["val"][f"lr={lr:g},wd={wd:g}"]) for lr, wd in self.grid()]
        best_lr, best_wd, best_val = max(curve, key=lambda c: c[2])  # ties: the first in grid order
        if "test" not in state.data:
            start = time.perf_counter()
            net = self.train_run(ctx, ConcatDataset([train, val]), best_lr, best_wd, folder / "final.pt", small_input)
            tested = evaluate_all(net, spec.splits["test"], spec, small_input, ctx.device, self.eval_batch_size,
                                  self.num_workers)
            state.data["test"], state.data["test_extra"] = tested.pop(spec.metric), tested
            state.data["final_train_s"] = round(time.perf_counter() - start, 3)
            state.save()
        test_score = state.data["test"]
        finish(folder)
        return TaskOutput(
            metric=spec.metric, value=test_score,
            metrics={spec.metric: test_score, **state.data.get("test_extra", {}), f"val_{spec.metric}": best_val},
            chosen={"lr": best_lr, "wd": best_wd, "weight_decay": self.decay(best_lr, best_wd)},
            extra={"split": {**split_info, "sizes": {"train": len(train), "val": len(val),
                                                     "test": len(spec.splits["test"])}},
                   "val_grid": [list(c) for c in curve], "final_train_s": state.data.get("final_train_s")},
        )

    def decay(self, lr: float, wd: float) -> float:
        """The optimiser's weight_decay coefficient for grid point (lr, wd)."""
        return wd / lr if self.wd_over_lr else wd

    def train_run(self, ctx: EvalContext, dataset: Dataset, lr: float, wd: float, snapshot: Path,
                  small_input: bool) -> nn.Module:
        """Fine-tune a fresh copy of the backbone plus a new linear head on ``dataset``; resumes
        from ``snapshot`` when an interrupted run left one."""
        spec, device = ctx.spec, ctx.device
        torch.manual_seed(ctx.seed)
        backbone = ctx.backbone()
        net = nn.Sequential(backbone, nn.Linear(backbone.num_features, len(spec.classes))).to(device)
        if device.type == "cuda":
            net = net.to(memory_format=torch.channels_last)
        opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=self.momentum, nesterov=self.nesterov,
                              weight_decay=self.decay(lr, wd))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine(s, self.steps))
        blob = load_snapshot(snapshot, device)
        if blob is not None:
            net.load_state_dict(blob["net"])
            opt.load_state_dict(blob["opt"])
            sched.load_state_dict(blob["sched"])
        step = blob["step"] if blob is not None else 0
        transform, _ = train_transform(spec.native_size, small_input, self.crop_scale, self.flip)
        batches = iter(stream_loader(dataset, transform, self.batch_size, self.steps, step, ctx.seed,
                                     self.num_workers, device))
        if blob is not None:  # same augmentation draws as an uninterrupted run (exactly so without workers)
            torch.set_rng_state(blob["rng"].cpu())
        net.train()  # batch norm in training mode: its statistics adapt to the new data
        desc = f"finetune {spec.name} lr={lr:g} wd={wd:g}"
        for images, targets in progress(batches, self.steps - step, desc, ctx.quiet, "step"):
            train_step(net, opt, images, targets, spec.multilabel, device)
            sched.step()
            step += 1
            if step % self.save_every == 0 and step < self.steps:
                atomic_save({"net": net.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                              "step": step, "rng": torch.get_rng_state()}, snapshot)
        snapshot.unlink(missing_ok=True)
        return net
