"""One-step smoke tests for every registered pre-training method, and the SimSiam collapse ablation.

The one-step test is parametrised over the ``METHODS`` registry and builds each method as its
digits recipe (``pretrain/<method>_digits_tiny.py``, the CPU demo's tiny heads on ``resnet_tiny``)
does, with the recipe's number of views at 16 px: a new method is tested by its recipe, with no
list in this file to edit.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from mmengine.config import Config
from mmengine.optim import OptimWrapper

from evalsuite.pretrain.byol import ema_momentum
from evalsuite.registry import METHODS, get, names

RECIPES = Path(__file__).resolve().parents[1] / "pretrain"
VIEWS = [dict(size=16), dict(size=16, blur_p=1.0, solarize_p=0.2)]
#: Smaller heads for the tests that check one mechanism in detail (not the registry-wide smoke test).
SMALL = {
    "byol": dict(hidden=32, dim=16, total_steps=10),
    "nnclr": dict(proj_dims=(32, 16), pred_dims=(32, 16), queue_size=24),
    "simsiam": dict(dim=32, proj_layers=2, pred_hidden=8),
}


def _batch(n: int = 16, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    return {"inputs": torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g),
            "labels": torch.randint(0, 4, (n,), generator=g)}


def _build(name: str, **kwargs):
    torch.manual_seed(0)
    return get(METHODS, name)(arch="resnet_tiny", views=VIEWS, **{**SMALL[name], **kwargs})


def _from_digits_recipe(name: str):
    """The method as its digits recipe builds it (tiny heads, resnet_tiny), its views shrunk to 16 px."""
    path = RECIPES / f"{name}_digits_tiny.py"
    assert path.is_file(), f"method {name!r} has no CPU recipe {path.name}; add one (the demo-sized heads on resnet_tiny)"
    cfg = Config.fromfile(str(path))
    kwargs = {k: v for k, v in cfg.method.to_dict().items() if k != "type"}
    assert cfg.method.type == name and kwargs["arch"] == "resnet_tiny", (cfg.method.type, kwargs.get("arch"))
    views = [{**v.to_dict(), "size": 16} for v in cfg.views]
    torch.manual_seed(0)
    return get(METHODS, name)(views=views, **kwargs)


def _wrapper(model, lr: float = 0.1) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9))


@pytest.mark.parametrize("name", names(METHODS))
def test_one_step(name):
    model = _from_digits_recipe(name)
    before = copy.deepcopy(model.backbone.state_dict())
    out = model.train_step(_batch(), _wrapper(model))
    assert torch.isfinite(out["loss"]) and torch.isfinite(out["std"])
    moved = [k for k, v in model.backbone.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])]
    assert "conv1.weight" in moved and "layer4.0.conv2.weight" in moved
    sums = model.pop_epoch_stats()
    assert sums[2].item() == 1 and sums[0].item() == pytest.approx(out["loss"].item())


def test_byol_target_follows_ema_rule():
    model = _build("byol")
    target_before = copy.deepcopy(model.target_backbone.state_dict())
    model.train_step(_batch(), _wrapper(model))
    tau = ema_momentum(0, 10, 0.996)
    online = model.backbone.state_dict()
    for key in ("conv1.weight", "layer3.0.conv1.weight"):
        expected = tau * target_before[key] + (1 - tau) * online[key]
        assert torch.allclose(model.target_backbone.state_dict()[key], expected, atol=1e-6)
        assert not torch.equal(model.target_backbone.state_dict()[key], target_before[key])
    assert all(not p.requires_grad for p in model.target_backbone.parameters())


def test_nnclr_queue_fills_fifo():
    model = _build("nnclr")
    wrapper = _wrapper(model)
    assert model.queue_filled.item() == 0
    model.train_step(_batch(16), wrapper)
    assert model.queue_filled.item() == 16 and model.queue_ptr.item() == 16
    assert torch.allclose(model.queue[:16].norm(dim=1), torch.ones(16), atol=1e-5)
    assert model.queue[16:].abs().sum() == 0
    model.train_step(_batch(16, seed=1), wrapper)
    assert model.queue_filled.item() == 24 and model.queue_ptr.item() == 8  # wrapped around
    # a query equal to a stored row finds that row
    row = model.queue[5].clone()
    assert torch.allclose(model.nearest_neighbour(row[None] * 3)[0], row)


def test_simsiam_predictor_lr_stays_fixed_under_cosine():
    from mmengine.optim import build_optim_wrapper

    from evalsuite.pretrain.optim import FixAwareCosineLR

    model = _build("simsiam")
    wrapper = build_optim_wrapper(model, dict(type="OptimWrapper", constructor="MethodParamGroups",
                                              optimizer=dict(type="SGD", lr=0.1, momentum=0.9)))
    sched = FixAwareCosineLR(wrapper.optimizer, T_max=10)
    for _ in range(5):
        sched.step()
    lrs = {g["fix_lr"]: g["lr"] for g in wrapper.optimizer.param_groups}
    assert lrs[True] == pytest.approx(0.1) and lrs[False] == pytest.approx(0.05)


def _mean_std(stop_gradient: bool, steps: int = 50, last: int = 10) -> float:
    """Mean collapse indicator over the last ``last`` of ``steps`` SGD steps on one fixed batch."""
    torch.manual_seed(0)
    model = get(METHODS, "simsiam")(arch="resnet_tiny", views=[dict(size=16)] * 2, dim=64, proj_layers=2,
                                    pred_hidden=16, stop_gradient=stop_gradient)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9, weight_decay=1e-3))
    batch = _batch(32)
    for step in range(steps):
        if step == steps - last:
            model.pop_epoch_stats()
        model.train_step(batch, wrapper)
    return (model.pop_epoch_stats()[1] / last).item()


@pytest.mark.slow
def test_without_stop_gradient_simsiam_collapses():
    """Chen & He 2021, Sec. 4.1 / Fig. 2: without stop-gradient the output std falls from 1/sqrt(d)
    towards 0; with it, the std stays near 1/sqrt(d). The projector's output BN keeps every dimension
    at unit batch variance, so in 50 steps on one tiny batch the fall is partial (measured: about
    0.5 x 1/sqrt(d) without, 0.72 x with stop-gradient); the test asks for a clear gap."""
    healthy = 1 / 64 ** 0.5
    collapsed, kept = _mean_std(stop_gradient=False), _mean_std(stop_gradient=True)
    assert collapsed < 0.6 * healthy, collapsed
    assert kept > 0.65 * healthy, kept
    assert collapsed < 0.8 * kept, (collapsed, kept)
