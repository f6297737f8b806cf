"""MMSelfSup / MMPretrain checkpoints: ``{'meta', 'state_dict': {'backbone.*', 'neck.*', 'head.*'}}``.

mmcv's ResNet uses torchvision's parameter names, so the backbone is found by structure under
``backbone.``; this adapter reads the epoch from mmengine's ``meta``.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import has_key_under
from evalsuite.registry import FORMATS


@FORMATS.register_module("mmselfsup")
class MMSelfSupFormat:
    name = "mmselfsup"

    @staticmethod
    def detect(obj: dict) -> bool:
        return (
            "pytorch-lightning_version" not in obj
            and isinstance(obj.get("meta"), dict)
            and has_key_under(obj.get("state_dict"), "backbone.")
        )

    @staticmethod
    def convert(obj: dict):
        meta = {}
        if isinstance(obj["meta"].get("epoch"), int):
            meta["epochs"] = obj["meta"]["epoch"]
        return None, meta
