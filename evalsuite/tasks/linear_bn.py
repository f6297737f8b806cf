"""``linear_bn``: MAE's linear probing protocol, on cached features.

He et al. 2022, 'Masked Autoencoders Are Scalable Vision Learners', App. A.2 (linear probing), as
facebookresearch/mae runs it (``main_linprobe.py``, ``FINETUNE.md``): a BatchNorm without affine
parameters (eps 1e-6) in front of the linear head, which normalises features whose scales differ
widely across pre-training methods (MAE's point: without it its features look much weaker);
LARS (You et al. 2017; momentum 0.9, trust coefficient 0.001, biases neither decayed nor adapted,
``evalsuite.lars``), base learning rate 0.1 scaled by batch / 256, weight decay 0, batch 16,384,
90 epochs of which 10 warm up linearly, then a half-cosine to 0, set at every step; the head's
weight truncated-normal with std 0.01 (MoCo v3's init), bias 0. Features are the final-norm class
token (its ``--cls_token``), evalsuite's default ``cls`` feature mode.

Two differences, both in the row: features are cached, so the training images get the evaluation
transform rather than MAE's RandomResizedCrop and flip; and a train split smaller than the batch
is one batch, the learning rate scaled by the batch actually used (``chosen.batch``, ``chosen.lr``).
As in MAE nothing is tuned: the head trains on train and is scored once on test.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from evalsuite.lars import LARS
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, POSITIVE, ruled
from evalsuite.tasks.base import EvalContext, TaskOutput
from evalsuite.tasks.finetune_data import classification_loss, cosine
from evalsuite.tasks.metrics import extra_scores, score


def bn_linear_head(dim: int, classes: int, eps: float = 1e-6, init_std: float = 0.01) -> nn.Sequential:
    """BatchNorm1d without affine parameters, then ``nn.Linear`` (trunc-normal weight, zero bias)."""
    linear = nn.Linear(dim, classes)
    nn.init.trunc_normal_(linear.weight, std=init_std)
    nn.init.zeros_(linear.bias)
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=eps), linear)


@TASKS.register_module("linear_bn")
@dataclass(frozen=True)
class LinearBN:
    """Args:
        epochs, warmup_epochs: MAE: 90 and 10 (ViT-L/H: "sufficient to train 50 epochs").
        batch_size: MAE: 16,384 (512 x 32 GPUs); capped at the train size.
        base_lr: lr = base_lr x batch / 256 (MAE: 0.1).
        weight_decay, momentum, lars_eta: MAE: 0, 0.9, 0.001.
        bn_eps: the BatchNorm's eps (MAE: 1e-6).
        init_std: the head weight's truncated-normal std (MAE / MoCo v3: 0.01).
    """

    REPORT_ORDER: ClassVar[float] = 1.5  # beside the L-BFGS linear probe

    epochs: int = ruled(90, AT_LEAST_1)
    warmup_epochs: int = ruled(10, AT_LEAST_0)
    batch_size: int = ruled(16384, AT_LEAST_1)
    base_lr: float = ruled(0.1, POSITIVE)
    weight_decay: float = ruled(0.0, AT_LEAST_0)
    momentum: float = ruled(0.9, AT_LEAST_0)
    lars_eta: float = ruled(0.001, POSITIVE)
    bn_eps: float = ruled(1e-6, POSITIVE)
    init_std: float = ruled(0.01, POSITIVE)

    #: The smallest settings that run every code path, for tests/test_contracts.py; not a protocol.
    SMOKE: ClassVar[dict] = dict(epochs=2, warmup_epochs=1, batch_size=8)

    def __post_init__(self) -> None:
        if self.warmup_epochs >= self.epochs:
            raise ValueError(f"warmup_epochs={self.warmup_epochs} must be fewer than epochs={self.epochs}")

    def lr_at(self, epoch: float, peak: float) -> float:
        """MAE's ``util/lr_sched.py``: linear warm-up, then a half-cosine to 0, at fractional epochs."""
        if epoch < self.warmup_epochs:
            return peak * epoch / self.warmup_epochs
        return peak * cosine(epoch - self.warmup_epochs, self.epochs - self.warmup_epochs)

    def run(self, ctx: EvalContext) -> TaskOutput:
        spec, device = ctx.spec, ctx.device
        train, test = ctx.features("train"), ctx.features("test")
        torch.manual_seed(ctx.seed)
        head = bn_linear_head(train.features.shape[1], len(spec.classes), self.bn_eps, self.init_std).to(device)
        chosen, losses = self.fit(head, train.features.to(device), train.targets.to(device), spec.multilabel, ctx.seed)
        with torch.no_grad():
            logits = head.eval()(test.features.to(device)).float().cpu()  # (N, C), BN on its running statistics
        metrics = {spec.metric: score(spec.metric, logits, test.targets),
                   **extra_scores(spec.metric, logits, test.targets)}
        return TaskOutput(metric=spec.metric, value=metrics[spec.metric], metrics=metrics, chosen=chosen,
                          extra={"train_loss_per_epoch": losses, "train_size": len(train),
                                 "train_transform": "none (cached features of the evaluation transform)"})

    def fit(self, head: nn.Module, x: torch.Tensor, y: torch.Tensor, multilabel: bool,
            seed: int) -> tuple[dict, list[float]]:
        """Train ``head`` on features ``x`` (N, D), targets ``y``; returns ({batch, lr}, per-epoch mean losses).

        Every epoch draws a seeded permutation and drops the last partial batch, as MAE's loader
        (``drop_last=True``), keeping at least one batch."""
        batch = min(self.batch_size, len(x))
        peak = self.base_lr * batch / 256
        opt = LARS(head.parameters(), peak, self.momentum, self.weight_decay, self.lars_eta)
        steps, losses = max(1, len(x) // batch), []
        head.train()
        for epoch in range(self.epochs):
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed * 10_007 + epoch)).to(x.device)
            total = 0.0
            for i in range(steps):
                idx = order[i * batch:(i + 1) * batch]
                for group in opt.param_groups:
                    group["lr"] = self.lr_at(epoch + i / steps, peak)
                loss = classification_loss(head(x[idx]), y[idx], multilabel)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += loss.item()
            losses.append(total / steps)
        return {"batch": batch, "lr": peak}, losses
