"""Linear evaluation as the SSL papers run it: a linear head trained by SGD (or LARS) on a frozen
backbone, with augmented training images.

MoCo (He et al. 2020, Sec. 4.1) and SimSiam (Chen & He 2021, App. A): the backbone stays in
``eval()`` mode, so batch norm uses its pre-trained running statistics and nothing but the head
changes; the head is initialised N(0, 0.01) with zero bias; training images get a random-resized
crop and a flip, test images a resize and centre crop. Nothing is tuned on validation data, so the
head trains on the whole train split and is scored once on test. At the end every backbone
parameter and buffer is compared bit for bit with its value before training (the guard of
SimSiam's ``main_lincls.py``), and a difference is an error.

Runs resume: after every ``save_every`` epochs the head, the optimizer and the losses so far are
kept under ``ctx.work_dir/linear_sgd/<key>/`` (key: backbone weights, dataset, seed, settings);
each epoch's data order and augmentation are seeded by (seed, epoch), so a resumed run ends with
the head an uninterrupted one would have. The folder is removed once the test score exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from evalsuite.imaging import normalize_batch
from evalsuite.lars import LARS
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, NON_DECREASING, POSITIVE, UNIT, WORKERS, ruled
from evalsuite.tasks.base import EvalContext, TaskOutput
from evalsuite.tasks.finetune_data import (autocast, classification_loss, cosine, epoch_loader, evaluate_all,
                                          train_transform)
from evalsuite.tasks.resume import atomic_save, finish, load_snapshot, weights_fingerprint, work_folder

OPTIMIZERS = ("sgd", "lars")
SCHEDULES = ("cosine", "step")


def snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed_keys(before: dict[str, torch.Tensor], module: nn.Module) -> list[str]:
    """State-dict keys of ``module`` that differ (in any bit) from ``before``."""
    after = module.state_dict()
    keys = set(before) | set(after)
    return sorted(k for k in keys if k not in before or k not in after or not torch.equal(before[k], after[k]))


@TASKS.register_module("linear_sgd")
@dataclass(frozen=True)
class LinearSGD:
    """Args:
        epochs: passes over train (MoCo: 100; SimSiam: 90).
        batch_size: images per step (MoCo: 256; SimSiam: 4096).
        optimizer: ``sgd`` (MoCo) or ``lars`` (SimSiam, App. A).
        lr: learning rate, already scaled for ``batch_size`` (MoCo: 30; SimSiam: 0.02 x 4096 / 256).
        momentum, weight_decay, nesterov: MoCo and SimSiam: 0.9, 0, no Nesterov.
        schedule: ``cosine`` per epoch (SimSiam) or ``step`` (MoCo: x ``gamma`` at ``milestones``).
        lars_eta: LARS trust coefficient (SimSiam: 0.001).
        crop_scale, flip: random-resized-crop area range and horizontal flip for training images.
        init_std: std of the head's normal initialisation (MoCo/SimSiam: 0.01).
        eval_batch_size, num_workers: test batch size; data-loader workers (-1: automatic).
        save_every: epochs between resumable snapshots.
    """

    #: Where its columns stand in report tables (``evalsuite.report.tables``): frozen-feature probes,
    #: then low-shot, fine-tuning and detection.
    REPORT_ORDER: ClassVar[int] = 2

    epochs: int = ruled(100, AT_LEAST_1)
    batch_size: int = ruled(256, AT_LEAST_1)
    optimizer: str = "sgd"
    lr: float = ruled(30.0, POSITIVE)
    momentum: float = ruled(0.9, AT_LEAST_0)
    weight_decay: float = ruled(0.0, AT_LEAST_0)
    nesterov: bool = False
    schedule: str = "cosine"
    milestones: tuple[int, ...] = ruled((60, 80), AT_LEAST_1, NON_DECREASING)
    gamma: float = ruled(0.1, POSITIVE)
    lars_eta: float = ruled(0.001, POSITIVE)
    crop_scale: tuple[float, float] = ruled((0.08, 1.0), UNIT, NON_DECREASING)
    flip: bool = True
    init_std: float = ruled(0.01, POSITIVE)
    eval_batch_size: int = ruled(256, AT_LEAST_1)
    num_workers: int = ruled(-1, WORKERS)
    save_every: int = ruled(1, AT_LEAST_1)

    processes: ClassVar[str] = "first"  # under --launcher: features from every process, the task on the first
    #: The smallest settings that run every code path, for tests/test_contracts.py; not a protocol.
    SMOKE: ClassVar[dict] = dict(epochs=1, batch_size=8, eval_batch_size=32, num_workers=0)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid optimizers are: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid schedules are: {', '.join(SCHEDULES)}")

    def lr_at(self, epoch: int) -> float:
        if self.schedule == "cosine":
            return self.lr * cosine(epoch, self.epochs)
        return self.lr * self.gamma ** sum(epoch >= m for m in self.milestones)

    def make_optimizer(self, head: nn.Module) -> torch.optim.Optimizer:
        if self.optimizer == "lars":
            return LARS(head.parameters(), self.lr, self.momentum, self.weight_decay, self.lars_eta)
        return torch.optim.SGD(head.parameters(), lr=self.lr, momentum=self.momentum,
                               weight_decay=self.weight_decay, nesterov=self.nesterov)

    def run(self, ctx: EvalContext) -> TaskOutput:
        spec, device = ctx.spec, ctx.device
        backbone = ctx.backbone().to(device)
        small_input = bool(getattr(backbone, "small_input", False))
        if device.type == "cuda":
            backbone = backbone.to(memory_format=torch.channels_last)
        backbone.eval().requires_grad_(False)  # frozen: BN keeps its pre-trained statistics
        before = snapshot(backbone)
        torch.manual_seed(ctx.seed)  # the head's initial weights depend on the seed alone
        head = nn.Linear(backbone.num_features, len(spec.classes)).to(device)
        nn.init.normal_(head.weight, std=self.init_std)
        nn.init.zeros_(head.bias)
        opt = self.make_optimizer(head)
        folder = work_folder(ctx, "linear_sgd", self, weights_fingerprint(backbone))
        losses = self._resume(folder / "head.pt", head, opt, device)
        transform, transform_id = train_transform(spec.native_size, small_input, self.crop_scale, self.flip)
        for epoch in range(len(losses), self.epochs):
            for group in opt.param_groups:
                group["lr"] = self.lr_at(epoch)
            torch.manual_seed(ctx.seed * 10_007 + epoch)  # augmentation drawn in this process (no workers)
            loader = epoch_loader(spec.splits["train"], transform, self.batch_size, True, ctx.seed * 10_007 + epoch,
                                  self.num_workers, device)
            losses.append(self.train_epoch(backbone, head, opt, loader, spec.multilabel, device))
            if (epoch + 1) % self.save_every == 0 and epoch + 1 < self.epochs:
                atomic_save({"head": head.state_dict(), "opt": opt.state_dict(), "losses": losses}, folder / "head.pt")
        tested = evaluate_all(nn.Sequential(backbone, head).eval(), spec.splits["test"], spec, small_input, device,
                              self.eval_batch_size, self.num_workers)
        test_score = tested[spec.metric]
        changed = changed_keys(before, backbone)
        if changed:
            raise RuntimeError(f"linear_sgd changed {len(changed)} frozen backbone tensor(s) such as {changed[0]}; "
                               "the backbone must stay in eval() with no gradient")
        finish(folder)
        return TaskOutput(metric=spec.metric, value=test_score, metrics=tested,
                          extra={"train_loss_per_epoch": losses, "train_transform": transform_id,
                                 "backbone_unchanged": True, "train_size": len(spec.splits["train"])})

    @staticmethod
    def _resume(snapshot, head: nn.Module, opt: torch.optim.Optimizer, device: torch.device) -> list[float]:
        """Load an interrupted run's head and optimizer; returns the losses of its finished epochs."""
        blob = load_snapshot(snapshot, device)
        if blob is None:
            return []
        head.load_state_dict(blob["head"])
        opt.load_state_dict(blob["opt"])
        return list(blob["losses"])

    def train_epoch(self, backbone: nn.Module, head: nn.Module, opt: torch.optim.Optimizer, loader,
                    multilabel: bool, device: torch.device) -> float:
        """One pass; returns the mean training loss."""
        total, count = torch.zeros((), device=device), 0
        for images, targets in loader:
            with torch.no_grad(), autocast(device):
                feats = backbone(normalize_batch(images, device)).float()  # (B, D)
            logits = head(feats)  # (B, C)
            targets = targets.to(device, non_blocking=True)
            loss = classification_loss(logits, targets, multilabel)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total, count = total + loss.detach() * len(targets), count + len(targets)  # no per-step sync
        return total.item() / max(count, 1)
