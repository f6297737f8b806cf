"""Losses, EMA schedule and augmentations of the pre-training methods, against hand-computed values."""

from __future__ import annotations

import math

import pytest
import torch

from evalsuite.pretrain.augment import ViewSpec, augment_view
from evalsuite.pretrain.byol import ema_momentum
from evalsuite.pretrain.losses import byol_regression, collapse_std, info_nce, negative_cosine, nt_xent
from evalsuite.pretrain.simsiam import SimSiam


def test_negative_cosine_hand_values():
    p = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    z = torch.tensor([[2.0, 0.0], [4.0, -3.0]])
    # cos = 1 for row 0 and 0 for row 1 -> D = -(1 + 0) / 2
    assert negative_cosine(p, z).item() == pytest.approx(-0.5)
    assert byol_regression(p, z).item() == pytest.approx(((2 - 2) + (2 - 0)) / 2)


def test_simsiam_symmetric_loss_hand_value():
    """``SimSiam.loss`` itself on vectors whose cosines are known: backbone and projector are the
    identity and the predictor a fixed 2x2 map, so z = x and p = W x (Chen & He 2021, Eq. 2)."""
    model = SimSiam(arch="resnet_tiny", dim=2, proj_layers=1, pred_hidden=2)
    model.backbone, model.projector = torch.nn.Identity(), torch.nn.Identity()
    model.predictor = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        model.predictor.weight.copy_(torch.tensor([[0.0, -1.0], [1.0, -1.0]]))
    # row 0: z1 = (0, -1), z2 = (1, 0) -> p1 = (1, 1), cos(p1, z2) = 1/sqrt(2); p2 = (0, 1), cos(p2, z1) = -1.
    # row 1: the same directions scaled by 3 (the cosine ignores length).
    x1, x2 = torch.tensor([[0.0, -1.0], [0.0, -3.0]]), torch.tensor([[1.0, 0.0], [3.0, 0.0]])
    out = model.loss([x1, x2])
    assert out["loss"].item() == pytest.approx((-1 / math.sqrt(2) + 1) / 2)
    assert out["std"].item() == pytest.approx(0.0, abs=1e-7)  # both rows of z1 point the same way


def test_nt_xent_hand_value():
    # Two images, identical views, orthogonal: each anchor has sim 1 to its positive and 0 to the
    # two negatives, so every term is -log(e / (e + 1 + 1)) at tau = 1.
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    assert nt_xent(z, z.clone(), temperature=1.0).item() == pytest.approx(math.log(math.e + 2) - 1, rel=1e-6)
    # tau = 0.5 doubles every logit.
    assert nt_xent(z, z.clone(), temperature=0.5).item() == pytest.approx(math.log(math.e ** 2 + 2) - 2, rel=1e-6)


def test_nt_xent_is_symmetric_and_uses_all_negatives():
    torch.manual_seed(0)
    z1, z2 = torch.randn(6, 8), torch.randn(6, 8)
    assert nt_xent(z1, z2, 0.5).item() == pytest.approx(nt_xent(z2, z1, 0.5).item(), rel=1e-6)
    # Reference straight from Eq. 1, one anchor at a time.
    z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
    terms = []
    for i in range(12):
        j = (i + 6) % 12
        sims = torch.stack([z[i] @ z[k] / 0.5 for k in range(12) if k != i])
        terms.append(-(z[i] @ z[j] / 0.5) + torch.logsumexp(sims, 0))
    assert nt_xent(z1, z2, 0.5).item() == pytest.approx(torch.stack(terms).mean().item(), rel=1e-5)


def test_info_nce_hand_value():
    a = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # anchor i must pick row i: sims 1 (positive) and 0 (other row) at tau = 1.
    assert info_nce(a, a.clone(), 1.0).item() == pytest.approx(math.log(math.e + 1) - 1, rel=1e-6)


def test_collapse_std():
    assert collapse_std(torch.ones(8, 16)).item() == pytest.approx(0.0, abs=1e-6)
    healthy = collapse_std(torch.randn(4096, 64)).item()
    assert healthy == pytest.approx(1 / math.sqrt(64), rel=0.05)


def test_byol_tau_schedule():
    assert ema_momentum(0, 100, 0.996) == pytest.approx(0.996)
    assert ema_momentum(50, 100, 0.996) == pytest.approx(0.998)
    assert ema_momentum(100, 100, 0.996) == pytest.approx(1.0)


def test_augment_fresh_params_per_sample_and_seeded():
    img = (torch.arange(3 * 16 * 16) % 251).to(torch.uint8).view(1, 3, 16, 16).repeat(8, 1, 1, 1)
    spec = ViewSpec(size=12, blur_p=0.5, solarize_p=0.5)
    a = augment_view(img, spec, torch.Generator().manual_seed(1))
    b = augment_view(img, spec, torch.Generator().manual_seed(1))
    assert a.shape == (8, 3, 12, 12) and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b)
    # identical inputs, different views: every sample drew its own parameters
    assert all(not torch.allclose(a[0], a[i]) for i in range(1, 8))


def test_identity_view_is_exact():
    img = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8)
    spec = ViewSpec(size=8, crop_scale=(1, 1), crop_ratio=(1, 1), flip_p=0, jitter_p=0, gray_p=0)
    out = augment_view(img, spec, torch.Generator().manual_seed(0))
    assert torch.allclose(out, img.float() / 255, atol=1e-5)
