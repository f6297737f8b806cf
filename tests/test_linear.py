"""The torch L-BFGS probe against scikit-learn's LogisticRegression on the same features."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression

from evalsuite.datasets.base import stratified_holdout
from evalsuite.datasets.digits import digits_arrays
from evalsuite.tasks.base import Split, concat
from evalsuite.tasks.linear import Standardizer, fit_and_score, fit_logistic, sweep, wd_grid


@pytest.fixture(scope="module")
def digits_splits():
    images, labels = digits_arrays()
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32))
    y = torch.from_numpy(labels)
    trval, test = stratified_holdout(labels, 0.3, 0)
    tr, va = stratified_holdout(labels[trval], 0.2, 0)
    full = Split(x[trval], y[trval])
    return Split(full.features[tr], full.targets[tr]), Split(full.features[va], full.targets[va]), Split(x[test], y[test])


def test_objective_minimiser_matches_sklearn(digits_splits):
    train, _, _ = digits_splits
    x = Standardizer(train.features)(train.features)
    wd = 10.0
    w, b = fit_logistic(x, train.targets, wd, 10, tol=1e-7)
    ref = LogisticRegression(C=1 / wd, max_iter=5000, tol=1e-8).fit(x.numpy(), train.targets.numpy())
    np.testing.assert_allclose(w.T.numpy(), ref.coef_, atol=2e-3)
    # sklearn's multinomial intercepts are defined up to a shared constant
    np.testing.assert_allclose(b.numpy() - b.numpy().mean(), ref.intercept_ - ref.intercept_.mean(), atol=5e-3)  # float32 vs float64


def test_sweep_chooses_like_sklearn(digits_splits):
    train, val, test = digits_splits
    grid = wd_grid()
    assert len(grid) == 45 and np.isclose(grid[0], 1e-6) and np.isclose(grid[-1], 1e5)
    wd, curve, _ = sweep(train, val, grid, "top1", 10, False, torch.device("cpu"))
    ours_test = fit_and_score(concat(train, val), test, wd, "top1", 10, False, torch.device("cpu"))

    norm = Standardizer(train.features)
    xt, xv = norm(train.features).numpy(), norm(val.features).numpy()
    val_acc = {}
    for c_wd in sorted(grid, reverse=True):
        clf = LogisticRegression(C=1 / c_wd, max_iter=1000).fit(xt, train.targets.numpy())
        val_acc[c_wd] = clf.score(xv, val.targets.numpy())
    best = max(val_acc.values())
    sk_wd = max(w for w, a in val_acc.items() if a == best)  # ties -> stronger penalty
    step = np.log10(grid[1]) - np.log10(grid[0])
    assert abs(np.log10(wd) - np.log10(sk_wd)) <= step + 1e-9
    full = concat(train, val)
    nf = Standardizer(full.features)
    sk_test = LogisticRegression(C=1 / sk_wd, max_iter=1000).fit(nf(full.features).numpy(), full.targets.numpy()).score(
        nf(test.features).numpy(), test.targets.numpy())
    assert abs(ours_test - sk_test) <= 0.005
    assert ours_test > 0.9  # digits pixels are nearly linearly separable
    assert dict(curve)[wd] == max(s for _, s in curve)


def test_multilabel_probe_learns_separable_labels():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    y = torch.stack([(x[:, 0] > 0), (x[:, 1] > 0), (x[:, 0] + x[:, 1] > 0)], 1).float()
    train, val, test = Split(x[:100], y[:100]), Split(x[100:150], y[100:150]), Split(x[150:], y[150:])
    wd, _, _ = sweep(train, val, wd_grid(-3, 2, 6), "map11", 3, True, torch.device("cpu"))
    assert fit_and_score(concat(train, val), test, wd, "map11", 3, True, torch.device("cpu")) > 0.95


def test_joint_grid_solve_equals_separate_solves(digits_splits):
    train, val, _ = digits_splits
    x = Standardizer(train.features)(train.features)
    wds = [100.0, 1.0, 0.01]
    w_joint, b_joint = fit_logistic(x, train.targets, wds, 10, tol=1e-6)
    assert w_joint.shape == (3, 64, 10)
    for i, wd in enumerate(wds):
        w, b = fit_logistic(x, train.targets, wd, 10, tol=1e-6)
        joint_logits, logits = x @ w_joint[i] + b_joint[i], x @ w + b

        def objective(z, weight):
            return F.cross_entropy(z, train.targets).item() + wd / (2 * len(x)) * weight.pow(2).sum().item()

        assert objective(joint_logits, w_joint[i]) == pytest.approx(objective(logits, w), rel=1e-2)
        assert (joint_logits.argmax(1) == logits.argmax(1)).float().mean() > 0.99
    grid = wd_grid(-3, 3, 13)
    seq = sweep(train, val, grid, "top1", 10, False, torch.device("cpu"))
    joint = sweep(train, val, grid, "top1", 10, False, torch.device("cpu"), grid_batch=13)
    assert abs(np.log10(seq[0]) - np.log10(joint[0])) <= 0.5 + 1e-9  # within one grid step
    assert max(abs(a[1] - b[1]) for a, b in zip(seq[1], joint[1])) <= 0.01
