"""A plain state dict in torchvision naming (torchvision and timm ResNet weights), and the
same under DataParallel/DDP's ``module.`` prefix. The classifier ``fc`` is dropped."""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import as_tensor_dict, drop, is_plain, with_prefix
from evalsuite.registry import FORMATS


@FORMATS.register_module("torchvision")
class TorchvisionFormat:
    name = "torchvision"

    @staticmethod
    def detect(obj: dict) -> bool:
        return is_plain(obj)

    @staticmethod
    def convert(obj: dict):
        return drop(as_tensor_dict(obj), "fc."), {}


@FORMATS.register_module("ddp")
class DDPFormat:
    """``module.conv1.weight`` ...: a model saved while wrapped in (Distributed)DataParallel."""

    name = "ddp"

    @staticmethod
    def detect(obj: dict) -> bool:
        inner = {k[len("module."):]: v for k, v in obj.items() if k.startswith("module.")}
        return len(inner) == len(obj) and is_plain(inner)

    @staticmethod
    def convert(obj: dict):
        return drop(with_prefix(obj, "module."), "fc."), {}
