"""Every pre-training recipe resolves at most one ``_base_`` level deep and builds its model; the
SimSiam recipes build the encoder with zero_init_residual as the official code does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

from evalsuite.pretrain.trainer import build_model, load_recipe

RECIPES = sorted(p for p in (Path(__file__).resolve().parents[1] / "pretrain").glob("*.py") if not p.stem.startswith("_"))


def _last_bn_gammas(backbone) -> list[torch.Tensor]:
    return [m.bn3.weight if hasattr(m, "bn3") else m.bn2.weight
            for layer in (backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4) for m in layer]


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.stem)
def test_recipe_resolves_one_base_deep_and_builds(path, one_thread):
    base = re.search(r'^_base_ = "(.+)"', path.read_text(), re.M)
    if base:
        assert "_base_" not in (path.parent / base.group(1)).read_text(), f"{path.name}: its base has a base"
    cfg = load_recipe(path.stem, {"method.arch": "resnet_tiny"})  # the recipe's heads on a tiny trunk: fast
    model = build_model(cfg, 10, torch.device("cpu"))
    gammas = _last_bn_gammas(model.backbone)
    zero_init = cfg.method.get("arch_options", {}).get("zero_init_residual", False)
    if cfg.method.type == "simsiam" and "digits" not in path.stem:  # as the official simsiam/builder.py
        assert zero_init
    assert all(bool((g == 0).all()) == zero_init for g in gammas)


def test_cifar_recipes_state_the_reference_settings():
    cfg = {m: load_recipe(f"{m}_cifar10_resnet18") for m in ("simsiam", "byol", "simclr", "nnclr")}
    assert {(c.batch_size, c.epochs, c.monitor.knn_k, c.monitor.knn_t) for c in cfg.values()} == {(512, 200, 200, 0.1)}
    assert cfg["byol"].method.tau_base == 0.99 and cfg["nnclr"].method.queue_size == 65536
    assert all(cfg[m].optimizer.clip_lr and cfg[m].warmup_epochs == 10 for m in ("byol", "simclr", "nnclr"))
    assert isinstance(cfg["simsiam"], Config) and cfg["simsiam"].optimizer.type == "SGD"


def test_methods_declare_what_they_need_from_the_data():
    from evalsuite.errors import EvalsuiteError

    cfg = load_recipe("supervised_digits_tiny")
    assert build_model(cfg, 7, torch.device("cpu")).classifier.out_features == 7  # needs_labels: the class count
    cfg.views = [dict(), dict()]
    with pytest.raises(EvalsuiteError, match="trains on 1 view"):
        build_model(cfg, 7, torch.device("cpu"))


def test_unknown_arch_option_names_the_valid_ones():
    from evalsuite.archs import build_backbone
    from evalsuite.errors import EvalsuiteError

    with pytest.raises(EvalsuiteError, match="'bogus'.*zero_init_residual"):
        build_backbone("resnet_tiny", bogus=1)
