"""Every checkpoint layout round-trips from a real torchvision ResNet-18 state dict.

The round trip is parametrised over the ``FORMATS`` registry: a registered format with no layout
in ``layouts()`` fails, so a new format comes with its real on-disk layout in this one file.
"""

from __future__ import annotations

import argparse
import pickle

import numpy as np
import pytest
import torch
from torchvision.models import resnet18

from evalsuite.checkpoint import load_backbone, save_backbone
from evalsuite.checkpoint.formats.detectron2 import from_detectron2, to_detectron2
from evalsuite.checkpoint.formats.evalsuite_native import FORMAT_VERSION
from evalsuite.checkpoint.io import read_checkpoint
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import FORMATS, load_builtins, names
from tests.test_layouts_vit import LAYOUTS as VIT_LAYOUTS
from tests.fixtures.checkpoints import write_checkpoint
from tests.fixtures.detectron2_keys import TABLE, detectron2_name, detectron2_state, model_key
from evalsuite.checkpoint.hub_files import CONFIG, METADATA
from tests.fixtures.checkpoints import FOLDER
from tests.fixtures.downloads import VIT_ONLY_FORMATS


@pytest.fixture(scope="module")
def tv_sd():
    torch.manual_seed(0)
    model = resnet18()
    for m in model.modules():  # make BN statistics non-trivial so a mix-up would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1)
            m.running_var.uniform_(0.5, 2)
            m.num_batches_tracked.fill_(7)
    return model.state_dict()


def _backbone(sd):
    return {k: v for k, v in sd.items() if not k.startswith("fc.")}


def _prefixed(sd, prefix):
    return {prefix + k: v for k, v in sd.items()}


VIT_LAYOUT_FORMATS = {entry[2] for entry in VIT_LAYOUTS.values()} | set(VIT_ONLY_FORMATS)
LIGHTLY_INDEX = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}


def layouts(sd):
    """Each format's real on-disk layout, built from the torchvision state dict ``sd``."""
    bb = _backbone(sd)
    proj = {"fc.0.weight": torch.randn(2048, 512), "fc.1.weight": torch.ones(2048)}
    d2_trunk = detectron2_state(bb)  # the test's own map of detectron2's names, not evalsuite's
    d2 = {k: v.numpy() for k, v in d2_trunk.items()}
    lightly = {f"backbone.{LIGHTLY_INDEX[k.split('.')[0]]}.{k.split('.', 1)[1]}": v for k, v in bb.items()}
    return {
        # evalsuite_native.save_backbone's payload
        "evalsuite": ({"evalsuite": {"version": FORMAT_VERSION, "arch": "resnet18", "method": "simsiam"},
                       "state_dict": bb}, ".pth"),
        "torchvision": (sd, ".pth"),
        "ddp": (_prefixed(sd, "module."), ".pth"),
        "simsiam": ({"arch": "resnet18", "epoch": 100, "optimizer": {"state": {}},
                     "state_dict": {**_prefixed({**bb, **proj}, "module.encoder."),
                                    "module.predictor.0.weight": torch.randn(512, 2048)}}, ".pth.tar"),
        "moco": ({"arch": "resnet18", "epoch": 200, "state_dict": {
            **_prefixed({**bb, **proj}, "module.encoder_q."), **_prefixed(bb, "module.encoder_k."),
            "module.queue": torch.randn(128, 65536), "module.queue_ptr": torch.zeros(1, dtype=torch.long)}}, ".pth.tar"),
        "mocov3": ({"arch": "resnet18", "epoch": 300, "state_dict": {
            **_prefixed({**bb, **proj}, "module.base_encoder."), **_prefixed(bb, "module.momentum_encoder."),
            "module.predictor.0.weight": torch.randn(4096, 256)}}, ".pth.tar"),
        "lightning": ({"pytorch-lightning_version": "2.1.0", "epoch": 400, "hyper_parameters": {"method": "byol"},
                       "state_dict": {**_prefixed(bb, "backbone."), **_prefixed(bb, "momentum_backbone."),
                                      "projector.0.weight": torch.randn(4096, 512)}}, ".ckpt"),
        "lightly": ({"pytorch-lightning_version": "2.0.0", "epoch": 200,
                     "state_dict": {**lightly, "projection_head.layers.0.weight": torch.randn(2048, 512)}}, ".ckpt"),
        "mmselfsup": ({"meta": {"epoch": 200, "mmengine_version": "0.10.7"},
                       "state_dict": {**_prefixed(bb, "backbone."), "neck.mlp.0.weight": torch.randn(2048, 512)}}, ".pth"),
        "vissl": ({"phase_idx": 99, "classy_state_dict": {"base_model": {"model": {
            "trunk": _prefixed(bb, "_feature_blocks."), "heads": {"0.clf.0.weight": torch.randn(128, 512)}}}}}, ".torch"),
        "timm": ({"epoch": 90, "arch": "resnet18", "version": 2, "state_dict": sd, "metric": 69.7}, ".pth.tar"),
        # facebookresearch/dino main_dino.py save_dict, ResNet: with BatchNorm the teacher is DDP-wrapped too, and
        # MultiCropWrapper sets fc to Identity ('args', an argparse.Namespace, left out: it needs --trust-checkpoint)
        "dino": ({"student": _prefixed({k: v + 1 for k, v in bb.items()}, "module.backbone."),
                  "teacher": {**_prefixed(bb, "module.backbone."), "module.head.mlp.0.weight": torch.randn(64, 512)},
                  "optimizer": {"state": {}}, "epoch": 800, "dino_loss": {"center": torch.zeros(1, 64)}}, ".pth"),
        "detectron2": ({"model": d2, "__author__": "MOCO", "matching_heuristics": True}, ".pkl"),
        "detectron2_fpn": ({"model": {**{model_key(k, "FPN"): v for k, v in d2_trunk.items()},
                                      "proposal_generator.rpn_head.conv.weight": torch.randn(4, 4)}, "iteration": 10}, ".pth"),
        # huggingface/pytorch-image-models timm/models/_hub.py save_for_hf of timm's resnet18 (torchvision's
        # names, its fc kept): config.json names the architecture, which is then built as timm:resnet18
        "timm_hub": ({"config.json": {"architecture": "resnet18", "num_classes": 1000, "num_features": 512,
                                      "global_pool": "avg", "pretrained_cfg": {"input_size": [3, 224, 224],
                                      "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}},
                      "model.safetensors": sd}, FOLDER),
        "detectron2_c4": ({"model": {**{model_key(k, "C4"): v for k, v in d2_trunk.items()},
                                     "roi_heads.box_predictor.cls_score.weight": torch.randn(21, 2048)}}, ".pth"),
    }




def _format(name):
    """Plain and DDP state dicts need no adapter: the structural search alone finds them."""
    if name in ("torchvision", "ddp"):
        return "structural"
    return name if name in names(FORMATS) else name.split("_")[0]


#: A layout whose file names its own arch gets it (timm builds its resnet18 by name).
ARCH = {"timm_hub": "timm:resnet18"}


@pytest.mark.parametrize("fmt", [*names(FORMATS), "structural"])
def test_every_format_round_trips(tmp_path, tv_sd, fmt):
    variants = {name: v for name, v in layouts(tv_sd).items() if _format(name) == fmt}
    if not variants and fmt in VIT_LAYOUT_FORMATS:  # ViT-only layouts round-trip in tests/test_layouts_vit.py
        return
    assert variants, f"format {fmt!r} has no layout in layouts(); add its real on-disk layout there"
    for name, (obj, suffix) in variants.items():
        path = write_checkpoint(tmp_path, name, obj, suffix)
        model, info = load_backbone(path)
        assert info.format == fmt, name
        assert info.arch == ARCH.get(name, "resnet18")
        assert info.report.ok and info.report.matched >= 100
        got = model.state_dict()
        for key, value in _backbone(tv_sd).items():
            if key.endswith("num_batches_tracked"):
                continue
            torch.testing.assert_close(got[key], value, rtol=0, atol=0, msg=f"{name}: {key}")


def test_detection_is_unambiguous(tv_sd):
    load_builtins()
    for name, (obj, suffix) in layouts(tv_sd).items():
        if suffix == ".pkl":
            obj = {"model": {k: v for k, v in obj["model"].items()}, **{k: v for k, v in obj.items() if k != "model"}}
        if suffix == FOLDER:  # what evalsuite.checkpoint.hub_files reads a folder as
            obj = {**obj["model.safetensors"], CONFIG: obj["config.json"], METADATA: {"format": "pt"}}
        hits = [name for name, adapter in FORMATS.module_dict.items() if adapter(obj) is not None]
        want = {"lightly": ["lightly", "lightning"], "torchvision": [], "ddp": []}.get(name, [_format(name)])
        assert sorted(hits) == sorted(want), (name, hits)


def test_own_format_carries_metadata(tmp_path, tv_sd):
    path = tmp_path / "ours.pth"
    save_backbone(path, _backbone(tv_sd), arch="resnet18", method="simsiam", epochs=200, dataset="cifar10")
    _, info = load_backbone(path)
    assert (info.format, info.arch, info.meta["method"], info.meta["epochs"]) == ("evalsuite", "resnet18", "simsiam", 200)


def test_cifar_stem_is_inferred(tmp_path):
    from evalsuite.archs import build_backbone

    sd = build_backbone("cifar_resnet18").state_dict()
    torch.save(sd, tmp_path / "c.pth")
    _, info = load_backbone(tmp_path / "c.pth")
    assert info.arch == "cifar_resnet18"


def test_detectron2_maps_are_inverse(tv_sd):
    """Both converters against the test's own key map (tests/fixtures/detectron2_keys.py), value by
    value: a bn1/bn2 swap made in both directions no longer cancels out (every BN of ``tv_sd`` has
    its own running statistics)."""
    bb = {k: v for k, v in _backbone(tv_sd).items() if not k.endswith("num_batches_tracked")}
    d2 = to_detectron2(bb)
    assert d2.keys() == {detectron2_name(k) for k in bb}
    for key, value in bb.items():
        assert torch.equal(d2[detectron2_name(key)], value), key
    back = from_detectron2(detectron2_state(bb))
    assert back.keys() == bb.keys()
    for key, value in bb.items():
        assert torch.equal(back[key], value), key
    rows = [row for row in TABLE if row[0] in bb]  # ResNet-18 has no bn3 and no layer1 shortcut
    assert len(rows) == len(TABLE) - 4
    for tv_key, c4_key, fpn_key in rows:
        trunk_key = fpn_key.removeprefix("backbone.bottom_up.")
        assert torch.equal(d2[trunk_key], bb[tv_key]) and torch.equal(from_detectron2({trunk_key: bb[tv_key]})[tv_key], bb[tv_key])
        assert (model_key(trunk_key, "C4"), model_key(trunk_key, "FPN")) == (c4_key, fpn_key)


def test_missing_key_fails_loudly(tmp_path, tv_sd):
    sd = dict(tv_sd)
    del sd["layer4.1.bn2.weight"]
    torch.save(sd, tmp_path / "m.pth")
    with pytest.raises(EvalsuiteError, match=r"missing key\(s\) such as layer4.1.bn2.weight"):
        load_backbone(tmp_path / "m.pth", arch="resnet18")


def test_shape_mismatch_fails_loudly(tmp_path, tv_sd):
    torch.save(tv_sd, tmp_path / "s.pth")
    with pytest.raises(EvalsuiteError, match=r"shape mismatch.*conv1.weight \[64, 3, 7, 7\] vs \[64, 3, 3, 3\]"):
        load_backbone(tmp_path / "s.pth", arch="cifar_resnet18")


def test_unknown_layout_names_what_it_found(tmp_path):
    torch.save({"weights": {"a.b": torch.ones(1)}, "step": 3}, tmp_path / "u.pth")
    with pytest.raises(EvalsuiteError, match=r"no tensor named like a key of any registered arch.*"
                                             r"tensor dicts found: weights \(1 tensors, e.g. 'a.b'\); pass --arch"):
        load_backbone(tmp_path / "u.pth")


class RunConfig:
    """A training script's own config class, pickled beside the weights."""

    def __init__(self):
        self.lr = 0.1


def test_pickled_objects_are_refused_unless_trusted(tmp_path, tv_sd):
    obj = {"epoch": 90, "arch": "resnet18", "version": 2, "state_dict": tv_sd, "cfg": RunConfig()}
    torch.save(obj, tmp_path / "t.pth.tar")
    with pytest.raises(EvalsuiteError, match=r"holds the type \S*RunConfig, which is not on the "
                                             r"allow-list of inert types; pass --trust-checkpoint"):
        load_backbone(tmp_path / "t.pth.tar")
    _, info = load_backbone(tmp_path / "t.pth.tar", trust=True)
    assert info.format == "timm"


def test_argparse_namespace_and_numpy_scalars_load_without_trust(tmp_path, tv_sd):
    """DINO's save_dict carries ``args`` (an argparse.Namespace); metrics are often numpy scalars."""
    args = argparse.Namespace(arch="resnet18", lr=0.3, seed=np.int64(0), momentum_teacher=np.float64(0.996))
    torch.save({"epoch": 90, "arch": "resnet18", "state_dict": tv_sd, "args": args, "best_acc1": np.float64(69.7)},
               tmp_path / "n.pth")
    assert read_checkpoint(tmp_path / "n.pth")["args"].momentum_teacher == 0.996
    _, info = load_backbone(tmp_path / "n.pth")
    assert info.report.ok and info.arch == "resnet18"


class _Evil:
    def __reduce__(self):
        return (exec, ("open('PWNED', 'w').write('x')",))


def test_malicious_pkl_is_refused_and_not_run(tmp_path, tv_sd, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump({"model": {"stem.conv1.weight": np.zeros(1)}, "x": _Evil()}, f)
    with pytest.raises(EvalsuiteError, match="--trust-checkpoint"):
        read_checkpoint(tmp_path / "evil.pkl")
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("cut", [0, 100, 0.5])
def test_truncated_file_is_a_clear_error(tmp_path, tv_sd, cut):
    torch.save(tv_sd, tmp_path / "full.pth")
    data = (tmp_path / "full.pth").read_bytes()
    n = int(len(data) * cut) if isinstance(cut, float) else cut
    (tmp_path / "cut.pth").write_bytes(data[:n])
    with pytest.raises(EvalsuiteError, match="truncated"):
        load_backbone(tmp_path / "cut.pth")


class _GetattrGadget:
    """Pickles as getattr(argparse.Namespace, '__init__'): the builtins.getattr route must stay
    closed except for the four names mmengine's HistoryBuffer pickles."""

    def __reduce__(self):
        return (getattr, (argparse.Namespace, "__init__"))


def test_mmengine_history_buffer_loads_but_other_getattr_is_refused(tmp_path, tv_sd):
    from mmengine.logging import MessageHub

    hub = MessageHub.get_instance("evalsuite-test-formats")
    hub.update_scalar("train/loss", 0.5)
    torch.save({"meta": {"epoch": 1}, "state_dict": _prefixed(_backbone(tv_sd), "backbone."),
                "message_hub": hub.state_dict()}, tmp_path / "mm.pth")
    _, info = load_backbone(tmp_path / "mm.pth")
    assert info.format == "mmselfsup" and info.report.ok
    torch.save({"state_dict": tv_sd, "x": _GetattrGadget()}, tmp_path / "g.pth")
    with pytest.raises(EvalsuiteError, match=r"holds getattr\(Namespace, '__init__'\), which is not on the allow-list"):
        load_backbone(tmp_path / "g.pth")


def test_numpy_1x_names_are_allowed(tmp_path):
    """Files written under numpy 1.x (DINO's and MoCo's era) name numpy.core.multiarray, not
    numpy._core: the same inert globals under their old names."""
    import io
    import zipfile

    args = argparse.Namespace(seed=np.int64(3), lr=np.float64(0.5))
    torch.save({"args": args, "acc": np.float64(1.5), "arr": np.ones(3, np.float32)}, tmp_path / "np2.pth")
    out = io.BytesIO()
    with zipfile.ZipFile(tmp_path / "np2.pth") as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename.endswith("data.pkl"):  # protocol 2: GLOBAL opcodes name module and class as text
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            zout.writestr(item, data)
    (tmp_path / "np1.pth").write_bytes(out.getvalue())
    obj = read_checkpoint(tmp_path / "np1.pth")
    assert obj["args"].seed == 3 and obj["acc"] == 1.5 and obj["arr"].tolist() == [1.0, 1.0, 1.0]
