"""MMSelfSup / MMPretrain checkpoints: ``{'meta', 'state_dict': {'backbone.*', 'neck.*', 'head.*'}}``.

mmcv's ResNet uses torchvision's parameter names, so stripping ``backbone.`` is the whole map.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import has_keys_under, with_prefix
from evalsuite.registry import FORMATS


@FORMATS.register_module("mmselfsup")
class MMSelfSupFormat:
    name = "mmselfsup"

    @staticmethod
    def detect(obj: dict) -> bool:
        return (
            "pytorch-lightning_version" not in obj
            and isinstance(obj.get("meta"), dict)
            and has_keys_under(obj.get("state_dict"), "backbone.", "conv1.weight")
        )

    @staticmethod
    def convert(obj: dict):
        meta = {}
        if isinstance(obj["meta"].get("epoch"), int):
            meta["epochs"] = obj["meta"]["epoch"]
        return with_prefix(obj["state_dict"], "backbone."), meta
