"""ViT checkpoints as the SSL projects' own save code writes them, from real timm ViT weights.

Each layout is built the way the named repository and file write it (keys, prefixes, heads, extra
entries), with ViT-Ti weights (the smallest standard ViT: the naming is what a layout tests), and
must load with 0 missing keys, the right arch inferred from shapes and the teacher/target network
chosen. Full-size ViTs appear only on the meta device (shape inference).
"""

from __future__ import annotations

import argparse

import pytest
import timm
import torch
import torch.nn.functional as F
from timm.layers import resample_abs_pos_embed
from timm.models.vision_transformer import VisionTransformer

from evalsuite.archs import build_backbone
from evalsuite.archs.vit import FEATURE_MODES, apply_feature_mode, infer_vit
from evalsuite.checkpoint import load_backbone
from evalsuite.checkpoint.formats.mae import mae
from evalsuite.checkpoint.archmatch import infer_arch
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from evalsuite.results import protocol_id, read_rows

TINY = dict(embed_dim=192, depth=12, num_heads=3, num_classes=0)  # ViT-Ti (DeiT, Touvron et al. 2021)


def _vit_model(**kwargs) -> VisionTransformer:
    torch.manual_seed(0)
    model = VisionTransformer(**{**TINY, "img_size": 224, "patch_size": 16, "dynamic_img_size": True, **kwargs})
    with torch.no_grad():  # non-trivial norms and tokens, so a mix-up of tensors would show
        for name, p in model.named_parameters():
            if name.endswith(("norm1.weight", "norm.weight", "cls_token", "reg_token")) or ".ls" in name:
                p.uniform_(0.5, 1.5)
    return model.eval()


def _vit(**kwargs) -> dict:
    return _vit_model(**kwargs).state_dict()


def _prefixed(sd: dict, prefix: str) -> dict:
    return {prefix + k: v for k, v in sd.items()}


def _other(sd: dict) -> dict:
    """A student / online encoder: same keys, other values, so loading the wrong one shows."""
    return {k: v + 1 for k, v in sd.items()}


def _dino_head(prefix: str, out_dim: int = 256) -> dict:
    # facebookresearch/dino vision_transformer.py DINOHead: mlp (Linear, GELU, Linear, GELU, Linear),
    # last_layer (weight norm)
    return {f"{prefix}mlp.0.weight": torch.randn(64, 192), f"{prefix}mlp.0.bias": torch.zeros(64),
            f"{prefix}mlp.4.weight": torch.randn(32, 64), f"{prefix}last_layer.weight_g": torch.ones(out_dim, 1),
            f"{prefix}last_layer.weight_v": torch.randn(out_dim, 32)}


def _optimizer() -> dict:
    return {"state": {}, "param_groups": [{"lr": 0.1, "weight_decay": 0.04, "params": [0, 1]}]}


def dino_train(sd):
    # facebookresearch/dino main_dino.py: save_dict = {'student', 'teacher', 'optimizer', 'epoch', 'args',
    # 'dino_loss'}; student DDP-wrapped (module.), teacher bare for a ViT (no BatchNorm); MultiCropWrapper
    # holds backbone. and head. (utils.save_on_master -> torch.save).
    return {"student": {**_prefixed(_other(sd), "module.backbone."), **_dino_head("module.head.")},
            "teacher": {**_prefixed(sd, "backbone."), **_dino_head("head.")},
            "optimizer": _optimizer(), "epoch": 100, "args": argparse.Namespace(arch="vit_tiny", patch_size=16),
            "dino_loss": {"center": torch.zeros(1, 256)}, "fp16_scaler": {"scale": 65536.0}}


def dino_release(sd):
    # DINO's released backbone-only weights (dino_deitsmall16_pretrain.pth, loaded by hubconf.py with
    # load_state_dict(state_dict, strict=True)): the bare VisionTransformer state dict.
    return dict(sd)


def mocov3_vit(sd):
    # facebookresearch/moco-v3 main_moco.py save_checkpoint({'epoch', 'arch', 'state_dict': model.state_dict(),
    # 'optimizer', 'scaler'}): MoCo_ViT under DDP, base_encoder.head = the projection MLP (builder.py),
    # momentum_encoder a copy, predictor a separate MLP.
    proj = {"head.0.weight": torch.randn(64, 192), "head.1.weight": torch.ones(64),
            "head.1.running_mean": torch.zeros(64), "head.3.weight": torch.randn(32, 64)}
    return {"epoch": 300, "arch": "vit_small", "optimizer": _optimizer(), "scaler": {"scale": 1024.0},
            "state_dict": {**_prefixed({**sd, **proj}, "module.base_encoder."),
                           **_prefixed({**_other(sd), **proj}, "module.momentum_encoder."),
                           "module.predictor.0.weight": torch.randn(64, 32)}}


def _mae_decoder() -> dict:
    # facebookresearch/mae models_mae.py MaskedAutoencoderViT: the decoder beside the encoder.
    return {"mask_token": torch.zeros(1, 1, 64), "decoder_embed.weight": torch.randn(64, 192),
            "decoder_embed.bias": torch.zeros(64), "decoder_pos_embed": torch.zeros(1, 197, 64),
            "decoder_blocks.0.norm1.weight": torch.ones(64), "decoder_norm.weight": torch.ones(64),
            "decoder_pred.weight": torch.randn(768, 64), "decoder_pred.bias": torch.zeros(768)}


def mae_train(sd):
    # facebookresearch/mae util/misc.py save_model: {'model': model_without_ddp.state_dict(), 'optimizer',
    # 'epoch', 'scaler', 'args'} as checkpoint-{epoch}.pth.
    return {"model": {**sd, **_mae_decoder()}, "optimizer": _optimizer(), "epoch": 799,
            "scaler": {"scale": 65536.0}, "args": argparse.Namespace(model="mae_vit_tiny_patch16")}


def mae_release(sd):
    # MAE's released mae_pretrain_vit_*.pth: {'model': encoder only} (README; main_finetune.py reads
    # checkpoint['model']).
    return {"model": dict(sd)}


def _ibot_naming(sd: dict) -> dict:
    # bytedance/ibot models/vision_transformer.py: LayerScale as gamma_1 / gamma_2.
    return {k.replace(".ls1.gamma", ".gamma_1").replace(".ls2.gamma", ".gamma_2"): v for k, v in sd.items()}


def ibot_train(sd):
    # bytedance/ibot main_ibot.py: save_dict = {'student', 'teacher', 'optimizer', 'epoch', 'args', 'ibot_loss'};
    # the student masks patches (masked_im_modeling -> masked_embed); ViT teacher not DDP-wrapped.
    named = _ibot_naming(sd)
    return {"student": {**_prefixed(_other(named), "module.backbone."), **_dino_head("module.head."),
                        "module.backbone.masked_embed": torch.zeros(1, 192)},
            "teacher": {**_prefixed(named, "backbone."), **_dino_head("head.")},
            "optimizer": _optimizer(), "epoch": 800, "args": argparse.Namespace(arch="vit_tiny"),
            "ibot_loss": {"center": torch.zeros(1, 256), "center2": torch.zeros(1, 1, 256)}}


def ibot_release(sd):
    # iBOT's released checkpoint_teacher.pth: {'state_dict': teacher} (evaluation/classification_layer_decay/
    # extract_backbone_weights.py reads ck['state_dict'] and strips 'backbone.').
    return {"state_dict": {**_prefixed(_ibot_naming(sd), "backbone."), **_dino_head("head.")}}


def _dinov2_naming(sd: dict, chunks: int = 0) -> dict:
    """timm -> facebookresearch/dinov2 models/vision_transformer.py naming: mask_token, register_tokens
    outside the position embedding (the class position added to the class token), and with
    block_chunks the FSDP layout blocks.<chunk>.<i>."""
    out = {k: v for k, v in sd.items() if not k.startswith("blocks.")}
    depth = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    for key, value in sd.items():
        if key.startswith("blocks."):
            i = int(key.split(".")[1])
            chunk = f"{i // (depth // chunks)}." if chunks else ""
            out[f"blocks.{chunk}{key.split('.', 1)[1]}"] = value
    out["mask_token"] = torch.zeros(1, sd["pos_embed"].shape[-1])
    if "reg_token" in sd:
        cls_pos = torch.randn(1, 1, sd["pos_embed"].shape[-1])
        out["register_tokens"] = out.pop("reg_token")
        out["cls_token"] = sd["cls_token"] - cls_pos
        out["pos_embed"] = torch.cat([cls_pos, sd["pos_embed"]], dim=1)
    return out


def dinov2_release(sd):
    # DINOv2's released dinov2_vit*14_reg4_pretrain.pth: the DinoVisionTransformer state dict (hub/backbones.py
    # loads it with load_state_dict), block_chunks=0.
    return _dinov2_naming(sd)


def dinov2_teacher(sd):
    # facebookresearch/dinov2 dinov2/train/train.py do_test: torch.save({'teacher': model.teacher.state_dict()})
    # with teacher = ModuleDict(backbone, dino_head, ibot_head) (train/ssl_meta_arch.py), blocks chunked for FSDP.
    return {"teacher": {**_prefixed(_dinov2_naming(sd, chunks=4), "backbone."), **_dino_head("dino_head."),
                        **_dino_head("ibot_head.")}}


def ijepa_train(sd):
    # facebookresearch/ijepa src/train.py save_checkpoint: {'encoder', 'predictor', 'target_encoder', 'opt',
    # 'scaler', 'epoch', 'loss', 'batch_size', 'world_size', 'lr'}; each network DDP-wrapped when world_size > 1.
    return {"encoder": _prefixed(_other(sd), "module."), "target_encoder": _prefixed(sd, "module."),
            "predictor": {"module.predictor_embed.weight": torch.randn(96, 192),
                          "module.mask_token": torch.zeros(1, 1, 96)},
            "opt": _optimizer(), "scaler": None, "epoch": 300, "loss": 0.123, "batch_size": 128, "world_size": 16,
            "lr": 0.001}


#: layout -> (builder, timm ViT kwargs, format, inferred arch, needs --trust-checkpoint: never, the
#: argparse.Namespace that DINO, iBOT and MAE files carry is on the safe allow-list)
LAYOUTS = {
    "dino_train": (dino_train, {}, "dino", "vit_tiny_patch16", False),
    "dino_release": (dino_release, {"patch_size": 8}, "structural", "vit_tiny_patch8", False),
    # MoCo v3's vit_small: 12 heads of 32 (moco-v3 vits.py), which only the saved arch can tell.
    "mocov3_vit": (mocov3_vit, {"embed_dim": 384, "num_heads": 12}, "mocov3", "vit_small_patch16_h12", False),
    "mae_train": (mae_train, {}, "mae", "vit_tiny_patch16", False),
    "mae_release": (mae_release, {}, "mae", "vit_tiny_patch16", False),
    "ibot_train": (ibot_train, {"init_values": 0.1}, "ibot", "vit_tiny_patch16_ls", False),
    "ibot_release": (ibot_release, {}, "ibot", "vit_tiny_patch16", False),
    "dinov2_release": (dinov2_release, {"patch_size": 14, "img_size": 518, "init_values": 1e-5, "reg_tokens": 4,
                                        "no_embed_class": True}, "dinov2", "vit_tiny_patch14_ls_reg4_518", False),
    "dinov2_teacher": (dinov2_teacher, {"patch_size": 14, "init_values": 1e-5}, "dinov2", "vit_tiny_patch14_ls", False),
    "ijepa_train": (ijepa_train, {"class_token": False, "global_pool": "avg", "fc_norm": False}, "ijepa",
                    "vit_tiny_patch16_gap", False),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_vit_layout_loads_with_no_missing_key(layout, tmp_path):
    build, vit_kwargs, fmt, arch, trust = LAYOUTS[layout]
    source = _vit_model(**vit_kwargs)
    sd = source.state_dict()
    path = tmp_path / f"{layout}.pth"
    torch.save(build(sd), path)
    model, info = load_backbone(path, trust=trust)
    assert (info.format, info.arch) == (fmt, arch)
    assert info.report.ok and info.report.matched == len(sd)
    loaded = model.state_dict()
    for key in ("blocks.0.attn.qkv.weight", "blocks.11.mlp.fc2.bias", "norm.weight", "pos_embed"):
        assert torch.equal(loaded[key], sd[key]), key  # the teacher / target / query encoder, not the other
    if "reg_token" in sd:  # DINOv2's class position folded back exactly
        assert torch.allclose(loaded["cls_token"], sd["cls_token"])
    side = 2 * source.patch_embed.patch_size[0]  # a 2x2 grid: the same tokens, heads and norms as the source
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        assert torch.allclose(model.eval().forward_features(x), source.forward_features(x), atol=1e-4)


def test_mae_claims_its_method_only_with_evidence(tmp_path):
    sd = _vit()
    torch.save(mae_train(sd), tmp_path / "train.pth")
    assert load_backbone(tmp_path / "train.pth")[1].meta["method"] == "mae"  # the decoder shows it
    torch.save(mae_release(sd), tmp_path / "release.pth")
    assert "method" not in load_backbone(tmp_path / "release.pth")[1].meta  # an encoder alone could be anyone's
    # DeiT main.py: {'model': ViT with its classifier head, ...}: not an MAE layout.
    assert mae({"model": {**sd, "head.weight": torch.zeros(10, 192)}, "epoch": 299}) is None


def test_dinov2_registers_give_dinov2_tokens():
    """The folded layout makes the same tokens DINOv2's prepare_tokens_with_masks makes from its own
    naming (class token + its position, registers without one, patches + theirs)."""
    sd = _vit(patch_size=14, img_size=224, init_values=1e-5, reg_tokens=4, no_embed_class=True)
    ref = _dinov2_naming(sd)
    x = torch.randn(2, 3, 224, 224)
    patches = F.conv2d(x, ref["patch_embed.proj.weight"], ref["patch_embed.proj.bias"], stride=14)
    patches = patches.flatten(2).transpose(1, 2)  # (2, 256, C)
    tokens = torch.cat([ref["cls_token"].expand(2, -1, -1), patches], dim=1) + ref["pos_embed"]
    want = torch.cat([tokens[:, :1], ref["register_tokens"].expand(2, -1, -1), tokens[:, 1:]], dim=1)  # (2, 1+4+256, C)
    from evalsuite.checkpoint.formats.dinov2 import to_timm

    model = build_backbone("vit_tiny_patch14_ls_reg4")
    model.load_state_dict(to_timm(ref))
    with torch.no_grad():
        got = model._pos_embed(model.patch_embed(x))
    assert torch.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("name", [
    "vit_base_patch16", "vit_small_patch8", "vit_large_patch14_ls_reg4_518", "vit_base_patch14_ls_518",
    "vit_large_patch16_reg4", "vit_huge_patch16_gap_448", "vit_base_patch16_384", "vit_tiny_patch14",
])
def test_arch_inferred_from_shapes_without_building(name):
    with torch.device("meta"):  # full-size ViTs: shapes only, nothing allocated
        sd = build_backbone(name).state_dict()
    assert infer_vit(sd) == name
    assert infer_arch(sd) == name


def test_non_vit_state_dicts_are_not_vits():
    sd = build_backbone("resnet_tiny").state_dict()
    assert infer_vit(sd) is None and infer_arch(sd) == "resnet_tiny"
    vit = _vit()
    del vit["blocks.11.norm1.weight"]
    assert infer_arch(vit) is None  # the inferred ViT is still checked key by key


def _tiny(name: str = "vit_tiny_patch16"):
    torch.manual_seed(0)
    return build_backbone(name).eval()


def test_feature_modes_pool_as_documented():
    model = _tiny()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        tokens = model.forward_features(x)  # (2, 1 + 16, 192), final norm applied
        out = {}
        for mode in FEATURE_MODES:
            model.set_feature_mode(mode)
            out[mode] = model(x)
            assert out[mode].shape == (2, model.num_features) == (2, 192 * FEATURE_MODES[mode])
    assert torch.allclose(out["cls"], tokens[:, 0])
    assert torch.allclose(out["avgpool"], tokens[:, 1:].mean(1))
    assert torch.allclose(out["cls+avgpool"], torch.cat([out["cls"], out["avgpool"]], 1))
    # DINO's concatenation: the last of the 4 normed class tokens is the final one; the others differ.
    assert torch.allclose(out["cls_last4"][:, -192:], out["cls"], atol=1e-5)
    assert not torch.allclose(out["cls_last4"][:, :192], out["cls"])
    # DINOv2's linear heads' inputs in one vector: the last 4 class tokens, then the pooled patches
    assert torch.allclose(out["cls_last4+avgpool"], torch.cat([out["cls_last4"], out["avgpool"]], 1), atol=1e-5)


def test_registers_are_not_pooled():
    model = _tiny("vit_tiny_patch16_reg4")
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        tokens = model.forward_features(x)  # (1, 1 + 4 + 4, 192)
        assert tokens.shape[1] == 9
        model.set_feature_mode("avgpool")
        assert torch.allclose(model(x), tokens[:, 5:].mean(1))


def test_bad_feature_mode_is_one_sentence_listing_the_valid_ones():
    with pytest.raises(EvalsuiteError, match=r"unknown feature mode 'patch'; valid feature modes are: avgpool, cls,"):
        apply_feature_mode(_tiny(), "patch")
    gap = _tiny("vit_tiny_patch16_gap")
    assert apply_feature_mode(gap, None) == "avgpool"  # no class token: average pooling, as I-JEPA evaluates
    with pytest.raises(EvalsuiteError, match="'cls' does not apply to vit_tiny_patch16_gap; valid modes are: avgpool"):
        apply_feature_mode(gap, "cls")
    with pytest.raises(EvalsuiteError, match="applies to ViT backbones only"):
        apply_feature_mode(build_backbone("resnet_tiny"), "cls")
    assert apply_feature_mode(build_backbone("resnet_tiny"), None) is None


def test_position_embeddings_are_resampled_to_the_input_grid():
    model = _tiny()
    assert model.train_resolution == 224 and build_backbone("vit_tiny_patch14_ls_518").train_resolution == 518
    x = torch.randn(1, 3, 160, 160)  # a 10x10 grid for a 14x14-grid position embedding
    fixed = VisionTransformer(**TINY, img_size=160, patch_size=16, global_pool="token")  # timm, no dynamic size
    sd = model.state_dict()
    fixed.load_state_dict({**sd, "pos_embed": resample_abs_pos_embed(sd["pos_embed"], (10, 10), num_prefix_tokens=1)})
    with torch.no_grad():
        assert torch.allclose(model(x), fixed.eval()(x), atol=1e-5)
        with pytest.raises(EvalsuiteError, match="divisible by 16"):
            model(torch.randn(1, 3, 40, 40))


def test_any_timm_model_by_name():
    vit = build_backbone("timm:test_vit")
    assert vit.train_resolution == 160 and vit.feature_mode == "cls" and vit.num_features == 64
    assert not any(k.startswith("head") for k in vit.state_dict())
    assert vit(torch.randn(2, 3, 64, 64)).shape == (2, 64)  # resampled from 160's grid
    cnn = build_backbone("timm:resnet18").eval()
    assert cnn.num_features == 512 and cnn(torch.randn(1, 3, 32, 32)).shape == (1, 512)
    with pytest.raises(EvalsuiteError, match="timm has no model 'no_such_net'"):
        build_backbone("timm:no_such_net")


def test_dino_vit_checkpoint_evaluates_end_to_end_with_its_feature_mode(tmp_path, one_thread):
    torch.manual_seed(0)
    source = timm.create_model("test_vit", pretrained=False, num_classes=0)  # timm's own tiny test ViT
    path = tmp_path / "checkpoint.pth"
    torch.save(dino_train(source.state_dict()), path)
    common = [str(path), "--arch", "timm:test_vit", "--datasets", "digits", "--tasks", "knn",
              "--results", str(tmp_path / "r"), "--quiet", "--cfg-options"]
    assert main(["eval", *common, "features.mode=patch"]) == 2  # refused before any feature is extracted
    assert main(["eval", *common, "features.mode=cls_last4"]) == 0
    (row,) = read_rows(tmp_path / "r")
    assert row["feature_mode"] == "cls_last4" and row["value"] > 0.3  # far above 10 digit classes' chance
    assert row["checkpoint"]["format"] == "dino" and row["checkpoint"]["epochs"] == 100
    extra = {"transform": row["transform"], "precision": row["precision"]}
    assert row["protocol_id"] == protocol_id("knn", row["settings"], "digits", {**extra, "feature_mode": "cls_last4"})
    assert row["protocol_id"] != protocol_id("knn", row["settings"], "digits", {**extra, "feature_mode": "cls"})

