"""lowshot: exactly k per class, draws differ across seeds and draws, and the interval is Student's t."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from evalsuite.datasets.base import DatasetSpec
from evalsuite.runner import REPO_ROOT, build_task, load_suite
from evalsuite.tasks.base import EvalContext
from evalsuite.stats import mean_ci95
from evalsuite.tasks.lowshot import LowShot, draw_subset

LABELS = np.repeat(np.arange(4), [30, 40, 50, 60])


@pytest.mark.parametrize("k", [1, 5, 25])
def test_exactly_k_per_class(k):
    idx = draw_subset(LABELS, f"k={k}", seed=0, draw=0)
    assert len(np.unique(idx)) == len(idx)
    assert np.bincount(LABELS[idx], minlength=4).tolist() == [k] * 4


def test_draws_differ_across_seeds_and_draws_and_repeat_exactly():
    draws = {(s, d): tuple(draw_subset(LABELS, "k=5", s, d)) for s in (0, 1, 2) for d in (0, 1)}
    assert len(set(draws.values())) == len(draws)
    assert tuple(draw_subset(LABELS, "k=5", 1, 1)) == draws[(1, 1)]


def test_fraction_is_class_balanced():
    idx = draw_subset(LABELS, "10%", seed=0, draw=0)
    assert np.bincount(LABELS[idx]).tolist() == [3, 4, 5, 6]
    assert np.bincount(LABELS[draw_subset(LABELS, "1%", 0, 0)]).tolist() == [1, 1, 1, 1]  # at least one each


def test_ci95_by_hand():
    mean, std, half = mean_ci95([0.5, 0.6, 0.7])
    assert mean == pytest.approx(0.6) and std == pytest.approx(0.1)
    assert half == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-5)  # t(0.975, 2) = 4.3027


def gaussian_ctx(seed: int = 0) -> EvalContext:
    """Features, not images: 4 classes of 8-d Gaussians around separated means."""
    rng = np.random.default_rng(0)
    means = rng.normal(0, 2, size=(4, 8))

    def split(n):
        y = np.repeat(np.arange(4), n)
        return torch.tensor(means[y] + rng.normal(0, 1, (len(y), 8)), dtype=torch.float32), torch.tensor(y)

    data = {"train": split(50), "test": split(25)}
    spec = DatasetSpec(name="gauss", splits={"train": [None] * 200, "test": [None] * 100}, classes=list("abcd"))
    return EvalContext(spec=spec, seed=seed, device=torch.device("cpu"), feature_fn=lambda s: data[s],
                       backbone_fn=None)


def test_task_reports_mean_and_interval_per_subset():
    task = LowShot(shots=(1, 10), fractions=(0.1,), draws=3, headline="k=10", wd_num=4, max_iter=50)
    out = task.run(gaussian_ctx())
    assert out.metric == "top1@k=10"
    assert set(out.metrics) == {"top1@k=1", "top1@k=1 ci95", "top1@k=10", "top1@k=10 ci95",
                                "top1@10%", "top1@10% ci95"}
    for size, info in out.extra["subsets"].items():
        assert info["n"] == 3 and len(info["scores"]) == 3
        mean, _, half = mean_ci95(info["scores"])
        assert out.metrics[f"top1@{size}"] == pytest.approx(mean)
        assert out.metrics[f"top1@{size} ci95"] == pytest.approx(half)
        assert info["ci95_low"] <= mean <= info["ci95_high"]
    assert out.extra["subsets"]["k=10"]["subset_size"] == 40
    assert out.value > 0.5  # separable classes: well above chance (1/4)
    other = task.run(gaussian_ctx(seed=1))
    assert other.extra["subsets"]["k=1"]["scores"] != out.extra["subsets"]["k=1"]["scores"]


def test_bad_settings_and_recipe():
    with pytest.raises(ValueError, match="valid sizes are: k=1, 1%"):
        LowShot(shots=(1,), fractions=(0.01,), headline="k=5")
    with pytest.raises(ValueError, match="draws >= 2"):
        LowShot(draws=1)
    task = build_task("lowshot", load_suite(str(REPO_ROOT / "tasks" / "lowshot.py"), {}))
    assert task.shots == (1, 5, 10, 25) and task.fractions == (0.01, 0.1) and task.draws == 5


def test_joint_grid_solve_gives_the_same_choice():
    base = dict(shots=(5,), fractions=(), draws=2, headline="k=5", wd_num=4, max_iter=200)
    one = LowShot(**base).run(gaussian_ctx())
    joint = LowShot(**base, grid_batch=4).run(gaussian_ctx())
    assert joint.extra["subsets"]["k=5"]["wds"] == one.extra["subsets"]["k=5"]["wds"]
    assert joint.value == pytest.approx(one.value, abs=0.02)
