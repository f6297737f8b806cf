"""Linear probe by L-BFGS on frozen features: the transfer protocol of Kornblith et al. 2019.

'Do Better ImageNet Models Transfer Better?' (Sec. 3 and App. A.3): multinomial logistic
regression fitted by L-BFGS, the L2 penalty chosen from 45 log-spaced values in [1e-6, 1e5] on a
validation split, then refitted on train+val and scored once on test.

The objective is exactly scikit-learn's ``LogisticRegression`` with ``C = 1 / wd`` (intercept not
penalised), written in torch so it runs on the GPU:
    mean_i CE(x_i W + b, y_i) + wd / (2 n) * ||W||^2
(scikit-learn minimises C * sum_i CE + ||W||^2 / 2, the same minimiser). Features are standardised
with the statistics of the set being fitted. The sweep runs from the strongest penalty down,
each fit warm-started from the previous one, or (on a GPU) as G problems solved side by side by
``evalsuite.tasks.lbfgs.batched_lbfgs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from evalsuite.progress import progress
from evalsuite.tasks.lbfgs import batched_lbfgs
from evalsuite.registry import TASKS
from evalsuite.tasks.base import EvalContext, Split, TaskOutput, concat
from evalsuite.tasks.metrics import score


#: Gradient tolerance, scikit-learn's ``LogisticRegression(tol=1e-4)`` default.
TOL = 1e-4


def wd_grid(start: float = -6.0, stop: float = 5.0, num: int = 45) -> list[float]:
    """Kornblith et al. 2019, App. A.3: 45 values logarithmically spaced from 1e-6 to 1e5."""
    return np.logspace(start, stop, num).tolist()


class Standardizer:
    def __init__(self, x: torch.Tensor) -> None:
        self.mean = x.mean(0, keepdim=True)  # (1, D)
        self.std = x.std(0, keepdim=True).clamp(min=1e-6)  # (1, D)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def fit_logistic(x: torch.Tensor, y: torch.Tensor, wd: float | list[float], num_classes: int,
                 multilabel: bool = False, init: tuple[torch.Tensor, torch.Tensor] | None = None,
                 max_iter: int = 1000, tol: float = TOL) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise the scikit-learn objective above; x (N, D) float32, y (N,) or multi-hot (N, C).

    ``wd`` may be a list of G penalties: the G independent problems are then solved together by
    ``batched_lbfgs``, each with its own curvature history and step size, every function
    evaluation one product x (N, D) @ W (D, G*C) for all of them. Each problem stops when its
    largest gradient entry is below ``tol`` (scikit-learn's default 1e-4 on the same mean-scaled
    objective) or after ``max_iter`` iterations.

    Returns W (D, C) and b (C,), or (G, D, C) and (G, C) for a list.
    """
    wds = torch.tensor(wd if isinstance(wd, list) else [wd], dtype=x.dtype, device=x.device)  # (G,)
    g, (n, d), c = len(wds), x.shape, num_classes
    targets = y.float().repeat(g, 1) if multilabel else y.repeat(g)  # (G*N, C) or (G*N,)

    def objective(theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """theta (G, D*C + C) -> per-problem objectives (G,) and gradients (G, D*C + C)."""
        with torch.enable_grad():
            theta = theta.detach().requires_grad_()
            weight, bias = theta[:, : d * c].view(g, d, c), theta[:, d * c:]  # (G, D, C), (G, C)
            logits = (x @ weight.permute(1, 0, 2).reshape(d, g * c)).view(n, g, c)  # (N, G, C)
            logits = (logits.transpose(0, 1) + bias[:, None]).reshape(g * n, c)  # (G*N, C)
            if multilabel:
                data = F.binary_cross_entropy_with_logits(logits, targets, reduction="none").view(g, n, c).sum(2)
            else:
                data = F.cross_entropy(logits, targets, reduction="none").view(g, n)
            values = data.mean(1) + wds / (2 * n) * weight.pow(2).sum((1, 2))  # (G,)
            (grad,) = torch.autograd.grad(values.sum(), theta)
        return values.detach(), grad

    if init:
        theta0 = torch.cat([init[0].reshape(g, d * c), init[1].reshape(g, c)], 1)
    else:
        theta0 = x.new_zeros(g, d * c + c)
    theta, _ = batched_lbfgs(objective, theta0, max_iter=max_iter, tol=tol)
    weight, bias = theta[:, : d * c].view(g, d, c), theta[:, d * c:]
    return (weight, bias) if isinstance(wd, list) else (weight[0], bias[0])


def grid_batch_for(setting: int, grid_size: int, device: torch.device) -> int:
    """A ``grid_batch`` setting made concrete: 0 means the whole grid side by side on a GPU and one
    penalty at a time, warm-started, on a CPU."""
    return setting or (grid_size if device.type == "cuda" else 0)


def sweep(train: Split, val: Split, grid: list[float], metric: str, num_classes: int, multilabel: bool,
          device: torch.device, max_iter: int = 1000, grid_batch: int = 0,
          desc: str | None = None) -> tuple[float, list[tuple[float, float]], tuple]:
    """Fit on train for every wd, score on val.

    ``grid_batch=0`` fits one wd at a time, strongest first, each warm-started from the last (best
    on a CPU); ``grid_batch=G`` solves G penalties side by side, each with its own L-BFGS state
    (best on a GPU: one wide product per evaluation for all of them). Returns the chosen wd
    (best val score; ties go to the stronger penalty), the (wd, score) curve and the chosen fit.
    With ``desc``, progress lines go to stderr.
    """
    norm = Standardizer(train.features.to(device))
    xt, yt = norm(train.features.to(device)), train.targets.to(device)
    xv = norm(val.features.to(device))
    ordered = sorted(grid, reverse=True)
    fits = []
    if grid_batch:
        starts = range(0, len(ordered), grid_batch)
        for i in progress(starts, len(starts), desc or "", quiet=desc is None):
            wds = ordered[i:i + grid_batch]
            w, b = fit_logistic(xt, yt, wds, num_classes, multilabel, max_iter=max_iter)
            fits.extend((wd, (w[j], b[j])) for j, wd in enumerate(wds))
    else:
        params = None
        for wd in progress(ordered, len(ordered), desc or "", quiet=desc is None):
            params = fit_logistic(xt, yt, wd, num_classes, multilabel, params, max_iter)
            fits.append((wd, params))
    curve, best = [], (-1.0, None, None)
    for wd, (w, b) in fits:
        val_score = score(metric, xv @ w + b, val.targets)
        curve.append((wd, val_score))
        if val_score > best[0]:
            best = (val_score, wd, (w, b))
    return best[1], curve, best[2]


def fit_and_score(train: Split, test: Split, wd: float, metric: str, num_classes: int, multilabel: bool,
                  device: torch.device, max_iter: int = 1000, init=None) -> float:
    norm = Standardizer(train.features.to(device))
    targets = train.targets.to(device)
    w, b = fit_logistic(norm(train.features.to(device)), targets, wd, num_classes, multilabel, init, max_iter)
    return score(metric, norm(test.features.to(device)) @ w + b, test.targets)


@TASKS.register_module("linear")
@dataclass(frozen=True)
class Linear:
    """Args:
        wd_start, wd_stop, wd_num: the L2 grid, logspace(wd_start, wd_stop, wd_num)
            (Kornblith et al. 2019, App. A.3: -6, 5, 45).
        max_iter: L-BFGS iterations per fit (Kornblith et al. 2019 fit to convergence; 1000 caps it).
        grid_batch: penalties solved side by side; 0 = automatic (all of them on a GPU, one at a time
            with warm starts on a CPU). The same minimiser either way.
    """

    wd_start: float = -6.0
    wd_stop: float = 5.0
    wd_num: int = 45
    max_iter: int = 1000
    grid_batch: int = 0

    def run(self, ctx: EvalContext) -> TaskOutput:
        train, val, test, split_info = ctx.protocol_splits()
        spec, device = ctx.spec, ctx.device
        n_classes = len(spec.classes)
        grid = wd_grid(self.wd_start, self.wd_stop, self.wd_num)
        wd, curve, params = sweep(train, val, grid, spec.metric, n_classes, spec.multilabel, device, self.max_iter,
                                  grid_batch_for(self.grid_batch, len(grid), device), desc=None if ctx.quiet else f"linear {spec.name} wd sweep")
        test_score = fit_and_score(concat(train, val), test, wd, spec.metric, n_classes, spec.multilabel, device,
                                   self.max_iter, init=params)
        val_best = max(s for _, s in curve)
        return TaskOutput(
            metric=spec.metric, value=test_score,
            metrics={spec.metric: test_score, f"val_{spec.metric}": val_best},
            chosen={"wd": wd, "C": 1.0 / wd},
            extra={"split": split_info, "val_curve": [[w, s] for w, s in curve]},
        )
