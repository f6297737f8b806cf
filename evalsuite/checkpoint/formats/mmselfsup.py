"""MMSelfSup / MMPretrain checkpoints: ``{'meta', 'state_dict': {'backbone.*', 'neck.*', 'head.*'}}``.

mmcv's ResNet uses torchvision's parameter names, so the backbone is found by structure under
``backbone.``; this adapter reads the epoch from mmengine's ``meta``.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import epochs_from, has_key_under
from evalsuite.registry import FORMATS


@FORMATS.register_module("mmselfsup")
def mmselfsup(obj: dict) -> tuple[None, dict] | None:
    meta = obj.get("meta")
    if "pytorch-lightning_version" in obj or not isinstance(meta, dict):
        return None
    if not has_key_under(obj.get("state_dict"), "backbone."):
        return None
    return None, epochs_from(meta)
