"""Hugging Face ``transformers`` ViTs (``ViTModel``, ``Dinov2Model``, ``Dinov2WithRegistersModel``),
renamed onto timm's ViT. No ``transformers`` import: the names are its modules' attribute paths.

``save_pretrained`` writes the model's ``state_dict`` (``evalsuite/checkpoint/hub_files.py``). Names,
from transformers' ``models/vit/modeling_vit.py`` and ``models/dinov2/modeling_dinov2.py`` (and
``dinov2_with_registers``), under ``vit.`` / ``dinov2.`` in the ``*ForImageClassification`` heads:

- ``embeddings.cls_token``, ``embeddings.position_embeddings`` (class position first),
  ``embeddings.patch_embeddings.projection`` -> ``cls_token``, ``pos_embed``, ``patch_embed.proj``;
  ``embeddings.mask_token`` (masked modelling) is dropped, ``embeddings.register_tokens`` are folded
  as DINOv2's own registers are (``formats/dinov2.py``: no position, inserted after the class token);
- ``encoder.layer.N.attention.attention.{query,key,value}`` -> one ``blocks.N.attn.qkv`` (q, k, v
  stacked in that order, as timm's ``Attention`` splits its output);
  ``attention.output.dense`` -> ``attn.proj``;
- ViT: ``layernorm_before`` / ``layernorm_after`` -> ``norm1`` / ``norm2``, ``intermediate.dense`` /
  ``output.dense`` -> ``mlp.fc1`` / ``mlp.fc2``; DINOv2: ``norm1``, ``norm2``, ``mlp.fc1``, ``mlp.fc2`` as
  they are, ``layer_scale{1,2}.lambda1`` -> ``ls{1,2}.gamma``;
- ``layernorm`` -> ``norm``; ``pooler`` and ``classifier`` are heads, left out.

The arch comes from ``config.json`` where the folder has one (heads included, which shapes cannot
show), else from the shapes. transformers' ViT normalises with eps 1e-12 where timm uses 1e-6: the
features differ by far less than float32 resolution of a layer norm's output at any real variance.
"""

from __future__ import annotations

import re

import torch

from evalsuite.archs.vit import SIZES, ViTSpec
from evalsuite.checkpoint.formats.dinov2 import to_timm
from evalsuite.checkpoint.hub_files import CONFIG
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import FORMATS

_PROJ = "embeddings.patch_embeddings.projection.weight"
#: config.json ``model_type`` -> (LayerScale, method the weights' release is known by)
MODEL_TYPES = {"vit": (False, None), "dinov2": (True, "dinov2"), "dinov2_with_registers": (True, "dinov2")}
_RENAMES = (
    (r"embeddings\.cls_token", "cls_token"),
    (r"embeddings\.mask_token", "mask_token"),
    (r"embeddings\.register_tokens", "register_tokens"),
    (r"embeddings\.position_embeddings", "pos_embed"),
    (r"embeddings\.patch_embeddings\.projection\.", "patch_embed.proj."),
    (r"encoder\.layer\.(\d+)\.(?:layernorm_before|norm1)\.", r"blocks.\1.norm1."),
    (r"encoder\.layer\.(\d+)\.(?:layernorm_after|norm2)\.", r"blocks.\1.norm2."),
    (r"encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (r"encoder\.layer\.(\d+)\.(?:intermediate\.dense|mlp\.fc1)\.", r"blocks.\1.mlp.fc1."),
    (r"encoder\.layer\.(\d+)\.(?:output\.dense|mlp\.fc2)\.", r"blocks.\1.mlp.fc2."),
    (r"encoder\.layer\.(\d+)\.layer_scale(\d)\.lambda1", r"blocks.\1.ls\2.gamma"),
    (r"layernorm\.", "norm."),
)
_QKV = re.compile(r"encoder\.layer\.(\d+)\.attention\.attention\.(query|key|value)\.(weight|bias)")


def _rename(key: str) -> str | None:
    for pattern, repl in _RENAMES:
        new, n = re.subn(f"^{pattern}", repl, key)
        if n:
            return new
    return None


def to_dinov2_naming(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers' names (no wrapper prefix) -> DINOv2's own names; heads keep their names."""
    out, qkv = {}, {}
    for key, value in sd.items():
        m = _QKV.fullmatch(key)
        if m:
            qkv.setdefault((m[1], m[3]), {})[m[2]] = value
        else:
            out[_rename(key) or key] = value
    for (block, kind), parts in qkv.items():
        if len(parts) == 3:  # (3D, D) weight or (3D,) bias: q, k, v stacked
            out[f"blocks.{block}.attn.qkv.{kind}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return out


def arch_from_config(config: dict) -> str | None:
    """The ViT name a transformers ``config.json`` describes, None for other model types; a ViT
    this project cannot build (SwiGLU, another MLP ratio or width) is one sentence naming why."""
    model_type = config.get("model_type")
    if model_type not in MODEL_TYPES:
        return None
    width, depth = config.get("hidden_size"), config.get("num_hidden_layers")
    size = next((s for s, (w, d) in SIZES.items() if (w, d) == (width, depth)), None)
    ratio = config.get("mlp_ratio", (config.get("intermediate_size") or 0) / max(width or 1, 1))
    problem = ("use_swiglu_ffn=true (ViT-g/14's SwiGLU MLP)" if config.get("use_swiglu_ffn")
               else f"hidden_size={width} with num_hidden_layers={depth}" if size is None
               else f"an MLP ratio of {ratio:g}" if ratio != 4
               else "qkv_bias=false" if config.get("qkv_bias") is False else None)
    if problem:
        raise EvalsuiteError(f"the {model_type} model in config.json has {problem}, which evalsuite's ViT cannot "
                             f"build; it builds ViT-{'/'.join(SIZES)} of their standard width and depth, MLP ratio 4")
    spec = ViTSpec(size, int(config["patch_size"]), MODEL_TYPES[model_type][0], int(config.get("num_register_tokens", 0)),
                   resolution=int(config.get("image_size", 224)), heads=int(config.get("num_attention_heads", 0)))
    return ViTSpec.parse(spec.name) and spec.name


def _prefix(obj: dict) -> str | None:
    """The wrapper prefix (``''``, ``vit.``, ``dinov2.``) under which transformers' ViT names are."""
    for key in obj:
        if isinstance(key, str) and key.endswith(_PROJ):
            return key[: -len(_PROJ)]
    return None


@FORMATS.register_module("transformers")
def transformers_vit(obj: dict) -> tuple[dict, dict] | None:
    prefix = _prefix(obj)
    if prefix is None:
        return None
    inner = {k[len(prefix):]: v for k, v in obj.items()
             if isinstance(k, str) and k.startswith(prefix) and isinstance(v, torch.Tensor)}
    config = obj.get(CONFIG) if isinstance(obj.get(CONFIG), dict) else {}
    meta = {"hf_model_type": config["model_type"]} if config.get("model_type") else {}
    arch = arch_from_config(config)
    if arch:
        meta.update(arch=arch, arch_from="config.json")
    method = MODEL_TYPES.get(config.get("model_type"), (False, None))[1]
    if method:
        meta["method"] = method
    return to_timm(to_dinov2_naming(inner)), meta
