"""timm's training-script checkpoints: ``{'epoch', 'arch', 'state_dict', 'version', ...}``.

Written by timm's ``CheckpointSaver`` (``timm/utils/checkpoint_saver.py``). timm's ResNets share
torchvision's parameter names, so the weights are found by structure; ``state_dict`` wins over
``state_dict_ema`` by convention, as timm's own tools choose (``validate.py`` and
``clean_checkpoint.py`` load ``state_dict`` unless given ``--use-ema``); ``--key state_dict_ema``
takes the EMA. This adapter records timm's arch name as a hint.
"""

from __future__ import annotations

from evalsuite.registry import FORMATS


@FORMATS.register_module("timm")
def timm_train(obj: dict) -> tuple[None, dict] | None:
    if "arch" in obj and "version" in obj and isinstance(obj.get("state_dict"), dict):
        return None, {"arch_hint": str(obj["arch"])}
    return None
