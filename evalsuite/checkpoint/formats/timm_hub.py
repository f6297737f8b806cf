"""timm models as published on the Hugging Face hub: a folder of ``config.json`` + weights.

Written by timm's ``save_for_hf`` / ``push_to_hf_hub`` (``timm/models/_hub.py``): the weights are the
model's own ``state_dict`` in timm's naming (found by structure, the classifier ``head`` left out),
and ``config.json`` holds ``architecture`` (the timm model name), ``num_classes``, ``model_args``
and ``pretrained_cfg`` (``input_size``, ``mean``, ``std``, ...). The architecture is tried first as
``timm:NAME`` (timm builds it exactly, with ``pretrained=False``), before the shapes' guess; the
mean and std are kept for ``features.normalize=checkpoint``.
"""

from __future__ import annotations

from evalsuite.checkpoint.hub_files import CONFIG
from evalsuite.registry import FORMATS


def _known_to_timm(name: str) -> bool:
    import timm

    return name.split(".")[0] in timm.list_models()


@FORMATS.register_module("timm_hub")
def timm_hub(obj: dict) -> tuple[None, dict] | None:
    config = obj.get(CONFIG)
    if not (isinstance(config, dict) and isinstance(config.get("architecture"), str)):
        return None
    name = config["architecture"].split(".")[0]  # a pretrained tag (.lvd142m) names weights, not an arch
    meta = {"timm_architecture": name}
    if _known_to_timm(name):
        meta.update(arch_hint=f"timm:{name}", arch_from="config.json")
    pretrained = config.get("pretrained_cfg") if isinstance(config.get("pretrained_cfg"), dict) else {}
    if all(isinstance(pretrained.get(k), list) and len(pretrained[k]) == 3 for k in ("mean", "std")):
        meta.update(mean=pretrained["mean"], std=pretrained["std"])
    return None, meta
