"""lightly's models: the backbone is ``nn.Sequential(*list(resnet.children())[:-1])``.

Its keys are therefore numbered children, renamed here to the arch's names:

- a torchvision ResNet (lightly's ``examples/`` and ImageNet benchmarks): ``backbone.0`` conv1,
  ``backbone.1`` bn1, ``backbone.4``..``backbone.7`` layer1..layer4 (2 and 3 are ReLU and
  max-pool, without weights);
- lightly's own CIFAR ResNet (``lightly/models/resnet.py``, ``ResNetGenerator``: children conv1,
  bn1, layer1..layer4, linear; a 3x3 stem without max-pool): ``backbone.0``, ``backbone.1``,
  ``backbone.2``..``backbone.5``, and each block's projection is ``shortcut`` where torchvision
  says ``downsample``. Its shapes are those of ``cifar_resnet18``/``cifar_resnet50``.

Inside a Lightning ``.ckpt`` (``state_dict``) or a plain ``torch.save(model.state_dict())``.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import has_keys_under, with_prefix
from evalsuite.registry import FORMATS

# Index of each named child in list(resnet.children()), for each of the two ResNets.
TORCHVISION_CHILDREN = {"0": "conv1", "1": "bn1", "4": "layer1", "5": "layer2", "6": "layer3", "7": "layer4"}
GENERATOR_CHILDREN = {"0": "conv1", "1": "bn1", "2": "layer1", "3": "layer2", "4": "layer3", "5": "layer4"}
CHILD_NAMES = TORCHVISION_CHILDREN  # kept for callers that build the torchvision layout


def _inner(obj: dict) -> dict:
    return obj["state_dict"] if isinstance(obj.get("state_dict"), dict) else obj


def _is_generator(sd: dict) -> bool:
    """lightly's CIFAR ResNet: blocks right after bn1 (child 2 has weights)."""
    return has_keys_under(sd, "backbone.", "2.0.conv1.weight")


@FORMATS.register_module("lightly")
def lightly(obj: dict) -> tuple[dict, dict] | None:
    sd = _inner(obj)
    if not (has_keys_under(sd, "backbone.", "0.weight", "1.running_mean") and (
            has_keys_under(sd, "backbone.", "4.0.conv1.weight") or _is_generator(sd))):
        return None
    children = GENERATOR_CHILDREN if _is_generator(sd) else TORCHVISION_CHILDREN
    out = {}
    for key, value in with_prefix(sd, "backbone.").items():
        index, _, rest = key.partition(".")
        if index in children:
            if children is GENERATOR_CHILDREN:
                rest = rest.replace(".shortcut.", ".downsample.")
            out[f"{children[index]}.{rest}"] = value
    return out, {}
