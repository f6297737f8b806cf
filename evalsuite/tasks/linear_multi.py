"""Many linear heads trained by SGD over cached features in one pass: DINOv2's linear protocol.

Oquab et al. 2023 ('DINOv2: Learning Robust Visual Features without Supervision', Sec. 7.1 and
App.; facebookresearch/dinov2 ``dinov2/eval/linear.py``): one linear head per (input, learning
rate), every head fed the same batches, trained together, the best kept. Inputs
(``create_linear_input``): the class token of the last block or the class tokens of the last 4,
each alone or with the average-pooled patch tokens of the last block; a ViT gives all four from
one extraction in feature mode ``cls_last4+avgpool`` (``evalsuite.archs.vit``), any other
backbone or mode is one input, its features. 13 learning rates 1e-5 ... 0.1, each scaled by
global batch / 256 (``scale_lr``); SGD with momentum 0.9 and no weight decay, the rate annealed
by a cosine to 0 over all steps (``CosineAnnealingLR`` stepped per iteration); heads initialised
N(0, 0.01) with zero bias; the loss is the sum of the heads' cross-entropies, so each head's
gradient is its own and the pass equals training every head alone on the same batches. DINOv2
runs 10 epochs of 1,250 iterations of 128 images per GPU on 8 GPUs: about 10 passes over
ImageNet's 1.28M training images at a global batch of 1,024, the defaults here.

Two differences, both in the row: the heads read cached features of the evaluation transform,
so training images get no random-resized crop or flip (DINOv2 augments; ``linear_sgd`` does,
through the backbone); and the head is chosen on the protocol's held-out validation part (a
seeded slice of train where the dataset has no official val split), never on test.

Under ``--launcher`` every process holds the cached features, takes its contiguous part of each
global batch and the heads' gradients are summed across processes before each step, as DDP does:
the same steps as one process, up to the order of float additions.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from evalsuite.errors import EvalsuiteError
from evalsuite.launch import rank_span, world
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, POSITIVE, ruled
from evalsuite.tasks.base import VAL_DRAWS, EvalContext, Split, TaskOutput
from evalsuite.tasks.finetune_data import cosine
from evalsuite.tasks.metrics import score

#: DINOv2 ``linear.py`` ``--learning-rates`` default, before scaling by global batch / 256.
LEARNING_RATES = (1e-5, 2e-5, 5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1)
#: The ViT feature mode that holds every input DINOv2's heads read (last 4 class tokens, pooled patches).
ALL_INPUTS = "cls_last4+avgpool"


def inputs_of(mode: str | None, dim: int) -> dict[str, tuple[int, int]]:
    """{input name: its columns [start, stop) of the cached features (N, dim)}. In ``ALL_INPUTS``
    the columns are 4 class tokens (oldest block first) then the pooled patches, C each."""
    if mode != ALL_INPUTS:
        return {mode or "features": (0, dim)}
    c = dim // 5
    return {"cls_last1": (3 * c, 4 * c), "cls_last1+avgpool": (3 * c, 5 * c),
            "cls_last4": (0, 4 * c), "cls_last4+avgpool": (0, 5 * c)}


@dataclass(frozen=True)
class Head:
    """One head: the feature columns it reads and its learning rate before scaling."""

    input: str
    columns: tuple[int, int]
    lr: float


def _init(head: Head, classes: int, std: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """N(0, std) weight (C_in, classes) and zero bias; the draw depends on (seed, input) only, so a
    head starts the same whichever heads train beside it (heads of one input differ in rate alone)."""
    g = torch.Generator().manual_seed(zlib.crc32(f"{seed}:{head.input}".encode()))
    weight = torch.randn(head.columns[1] - head.columns[0], classes, generator=g) * std
    return weight, torch.zeros(classes)


def _order(n: int, batch: int, seed: int, epoch: int) -> torch.Tensor:
    """The images of each full global batch of one epoch (steps, batch); the last partial batch is
    dropped (DINOv2: ``drop_last=True``)."""
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 1_000_003 + epoch))
    steps = n // batch
    return perm[:steps * batch].view(steps, batch)


def _sum_across_processes(grads: list[torch.Tensor]) -> None:
    """Every process's gradients summed in place, in one flat all-reduce."""
    if world()[1] == 1:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    torch.distributed.all_reduce(flat)
    at = 0
    for g in grads:
        g.copy_(flat[at:at + g.numel()].view_as(g))
        at += g.numel()


def train_heads(train: Split, heads: list[Head], classes: int, epochs: int, batch: int, momentum: float,
                init_std: float, seed: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Train ``heads`` together on ``train`` (features (N, D), targets (N,)); their (weight (C_in,
    classes), bias (classes,)). ``batch`` is the global batch; this process takes its part of it."""
    params = [p.to(device).requires_grad_() for h in heads for p in _init(h, classes, init_std, seed)]
    scale = batch / 256  # DINOv2 scale_lr: global batch / 256
    groups = [{"params": params[2 * i:2 * i + 2], "lr": h.lr * scale} for i, h in enumerate(heads)]
    opt = torch.optim.SGD(groups, lr=0.0, momentum=momentum, weight_decay=0.0)
    rank, size = world()
    lo, hi = rank_span(batch, rank, size)
    total = epochs * (len(train) // batch)
    step = 0
    for epoch in range(epochs):
        for index in _order(len(train), batch, seed, epoch):
            mine = index[lo:hi]
            x, y = train.features[mine].to(device), train.targets[mine].to(device)  # (B/P, D), (B/P,)
            for group, head in zip(opt.param_groups, heads):  # cosine to 0 (CosineAnnealingLR, eta_min=0)
                group["lr"] = head.lr * scale * cosine(step, total)
            loss = sum(F.cross_entropy(x[:, h.columns[0]:h.columns[1]] @ params[2 * i] + params[2 * i + 1], y,
                                       reduction="sum") for i, h in enumerate(heads)) / batch
            opt.zero_grad(set_to_none=False)
            loss.backward()
            _sum_across_processes([p.grad for p in params])
            opt.step()
            step += 1
    return [(params[2 * i].detach(), params[2 * i + 1].detach()) for i in range(len(heads))]


def head_scores(split: Split, heads: list[Head], weights, chunk: int,
                device: torch.device) -> list[torch.Tensor]:
    """Each head's logits (N, classes) on ``split``, computed ``chunk`` images at a time."""
    out = [[] for _ in heads]
    for start in range(0, len(split), chunk):
        x = split.features[start:start + chunk].to(device)
        for i, (h, (w, b)) in enumerate(zip(heads, weights)):
            out[i].append((x[:, h.columns[0]:h.columns[1]] @ w + b).cpu())
    return [torch.cat(o) for o in out]


@TASKS.register_module("linear_multi")
@dataclass(frozen=True)
class LinearMulti:
    """Args:
        learning_rates: base rates, one head per rate and input (DINOv2 ``linear.py``: 13, 1e-5 to 0.1).
        epochs: passes over the training part (DINOv2: 10 x 1,250 iterations ~ 10 ImageNet epochs).
        batch_size: global batch over all processes (DINOv2: 128 per GPU x 8).
        momentum: SGD momentum (DINOv2: 0.9; no weight decay).
        init_std: std of the heads' normal initialisation (DINOv2: 0.01).
        val_draw: without an official val split, a seeded 20% of train drawn ``stratified`` or ``random``.
        eval_batch_size: images per scoring chunk.
    """

    learning_rates: tuple[float, ...] = ruled(LEARNING_RATES, POSITIVE)
    epochs: int = ruled(10, AT_LEAST_1)
    batch_size: int = ruled(1024, AT_LEAST_1)
    momentum: float = ruled(0.9, AT_LEAST_0)
    init_std: float = ruled(0.01, POSITIVE)
    val_draw: str = "stratified"
    eval_batch_size: int = ruled(4096, AT_LEAST_1)

    processes: ClassVar[str] = "all"  # under --launcher: data-parallel, gradients summed over processes
    #: Where its columns stand in report tables (``evalsuite.report.tables``): beside the other linear probes.
    REPORT_ORDER: ClassVar[int] = 2
    #: The smallest run through every code path, for tests/test_contracts.py; not a protocol.
    SMOKE: ClassVar[dict] = dict(learning_rates=(0.01, 0.1), epochs=2, batch_size=8)

    def __post_init__(self) -> None:
        if self.val_draw not in VAL_DRAWS:
            raise ValueError(f"val_draw {self.val_draw!r} is not valid; use one of: {', '.join(VAL_DRAWS)}")
        if not self.learning_rates:
            raise ValueError("learning_rates is empty; give one or more positive rates, e.g. [0.001, 0.01]")

    def run(self, ctx: EvalContext) -> TaskOutput:
        spec = ctx.spec
        if spec.multilabel:
            raise EvalsuiteError(f"linear_multi trains softmax heads on single-label data; {spec.name} is multi-label: "
                                 "use the linear task")
        train, val, test, split_info = ctx.protocol_splits(self.val_draw)
        if len(train) < self.batch_size:
            raise EvalsuiteError(f"linear_multi batch_size={self.batch_size} exceeds the {len(train)} training images "
                                 f"of {spec.name}; give linear_multi.batch_size of at most {len(train)}")
        inputs = inputs_of(ctx.feature_mode, train.features.shape[1])
        heads = [Head(name, cols, lr) for name, cols in inputs.items() for lr in self.learning_rates]
        weights = train_heads(train, heads, len(spec.classes), self.epochs, self.batch_size, self.momentum,
                              self.init_std, ctx.seed, ctx.device)
        metric = spec.metric
        vals = [score(metric, s, val.targets) for s in head_scores(val, heads, weights,
                                                                     self.eval_batch_size, ctx.device)]
        best = max(range(len(heads)), key=lambda i: vals[i])  # the first of equal scores (DINOv2: strictly better)
        logits = head_scores(test, [heads[best]], [weights[best]], self.eval_batch_size, ctx.device)[0]
        test_score = score(metric, logits, test.targets)
        curve = [{"input": h.input, "lr": h.lr, "val": v} for h, v in zip(heads, vals)]
        return TaskOutput(
            metric=metric, value=test_score, metrics={metric: test_score, f"val_{metric}": vals[best]},
            chosen={"input": heads[best].input, "lr": heads[best].lr,
                    "lr_scaled": heads[best].lr * self.batch_size / 256},
            extra={"split": split_info, "val_curve": curve, "heads": len(heads), "processes": world()[1],
                   "steps": self.epochs * (len(train) // self.batch_size),
                   "augmentation": "none: cached features of the evaluation transform"},
        )
