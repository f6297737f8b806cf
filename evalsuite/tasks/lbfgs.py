"""L-BFGS for G independent problems at once, each with its own history, step size and stopping.

The wd sweep of the linear probe is 45 independent convex problems of the same shape. Stacking
them into one parameter vector for ``torch.optim.LBFGS`` shares one curvature history and one line
search between problems of very different conditioning: on digits that joint solve ran its full
1,000 iterations where each problem alone converged in 3-45. Here every quantity of the two-loop
recursion (Nocedal & Wright 2006, Alg. 7.4) and of the backtracking Armijo line search (Alg. 3.1,
c1 = 1e-4) is a per-problem (G,) tensor, so each problem converges at its own pace while every
function evaluation is still one batched product for all G. Two host syncs per iteration.

Stopping follows scipy's L-BFGS-B as scikit-learn calls it (``sklearn/linear_model/_logistic.py``,
``_logistic_regression_path``: ``gtol=tol``, ``ftol=64 * eps``), except that the gradient test is
on the L2 norm, relative to a per-problem scale the caller gives (``scale``): an absolute ``gtol``
means nothing across penalties that differ by 11 orders of magnitude, and a max-entry test would
change with the basis the problem is solved in (see ``evalsuite.tasks.linear``).
"""

from __future__ import annotations

from typing import Callable

import torch

#: Armijo sufficient-decrease constant (Nocedal & Wright 2006, Sec. 3.1).
C1 = 1e-4
#: Step halvings before a problem whose line search cannot decrease is declared done.
MAX_HALVINGS = 30
#: A problem whose step falls below this stops (torch.optim.LBFGS's ``tolerance_change`` default).
TOL_CHANGE = 1e-9
#: Relative decrease of f below which a problem has converged at float precision, in machine
#: epsilons: scipy's ``ftol`` as scikit-learn sets it (64 * eps).
FTOL_EPS = 64


def batched_lbfgs(fun: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]],
                  x0: torch.Tensor, max_iter: int = 1000, tol: float = 1e-4, history: int = 20,
                  scale: Callable[[torch.Tensor], torch.Tensor] | None = None,
                  precondition: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None) -> tuple[torch.Tensor, dict]:
    """Minimise G independent functions.

    Args:
        fun: x (G, P) -> (values (G,), gradients (G, P), curvature statistics (G, ...) for
            ``precondition``, or None); problem g may only depend on row g.
        precondition: (statistics at x, v (G, P)) -> M v, M positive definite per problem: an
            inverse Hessian estimate. The recursion's initial matrix is then gamma * M (Nocedal &
            Wright 2006, Sec. 7.2: any positive definite H_0; gamma from the newest pair as in
            their eq. 7.20, measured in M's metric), else gamma * I.
        x0: (G, P) starting points.
        max_iter: iterations at most, per problem.
        tol: a problem has converged once its gradient's L2 norm is at most ``tol * scale(x)``
            (or its value stops decreasing by more than ``FTOL_EPS`` epsilons, scipy's ``ftol``).
        history: correction pairs kept per problem.
        scale: x (G, P) -> (G,) the size a gradient norm is measured against; None: 1 (absolute).

    Returns:
        The minimisers (G, P) and per problem (G,) tensors: 'iterations', 'converged' (gradient or
        ftol test met), 'grad_norm' (the gradient's L2 norm at the end), 'threshold' (``tol *
        scale`` at the end) and 'capped' (stopped by ``max_iter`` before converging).
    """
    x = x0.clone()
    f, g, h = fun(x)  # h: curvature statistics at x, for ``precondition``
    threshold = _threshold(x, tol, scale)
    converged = g.norm(dim=1) <= threshold  # (G,)
    active = ~converged
    iterations = torch.zeros(len(x), dtype=torch.long, device=x.device)
    pairs: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []  # (s, y, rho): (G, P), (G, P), (G,)
    # first step: the preconditioned Newton step, or torch.optim.LBFGS's 1 / |g|_1 without one
    gamma = torch.ones_like(f) if precondition is not None else (1.0 / g.abs().sum(1).clamp(min=1e-12)).clamp(max=1.0)
    eps = torch.finfo(f.dtype).eps
    for _ in range(max_iter):
        if not bool(active.any()):
            break
        d = -_two_loop(g, pairs, gamma, None if precondition is None else (lambda v, h=h: precondition(h, v))) * active[:, None]  # (G, P)
        x_new, f_new, g_new, h_new, stuck = _armijo(fun, x, f, g, h, d, active)
        s, y = x_new - x, g_new - g
        sy = (s * y).sum(1)
        curved = sy > 1e-10 * s.norm(dim=1) * y.norm(dim=1)
        pairs.append((s, y, torch.where(curved, 1.0 / sy.where(curved, torch.ones_like(sy)), torch.zeros_like(sy))))
        pairs = pairs[-history:]
        yhy = (y * (y if precondition is None else precondition(h_new, y))).sum(1)
        gamma = torch.where(curved, sy / yhy.clamp(min=torch.finfo(f.dtype).tiny), gamma)
        iterations += active.long()
        flat = (f - f_new) <= FTOL_EPS * eps * torch.maximum(torch.maximum(f.abs(), f_new.abs()), torch.ones_like(f))
        x, f, g, h = x_new, f_new, g_new, h_new
        threshold = _threshold(x, tol, scale)
        done = active & ((g.norm(dim=1) <= threshold) | (flat & ~stuck))
        converged |= done
        active = active & ~done & ~stuck & (s.abs().amax(1) > TOL_CHANGE)
    return x, {"iterations": iterations, "converged": converged, "grad_norm": g.norm(dim=1), "threshold": threshold,
               "capped": active}


def _threshold(x: torch.Tensor, tol: float, scale) -> torch.Tensor:
    return tol * (scale(x) if scale is not None else torch.ones(len(x), dtype=x.dtype, device=x.device))


def _two_loop(g: torch.Tensor, pairs: list, gamma: torch.Tensor, m: Callable | None) -> torch.Tensor:
    """H_g @ g for each problem, H the L-BFGS inverse-Hessian estimate (Nocedal & Wright Alg. 7.4)
    with H_0 = gamma * M (``m``: v -> M v, or None for the identity)."""
    q = g.clone()
    alphas = []
    for s, y, rho in reversed(pairs):
        a = rho * (s * q).sum(1)  # (G,)
        q -= a[:, None] * y
        alphas.append(a)
    q = gamma[:, None] * (q if m is None else m(q))
    for (s, y, rho), a in zip(pairs, reversed(alphas)):
        b = rho * (y * q).sum(1)
        q += (a - b)[:, None] * s
    return q


def _armijo(fun, x, f, g, h, d, active):
    """Per-problem backtracking from step 1 until f(x + t d) <= f + C1 t g.d; returns the new
    point, value, gradient, curvature statistics and which problems could not decrease at all."""
    gtd = (g * d).sum(1)  # (G,), negative where active
    t = torch.ones_like(f)
    for _ in range(MAX_HALVINGS):
        x_new = x + t[:, None] * d
        f_new, g_new, h_new = fun(x_new)
        ok = (f_new <= f + C1 * t * gtd) | ~active
        if bool(ok.all()):
            return x_new, f_new, g_new, h_new, torch.zeros_like(active)
        t = torch.where(ok, t, t / 2)
    # problems still failing are at the limit of float precision: keep their old point
    keep = ok[:, None]
    h_kept = None if h is None else torch.where(keep.view(-1, *[1] * (h.dim() - 1)), h_new, h)
    return torch.where(keep, x_new, x), torch.where(ok, f_new, f), torch.where(keep, g_new, g), h_kept, ~ok
