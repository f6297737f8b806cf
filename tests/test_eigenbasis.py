"""The probe's change of variables (features in their centred eigenbasis) is exact, and the
Kronecker preconditioner inverts the Hessian where its approximation holds."""

import pytest
import torch

from evalsuite.tasks.eigenbasis import Basis
from evalsuite.tasks.logistic import LogisticProblem


def _features(n: int, d: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    # uncentred, badly scaled columns, and (for d > n) more columns than samples
    return torch.randn(n, d, generator=g, dtype=torch.float64) * torch.logspace(-2, 2, d, dtype=torch.float64) + 3.0


@pytest.mark.parametrize("n, d", [(40, 12), (12, 40)])
def test_logits_through_the_basis_equal_the_raw_logits(n, d):
    x = _features(n, d)
    basis = Basis.of(x)
    assert basis.rank == min(n - 1, d)  # centring removes one direction when d >= n
    torch.testing.assert_close(basis.v.T @ basis.v, torch.eye(basis.rank, dtype=torch.float64))
    g = torch.Generator().manual_seed(1)
    z, b = torch.randn(2, basis.rank, 3, generator=g, dtype=torch.float64), torch.randn(2, 3, generator=g, dtype=torch.float64)
    weight, bias = basis.from_basis(z, b)  # (2, D, 3), (2, 3)
    torch.testing.assert_close(x @ weight + bias[:, None], basis.xr @ z + b[:, None])
    torch.testing.assert_close(weight.pow(2).sum((1, 2)), z.pow(2).sum((1, 2)))  # the penalty is unchanged
    z2, b2 = basis.to_basis(weight, bias)
    torch.testing.assert_close(z2, z)
    torch.testing.assert_close(b2, b)


def test_constant_features_leave_only_the_intercept():
    basis = Basis.of(torch.ones(10, 4, dtype=torch.float64))
    assert basis.xr.abs().max() == 0


@pytest.mark.parametrize("multilabel", [False, True])
def test_gradient_matches_autograd(multilabel):
    x = _features(30, 8)
    g = torch.Generator().manual_seed(2)
    y = (torch.rand(30, 3, generator=g) > 0.5).double() if multilabel else torch.randint(0, 3, (30,), generator=g)
    problem = LogisticProblem(Basis.of(x), y, [0.1, 10.0], 3, multilabel)
    theta = torch.randn(2, problem.r * 3 + 3, generator=g, dtype=torch.float64, requires_grad=True)
    values, grad, _ = problem(theta)
    torch.testing.assert_close(grad, torch.autograd.grad(values.sum(), theta)[0])


def test_preconditioner_inverts_the_hessian_where_every_sample_has_the_same_curvature():
    """With the weights at zero every sample has the same probabilities, so the Kronecker estimate
    is the exact Hessian: M (H v) = v for any v (intercepts taken orthogonal to the all-ones
    direction, along which a softmax has no curvature)."""
    x = _features(50, 6)
    g = torch.Generator().manual_seed(3)
    problem = LogisticProblem(Basis.of(x), torch.randint(0, 4, (50,), generator=g), [0.5], 4)
    theta = torch.cat([torch.zeros(1, problem.r * 4, dtype=torch.float64), torch.randn(1, 4, generator=g, dtype=torch.float64)], 1)
    v = torch.randn(1, problem.r * 4 + 4, generator=g, dtype=torch.float64)
    v[:, -4:] -= v[:, -4:].mean()
    hessian = torch.autograd.functional.hessian(lambda t: problem(t.view(1, -1))[0].sum(), theta[0])
    hv = (hessian @ v[0])[None]
    torch.testing.assert_close(problem.precondition(problem(theta)[2], hv), v)


def test_warm_start_candidates_are_verified_per_problem():
    """``start`` keeps, per penalty, whichever of zero and the candidates has the lowest objective:
    a far-off extrapolation is refused, a near one is taken."""
    x = _features(40, 5)
    g = torch.Generator().manual_seed(4)
    y = torch.randint(0, 3, (40,), generator=g)
    basis = Basis.of(x)
    problem = LogisticProblem(basis, y, [1e-3, 1e3], 3)
    near_z = torch.randn(1, basis.rank, 3, generator=g, dtype=torch.float64) * 1e-3
    near = basis.from_basis(near_z, torch.zeros(1, 3, dtype=torch.float64))
    far = basis.from_basis(near_z * 1e6, torch.zeros(1, 3, dtype=torch.float64))
    theta = problem.start([far, near])
    zero = torch.zeros(1, problem.r * 3 + 3, dtype=torch.float64)
    values = {name: problem(t.expand(2, -1).contiguous())[0] for name, t in
              (("zero", zero), ("near", problem.join(near_z, torch.zeros(1, 3, dtype=torch.float64))))}
    chosen = problem(theta)[0]
    torch.testing.assert_close(chosen, torch.minimum(values["zero"], values["near"]))
    assert problem(problem.start([far]))[0].tolist() == values["zero"].tolist()


def test_past_max_rank_the_features_are_only_centred_and_the_fit_is_the_same():
    """Where the eigendecomposition would not fit (min(N, D) > max_rank), the basis is the centred
    features themselves: the same logits, and the probe reaches the same minimiser."""
    from evalsuite.tasks.linear import ProbeSettings, fit_logistic

    x = _features(60, 8)
    plain = Basis.of(x, max_rank=4)
    assert plain.v is None and plain.rank == 8
    g = torch.Generator().manual_seed(5)
    z, b = torch.randn(1, 8, 3, generator=g, dtype=torch.float64), torch.randn(1, 3, generator=g, dtype=torch.float64)
    weight, bias = plain.from_basis(z, b)
    torch.testing.assert_close(x @ weight + bias[:, None], plain.xr @ z + b[:, None])
    y = torch.randint(0, 3, (60,), generator=g)
    settings = ProbeSettings(metric="top1", num_classes=3, tol=1e-8)
    rotated, centred = fit_logistic(x, y, [1.0], settings), fit_logistic(x, y, [1.0], settings, basis=plain)
    assert rotated.record(0)["converged"] and centred.record(0)["converged"]
    torch.testing.assert_close(centred.weight, rotated.weight, atol=1e-5, rtol=1e-4)
