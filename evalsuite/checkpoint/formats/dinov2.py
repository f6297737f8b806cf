"""Official DINOv2 checkpoints (Oquab et al. 2024), renamed onto timm's ViT.

Two layouts, both in the naming of facebookresearch/dinov2 ``dinov2/models/vision_transformer.py``:
- ``{'teacher': ...}``: ``dinov2/train/train.py`` ``do_test`` saves ``model.teacher.state_dict()``
  as ``eval/<iteration>/teacher_checkpoint.pth``, a ``ModuleDict`` of ``backbone``, ``dino_head``
  and ``ibot_head``; the teacher is what DINOv2 evaluates.
- the released ``dinov2_vit*14[_reg4]_pretrain.pth``: the backbone as a plain state dict.
The resumable ``model_*.rank_*.pth`` files (``dinov2/fsdp`` ``FSDPCheckpointer``) hold each rank's
FSDP shard (``LOCAL_STATE_DICT``), not whole tensors: evaluate ``teacher_checkpoint.pth`` instead.

Renaming: ``mask_token`` (masked-image modelling only) is dropped; ``block_chunks`` (FSDP) stores
block i as ``blocks.<chunk>.<i>.``, made ``blocks.<i>.``; with registers, DINOv2 adds its position
embedding to the class and patch tokens and appends ``register_tokens`` without one, so the class
position is folded into ``cls_token`` and ``pos_embed`` keeps the patches: timm's ``reg_token`` with
``no_embed_class`` (the same tokens in, the same tokens out). LayerScale ``ls1.gamma`` is timm's name.
"""

from __future__ import annotations

import re

from evalsuite.checkpoint.formats.common import as_tensor_dict, with_prefix
from evalsuite.registry import FORMATS

_CHUNKED = re.compile(r"blocks\.\d+\.(\d+\..*)")


def _backbone(obj: dict) -> dict | None:
    """The backbone's state dict in DINOv2 naming, or None when ``obj`` is not a DINOv2 layout."""
    teacher = obj.get("teacher")
    if isinstance(teacher, dict) and "backbone.mask_token" in teacher:
        return with_prefix(teacher, "backbone.")
    if "mask_token" in obj and "cls_token" in obj and "patch_embed.proj.weight" in obj:
        return as_tensor_dict(obj)
    return None


def to_timm(sd: dict) -> dict:
    out = {}
    for key, value in sd.items():
        if key == "mask_token":
            continue
        m = _CHUNKED.fullmatch(key)
        out[f"blocks.{m[1]}" if m else key] = value
    if "register_tokens" in out:
        pos = out["pos_embed"]  # (1, 1 + grid*grid, D): the class token's position first
        out["reg_token"] = out.pop("register_tokens")
        out["cls_token"] = out["cls_token"] + pos[:, :1]
        out["pos_embed"] = pos[:, 1:]
    return out


@FORMATS.register_module("dinov2")
def dinov2(obj: dict) -> tuple[dict, dict] | None:
    backbone = _backbone(obj)
    return None if backbone is None else (to_timm(backbone), {"method": "dinov2"})
