"""Official iBOT checkpoints (Zhou et al. 2022), renamed onto timm's ViT.

bytedance/ibot ``main_ibot.py`` saves DINO's layout with ``ibot_loss`` in place of ``dino_loss``:
``{'student', 'teacher', 'optimizer', 'epoch', 'args', 'ibot_loss'}``; the teacher (``backbone.``
and ``head.``) is what iBOT evaluates. Its released ``checkpoint_teacher.pth`` files hold the teacher
as ``{'state_dict': ...}`` (the default ``--checkpoint_key`` of its
``evaluation/classification_layer_decay/extract_backbone_weights.py``).

iBOT's ``models/vision_transformer.py`` names LayerScale ``gamma_1``/``gamma_2`` (timm: ``ls1.gamma``,
``ls2.gamma``) and, with masked image modelling, keeps a ``masked_embed`` token that only
pre-training uses; it is dropped.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.dino import self_distillation_meta, teacher_backbone
from evalsuite.registry import FORMATS

_RENAME = {".gamma_1": ".ls1.gamma", ".gamma_2": ".ls2.gamma"}


def _to_timm(backbone: dict) -> dict:
    out = {}
    for key, value in backbone.items():
        if key == "masked_embed":
            continue
        for old, new in _RENAME.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
        out[key] = value
    return out


def _teacher(obj: dict):
    """The teacher's state dict in a training checkpoint or a released teacher file, else None."""
    if "ibot_loss" in obj and isinstance(obj.get("teacher"), dict):
        return obj["teacher"]
    inner = obj.get("state_dict")
    if set(obj) == {"state_dict"} and isinstance(inner, dict) and "backbone.cls_token" in inner:
        return inner
    return None


@FORMATS.register_module("ibot")
def ibot(obj: dict) -> tuple[dict, dict] | None:
    teacher = _teacher(obj)
    return None if teacher is None else (_to_timm(teacher_backbone(teacher)), self_distillation_meta(obj, "ibot"))
