"""Where the CIFAR-10 recipes deliberately differ from lightly 1.6.0 and its cifar10_benchmark.py
(docs/source/getting_started/benchmarks/cifar10_benchmark.py), pinned: each recipe follows
solo-learn's scripts/pretrain/cifar/*.yaml or the method's official code and says so in
its comment. A change on either side fails here and has to be read and re-decided.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lightly.loss import NTXentLoss
from lightly.models.modules import heads
from lightly.models.modules.nn_memory_bank import NNMemoryBankModule
from lightly.transforms import SimCLRTransform
from lightly.utils.lars import LARS as LightlyLARS
from lightly.utils.scheduler import cosine_schedule
from torch import nn

from evalsuite.lars import LARS
from evalsuite.pretrain.byol import ema_momentum
from evalsuite.pretrain.heads import mlp
from evalsuite.pretrain.losses import info_nce
from evalsuite.pretrain.nnclr import NNCLR
from evalsuite.pretrain.trainer import load_recipe
from tests.fixtures.lightly_reference import nnclr_info_nce


def layout(module: nn.Module) -> list[tuple]:
    """(type, weight shape, affine) of every Linear and BatchNorm, in order."""
    return [(type(m).__name__, tuple(m.weight.shape) if getattr(m, "weight", None) is not None else None,
             getattr(m, "affine", None)) for m in module.modules() if isinstance(m, (nn.Linear, nn.BatchNorm1d))]


def test_simsiam_projector_output_bn_has_no_affine_as_lightlys_own_head():
    """The benchmark's 2-layer SimSiam projector ends in an affine BN; evalsuite's (2 or 3 layers)
    ends without affine, as lightly's SimSiamProjectionHead and the official builder do."""
    assert layout(mlp(512, [2048] * 3, last_bn="no_affine")) == layout(heads.SimSiamProjectionHead(512, 2048, 2048))
    benchmark = heads.ProjectionHead([(512, 2048, nn.BatchNorm1d(2048), nn.ReLU()), (2048, 2048, nn.BatchNorm1d(2048), None)])
    assert layout(benchmark)[-1] == ("BatchNorm1d", (2048,), True)
    assert layout(mlp(512, [2048] * 2, last_bn="no_affine"))[-1] == ("BatchNorm1d", None, False)


def test_simclr_head_and_temperature_follow_solo_learn():
    """lightly's SimCLRProjectionHead adds a BN on the output and NTXentLoss defaults to 0.5; the
    recipe (solo-learn simclr.yaml) projects 2048 -> 256 without it, at temperature 0.2."""
    ours = layout(mlp(512, [2048, 256], last_bn="none"))
    assert layout(heads.SimCLRProjectionHead(512, 2048, 256)) == [*ours[:2], ("Linear", (256, 2048), None),
                                                                 ("BatchNorm1d", (256,), True)]
    assert ours[-1] == ("Linear", (256, 2048), None)
    assert NTXentLoss().temperature == 0.5 and load_recipe("simclr_cifar10_resnet18").method.temperature == 0.2


def test_simclr_jitter_is_twice_the_benchmarks():
    """The benchmark's SimCLRTransform(cj_strength=0.5, gaussian_blur=0) against the recipe's
    strength 1 and blur p = 0.5 (Chen et al. 2020, App. A; solo-learn symmetric.yaml)."""
    jitter = next(t for t in SimCLRTransform(input_size=32, cj_strength=0.5, gaussian_blur=0.0).transforms[0]
                  .transform.transforms if type(t).__name__ == "RandomApply").transforms[0]
    benchmark = (jitter.brightness[1] - 1, jitter.contrast[1] - 1, jitter.saturation[1] - 1, jitter.hue[1])
    view = load_recipe("simclr_cifar10_resnet18").views[0]
    assert [round(2 * v, 6) for v in benchmark] == list(view["jitter"]) and view["blur_p"] == 0.5


def test_byol_tau_is_lightlys_cosine_schedule_one_step_later():
    """evalsuite updates the target after step k with tau(k) (solo-learn's order); lightly's
    benchmark updates before step k's forward with cosine_schedule(k, K), whose cosine runs over
    K - 1 steps. tau(k) = cosine_schedule(k, K + 1) exactly."""
    total = 10
    for k in range(total):
        assert abs(ema_momentum(k, total, 0.99) - cosine_schedule(k, total + 1, 0.99, 1.0)) < 1e-12
    assert abs(ema_momentum(3, total, 0.99) - cosine_schedule(3, total, 0.99, 1.0)) > 1e-4


def test_nnclr_loss_is_eq2_not_lightlys_symmetric_ntxent():
    """Dwibedi et al. 2021, Eq. 2 (solo-learn's loss): neighbours against the other view's
    predictions only; the benchmark's NTXentLoss(nn, p) also contrasts nn with nn and p with p."""
    g = torch.Generator().manual_seed(0)
    nn_, p = torch.randn(8, 16, generator=g, dtype=torch.float64), torch.randn(8, 16, generator=g, dtype=torch.float64)
    ours = info_nce(nn_, p, 0.2)
    torch.testing.assert_close(ours, nnclr_info_nce(nn_, p, 0.2), rtol=1e-12, atol=0)
    assert abs(ours - NTXentLoss(temperature=0.2)(nn_, p)) > 0.1


def test_nnclr_queue_wraps_where_lightlys_bank_drops_the_overflow():
    """A batch that passes the end of the support set: evalsuite wraps it to the front (FIFO);
    lightly's memory bank writes up to the end and drops the rest. Equal when the size is a
    multiple of the batch, which solo-learn asserts and the recipes keep (65,536 = 128 x 512)."""
    model = NNCLR("resnet_tiny", proj_dims=(8, 8, 4), pred_dims=(8, 4), queue_size=6)
    bank = NNMemoryBankModule(size=(6, 4))
    batches = [F.normalize(torch.randn(4, 4, generator=torch.Generator().manual_seed(i)), dim=1) for i in range(2)]
    for z in batches:
        model.enqueue(z)
        bank(z, update=True)
    torch.testing.assert_close(model.queue[:2], batches[1][2:])  # wrapped
    assert not torch.allclose(bank.bank[:2], batches[1][2:])  # dropped: the old rows stay
    assert 65536 % 512 == 0 == load_recipe("nnclr_cifar10_resnet18").method.queue_size % 512


def test_lars_trust_ratio_divides_by_the_decayed_update_norm():
    """evalsuite: eta ||w|| / ||g + wd w|| (SimCLR's reference LARS, google-research/simclr
    lars_optimizer.py); lightly, solo-learn and You et al. 2017 (Eq. 6): eta ||w|| / (||g|| +
    wd ||w||). Same direction, same momentum and exclusions (a 1-d parameter in a group without
    decay takes the same plain momentum step); the step sizes differ by exactly that ratio."""
    g = torch.Generator().manual_seed(0)
    w0, grad = torch.randn(8, 8, generator=g, dtype=torch.float64), torch.randn(8, 8, generator=g, dtype=torch.float64) * 0.01
    b0, b_grad = torch.randn(8, generator=g, dtype=torch.float64), torch.randn(8, generator=g, dtype=torch.float64)
    steps = {}
    for name, opt_cls, kw in (("ours", LARS, dict(eta=0.02)), ("lightly", LightlyLARS, dict(trust_coefficient=0.02))):
        w, b = nn.Parameter(w0.clone()), nn.Parameter(b0.clone())
        w.grad, b.grad = grad.clone(), b_grad.clone()
        opt_cls([dict(params=[w], weight_decay=1e-2), dict(params=[b], weight_decay=0.0)], lr=0.5, momentum=0.9, **kw).step()
        steps[name] = (w0 - w.detach(), b0 - b.detach())
    torch.testing.assert_close(steps["ours"][1], steps["lightly"][1], rtol=1e-12, atol=0)
    ours, theirs = steps["ours"][0], steps["lightly"][0]
    assert F.cosine_similarity(ours.flatten(), theirs.flatten(), dim=0) > 1 - 1e-12
    decayed = grad + 1e-2 * w0
    expected = (grad.norm() + 1e-2 * w0.norm() + 1e-8) / decayed.norm()
    torch.testing.assert_close(ours.norm() / theirs.norm(), expected, rtol=1e-9, atol=0)
    assert expected > 1.1  # the pin is not vacuous: here the two differ by more than 10%
