"""The L-BFGS probe's memory plan: in row blocks, with the rotated features stored in float32,
the objective and its gradient are those of the one-block float64 computation, the fit reaches the
same minimiser, and a plan narrows storage, grid batch and block as the budget shrinks, and
refuses in one sentence when nothing fits."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from evalsuite.errors import EvalsuiteError
from evalsuite.tasks.eigenbasis import Basis
from evalsuite.tasks.lbfgs import batched_lbfgs
from evalsuite.tasks.linear import ProbeSettings, fit_logistic
from evalsuite.tasks.logistic import LogisticProblem
from evalsuite.tasks.probe_memory import MIN_BLOCK, plan


def _data(n: int = 300, d: int = 12, c: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, c, (n,), generator=g)
    x = torch.randn(n, d, generator=g) + torch.randn(c, d, generator=g)[y]  # (N, D)
    return x, y


@pytest.mark.parametrize("multilabel", [False, True])
def test_blocks_and_float32_storage_give_the_one_block_objective(multilabel):
    x, y = _data()
    targets = torch.nn.functional.one_hot(y, 5) if multilabel else y
    whole = LogisticProblem(Basis.of(x), targets, [0.1, 10.0], 5, multilabel)
    theta = torch.randn(2, whole.r * 5 + 5, generator=torch.Generator().manual_seed(1), dtype=torch.float64) * 0.1
    ref = whole(theta)
    for storage, rtol in ((torch.float64, 1e-12), (torch.float32, 1e-6)):
        blocked = LogisticProblem(Basis.of(x, storage=storage, block_rows=64), targets, [0.1, 10.0], 5, multilabel)
        assert blocked.onehot is None and blocked.basis.xr.dtype == storage and blocked.basis.xr_t is None
        got = blocked(theta)
        for a, b in zip(ref, got):  # values, gradients, curvature statistics
            if a.dim() == 3:  # eigenvectors: compare the matrices they make, not their signs
                a, b = a[:, 0], b[:, 0]
            assert torch.allclose(a, b, rtol=rtol, atol=rtol * a.abs().max().item()), storage


def test_a_blocked_fit_reaches_the_same_minimiser():
    x, y = _data(400)
    settings = ProbeSettings(metric="top1", num_classes=5, max_iter=500)
    plain = fit_logistic(x, y, [1e-2, 1.0], settings)
    blocked = fit_logistic(x, y, [1e-2, 1.0], settings, basis=Basis.of(x, storage=torch.float32, block_rows=100),
                           memory={"storage": "float32", "block_rows": 100})
    assert blocked.record(1)["memory_plan"] == {"storage": "float32", "block_rows": 100}  # the row says what applied
    assert "memory_plan" not in plain.record(1)
    assert bool(plain.info["converged"].all()) and bool(blocked.info["converged"].all())
    assert torch.allclose(plain.weight, blocked.weight, atol=1e-4) and torch.allclose(plain.bias, blocked.bias, atol=1e-4)


def test_the_plan_narrows_as_the_budget_shrinks_and_then_refuses():
    cpu, n, d, c = torch.device("cpu"), 1_281_167, 384, 1000
    roomy = plan(10_000, d, c, 45, cpu, budget=64 << 30)
    assert (roomy.storage, roomy.block_rows, roomy.grid_batch) == ("float64", 0, 45)  # the plain path
    whole_grid = plan(n, d, c, 45, cpu, budget=64 << 30)  # an 80 GB GPU: the whole grid, in blocks
    assert whole_grid.storage == "float64" and whole_grid.grid_batch == 45 and 0 < whole_grid.block_rows < n
    gpu24 = plan(n, d, c, 45, cpu, budget=19 << 30)
    assert gpu24.storage == "float64" and MIN_BLOCK <= gpu24.block_rows < n and gpu24.bytes <= 19 << 30
    tight = plan(n, 2048, c, 45, cpu, budget=30 << 30)
    assert tight.storage == "float32" and tight.grid_batch < 45
    assert plan(n, d, c, 0, cpu, budget=8 << 30).grid_batch == 0  # one at a time stays one at a time
    with pytest.raises(EvalsuiteError, match=r"the linear probe on 1,281,167 x 2048 features and 1000 classes needs at "
                                             r"least .* GiB .* run linear_multi"):
        plan(n, 2048, c, 45, cpu, budget=16 << 30)


class _Sizes(TorchDispatchMode):
    """Records the element count of every tensor an op creates while active."""

    def __init__(self) -> None:
        super().__init__()
        self.created: list[tuple[str, int]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in out if isinstance(out, (tuple, list)) else [out]:
            if isinstance(t, torch.Tensor) and t.numel():
                self.created.append((str(func), t.numel()))
        return out


def test_in_blocks_nothing_grows_with_the_rows_but_the_rotation():
    # the design: beyond the features and their (N, r) rotation, memory is bounded by the block
    n, d, c, block = 4000, 12, 5, 64
    x, y = _data(n, d, c)
    with _Sizes() as build:
        basis = Basis.of(x, block_rows=block)
    assert [k for k, size in build.created if size >= n] == ["aten.new_empty.default"]  # xr (N, r), once
    problem = LogisticProblem(basis, y, [0.1, 10.0], c)
    with _Sizes() as solve:
        batched_lbfgs(problem, problem.start([]), max_iter=3, precondition=problem.precondition)
    assert max(size for _, size in solve.created) < n  # no (N, C), (N, r) or (N,) temporary in a fit


def test_the_bench_builds_one_basis(monkeypatch):
    # two held at once (the plan's, then a fixed block's) was 3.66 GiB of the 1.28M-row peak
    bench = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "linear_scale.py"), run_name="bench")
    built, of = [], Basis.of.__func__
    monkeypatch.setattr(Basis, "of", classmethod(lambda cls, *a, **k: built.append(k) or of(cls, *a, **k)))
    row = bench["one"](3000, 8, 5, torch.device("cpu"), evals=1, iters=1, block_rows=512)
    assert len(built) == 1 and built[0]["block_rows"] == 512 and row["plan"]["block_rows"] == 512
    assert set(row["phases"]) == {"data", "basis", "objective", "fit"}


def test_wide_features_and_few_classes_are_blocked_for_the_basis_build():
    # 100k x 2,048 features, 10 classes: the solve's (B, C) temporaries are small, but the basis's
    # unblocked float64 centred copy (1.6 GB) is not: it must count, and blocks are then of the build's size
    n, d, c, budget = 100_000, 2048, 10, 3 << 30
    chosen = plan(n, d, c, 1, torch.device("cpu"), budget=budget)
    assert 0 < chosen.block_rows < n and chosen.bytes <= budget
    assert chosen.block_rows * 2 * d * 8 <= budget - n * d * (4 + 8)  # its build blocks fit beside the resident features
