"""timm's training-script checkpoints: ``{'epoch', 'arch', 'state_dict', 'version', ...}``.

timm's ResNets share torchvision's parameter names; the EMA weights are used when present
(``state_dict_ema``), since timm reports those. Plain timm weight files are plain state dicts
and are read by the ``torchvision`` format.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import as_tensor_dict, drop, is_plain
from evalsuite.registry import FORMATS


@FORMATS.register_module("timm")
class TimmFormat:
    name = "timm"

    @staticmethod
    def detect(obj: dict) -> bool:
        return "arch" in obj and "version" in obj and is_plain(obj.get("state_dict"))

    @staticmethod
    def convert(obj: dict):
        weights = obj.get("state_dict_ema") or obj["state_dict"]
        meta = {"arch_hint": str(obj["arch"])}
        if isinstance(obj.get("epoch"), int):
            meta["epochs"] = obj["epoch"]
        return drop(as_tensor_dict(weights), "fc."), meta
