"""detectron2 ResNets (``.pkl`` from the MoCo/SimSiam conversion scripts, or a trained ``.pth``).

detectron2 renames torchvision's ResNet: ``conv1``/``bn1`` -> ``stem.conv1``/``stem.conv1.norm``,
``layerN`` -> ``res{N+1}``, ``bnK`` -> ``convK.norm``, ``downsample.0/1`` -> ``shortcut``/
``shortcut.norm``. ``to_detectron2`` is that map and ``from_detectron2`` its inverse; a trained
model keeps the trunk under ``backbone.bottom_up.`` (FPN) or ``backbone.`` plus
``roi_heads.res5.`` (C4), which are all read back.
"""

from __future__ import annotations

import re

import torch

from evalsuite.checkpoint.formats.common import as_tensor_dict
from evalsuite.registry import FORMATS

_TRUNK_PREFIXES = ("backbone.bottom_up.", "backbone.", "")
_C4_RES5 = "roi_heads.res5."


def to_detectron2(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision ResNet keys -> detectron2 keys (``num_batches_tracked`` dropped)."""
    out = {}
    for key, value in sd.items():
        if key.endswith("num_batches_tracked") or key.startswith("fc."):
            continue
        new = re.sub(r"^conv1\.", "stem.conv1.", key)
        new = re.sub(r"^bn1\.", "stem.conv1.norm.", new)
        new = re.sub(r"^layer(\d)\.", lambda m: f"res{int(m.group(1)) + 1}.", new)
        new = re.sub(r"\.bn(\d)\.", r".conv\1.norm.", new)
        new = new.replace(".downsample.0.", ".shortcut.").replace(".downsample.1.", ".shortcut.norm.")
        out[new] = value
    return out


def from_detectron2(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """detectron2 trunk keys (no prefix) -> torchvision ResNet keys."""
    out = {}
    for key, value in sd.items():
        new = key.replace("stem.conv1.norm.", "bn1.").replace("stem.conv1.", "conv1.")
        new = new.replace(".shortcut.norm.", ".downsample.1.").replace(".shortcut.", ".downsample.0.")
        new = re.sub(r"\.conv(\d)\.norm\.", r".bn\1.", new)
        new = re.sub(r"^res(\d)\.", lambda m: f"layer{int(m.group(1)) - 1}.", new)
        out[new] = value
    return out


def _trunk(model: dict) -> dict[str, torch.Tensor]:
    weights = as_tensor_dict(model)
    for prefix in _TRUNK_PREFIXES:
        if prefix + "stem.conv1.weight" in weights:
            trunk = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix) and k[len(prefix):].startswith(("stem.", "res"))}
            # res5 blocks only: MoCo's C4 head adds ``roi_heads.res5.norm``, which is not backbone.
            trunk.update({"res5." + k[len(_C4_RES5):]: v for k, v in weights.items()
                          if k.startswith(_C4_RES5) and k[len(_C4_RES5):].split(".")[0].isdigit()})
            return trunk
    return {}


@FORMATS.register_module("detectron2")
def detectron2(obj: dict) -> tuple[dict, dict] | None:
    model = obj.get("model")
    if not (isinstance(model, dict) and any(isinstance(k, str) and k.endswith("stem.conv1.weight") for k in model)):
        return None
    meta = {"author": obj["__author__"]} if isinstance(obj.get("__author__"), str) else {}
    return from_detectron2(_trunk(model)), meta
