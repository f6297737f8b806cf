"""The torch L-BFGS probe against a tightly converged scikit-learn LogisticRegression on the same
features: the objective's minimiser, every point of the val curve, the chosen wd and test accuracy."""

from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from evalsuite.datasets.base import IGNORE, stratified_holdout
from evalsuite.datasets.digits import digits_arrays
from evalsuite.tasks.base import Split, concat
from evalsuite.tasks.linear import Linear, ProbeSettings, Standardizer, fit_and_score, fit_logistic, sweep, wd_grid

CPU = torch.device("cpu")
#: Every 4th value of the protocol's grid (1e-6 .. 1e5), and every 8th for the 512-d set: the
#: tightly converged reference costs most of these tests' time.
GRID = wd_grid()[::4]
GRIDS = {"digits_splits": GRID, "wide_splits": wd_grid()[::8]}


def _splits(x: torch.Tensor, labels: np.ndarray):
    y = torch.from_numpy(labels)
    trval, test = stratified_holdout(labels, 0.3, 0)
    tr, va = stratified_holdout(labels[trval], 0.2, 0)
    full = Split(x[trval], y[trval])
    return Split(full.features[tr], full.targets[tr]), Split(full.features[va], full.targets[va]), Split(x[test], y[test])


@pytest.fixture(scope="module")
def digits_splits():
    """Digits pixels (64-d)."""
    images, labels = digits_arrays()
    return _splits(torch.from_numpy(images.reshape(len(images), -1).astype(np.float32)), labels)


@pytest.fixture(scope="module")
def wide_splits():
    """A 512-d feature set: digits pixels through a fixed random ReLU layer (a random backbone)."""
    images, labels = digits_arrays()
    x = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32)) / 255
    proj = torch.randn(64, 512, generator=torch.Generator().manual_seed(0)) / 8
    return _splits(torch.relu((x - 0.3) @ proj), labels)


def numpy_standardize(fit_on: torch.Tensor, *xs: torch.Tensor) -> list[np.ndarray]:
    """The probe's standardisation written in numpy, independent of ``Standardizer``: mean and
    std (ddof 1, floored at 1e-6 for constant pixels) of ``fit_on``, applied to each of ``xs``."""
    ref = fit_on.double().numpy()
    mean, std = ref.mean(0), np.maximum(ref.std(0, ddof=1), 1e-6)
    return [(x.double().numpy() - mean) / std for x in xs]


def sklearn_reference(train: Split, val: Split, test: Split, grid: list[float]):
    """Tightly converged scikit-learn: val score per wd, the chosen wd (ties: stronger) and its test score."""
    xt, xv = numpy_standardize(train.features, train.features, val.features)
    curve = {}
    for wd in grid:
        clf = LogisticRegression(C=1 / wd, tol=1e-10, max_iter=20000).fit(xt, train.targets.numpy())
        curve[wd] = clf.score(xv, val.targets.numpy())
    best = max(curve.values())
    wd = max(w for w, a in curve.items() if a == best)
    full = concat(train, val)
    xf, xtest = numpy_standardize(full.features, full.features, test.features)
    clf = LogisticRegression(C=1 / wd, tol=1e-10, max_iter=20000).fit(xf, full.targets.numpy())
    return curve, wd, clf.score(xtest, test.targets.numpy())


def test_objective_minimiser_matches_sklearn(digits_splits):
    train, _, _ = digits_splits
    (x,) = numpy_standardize(train.features, train.features)
    wd = 10.0
    fit = fit_logistic(torch.from_numpy(x).float(), train.targets, [wd], ProbeSettings(metric="top1", num_classes=10))
    ref = LogisticRegression(C=1 / wd, max_iter=5000, tol=1e-10).fit(x, train.targets.numpy())
    np.testing.assert_allclose(fit.weight[0].T.numpy(), ref.coef_, atol=5e-5)  # tol 1e-4 relative to max|W|
    # sklearn's multinomial intercepts are defined up to a shared constant
    b = fit.bias[0].numpy()
    np.testing.assert_allclose(b - b.mean(), ref.intercept_ - ref.intercept_.mean(), atol=5e-4)
    assert fit.record(0)["converged"] and not fit.record(0)["capped"]


@pytest.mark.parametrize("features", ["digits_splits", "wide_splits"])
def test_sweep_matches_converged_sklearn_at_every_wd(features, request):
    """Warm one by one (the CPU path) and cold all at once (``grid_batch``, the GPU path) both
    within 0.2 points of the reference at every wd, the same wd within one grid step, test
    accuracy within 0.3 points."""
    train, val, test = request.getfixturevalue(features)
    grid = GRIDS[features]
    step = np.log10(grid[1]) - np.log10(grid[0])
    ref_curve, ref_wd, ref_test = sklearn_reference(train, val, test, grid)
    for grid_batch in (0, len(grid)):
        settings = ProbeSettings(metric="top1", num_classes=10, grid_batch=grid_batch)
        wd, curve, fit = sweep(train, val, grid, settings)
        gaps = [abs(r["val"] - ref_curve[r["wd"]]) for r in curve]
        assert max(gaps) <= 0.002, (grid_batch, [(r["wd"], r["val"], ref_curve[r["wd"]]) for r in curve])
        assert all(r["converged"] and not r["capped"] for r in curve)
        assert abs(np.log10(wd) - np.log10(ref_wd)) <= step + 1e-9
        test_score, final = fit_and_score(concat(train, val), test, wd, settings, init=fit)
        assert abs(test_score - ref_test) <= 0.003 and final["converged"]


def test_warm_starts_are_verified_not_trusted(digits_splits):
    """A warm start from a far worse point (another problem's weights scaled up) must not be
    kept, and a warm start already near the minimiser must still meet this penalty's test."""
    train, _, _ = digits_splits
    x = Standardizer(train.features)(train.features)
    settings = ProbeSettings(metric="top1", num_classes=10)
    cold = fit_logistic(x, train.targets, [1e-2], settings)
    bad = replace(cold, weight=cold.weight * -50)
    from_bad = fit_logistic(x, train.targets, [1e-2], settings, init=bad)
    assert from_bad.record(0)["iterations"] == cold.record(0)["iterations"]  # started from zero, as cold
    near = fit_logistic(x, train.targets, [1.78e-2], settings)  # the previous grid point's minimiser
    warm = fit_logistic(x, train.targets, [1e-2], settings, init=near)
    assert warm.record(0)["iterations"] > 1  # the old absolute 1e-4 test stopped here at once
    torch.testing.assert_close(warm.weight, cold.weight, atol=1e-3 * cold.weight.abs().max().item(), rtol=0)


def test_ties_break_toward_the_chosen_side():
    # two well-separated blobs: every penalty of the grid scores 100% on val
    g = torch.Generator().manual_seed(0)
    y = torch.arange(40) % 2
    x = torch.randn(40, 3, generator=g) + 6 * y[:, None]
    train, val = Split(x[:30], y[:30]), Split(x[30:], y[30:])
    grid = [1e-2, 1.0, 100.0]
    strong, curve, _ = sweep(train, val, grid, ProbeSettings(metric="top1", num_classes=2))
    weak, _, _ = sweep(train, val, grid, ProbeSettings(metric="top1", num_classes=2, ties="weaker"))
    assert {r["val"] for r in curve} == {1.0}
    assert strong == 100.0 and weak == 1e-2


def test_unstandardized_probe_fits_the_features_as_given(digits_splits):
    """standardize=False on features standardised by hand equals the standardising probe on raw
    ones (same statistics: train's), and differs from it on the raw features."""
    train, val, _ = digits_splits
    train = Split(train.features[:300], train.targets[:300])
    xt, xv = (torch.from_numpy(x).float() for x in numpy_standardize(train.features, train.features, val.features))
    by_hand = Split(xt, train.targets), Split(xv, val.targets)
    grid = [100.0, 10000.0]
    _, curve, _ = sweep(train, val, grid, ProbeSettings(metric="top1", num_classes=10))
    _, curve_raw_off, _ = sweep(*by_hand, grid, ProbeSettings(metric="top1", num_classes=10, standardize=False))
    assert [r["val"] for r in curve] == [r["val"] for r in curve_raw_off]
    _, curve_raw, _ = sweep(train, val, grid, ProbeSettings(metric="top1", num_classes=10, standardize=False))
    assert [r["val"] for r in curve_raw] != [r["val"] for r in curve]


def test_a_fit_stopped_by_the_cap_is_flagged_in_the_row(digits_splits):
    train, val, _ = digits_splits
    _, curve, _ = sweep(train, val, [1e-4, 1.0], ProbeSettings(metric="top1", num_classes=10, max_iter=3))
    assert all(r["capped"] and not r["converged"] and r["iterations"] == 3 and r["grad_norm"] > r["threshold"]
               for r in curve)


@pytest.mark.parametrize("bad, message", [({"dtype": "float16"}, "dtype"), ({"ties": "first"}, "ties"),
                                          ({"tol": 0.0}, "tol"), ({"max_iter": 0}, "max_iter")])
def test_bad_probe_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        Linear(**bad)


def test_multilabel_probe_learns_separable_labels():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 5, generator=g)
    y = torch.stack([(x[:, 0] > 0), (x[:, 1] > 0), (x[:, 0] + x[:, 1] > 0)], 1).float()
    train, val, test = Split(x[:100], y[:100]), Split(x[100:150], y[100:150]), Split(x[150:], y[150:])
    settings = ProbeSettings(metric="map11", num_classes=3, multilabel=True)
    wd, _, _ = sweep(train, val, wd_grid(-3, 2, 6), settings)
    assert fit_and_score(concat(train, val), test, wd, settings)[0] > 0.95


def test_multilabel_probe_fits_ignored_pairs_as_negatives():
    """An IGNORE pair is fitted as the VOC07 benchmarks fit it (fair_self_supervision_benchmark's
    train_svm_kfold.py, vissl's svm_trainer.py): a negative. So the fit is the one with the pair
    at 0, whatever the image holds, and not the one with it at 1; the sweep scores with it left out."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(60, 4, generator=g, dtype=torch.float64)
    y = torch.stack([(x[:, 0] > 0), (x[:, 1] > 0)], 1).double()
    ignored = y.clone()
    ignored[:6, 0] = IGNORE
    settings = ProbeSettings(metric="map11", num_classes=2, multilabel=True)
    fit = fit_logistic(x, ignored, [0.1], settings)
    as_negative = y.clone()
    as_negative[:6, 0] = 0.0
    torch.testing.assert_close(fit.weight, fit_logistic(x, as_negative, [0.1], settings).weight, rtol=0, atol=0)
    as_positive = y.clone()
    as_positive[:6, 0] = 1.0
    assert not torch.allclose(fit.weight, fit_logistic(x, as_positive, [0.1], settings).weight)
    _, curve, _ = sweep(Split(x[:40], ignored[:40]), Split(x[40:], ignored[40:]), [0.1, 10.0], settings)
    assert all(0 <= r["val"] <= 1 and r["converged"] for r in curve)
