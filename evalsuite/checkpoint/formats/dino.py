"""Official DINO training checkpoints (Caron et al. 2021), ViT or ResNet.

facebookresearch/dino ``main_dino.py`` saves ``{'student', 'teacher', 'optimizer', 'epoch', 'args',
'dino_loss'}`` (plus ``fp16_scaler``): each network is a ``MultiCropWrapper`` with ``backbone.`` and
``head.`` (the DINO projection head). The student is DDP-wrapped (``module.backbone.``); the teacher
only when its backbone has BatchNorm (ResNets), else it is saved bare. The teacher is what DINO
evaluates (its ``eval_linear.py`` and ``eval_knn.py`` default to ``--checkpoint_key teacher``); the
structural search finds it by that convention, and this adapter names the method and epochs. The
released backbone-only files are plain state dicts, read as such.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import epochs_from, with_prefix
from evalsuite.registry import FORMATS


def teacher_backbone(teacher: dict) -> dict:
    """The backbone of a DINO-style ``MultiCropWrapper`` state dict, with or without DDP's prefix."""
    prefix = "module.backbone." if any(k.startswith("module.backbone.") for k in teacher) else "backbone."
    return with_prefix(teacher, prefix)


def self_distillation_meta(obj: dict, method: str) -> dict:
    """Method, epochs done (these scripts save ``epoch + 1``) and the ``args.arch`` they trained."""
    meta = {"method": method, **epochs_from(obj)}
    arch = getattr(obj.get("args"), "arch", None)
    if isinstance(arch, str):
        meta["arch_hint"] = arch
    return meta


@FORMATS.register_module("dino")
def dino(obj: dict) -> tuple[None, dict] | None:
    teacher = obj.get("teacher")
    if "dino_loss" in obj and isinstance(teacher, dict) and any(".backbone." in f".{k}" for k in teacher):
        return None, self_distillation_meta(obj, "dino")
    return None
