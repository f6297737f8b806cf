"""The batched L-BFGS: each problem converges on its own, at its own pace."""

import torch

from evalsuite.tasks.lbfgs import batched_lbfgs


def quadratics(scales: torch.Tensor, centres: torch.Tensor):
    """f_g(x) = 1/2 sum_i a_gi (x_i - c_gi)^2, minimiser c_g."""

    def fun(x):
        diff = x - centres
        return 0.5 * (scales * diff.pow(2)).sum(1), scales * diff, None

    return fun


def test_each_problem_reaches_its_own_minimiser_at_its_own_pace():
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(3, 20, generator=g, dtype=torch.float64)
    scales = torch.stack([torch.ones(20), torch.logspace(0, 1, 20), torch.logspace(0, 2, 20)]).double()  # condition 1, 10, 100
    x, info = batched_lbfgs(quadratics(scales, centres), torch.zeros(3, 20, dtype=torch.float64), tol=1e-6)
    torch.testing.assert_close(x, centres, atol=1e-4, rtol=0)
    assert info["converged"].all()
    iters = info["iterations"].tolist()
    assert iters[0] <= 3 < iters[1] < iters[2]  # the easy problem did not wait for the hard ones
    alone, alone_info = batched_lbfgs(quadratics(scales[2:], centres[2:]), torch.zeros(1, 20, dtype=torch.float64), tol=1e-6)
    assert alone_info["iterations"].item() == iters[2]  # a neighbour does not change a problem's path
    torch.testing.assert_close(alone[0], x[2])


def test_a_stalled_problem_stops_without_holding_the_others():
    # problem 1 is flat but reports a gradient, so no step can decrease it: its line search
    # fails and it stops; problem 0 must still converge
    def fun(x):
        f = 0.5 * x.pow(2).sum(1)
        grad = x.clone()
        f[1], grad[1] = 0.0, 1e-3
        return f, grad, None

    x, info = batched_lbfgs(fun, torch.ones(2, 5), max_iter=50, tol=1e-6)
    assert info["converged"].tolist() == [True, False]
    assert x[0].abs().max() < 1e-6 and info["iterations"][1] < 50


def test_an_exact_preconditioner_takes_one_newton_step():
    """With M the inverse Hessian, the first direction is Newton's: a quadratic of condition 1e6
    is solved in one iteration, where plain L-BFGS needs many."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(2, 30, generator=g, dtype=torch.float64)
    scales = torch.logspace(0, 6, 30, dtype=torch.float64).expand(2, -1)
    fun = quadratics(scales, centres)

    def with_stats(x):
        f, grad, _ = fun(x)
        return f, grad, scales

    x, info = batched_lbfgs(with_stats, torch.zeros(2, 30, dtype=torch.float64), tol=1e-10,
                            precondition=lambda stats, v: v / stats)
    torch.testing.assert_close(x, centres)
    assert info["iterations"].tolist() == [1, 1]
    _, plain = batched_lbfgs(fun, torch.zeros(2, 30, dtype=torch.float64), tol=1e-10)
    assert (plain["iterations"] > 10).all()
