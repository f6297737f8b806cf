"""Each CIFAR-10 recipe's batched augmentation draws what lightly's transform draws, at 32 px.

For every distinct view of the four recipes, 1,500 draws on each side (fixed seeds, so the test
is deterministic) of: crop area and log aspect ratio (whole pixels), horizontal flip, whether the
colour jitter applies and its brightness, contrast, saturation and hue factors, grey, Gaussian
blur and its sigma, solarisation (measured as ``tests/fixtures/augment_readback.py`` describes).
Continuous parameters: two-sample Kolmogorov-Smirnov; rates: two-proportion z-test; each must
keep p > 0.001. The lightly transforms are lightly's own classes with the parameters the recipe
cites, written here as constants: SimSiam and BYOL exactly as lightly's cifar10_benchmark.py
builds them (``gaussian_blur=0``), SimCLR at lightly's defaults (Chen et al. 2020, App. A: jitter
strength 1, blur p = 0.5, as solo-learn's cifar/augmentations/symmetric.yaml) where the
benchmark uses ``cj_strength=0.5`` and no blur (pinned in test_lightly_oracle_pins.py). NNCLR's
views are BYOL's (solo-learn's asymmetric.yaml); the benchmark gives NNCLR SimCLR's.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from lightly.transforms.byol_transform import BYOLView1Transform, BYOLView2Transform
from lightly.transforms.simclr_transform import SimCLRViewTransform
from lightly.transforms.simsiam_transform import SimSiamViewTransform
from scipy import stats

from evalsuite.pretrain.preprocessor import MultiViewPreprocessor
from evalsuite.pretrain.trainer import load_recipe
from tests.fixtures.augment_readback import evalsuite_draws, lightly_draws

DRAWS, ALPHA = 1500, 1e-3
CONTINUOUS = ("area", "log_ratio", "brightness", "contrast", "saturation", "hue", "blur")
RATES = ("flip", "jitter", "gray", "solarize")
REFERENCE = {  # (recipe, view) -> lightly's view transform, without normalisation
    ("simsiam_cifar10_resnet18", 0): lambda: SimSiamViewTransform(input_size=32, gaussian_blur=0.0, normalize=None),
    ("simclr_cifar10_resnet18", 0): lambda: SimCLRViewTransform(input_size=32, normalize=None),
    ("byol_cifar10_resnet18", 0): lambda: BYOLView1Transform(input_size=32, gaussian_blur=0.0, normalize=None),
    ("byol_cifar10_resnet18", 1): lambda: BYOLView2Transform(input_size=32, gaussian_blur=0.0, normalize=None),
}


def recipe_views(recipe: str):
    return MultiViewPreprocessor(list(load_recipe(recipe).views)).views


def two_proportion_p(a: np.ndarray, b: np.ndarray) -> float:
    pooled = (a.sum() + b.sum()) / (len(a) + len(b))
    if pooled in (0.0, 1.0):
        return 1.0
    se = math.sqrt(pooled * (1 - pooled) * (1 / len(a) + 1 / len(b)))
    return float(2 * stats.norm.sf(abs(a.mean() - b.mean()) / se))


def compare(ours: dict, theirs: dict) -> list[str]:
    """The parameters whose distributions differ at ALPHA, with both sides' summary."""
    failures = []
    for key in CONTINUOUS:
        a, b = ours[key][~np.isnan(ours[key])], theirs[key][~np.isnan(theirs[key])]
        if len(a) == 0 or len(b) == 0:
            if len(a) != len(b):
                failures.append(f"{key}: drawn {len(a)} times here, {len(b)} times by lightly")
            continue
        p = stats.ks_2samp(a, b).pvalue
        if p <= ALPHA:
            failures.append(f"{key}: KS p = {p:.1e} (mean {a.mean():.4f} here, {b.mean():.4f} lightly; "
                            f"range {a.min():.3f}..{a.max():.3f} / {b.min():.3f}..{b.max():.3f})")
    for key in RATES:
        p = two_proportion_p(ours[key], theirs[key])
        if p <= ALPHA:
            failures.append(f"{key}: rate {ours[key].mean():.3f} here, {theirs[key].mean():.3f} lightly (p = {p:.1e})")
    return failures


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("recipe, view", sorted(REFERENCE))
def test_view_draws_what_lightly_draws(recipe, view):
    ours = evalsuite_draws(recipe_views(recipe)[view], DRAWS, seed=view)
    theirs = lightly_draws(REFERENCE[recipe, view](), DRAWS, seed=view)
    assert compare(ours, theirs) == []


def test_views_without_their_own_measurement_are_measured_ones():
    """SimSiam and SimCLR draw both views alike (as lightly's SimSiamTransform and SimCLRTransform);
    NNCLR's two views are BYOL's."""
    for recipe in ("simsiam_cifar10_resnet18", "simclr_cifar10_resnet18"):
        first, second = recipe_views(recipe)
        assert first == second
    assert recipe_views("nnclr_cifar10_resnet18") == recipe_views("byol_cifar10_resnet18")


def test_the_comparison_detects_a_weaker_jitter():
    """The test's power: SimSiam's saturation at 0.2 instead of 0.4 fails it."""
    spec = dataclasses.replace(recipe_views("simsiam_cifar10_resnet18")[0], jitter=(0.4, 0.4, 0.2, 0.1))
    ours = evalsuite_draws(spec, DRAWS)
    theirs = lightly_draws(REFERENCE["simsiam_cifar10_resnet18", 0](), DRAWS)
    assert [f.split(":")[0] for f in compare(ours, theirs)] == ["saturation"]
