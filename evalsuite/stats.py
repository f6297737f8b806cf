"""The one confidence interval evalsuite reports: Student-t, 95%, over seeds or draws."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def ci95_halfwidth(std: float, n: int) -> float:
    """Half-width of the 95% Student-t interval of a mean of ``n`` values with sample std ``std``
    (0 for a single value: no interval can be given)."""
    if n < 2:
        return 0.0
    return float(stats.t.ppf(0.975, n - 1) * std / math.sqrt(n))


def mean_ci95(scores: list[float]) -> tuple[float, float, float]:
    """(mean, sample std, half-width of the 95% Student-t confidence interval of the mean)."""
    x = np.asarray(scores, dtype=np.float64)
    std = float(x.std(ddof=1))
    return float(x.mean()), std, ci95_halfwidth(std, len(x))
