"""Low-shot linear probe: the L-BFGS probe of ``linear`` trained on k labelled images per class,
or on a 1% / 10% class-balanced subset of train, over several seeded draws of the subset.

k in {1, 5, 10, 25} follows the few-shot linear evaluations of the transfer literature (e.g.
Ericsson et al. 2021, Sec. 3, few-shot; DINO/iBOT low-shot probes); 1% and 10% label fractions are
the semi-supervised subsets of SimCLR (Chen et al. 2020, Sec. 6), drawn here class-balanced.
Subsets are drawn from the protocol's train part only; the L2 penalty is chosen on the protocol's
validation split (disjoint from every subset and from test), or fixed with ``wd``. Each subset
size reports the mean over ``draws`` draws, the standard deviation and the half-width of a 95%
confidence interval from Student's t with draws - 1 degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from evalsuite.errors import EvalsuiteError
from evalsuite.progress import Progress
from evalsuite.registry import TASKS
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, UNIT, ruled
from evalsuite.stats import mean_ci95
from evalsuite.tasks.base import EvalContext, Split, TaskOutput, take
from evalsuite.tasks.linear import ProbeSettings, fit_and_score, grid_batch_for, sweep, wd_grid


def size_names(shots: tuple[int, ...], fractions: tuple[float, ...]) -> list[str]:
    return [f"k={k}" for k in shots] + [f"{100 * f:g}%" for f in fractions]


def per_class_subset(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of exactly ``k`` images of every class of ``labels`` (N,), drawn without replacement."""
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        if len(members) < k:
            raise EvalsuiteError(f"lowshot k={k} needs {k} training images of every class but class {c} has "
                                 f"{len(members)}; use smaller shots")
        picks.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(picks))


def fraction_subset(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """A class-balanced ``fraction`` of ``labels`` (N,): round(fraction x n_c), at least 1, per class."""
    picks = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        picks.append(rng.choice(members, size=max(1, round(fraction * len(members))), replace=False))
    return np.sort(np.concatenate(picks))


def draw_subset(labels: np.ndarray, size: str, seed: int, draw: int) -> np.ndarray:
    """Subset ``size`` (``k=5`` or ``10%``) for (seed, draw); each pair gives its own draw."""
    rng = np.random.default_rng([seed, draw, sum(map(ord, size))])
    if size.startswith("k="):
        return per_class_subset(labels, int(size[2:]), rng)
    return fraction_subset(labels, float(size[:-1]) / 100, rng)


@TASKS.register_module("lowshot")
@dataclass(frozen=True)
class LowShot:
    """Args:
        shots: images per class (1, 5, 10, 25).
        fractions: class-balanced fractions of train (SimCLR, Sec. 6: 1% and 10%).
        draws: seeded draws of each subset (at least 2, for the interval).
        headline: the subset size whose mean is the row's value, e.g. ``k=5`` or ``1%``.
        wd: a fixed L2 penalty; None chooses it on the validation split from
            logspace(wd_start, wd_stop, wd_num) (Kornblith et al. 2019, App. A.3: -6, 5, 45).
        max_iter: L-BFGS iterations per fit.
        grid_batch: penalties solved jointly, as in ``linear``; 0 = automatic (the whole grid at
            once on a GPU, one at a time with warm starts on a CPU).
    """

    #: Where its columns stand in report tables (``evalsuite.report.tables``): frozen-feature probes,
    #: then low-shot, fine-tuning and detection.
    REPORT_ORDER: ClassVar[int] = 3

    shots: tuple[int, ...] = ruled((1, 5, 10, 25), AT_LEAST_1)
    fractions: tuple[float, ...] = ruled((0.01, 0.1), UNIT)
    draws: int = 5
    headline: str = "k=5"
    wd: float | None = ruled(None, AT_LEAST_0)
    wd_start: float = -6.0
    wd_stop: float = 5.0
    wd_num: int = ruled(45, AT_LEAST_1)
    max_iter: int = ruled(1000, AT_LEAST_1)
    grid_batch: int = ruled(0, AT_LEAST_0)

    #: The smallest settings that run every code path, for tests/test_contracts.py; not a protocol.
    processes: ClassVar[str] = "first"  # under --launcher: features from every process, the task on the first
    SMOKE: ClassVar[dict] = dict(shots=(1, 2), fractions=(0.5,), draws=2, headline="k=1", wd_num=3, max_iter=50)

    def __post_init__(self) -> None:
        names = size_names(self.shots, self.fractions)
        if self.headline not in names:
            raise ValueError(f"lowshot headline {self.headline!r} is not a subset size; valid sizes are: {', '.join(names)}")
        if self.draws < 2:
            raise ValueError(f"lowshot draws={self.draws} gives no confidence interval; use draws >= 2")

    def run(self, ctx: EvalContext) -> TaskOutput:
        spec, device = ctx.spec, ctx.device
        if spec.multilabel:
            raise EvalsuiteError(f"lowshot draws images per class and needs single-label data; {spec.name!r} is multi-label")
        train, val, test, split_info = ctx.protocol_splits()
        labels = train.targets.numpy()
        metric = spec.metric
        settings = ProbeSettings(metric=metric, num_classes=len(spec.classes), device=device, max_iter=self.max_iter,
                                 grid_batch=grid_batch_for(self.grid_batch, self.wd_num, device))
        metrics, per_size = {}, {}
        sizes = size_names(self.shots, self.fractions)
        bar = Progress(len(sizes) * self.draws, f"lowshot {spec.name}", "draw", ctx.quiet)
        for size in sizes:
            scores, wds = [], []
            for d in range(self.draws):
                subset = take(train, draw_subset(labels, size, ctx.seed, d))
                wd, params = self.choose_wd(subset, val, settings)
                scores.append(fit_and_score(subset, test, wd, settings, params)[0])
                wds.append(wd)
                bar.update()
            mean, std, half = mean_ci95(scores)
            metrics[f"{metric}@{size}"] = mean
            metrics[f"{metric}@{size} ci95"] = half
            per_size[size] = {"mean": mean, "std": std, "ci95": half, "ci95_low": mean - half,
                              "ci95_high": mean + half, "n": self.draws, "scores": scores, "wds": wds,
                              "subset_size": len(subset)}
        bar.close()
        return TaskOutput(metric=f"{metric}@{self.headline}", value=metrics[f"{metric}@{self.headline}"],
                          metrics=metrics, extra={"split": split_info, "subsets": per_size})

    def choose_wd(self, subset: Split, val: Split, settings: ProbeSettings):
        """The L2 penalty (and its warm-start fit) for one drawn subset."""
        if self.wd is not None:
            return self.wd, None
        wd, _, fit = sweep(subset, val, wd_grid(self.wd_start, self.wd_stop, self.wd_num), settings)
        return wd, fit
