"""``attentive``: an attentive probe on a frozen backbone's tokens.

Learnable queries cross-attend to the frozen tokens (``evalsuite.tokens``: a ViT's class and patch
tokens, a CNN's last feature map) and a linear classifier reads the pooled vector
(``evalsuite.tasks.attentive_heads``: V-JEPA's pooler, or AIM's with ``head='aim'``). Unlike a
linear probe on one pooled vector it can read *where* things are, which is how MAE-style and JEPA
features are judged (V-JEPA, Bardes et al. 2024; AIM, El-Nouby et al. 2024).

Optimisation as V-JEPA's frozen evaluation (facebookresearch/jepa,
``evals/image_classification_frozen/eval.py`` and ``configs/evals/*.yaml``): AdamW, 20 epochs, no
warm-up, the learning rate on a per-step cosine from its value to 0, the weight decay on a cosine
to 1e-6 and none on biases and 1-D parameters, gradients clipped to norm 1, a global batch of
16 per GPU x 64 GPUs = 1,024. Every V-JEPA config uses lr 1e-3, and wd 1e-3 (images: in1k, inat,
places) or 1e-2 (video: k400, ssv2); the grid here is those two wds by lr in {3e-4, 1e-3, 3e-3}
(1e-3 and its half-decade neighbours, our choice: V-JEPA tunes none). The grid's heads train side
by side on the same batches, are compared on the validation split (the official one, else the
seeded stratified 20% of train that every probe here holds out), and the best is trained again on
train+val and scored once on test. Training sees the evaluation transform's tokens, without
augmentation (V-JEPA augments its training images; cached tokens cannot be), and the row says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from evalsuite.datasets.base import VAL_FRACTION, stratified_holdout
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, POSITIVE, ruled
from evalsuite.tasks.attentive_heads import HEADS, build_head
from evalsuite.tasks.base import EvalContext, TaskOutput
from evalsuite.tasks.finetune_data import classification_loss, cosine
from evalsuite.tasks.metrics import extra_scores, score
from evalsuite.tokens import TokenSplit, batches, heads_of, token_splits


@TASKS.register_module("attentive")
@dataclass(frozen=True)
class Attentive:
    """Args:
        queries: learnable queries, 1..16, their outputs averaged (V-JEPA: 1).
        head: ``vjepa`` (cross-attention block + MLP) or ``aim`` (affine-free BN on the tokens).
        layers: the last ``layers`` blocks averaged (AIM: 6, before the final norm); 1: the
            encoder's final-norm output (V-JEPA). CNNs: 1 only.
        epochs, batch_size: V-JEPA: 20, 1,024 (16 x 64 GPUs).
        lrs, wds: the grid (module docstring); final_wd: the wd cosine's end (V-JEPA: 1e-6).
        grad_clip: gradient norm clip (V-JEPA: 1.0).
        mlp_ratio, init_std: the V-JEPA block's MLP ratio (4) and init std (0.02).
        cache_budget_gb: tokens of all splits (float16) are cached up to this size, else the
            backbone runs on the fly every batch.
        eval_batch_size: batch size for scoring.
    """

    REPORT_ORDER: ClassVar[float] = 2.5  # after the linear probes, before low-shot

    queries: int = ruled(1, AT_LEAST_1)
    head: str = "vjepa"
    layers: int = ruled(1, AT_LEAST_1)
    epochs: int = ruled(20, AT_LEAST_1)
    batch_size: int = ruled(1024, AT_LEAST_1)
    lrs: tuple[float, ...] = ruled((3e-4, 1e-3, 3e-3), POSITIVE)
    wds: tuple[float, ...] = ruled((1e-3, 1e-2), AT_LEAST_0)
    final_wd: float = ruled(1e-6, AT_LEAST_0)
    grad_clip: float = ruled(1.0, POSITIVE)
    mlp_ratio: float = ruled(4.0, POSITIVE)
    init_std: float = ruled(0.02, POSITIVE)
    cache_budget_gb: float = ruled(16.0, AT_LEAST_0)
    eval_batch_size: int = ruled(1024, AT_LEAST_1)

    #: The smallest settings that run every code path, for tests/test_contracts.py; not a protocol.
    SMOKE: ClassVar[dict] = dict(epochs=1, batch_size=8, lrs=(1e-3,), wds=(1e-3,), eval_batch_size=32)

    def __post_init__(self) -> None:
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; valid heads are: {', '.join(HEADS)}")
        if not 1 <= self.queries <= 16:
            raise ValueError(f"queries={self.queries} is not valid; give 1..16 learnable queries")
        if not self.lrs or not self.wds:
            raise ValueError("lrs and wds each need at least one value")

    def run(self, ctx: EvalContext) -> TaskOutput:
        if ctx.images is None:
            raise EvalsuiteError("the attentive probe needs the feature step's images (ctx.images)")
        spec, device = ctx.spec, ctx.device
        backbone = ctx.backbone()
        backbone.eval().requires_grad_(False)
        names = ["train", "test"] + (["val"] if "val" in spec.splits else [])
        splits, store = token_splits(backbone, {k: spec.splits[k] for k in names}, ctx.images, self.layers,
                                     self.cache_budget_gb, device)
        train, val, info = self._protocol(splits, ctx.seed, ctx.spec.val_source)
        dim = store["shape"][1]
        heads = heads_of(backbone, dim)
        grid = [(lr, wd) for lr in self.lrs for wd in self.wds]
        models = self.fit([train], grid, dim, heads, len(spec.classes), spec.multilabel, ctx.seed, device)
        val_scores = [score(spec.metric, *self.predict(m, [val], device)) for m in models]
        best = int(np.argmax(val_scores))  # the first of equal scores, in grid order
        (final,) = self.fit([train, val], [grid[best]], dim, heads, len(spec.classes), spec.multilabel, ctx.seed,
                            device)
        test = (splits["test"], np.arange(len(splits["test"].targets)))
        logits, targets = self.predict(final, [test], device)
        metrics = {spec.metric: score(spec.metric, logits, targets), **extra_scores(spec.metric, logits, targets)}
        return TaskOutput(
            metric=spec.metric, value=metrics[spec.metric], metrics=metrics,
            chosen={"lr": grid[best][0], "wd": grid[best][1]},
            extra={"val_scores": {f"lr={lr:g},wd={wd:g}": s for (lr, wd), s in zip(grid, val_scores)},
                   "tokens": store, "attention_heads": heads, "train_transform": "none (evaluation transform's tokens)",
                   **info})

    def _protocol(self, splits: dict[str, TokenSplit], seed: int, val_source: str):
        """(train part, val part, info): the dataset's val split (``val_source`` says where it came
        from, as ``EvalContext.protocol_splits`` records it), else the seeded stratified holdout of train."""
        full = splits["train"]
        if "val" in splits:
            info = {"val_source": val_source, "split_seed": None}
            return (full, np.arange(len(full.targets))), (splits["val"], np.arange(len(splits["val"].targets))), info
        tr, va = stratified_holdout(full.targets.numpy(), VAL_FRACTION, seed)
        return (full, tr), (full, va), {"val_source": f"stratified {VAL_FRACTION:.0%} of train", "split_seed": seed}

    def fit(self, parts: list, grid: list[tuple[float, float]], dim: int, heads: int, classes: int, multilabel: bool,
            seed: int, device: torch.device) -> list[nn.Module]:
        """One head per (lr, wd), all from the same seeded initialisation, trained side by side on
        the same batches of ``parts``; returns them in eval mode."""
        models, opts = [], []
        for lr, wd in grid:
            torch.manual_seed(seed)
            model = build_head(self.head, dim, heads, self.queries, classes, self.mlp_ratio, self.init_std).to(device)
            decay, rest = [], []
            for name, p in model.named_parameters():  # AdamW's decay on weight matrices only (V-JEPA's param groups)
                (decay if p.ndim > 1 and not name.endswith("bias") else rest).append(p)
            groups = [{"params": decay, "weight_decay": wd, "wd0": wd}, {"params": rest, "weight_decay": 0.0, "wd0": 0.0}]
            models.append(model.train())
            opts.append(torch.optim.AdamW(groups, lr=lr))
        n = sum(len(index) for _, index in parts)
        total = self.epochs * -(-n // self.batch_size)
        step = 0
        for epoch in range(self.epochs):
            for tokens, targets in batches(parts, self.batch_size, seed * 10_007 + epoch, device):
                decay = cosine(step, total)
                for model, opt, (lr, _) in zip(models, opts, grid):
                    self._step(model, opt, tokens, targets, multilabel, lr * decay, decay)
                step += 1
        return [m.eval() for m in models]

    def _step(self, model: nn.Module, opt, tokens: torch.Tensor, targets: torch.Tensor, multilabel: bool,
              lr: float, decay: float) -> None:
        for group in opt.param_groups:
            group["lr"] = lr
            if group["wd0"]:
                group["weight_decay"] = self.final_wd + (group["wd0"] - self.final_wd) * decay
        loss = classification_loss(model(tokens), targets, multilabel)  # (B, T, C) -> (B, K)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), self.grad_clip)
        opt.step()

    @torch.no_grad()
    def predict(self, model: nn.Module, parts: list, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        logits, targets = [], []
        for tokens, target in batches(parts, self.eval_batch_size, None, device):
            logits.append(model(tokens).float().cpu())  # (B, K)
            targets.append(target.cpu())
        return torch.cat(logits), torch.cat(targets)
