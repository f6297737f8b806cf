"""The torch L-BFGS probe against scikit-learn's LogisticRegression on the same features."""

import numpy as np
import pytest
import torch
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
