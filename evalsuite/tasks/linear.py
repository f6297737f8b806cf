"""Linear probe by L-BFGS on frozen features: the transfer protocol of Kornblith et al. 2019.

'Do Better ImageNet Models Transfer Better?' (Sec. 3 and App. A.3): multinomial logistic
regression fitted by L-BFGS, the L2 penalty chosen from 45 log-spaced values in [1e-6, 1e5] on a
validation split, then refitted on train+val and scored once on test.

The objective is exactly scikit-learn's ``LogisticRegression`` with ``C = 1 / wd`` (intercept not
penalised), written in torch so it runs on the GPU:
    mean_i CE(x_i W + b, y_i) + wd / (2 n) * ||W||^2
(scikit-learn minimises C * sum_i CE + ||W||^2 / 2, the same minimiser). Features are standardised
with the statistics of the set being fitted. The sweep runs from the strongest penalty down,
each fit warm-started from the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

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


def fit_logistic(x: torch.Tensor, y: torch.Tensor, wd: float, num_classes: int, multilabel: bool = False,
                 init: tuple[torch.Tensor, torch.Tensor] | None = None, max_iter: int = 1000,
                 tol: float = TOL) -> tuple[torch.Tensor, torch.Tensor]:
    """Minimise the scikit-learn objective above; x (N, D) float32, y (N,) or multi-hot (N, C).

    Stops when the largest gradient entry is below ``tol`` (scikit-learn's default 1e-4 on the
    same mean-scaled objective) or after ``max_iter`` L-BFGS iterations.

    Returns W (D, C) and b (C,).
    """
    n, d = x.shape
    weight = (init[0].clone() if init else torch.zeros(d, num_classes, device=x.device)).requires_grad_()
    bias = (init[1].clone() if init else torch.zeros(num_classes, device=x.device)).requires_grad_()
    opt = torch.optim.LBFGS([weight, bias], lr=1, max_iter=max_iter, tolerance_grad=tol, tolerance_change=1e-12,
                            history_size=20, line_search_fn="strong_wolfe")
    data_loss = (lambda z: F.binary_cross_entropy_with_logits(z, y, reduction="sum") / n) if multilabel else (lambda z: F.cross_entropy(z, y))

    def closure():
        opt.zero_grad()
        loss = data_loss(x @ weight + bias) + wd / (2 * n) * weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return weight.detach(), bias.detach()


def sweep(train: Split, val: Split, grid: list[float], metric: str, num_classes: int, multilabel: bool,
          device: torch.device, max_iter: int = 1000) -> tuple[float, list[tuple[float, float]], tuple]:
    """Fit on train for every wd (strongest first, warm-started), score on val.

    Returns the chosen wd (best val score; ties go to the stronger penalty), the (wd, score) curve
    and the chosen fit's parameters.
    """
    norm = Standardizer(train.features.to(device))
    xt, yt = norm(train.features.to(device)), train.targets.to(device)
    xv = norm(val.features.to(device))
    params, curve, best = None, [], (-1.0, None, None)
    for wd in sorted(grid, reverse=True):
        params = fit_logistic(xt, yt.float() if multilabel else yt, wd, num_classes, multilabel, params, max_iter)
        val_score = score(metric, xv @ params[0] + params[1], val.targets)
        curve.append((wd, val_score))
        if val_score > best[0]:
            best = (val_score, wd, params)
    return best[1], curve, best[2]


def fit_and_score(train: Split, test: Split, wd: float, metric: str, num_classes: int, multilabel: bool,
                  device: torch.device, max_iter: int = 1000, init=None) -> float:
    norm = Standardizer(train.features.to(device))
    targets = train.targets.to(device)
    w, b = fit_logistic(norm(train.features.to(device)), targets.float() if multilabel else targets, wd,
                        num_classes, multilabel, init, max_iter)
    return score(metric, norm(test.features.to(device)) @ w + b, test.targets)


@TASKS.register_module("linear")
@dataclass(frozen=True)
class Linear:
    """Args:
        wd_start, wd_stop, wd_num: the L2 grid, logspace(wd_start, wd_stop, wd_num)
            (Kornblith et al. 2019, App. A.3: -6, 5, 45).
        max_iter: L-BFGS iterations per fit (Kornblith et al. 2019 fit to convergence; 1000 caps it).
    """

    wd_start: float = -6.0
    wd_stop: float = 5.0
    wd_num: int = 45
    max_iter: int = 1000

    def run(self, ctx: EvalContext) -> TaskOutput:
        train, val, test, split_info = ctx.protocol_splits()
        spec, device = ctx.spec, ctx.device
        n_classes = len(spec.classes)
        grid = wd_grid(self.wd_start, self.wd_stop, self.wd_num)
        wd, curve, params = sweep(train, val, grid, spec.metric, n_classes, spec.multilabel, device, self.max_iter)
        test_score = fit_and_score(concat(train, val), test, wd, spec.metric, n_classes, spec.multilabel, device,
                                   self.max_iter, init=params)
        val_best = max(s for _, s in curve)
        return TaskOutput(
            metric=spec.metric, value=test_score,
            metrics={spec.metric: test_score, f"val_{spec.metric}": val_best},
            chosen={"wd": wd, "C": 1.0 / wd},
            extra={"split": split_info, "val_curve": [[w, s] for w, s in curve]},
        )
