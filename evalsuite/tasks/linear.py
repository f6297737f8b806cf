"""Linear probe by L-BFGS on frozen features: the transfer protocol of Kornblith et al. 2019.

'Do Better ImageNet Models Transfer Better?' (Sec. 3 and App. A.3): multinomial logistic
regression fitted by L-BFGS, the L2 penalty chosen from 45 log-spaced values in [1e-6, 1e5] on a
validation split, then refitted on train+val and scored once on test.

The objective is exactly scikit-learn's ``LogisticRegression`` with ``C = 1 / wd`` (intercept not
penalised), written in torch so it runs on the GPU:
    mean_i CE(x_i W + b, y_i) + wd / (2 n) * ||W||^2
(scikit-learn >= 1.2 minimises this same mean-scaled objective, ``l2_reg_strength = 1 / (C n)`` in
``sklearn/linear_model/_logistic.py``). Features are standardised with the statistics of the set
being fitted unless ``standardize=False``.

Convergence. An absolute gradient tolerance does not fit a grid spanning 11 decades: at wd = 1e5
the optimal weights are ~1e-3 and the unpenalised intercepts carry the class priors with gradients
below 1e-4 from the start, and at wd = 1e-6 a warm start from the previous penalty already has a
gradient of ~1e-9 |W|, so an absolute 1e-4 stops both at once, far from the minimiser (on digits
the curve was off by up to 30 points at wd = 1e5). So a problem stops when the L2 norm of its
gradient is below ``tol`` times the norm of its penalty's gradient, wd / n * ||W|| (at the
minimiser that equals the data term's gradient: a scale-free stationarity test, and the same in
any orthonormal basis), or when f stops decreasing at float precision (scipy's ``ftol``). The
solve runs in float64 by default: in float32 an objective of ~2.3 cannot resolve the decreases
the intercepts still need.

Speed. Three exact devices, none of which changes the minimiser: the solve runs in the eigenbasis
of the centred features (``evalsuite.tasks.eigenbasis``: min(N, D) unknowns per class, built once
per sweep); L-BFGS starts each iteration from a Kronecker estimate of the inverse Hessian
(``evalsuite.tasks.logistic``); and along the grid each penalty is offered, beside the last
minimiser, its linear extrapolation from the last two (``extrapolated``). Measured against
scikit-learn by ``bench/eval_speed.py`` (bench/RESULTS.md, "Linear probe: convergence and speed against scikit-learn").

Every fit is one of G problems solved side by side by ``evalsuite.tasks.lbfgs.batched_lbfgs``.
The sweep runs either one penalty at a time, strongest first, each warm-started from the last
(``grid_batch=0``, fast on a CPU), or G penalties at once from zero (one wide product per
evaluation: fast on a GPU). A warm start is used only where its objective beats the zero start
(and the other candidates), and it must meet the same test as a cold start, so both paths reach
the same minimiser; each problem's iterations, final gradient norm and whether it converged land
in the row's ``val_curve``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import ClassVar

import numpy as np
import torch

from evalsuite.progress import progress
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, ruled
from evalsuite.tasks.eigenbasis import Basis
from evalsuite.tasks.probe_memory import departs, planned_basis
from evalsuite.tasks.lbfgs import batched_lbfgs
from evalsuite.tasks.logistic import LogisticProblem
from evalsuite.registry import TASKS
from evalsuite.tasks.base import VAL_DRAWS, EvalContext, Split, TaskOutput, concat
from evalsuite.tasks.metrics import extra_scores, score

#: Relative stationarity: the gradient's L2 norm at most this times the penalty's (see above).
TOL = 1e-4
DTYPES = {"float64": torch.float64, "float32": torch.float32}
TIES = ("stronger", "weaker")


def wd_grid(start: float = -6.0, stop: float = 5.0, num: int = 45) -> list[float]:
    """Kornblith et al. 2019, App. A.3: 45 values logarithmically spaced from 1e-6 to 1e5."""
    return np.logspace(start, stop, num).tolist()


@dataclass(frozen=True)
class ProbeOptions:
    """How a probe's penalty sweep is solved and a penalty chosen: the recipe's knobs, which ``linear``
    takes as its own fields (so its rows state them) and ``ProbeSettings`` completes per dataset.

    Args:
        max_iter: L-BFGS iterations per problem (Kornblith et al. 2019 fit to convergence; 1000
            caps it, and a fit that reaches the cap is listed in the row's ``unconverged_wd``).
        tol: relative stationarity (module docstring).
        grid_batch: penalties solved side by side; 0 = automatic (all of them on a GPU, one at a
            time with verified warm starts on a CPU). Both reach the same minimiser to ``tol``.
        dtype: ``float64`` (exact, scikit-learn's precision) or ``float32``.
        standardize: standardise features with the fitted set's statistics (Kornblith et al. 2019
            do; ssl-transfer fits raw features).
        ties: equal val scores go to the ``stronger`` penalty (the simpler model) or the ``weaker``.
    """

    max_iter: int = ruled(1000, AT_LEAST_1)
    tol: float = TOL
    grid_batch: int = ruled(0, AT_LEAST_0)
    dtype: str = "float64"
    standardize: bool = True
    ties: str = "stronger"

    def __post_init__(self) -> None:
        """Raise ValueError naming a bad probe setting and the valid ones."""
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype {self.dtype!r} is not valid; use one of: {', '.join(DTYPES)}")
        if self.ties not in TIES:
            raise ValueError(f"ties {self.ties!r} is not valid; use one of: {', '.join(TIES)}")
        if not self.tol > 0:
            raise ValueError(f"tol={self.tol!r} must be a positive number, e.g. 1e-4")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValueError(f"max_iter={self.max_iter!r} must be a positive integer, e.g. 1000")


@dataclass(frozen=True, kw_only=True)
class ProbeSettings(ProbeOptions):
    """One probe's options plus what the dataset and the run give (``linear``, ``lowshot`` and the
    benchmarks fill it, by keyword).

    Args:
        metric, num_classes, multilabel: the dataset's scoring.
        device: where the solve runs.
        desc: progress lines on stderr with this title; None: quiet.
    """

    metric: str
    num_classes: int
    multilabel: bool = False
    device: torch.device = torch.device("cpu")
    desc: str | None = None

    @classmethod
    def of(cls, options: ProbeOptions, **given) -> "ProbeSettings":
        """``options``' knobs (a ``Linear`` is one), with ``given`` (the dataset's, overrides) added."""
        return cls(**{**{f.name: getattr(options, f.name) for f in fields(ProbeOptions)}, **given})


class Standardizer:
    def __init__(self, x: torch.Tensor, enabled: bool = True) -> None:
        self.enabled = enabled
        self.mean = x.mean(0, keepdim=True)  # (1, D)
        self.std = x.std(0, keepdim=True).clamp(min=1e-6)  # (1, D)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std if self.enabled else x


@dataclass
class Fit:
    """G fitted problems: weights (G, D, C), biases (G, C) and the solver's per-problem record."""

    weight: torch.Tensor
    bias: torch.Tensor
    info: dict
    memory: dict | None = None  # the memory plan, where it changed the plain path (probe_memory)

    def __getitem__(self, j: int) -> "Fit":
        return Fit(self.weight[j:j + 1], self.bias[j:j + 1], {k: v[j:j + 1] for k, v in self.info.items()}, self.memory)

    def record(self, j: int) -> dict:
        """Problem j's convergence record, JSON-friendly."""
        memory = {"memory_plan": self.memory} if self.memory else {}
        return {"iterations": int(self.info["iterations"][j]), "grad_norm": float(self.info["grad_norm"][j]),
                "threshold": float(self.info["threshold"][j]), "converged": bool(self.info["converged"][j]),
                "capped": bool(self.info["capped"][j]), **memory}


def fit_logistic(x: torch.Tensor, y: torch.Tensor, wds: list[float], settings: ProbeSettings,
                 init: Fit | list[Fit] | None = None, basis: Basis | None = None, memory: dict | None = None) -> Fit:
    """Minimise the objective above for each of the G penalties ``wds``; x (N, D), y (N,) or (N, C) of 1 / 0 / IGNORE.

    The G problems (``evalsuite.tasks.logistic``) are solved together by ``batched_lbfgs`` in the
    eigenbasis of the centred features, each with its own curvature history, step size,
    preconditioner and stopping test. ``init`` is one or more warm starts (each one fit, or G),
    kept per problem only where one beats zero and the others; ``basis`` is x's, when the caller
    already has it (a sweep builds it once), and ``memory`` the record of the plan it was built by.
    """
    if basis is None:
        basis, chosen = planned_basis(x.to(settings.device), settings.num_classes, len(wds), DTYPES[settings.dtype])
        memory = chosen.record() if departs(chosen, len(wds), settings.dtype) else None
    problem = LogisticProblem(basis, y, wds, settings.num_classes, settings.multilabel)
    starts = [init] if isinstance(init, Fit) else list(init or [])
    theta0 = problem.start([(f.weight.to(basis.mean), f.bias.to(basis.mean)) for f in starts])
    theta, info = batched_lbfgs(problem, theta0, max_iter=settings.max_iter, tol=settings.tol,
                                scale=problem.penalty_scale, precondition=problem.precondition)
    weight, bias = basis.from_basis(*problem.split(theta))
    return Fit(weight, bias, {k: v.cpu() for k, v in info.items()}, memory)


def extrapolated(last: Fit, before: Fit) -> Fit:
    """The next minimiser along the grid, predicted linearly from the last two (the grid is even
    in log wd): the predictor of a path-following method (Allgower & Georg 1990, Ch. 2), offered
    to ``fit_logistic`` beside the last minimiser itself (its effect on iterations: bench/RESULTS.md)."""
    return Fit(2 * last.weight - before.weight, 2 * last.bias - before.bias, {})


def grid_batch_for(setting: int, grid_size: int, device: torch.device) -> int:
    """A ``grid_batch`` setting made concrete: 0 means the whole grid side by side on a GPU and one
    penalty at a time, warm-started, on a CPU."""
    return setting or (grid_size if device.type == "cuda" else 0)


def _fits(xt: torch.Tensor, yt: torch.Tensor, ordered: list[float], settings: ProbeSettings):
    """(wd, Fit of that one problem) for each wd of ``ordered``, cold in batches or warm one by one."""
    quiet, title = settings.desc is None, settings.desc or ""
    basis, chosen = planned_basis(xt, settings.num_classes, settings.grid_batch, DTYPES[settings.dtype])
    memory = chosen.record() if departs(chosen, settings.grid_batch, settings.dtype) else None
    if chosen.grid_batch:
        starts = range(0, len(ordered), chosen.grid_batch)
        for i in progress(starts, len(starts), title, quiet=quiet):
            wds = ordered[i:i + chosen.grid_batch]
            fit = fit_logistic(xt, yt, wds, settings, basis=basis, memory=memory)
            yield from ((wd, fit[j]) for j, wd in enumerate(wds))
    else:
        last = before = None  # the minimisers at the previous two penalties
        for wd in progress(ordered, len(ordered), title, quiet=quiet):
            starts = [] if last is None else [last] if before is None else [last, extrapolated(last, before)]
            before, last = last, fit_logistic(xt, yt, [wd], settings, starts, basis, memory)
            yield wd, last


def sweep(train: Split, val: Split, grid: list[float], settings: ProbeSettings) -> tuple[float, list[dict], Fit]:
    """Fit on train for every wd, score on val.

    Returns the chosen wd (best val score; ties to the ``settings.ties`` side), the curve (one
    dict per wd, strongest first: wd, val score and the solver's record) and the chosen fit.
    """
    norm = Standardizer(train.features.to(settings.device), settings.standardize)
    xt, xv = norm(train.features.to(settings.device)), norm(val.features.to(settings.device))
    curve, fits = [], {}
    for wd, fit in _fits(xt, train.targets.to(settings.device), sorted(grid, reverse=True), settings):
        val_score = score(settings.metric, (xv.to(fit.weight.dtype) @ fit.weight[0] + fit.bias[0]).float(), val.targets)
        curve.append({"wd": wd, "val": val_score, **fit.record(0)})
        fits[wd] = fit
    best = max(r["val"] for r in curve)
    tied = [r["wd"] for r in curve if r["val"] == best]
    chosen = max(tied) if settings.ties == "stronger" else min(tied)
    return chosen, curve, fits[chosen]


def fit_and_predict(train: Split, test: Split, wd: float, settings: ProbeSettings,
                    init: Fit | None = None) -> tuple[torch.Tensor, dict]:
    """Refit at ``wd`` on ``train``, predict ``test`` once; returns its logits (N, C) and the fit's record."""
    norm = Standardizer(train.features.to(settings.device), settings.standardize)
    fit = fit_logistic(norm(train.features.to(settings.device)), train.targets.to(settings.device), [wd], replace(settings, desc=None), init)
    logits = norm(test.features.to(settings.device)).to(fit.weight.dtype) @ fit.weight[0] + fit.bias[0]
    return logits.float(), fit.record(0)


def fit_and_score(train: Split, test: Split, wd: float, settings: ProbeSettings, init: Fit | None = None) -> tuple[float, dict]:
    """Refit at ``wd`` on ``train``, score once on ``test``; returns the score and the fit's record."""
    logits, record = fit_and_predict(train, test, wd, settings, init)
    return score(settings.metric, logits, test.targets), record


def unconverged(curve: list[dict]) -> list[float]:
    """The penalties whose fit stopped at the iteration cap (flagged in the row, never hidden)."""
    return [r["wd"] for r in curve if r["capped"]]


@TASKS.register_module("linear")
@dataclass(frozen=True)
class Linear(ProbeOptions):
    """The probe's options (``ProbeOptions``: its fields, and the row's) plus:

    Args:
        wd_start, wd_stop, wd_num: the L2 grid, logspace(wd_start, wd_stop, wd_num)
            (Kornblith et al. 2019, App. A.3: -6, 5, 45).
        val_draw: without an official val split, a seeded 20% of train drawn ``stratified`` by
            class or ``random`` (ssl-transfer's plain shuffle).
    """

    processes: ClassVar[str] = "first"  # under --launcher: features from every process, the task on the first
    #: Where its columns stand in report tables (``evalsuite.report.tables``): frozen-feature probes,
    #: then low-shot, fine-tuning and detection.
    REPORT_ORDER: ClassVar[int] = 1

    wd_start: float = -6.0
    wd_stop: float = 5.0
    wd_num: int = ruled(45, AT_LEAST_1)
    val_draw: str = "stratified"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.val_draw not in VAL_DRAWS:
            raise ValueError(f"val_draw {self.val_draw!r} is not valid; use one of: {', '.join(VAL_DRAWS)}")

    def probe(self, ctx: EvalContext) -> ProbeSettings:
        spec = ctx.spec
        return ProbeSettings.of(self, metric=spec.metric, num_classes=len(spec.classes), multilabel=spec.multilabel,
                                device=ctx.device, grid_batch=grid_batch_for(self.grid_batch, self.wd_num, ctx.device),
                                desc=None if ctx.quiet else f"linear {spec.name} wd sweep")

    def run(self, ctx: EvalContext) -> TaskOutput:
        train, val, test, split_info = ctx.protocol_splits(self.val_draw)
        settings = self.probe(ctx)
        wd, curve, fit = sweep(train, val, wd_grid(self.wd_start, self.wd_stop, self.wd_num), settings)
        logits, final = fit_and_predict(concat(train, val), test, wd, settings, init=fit)
        metric = ctx.spec.metric
        test_score = score(metric, logits, test.targets)
        val_best = max(r["val"] for r in curve)
        return TaskOutput(
            metric=metric, value=test_score,
            metrics={metric: test_score, **extra_scores(metric, logits, test.targets), f"val_{metric}": val_best},
            chosen={"wd": wd, "C": 1.0 / wd},
            extra={"split": split_info, "val_curve": curve, "final_fit": final,
                   "unconverged_wd": unconverged(curve) + ([wd] if final["capped"] else [])},
        )

