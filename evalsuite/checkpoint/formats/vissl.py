"""VISSL checkpoints: the trunk under ``classy_state_dict.base_model.model.trunk`` with
``_feature_blocks.`` before torchvision's names (``vissl/utils/checkpoint.py``); the structural
search finds it there. This adapter reads the phase index."""

from __future__ import annotations

from evalsuite.registry import FORMATS


def _trunk(obj: dict):
    try:
        return obj["classy_state_dict"]["base_model"]["model"]["trunk"]
    except (KeyError, TypeError):
        return None


@FORMATS.register_module("vissl")
class VisslFormat:
    name = "vissl"

    @staticmethod
    def detect(obj: dict) -> bool:
        trunk = _trunk(obj)
        return isinstance(trunk, dict) and "_feature_blocks.conv1.weight" in trunk

    @staticmethod
    def convert(obj: dict):
        meta = {"epochs": obj["phase_idx"]} if isinstance(obj.get("phase_idx"), int) else {}
        return None, meta
