"""The L-BFGS probe's memory plan: how a fit of N x D features and C classes fits the device.

At ImageNet scale (N = 1.28M, C = 1,000) the probe as first written held an (N, C) one-hot and
(N, G, C) logits, probabilities and residuals in float64 for G penalties side by side: 10 GB each
at G = 1, 460 GB at the whole 45-penalty grid. The plan keeps, per fit:

- resident: the standardised features (N, D) float32 and their rotation into the eigenbasis
  (N, r) in ``storage``: float64 when it fits, else float32 (the solve still sums in float64; the
  rounding is that of the float32 features themselves), built in blocks (``Basis.of``);
- per block of ``block_rows`` rows: the (B, G, C) logits, probabilities and residuals, summed
  into float64 accumulators (``LogisticProblem``), so memory no longer grows with N; before them,
  the basis's (B, D) float64 centred and rotated rows (the larger of the two counts: they never
  coexist); all rows at once (block 0) only where the budget also holds the unblocked path's
  N-row copies (those of the basis, then ``Basis.xr_t`` on a CPU);
- the solver: L-BFGS's 20 correction pairs and its working vectors, (2 x 20 + 12) vectors of
  G x (r C + C) float64, and the (G, C, C) curvature factors: ``grid_batch`` (penalties side by
  side, the whole grid on a GPU) is halved until they fit; each problem reaches the same minimiser
  whatever the batching (``evalsuite.tasks.linear``).

The budget is ``BUDGET_FRACTION`` of the device's free memory (``torch.cuda.mem_get_info``; on a
CPU the kernel's MemAvailable). A fit that cannot fit even at float32 storage, one penalty at a
time and ``MIN_BLOCK`` rows is refused before any work with one sentence naming what it needs and
the alternative (``linear_multi``, whose memory does not grow with N).

The plans it makes at full ImageNet size (ViT-S and ResNet-50 widths, 24 and 80 GB GPUs) and
the measured CPU parts: bench/RESULTS.md, "ImageNet scale: the L-BFGS probe's memory plan".
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from evalsuite.errors import EvalsuiteError
from evalsuite.tasks.eigenbasis import Basis
from evalsuite.tasks.lbfgs import batched_lbfgs

#: Fraction of the free memory a plan may use (the rest: the allocator's slack, val/test logits).
BUDGET_FRACTION = 0.8
#: Fewest rows per block: below it the products are too thin to run at speed.
MIN_BLOCK = 1024
#: L-BFGS correction pairs (``batched_lbfgs``'s ``history`` default) and working vectors besides.
HISTORY = batched_lbfgs.__defaults__[2]
WORKING_VECTORS = 12
#: (B, G, C) temporaries alive at once in one block of ``LogisticProblem.__call__``.
BLOCK_TEMPORARIES = 6
F64, F32 = 8, 4


@dataclass(frozen=True)
class MemoryPlan:
    """How one fit runs: ``storage`` of the rotated features, ``block_rows`` (0: all rows at
    once), ``grid_batch`` (penalties side by side; 0: one at a time with warm starts), the
    ``bytes`` it is estimated to need and the ``budget`` it was made for."""

    storage: str
    block_rows: int
    grid_batch: int
    bytes: int
    budget: int

    def record(self) -> dict:
        return {k: v for k, v in asdict(self).items()}


def free_bytes(device: torch.device) -> int:
    """Free memory of ``device``: the GPU's, or the kernel's MemAvailable on a CPU."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    try:
        with open("/proc/meminfo") as f:
            fields = dict(line.split(":", 1) for line in f)
        return int(fields["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):  # not Linux: assume the plain path fits
        return 1 << 62


def need(n: int, d: int, c: int, g: int, block: int, storage_bytes: int) -> int:
    """Estimated bytes of one fit (module docstring); ``block`` rows of temporaries."""
    p = d * c + c  # parameters per problem (r <= D)
    resident = n * d * F32 + n * d * storage_bytes + n * F64  # standardised, rotated, targets
    solver = (2 * HISTORY + WORKING_VECTORS) * g * p * F64 + 3 * g * c * c * F64 + 3 * d * d * F64
    return resident + solver + max(_per_row(d, c, g, build=True) * block, _per_row(d, c, g) * block
                                   + (n * d * storage_bytes if block >= n else 0))  # unblocked: xr_t (a CPU's)


def _per_row(d: int, c: int, g: int, build: bool = False) -> int:
    """Bytes per block row: building the basis (the rows centred in float64 and rotated, ``Basis.of``)
    or in the solve (``BLOCK_TEMPORARIES`` of G x C, and the one-hot); the two never overlap."""
    return 2 * d * F64 if build else (BLOCK_TEMPORARIES * g + 1) * c * F64


def plan(n: int, d: int, c: int, grid_batch: int, device: torch.device, budget: int | None = None) -> MemoryPlan:
    """The widest plan that fits ``budget`` (default: ``BUDGET_FRACTION`` of the free memory):
    float64 storage before float32, more penalties side by side before fewer, then the largest
    block. ``grid_batch`` 0 (one penalty at a time, warm-started) stays 0."""
    budget = int(BUDGET_FRACTION * free_bytes(device)) if budget is None else budget
    widths = [grid_batch] if grid_batch else [0]
    while widths[-1] > 1:
        widths.append(widths[-1] // 2)
    smallest = min(n, MIN_BLOCK)
    for storage, size in (("float64", F64), ("float32", F32)):
        for width in widths:
            g = max(width, 1)
            fixed = need(n, d, c, g, 0, size)
            rows = (budget - fixed) // max(_per_row(d, c, g, build=True), _per_row(d, c, g)) if budget > fixed else 0
            if rows >= smallest:
                block = 0 if need(n, d, c, g, n, size) <= budget else int(min(rows, n - 1))
                return MemoryPlan(storage, block, width, need(n, d, c, g, block or n, size), budget)
    least = need(n, d, c, 1, smallest, F32)
    raise EvalsuiteError(f"the linear probe on {n:,} x {d} features and {c} classes needs at least {least / 2**30:.1f} GiB "
                         f"(float32 features, one penalty at a time, {smallest} rows per block) but {device} has "
                         f"{budget / 2**30:.1f} GiB to give it; run linear_multi (SGD over the cached features, "
                         "memory independent of their number) or the probe on a device with more memory")


def planned_basis(x: torch.Tensor, classes: int, grid_batch: int, dtype: torch.dtype) -> tuple[Basis, MemoryPlan]:
    """x (N, D)'s eigenbasis built as the plan for its device says, and the plan; the rotated
    features are never stored wider than the solve's ``dtype``."""
    n, d = x.shape
    chosen = plan(n, d, classes, grid_batch, x.device)
    return basis_for(x, chosen, dtype), chosen


def basis_for(x: torch.Tensor, chosen: MemoryPlan, dtype: torch.dtype) -> Basis:
    """x (N, D)'s eigenbasis built as ``chosen`` says (its storage, never wider than ``dtype``, and its block)."""
    storage = torch.float32 if chosen.storage == "float32" or dtype == torch.float32 else torch.float64
    return Basis.of(x, dtype, storage=storage, block_rows=chosen.block_rows)


def departs(chosen: MemoryPlan, grid_batch: int, dtype: str) -> bool:
    """Whether the plan changed anything from the plain path (then the row records it)."""
    return bool(chosen.block_rows) or chosen.grid_batch != grid_batch or (chosen.storage != dtype and dtype == "float64")
