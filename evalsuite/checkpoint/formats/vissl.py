"""VISSL checkpoints: the trunk under ``classy_state_dict.base_model.model.trunk`` with
``_feature_blocks.`` before torchvision's names (``vissl/utils/checkpoint.py``); the structural
search finds it there. This adapter reads the phase index."""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import epochs_from
from evalsuite.registry import FORMATS


def _trunk(obj: dict):
    try:
        return obj["classy_state_dict"]["base_model"]["model"]["trunk"]
    except (KeyError, TypeError):
        return None


@FORMATS.register_module("vissl")
def vissl(obj: dict) -> tuple[None, dict] | None:
    trunk = _trunk(obj)
    if isinstance(trunk, dict) and "_feature_blocks.conv1.weight" in trunk:
        return None, epochs_from(obj, "phase_idx")
    return None
