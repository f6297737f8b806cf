"""Every zoo entry's file layout, built the way its project writes it (the builders of
tests/test_layouts.py and tests/test_layouts_vit.py where they exist, with the repository and file
named per builder), loads through ``zoo:NAME`` with no missing key and gives back the network its
project evaluates. Files are tiny: the same layout around resnet_tiny or ViT-Ti (a ViT-Ti has the
very key names of a ViT-S/B of the same patch, registers and LayerScale). And every entry names
the source of its URL and of each figure."""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
from torch import nn

from evalsuite.archs import build_backbone
from evalsuite.archs.vit import FEATURE_MODES
from evalsuite.checkpoint.archmatch import signature
from evalsuite.registry import ARCHS, TASKS, ZOO, names
from evalsuite.report.published import load_published
from evalsuite.runner import EvalRequest
from evalsuite.zoo.catalog import entries, local_path
from evalsuite.zoo.load import zoo_backbone
from tests.test_layouts import _ddp, _ema_copy, _mlp, _sgd_state, _stats, _Wrap
from tests.test_layouts_vit import _vit_model, dino_release, dinov2_release, ibot_release, mae_release, mocov3_vit

PROTOCOL_KEYS = {"k", "temperature", "feature_mode", "transform"}


def _net(seed: int) -> nn.Module:
    """resnet_tiny: a torchvision ResNet (conv1, bn1, layer1..4), fc an Identity."""
    torch.manual_seed(seed)
    return _stats(build_backbone("resnet_tiny"), seed)


def _sd(net: nn.Module) -> dict:
    return {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}


def _with_fc(net: nn.Module, fc: nn.Module) -> nn.Module:
    net.fc = fc
    return net


def torchvision_plain(net):
    # pytorch/vision: torch.save(model.state_dict()) of the classifier, fc included.
    return {**_sd(net), "fc.weight": torch.randn(10, 64), "fc.bias": torch.zeros(10)}


def backbone_only(net):
    # DINO's dino_resnet50_pretrain.pth (hubconf.py loads it into resnet50 with fc=Identity) and Barlow
    # Twins' resnet50.pth (main.py: torch.save(model.module.backbone.state_dict()), fc an Identity).
    return _sd(net)


def swav_release(net):
    # facebookresearch/swav: the released file is the DDP model's state dict (hubconf.py strips 'module.');
    # src/resnet50.py keeps projection_head (Linear, BatchNorm1d, ReLU, Linear) and prototypes beside the trunk.
    head = _Wrap(projection_head=nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 16)),
                 prototypes=nn.Linear(16, 30, bias=False))
    return _ddp(_Wrap(**dict(net.named_children()), **dict(head.named_children())))


def simsiam_checkpoint(net):
    # facebookresearch/simsiam builder.py + main_simsiam.py save_checkpoint({'epoch', 'arch', 'state_dict', 'optimizer'}).
    encoder = _with_fc(net, nn.Sequential(nn.Linear(64, 64, bias=False), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 32),
                                          nn.BatchNorm1d(32, affine=False)))
    model = _Wrap(encoder=encoder, predictor=_mlp(2, 32, 16, 32, False))
    return {"epoch": 100, "arch": "resnet50", "state_dict": _ddp(model), "optimizer": _sgd_state(model)}


def moco_v2_checkpoint(net):
    # facebookresearch/moco builder.py (--mlp: fc = Sequential(Linear, ReLU, fc); queue, queue_ptr) + main_moco.py.
    query = _with_fc(net, nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32)))
    model = _Wrap(encoder_q=query, encoder_k=_ema_copy(query, 5))
    model.register_buffer("queue", torch.randn(32, 128))
    model.register_buffer("queue_ptr", torch.zeros(1, dtype=torch.long))
    return {"epoch": 800, "arch": "resnet50", "state_dict": _ddp(model), "optimizer": _sgd_state(model)}


def moco_v3_checkpoint(net):
    # facebookresearch/moco-v3 builder.py MoCo_ResNet (fc = _build_mlp projector) + main_moco.py (with 'scaler').
    base = _with_fc(net, _mlp(2, 64, 32, 16))
    model = _Wrap(base_encoder=base, momentum_encoder=_ema_copy(base, 7), predictor=_mlp(2, 16, 32, 16, False))
    return {"epoch": 1000, "arch": "resnet50", "state_dict": _ddp(model), "optimizer": _sgd_state(model),
            "scaler": {"scale": 65536.0}}


def mmselfsup_byol(net):
    # open-mmlab/mmpretrain models/selfsup/byol.py: backbone, neck, head, and target_net = CosineEMA(Sequential(
    # backbone, neck)) (mmengine's averaged model: module.*, steps); published by tools/model_converters/
    # publish_model.py as {'meta', 'state_dict'} (optimizer, message_hub and schedulers dropped).
    neck = _Wrap(mlp=nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 16)))
    target = _Wrap(module=nn.Sequential(_ema_copy(net, 9), _ema_copy(neck, 10)))
    target.register_buffer("steps", torch.tensor(1000))
    model = _Wrap(backbone=net, neck=neck, head=_Wrap(predictor=_mlp(2, 16, 32, 16, False)), target_net=target)
    meta = {"epoch": 200, "iter": 50000, "mmengine_version": "0.10.7", "dataset_meta": {}, "mmpretrain_version": "1.0.0"}
    return {"meta": meta, "state_dict": model.state_dict()}


RESNET = {"torchvision_resnet18": torchvision_plain, "torchvision_resnet50": torchvision_plain,
          "torchvision_resnet50_v2": torchvision_plain, "dino_resnet50": backbone_only,
          "barlowtwins_resnet50_1000ep": backbone_only, "swav_resnet50_800ep": swav_release,
          "simsiam_resnet50_100ep": simsiam_checkpoint, "mocov2_resnet50_800ep": moco_v2_checkpoint,
          "mocov3_resnet50_1000ep": moco_v3_checkpoint, "byol_resnet50_mmselfsup_200ep": mmselfsup_byol}
DINOV2 = {"patch_size": 14, "img_size": 518, "init_values": 1e-5}
REGISTERS = {**DINOV2, "reg_tokens": 4, "no_embed_class": True}
#: entry -> (the project's layout around a state dict, ViT-Ti kwargs), from tests/test_layouts_vit.py.
VIT = {"dino_vits16": (dino_release, {}), "dino_vitb16": (dino_release, {}),
       "dinov2_vits14": (dinov2_release, DINOV2), "dinov2_vitb14": (dinov2_release, DINOV2),
       "dinov2_vits14_reg": (dinov2_release, REGISTERS), "dinov2_vitb14_reg": (dinov2_release, REGISTERS),
       "ibot_vits16": (ibot_release, {}), "ibot_vitb16": (ibot_release, {}), "mae_vitb16": (mae_release, {}),
       "mocov3_vits16_300ep": (mocov3_vit, {}), "mocov3_vitb16_300ep": (mocov3_vit, {})}


def tiny_arch(arch: str) -> str:
    """The same layout at the smallest size: ViT-Ti for a ViT-S/B, resnet_tiny for a ResNet."""
    return re.sub(r"vit_(small|base)_", "vit_tiny_", arch).replace("_h12", "") if arch.startswith("vit_") else "resnet_tiny"


def test_every_entry_has_a_layout_test():
    assert set(RESNET) | set(VIT) == set(entries())


@pytest.mark.parametrize("name", sorted(set(RESNET) | set(VIT)))
def test_entry_layout_loads_through_the_zoo(name, monkeypatch):
    entry = entries()[name]
    tiny = dataclasses.replace(entry, arch=tiny_arch(entry.arch), hash=None)  # a tiny file matches no published hash
    if name in RESNET:
        net = _net(1)
        expected, obj = _sd(net), RESNET[name](net)
    else:
        build, kwargs = VIT[name]
        expected = _vit_model(**kwargs).state_dict()
        obj = build(expected)
        assert set(signature(entry.arch)) == set(signature(tiny.arch))  # the tiny file has the real file's keys
    monkeypatch.setitem(ZOO.module_dict, name, lambda: tiny)
    path = local_path(tiny)
    path.parent.mkdir(parents=True)
    torch.save(obj, path)
    model, info = zoo_backbone(EvalRequest(checkpoint=f"zoo:{name}", results_dir=None, quiet=True))
    assert info.arch == tiny.arch and info.report.ok and info.report.missing == [], info.how
    assert info.meta["label"] == name and info.meta["zoo"]["url"] == entry.url and info.meta["method"] == entry.method
    got = model.state_dict()
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") or key == "cls_token" and "reg_token" in expected:
            continue
        torch.testing.assert_close(got[key], value.float(), rtol=0, atol=0, msg=key)  # the evaluated network, not its twin
    if "reg_token" in expected:  # DINOv2's class position folded back into the class token
        torch.testing.assert_close(got["cls_token"], expected["cls_token"])


def test_every_entry_names_the_source_of_its_url_and_figures():
    published = load_published()
    required = {"dino_vits16", "dino_vitb16", "dino_resnet50", "dinov2_vits14", "dinov2_vitb14", "dinov2_vits14_reg",
                "dinov2_vitb14_reg", "mocov2_resnet50_800ep", "mae_vitb16", "torchvision_resnet18", "torchvision_resnet50"}
    zoo = entries()
    assert required <= set(zoo)
    assert {e.method for e in zoo.values()} >= {"MoCo v3", "iBOT", "SwAV", "Barlow Twins", "SimSiam", "BYOL (MMSelfSup)"}
    for entry in zoo.values():
        assert entry.url.startswith("https://") and entry.file and entry.paper and entry.layout, entry.name
        assert re.match(r"([\w-]+/[\w.-]+ \S|torchvision\.models\.)", entry.documented), entry.documented
        assert entry.hash is None or entry.hash.source
        assert entry.arch in names(ARCHS) or entry.arch.startswith("vit_")  # a ViT name spells its shapes
        with torch.device("meta"):
            assert build_backbone(entry.arch).num_features > 0
        assert entry.figures and entry.resolution in (224, 518)
        for figure in entry.figures:
            assert figure.source and 0 < figure.value < 100 and figure.dataset == "imagenet", (entry.name, figure)
            assert figure.task in set(names(TASKS)) | {"supervised"} and set(figure.protocol) <= PROTOCOL_KEYS
            assert figure.protocol.get("feature_mode", "cls") in FEATURE_MODES
        for method, arch, epochs in entry.published_rows:  # transfer rows measured on this same file
            rows = published[(published["method"] == method) & (published["arch"] == arch)]
            rows = rows[rows["epochs"].isna()] if epochs is None else rows[rows["epochs"] == epochs]
            assert len(rows) > 0, (entry.name, method)


def test_published_hashes_are_where_the_projects_publish_them():
    """torchvision and OpenMMLab put a sha256 prefix in the file name; MoCo and MAE print an md5."""
    hashed = {name: e for name, e in entries().items() if e.hash}
    assert set(hashed) == {"torchvision_resnet18", "torchvision_resnet50", "torchvision_resnet50_v2",
                           "byol_resnet50_mmselfsup_200ep", "mocov2_resnet50_800ep", "mae_vitb16"}
    for entry in hashed.values():
        if entry.hash.algorithm == "sha256":
            assert f"-{entry.hash.prefix}." in entry.file


def test_mmpretrain_byol_loads_its_online_backbone_without_a_key(tmp_path):
    """Both backbone. and target_net.module.0. hold a whole ResNet; MMPretrain's convention picks backbone."""
    from evalsuite.checkpoint.load import load_backbone

    net = _net(1)
    path = tmp_path / "byol_resnet50_16xb256-coslr-200e_in1k.pth"
    torch.save(mmselfsup_byol(net), path)
    model, info = load_backbone(str(path), "resnet_tiny")
    assert "MMPretrain's BYOL" in info.how and "target_net" in info.how, info.how
    got = model.state_dict()
    for key, value in _sd(net).items():
        if not key.endswith("num_batches_tracked"):
            torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=key)
