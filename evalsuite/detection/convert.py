"""A torchvision ResNet backbone -> detectron2 naming -> the trunk of a detectron2 Faster R-CNN.

The key map is ``evalsuite.checkpoint.formats.detectron2.to_detectron2``. Where the trunk lives:
FPN models keep all of it under ``backbone.bottom_up.``; C4 models keep stem..res4 under
``backbone.`` and res5 in the box head, ``roi_heads.res5.`` (Ren et al. 2015 / He et al. 2017's
C4 design). Loading is strict in both directions: a converted key the model lacks, a trunk key
left unloaded, or a shape mismatch is an error.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from evalsuite.checkpoint.formats.detectron2 import to_detectron2
from evalsuite.errors import EvalsuiteError

#: (blocks per stage, block type) -> depth, for the torchvision ResNets detectron2 can build.
_DEPTHS = {((2, 2, 2, 2), "BasicBlock"): 18, ((3, 4, 6, 3), "BasicBlock"): 34,
           ((3, 4, 6, 3), "Bottleneck"): 50, ((3, 4, 23, 3), "Bottleneck"): 101}
_OPTIONAL = "num_batches_tracked"


def resnet_depth(backbone: nn.Module) -> int:
    """Depth of a torchvision ResNet with the ImageNet stem (7x7 conv, max-pool), else an error."""
    try:
        blocks = tuple(len(getattr(backbone, f"layer{i}")) for i in range(1, 5))
        kind = type(backbone.layer1[0]).__name__
        stem_ok = backbone.conv1.kernel_size == (7, 7) and backbone.conv1.out_channels == 64 and isinstance(backbone.maxpool, nn.MaxPool2d)
    except (AttributeError, TypeError, IndexError):
        blocks, kind, stem_ok = None, type(backbone).__name__, False
    depth = _DEPTHS.get((blocks, kind))
    if depth is None or not stem_ok:
        raise EvalsuiteError(f"detection needs a torchvision ResNet-18/34/50/101 with the ImageNet stem; got {kind} "
                             f"with stages {blocks} (arches like resnet18 and resnet50 work)")
    return depth


def detectron2_key(key: str, meta_arch: str) -> str:
    """detectron2 trunk key (``res5.0.conv1.weight``) -> its place in the Faster R-CNN model."""
    if meta_arch == "FPN":
        return "backbone.bottom_up." + key
    return "roi_heads." + key if key.startswith("res5.") else "backbone." + key


def trunk_keys(model_keys, meta_arch: str) -> list[str]:
    """The model's keys that a backbone checkpoint must provide (bar ``num_batches_tracked``)."""
    pattern = r"^backbone\.bottom_up\.(stem|res\d)\." if meta_arch == "FPN" else r"^(backbone\.(stem|res\d)\.|roi_heads\.res5\.\d+\.)"
    return [k for k in model_keys if re.match(pattern, k) and not k.endswith(_OPTIONAL)]


def backbone_to_detectron2(state_dict: dict[str, torch.Tensor], meta_arch: str) -> dict[str, torch.Tensor]:
    return {detectron2_key(k, meta_arch): v for k, v in to_detectron2(state_dict).items()}


def load_trunk(model: nn.Module, backbone: nn.Module, meta_arch: str) -> dict:
    """Copy ``backbone``'s weights into detectron2 ``model``; returns counts for the result row."""
    mapped = backbone_to_detectron2(backbone.state_dict(), meta_arch)
    target = model.state_dict()
    unexpected = [k for k in mapped if k not in target]
    mismatched = [k for k in mapped if k in target and target[k].shape != mapped[k].shape]
    trunk = trunk_keys(target, meta_arch)
    missing = [k for k in trunk if k not in mapped]
    if unexpected or mismatched or missing:
        parts = [f"{len(v)} {label} such as {v[0]}" for label, v in
                 (("keys the model lacks", unexpected), ("shape mismatches", mismatched), ("unloaded trunk keys", missing)) if v]
        raise EvalsuiteError(f"backbone does not fit the detectron2 {meta_arch} model: {'; '.join(parts)}")
    model.load_state_dict(mapped, strict=False)  # heads stay at their init; the trunk is checked above
    n_params = sum(1 for k in mapped if not re.search(r"running_(mean|var)$", k))
    return {"loaded_tensors": len(mapped), "loaded_parameters": n_params, "trunk_tensors": len(trunk)}
