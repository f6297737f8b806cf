"""solo-learn and other PyTorch Lightning ``.ckpt`` files whose model keeps a ``backbone``.

Layout: ``{'pytorch-lightning_version', 'state_dict': {'backbone.conv1.weight', ...,
'projector.*', 'momentum_backbone.*'}, 'hyper_parameters'?}``. Only ``backbone.`` is kept;
solo-learn's backbone has no ``fc`` but a Lightning classifier's would, so it is dropped.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import drop, has_keys_under, with_prefix
from evalsuite.registry import FORMATS


@FORMATS.register_module("lightning")
class LightningFormat:
    name = "lightning"

    @staticmethod
    def detect(obj: dict) -> bool:
        return "pytorch-lightning_version" in obj and has_keys_under(obj.get("state_dict"), "backbone.", "conv1.weight")

    @staticmethod
    def convert(obj: dict):
        meta = {"lightning_version": str(obj["pytorch-lightning_version"])}
        hparams = obj.get("hyper_parameters") or {}
        method = hparams.get("method") if isinstance(hparams, dict) else None
        if isinstance(method, str):
            meta["method"] = method
        if isinstance(obj.get("epoch"), int):
            meta["epochs"] = obj["epoch"]
        return drop(with_prefix(obj["state_dict"], "backbone."), "fc."), meta
