"""solo-learn and other PyTorch Lightning ``.ckpt`` files whose model keeps a ``backbone``.

Layout: ``{'pytorch-lightning_version', 'state_dict': {'backbone.conv1.weight', ...,
'projector.*', 'momentum_backbone.*'}, 'hyper_parameters'?}`` (solo-learn's
``methods/base.py``; Lightning's ``ModelCheckpoint``). The weights are found by structure
(``backbone.`` over ``momentum_backbone.`` by convention); this adapter reads the method and epoch.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import epochs_from
from evalsuite.registry import FORMATS


@FORMATS.register_module("lightning")
def lightning(obj: dict) -> tuple[None, dict] | None:
    if not ("pytorch-lightning_version" in obj and isinstance(obj.get("state_dict"), dict)):
        return None
    meta = {"lightning_version": str(obj["pytorch-lightning_version"])}
    hparams = obj.get("hyper_parameters") or {}
    method = hparams.get("method") if isinstance(hparams, dict) else None
    if isinstance(method, str):
        meta["method"] = method
    return None, {**meta, **epochs_from(obj)}
