"""lightly's benchmark models: the backbone is ``nn.Sequential(*list(resnet.children())[:-1])``.

Keys are therefore numbered children, ``backbone.0`` (conv1), ``backbone.1`` (bn1),
``backbone.4``..``backbone.7`` (layer1..layer4), inside a Lightning ``.ckpt`` or a plain dict.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import has_keys_under, with_prefix
from evalsuite.registry import FORMATS

# Index of each named child of a torchvision ResNet in list(resnet.children()).
CHILD_NAMES = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}


def _inner(obj: dict) -> dict:
    return obj["state_dict"] if isinstance(obj.get("state_dict"), dict) else obj


@FORMATS.register_module("lightly")
class LightlyFormat:
    name = "lightly"

    @staticmethod
    def detect(obj: dict) -> bool:
        return has_keys_under(_inner(obj), "backbone.", "0.weight", "4.0.conv1.weight")

    @staticmethod
    def convert(obj: dict):
        out = {}
        for key, value in with_prefix(_inner(obj), "backbone.").items():
            index, _, rest = key.partition(".")
            if index in CHILD_NAMES:
                out[f"{CHILD_NAMES[index]}.{rest}"] = value
        meta = {"epochs": obj["epoch"]} if isinstance(obj.get("epoch"), int) else {}
        return out, meta
