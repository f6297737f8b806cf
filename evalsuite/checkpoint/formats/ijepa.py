"""Official I-JEPA checkpoints (Assran et al. 2023): the target encoder.

facebookresearch/ijepa ``src/train.py`` ``save_checkpoint`` writes ``{'encoder', 'predictor',
'target_encoder', 'opt', 'scaler', 'epoch', 'loss', 'batch_size', 'world_size', 'lr'}``; each
network is DDP-wrapped (``module.``) when trained on more than one process. Its
``src/models/vision_transformer.py`` has timm's naming and no class token (arch ``vit_*_gap``).
The target (EMA) encoder is the one I-JEPA evaluates, average-pooled (paper, Sec. 3 and App. A):
the structural search takes it by that convention (``evalsuite.checkpoint.conventions``); this adapter
names the method and epochs.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import epochs_from
from evalsuite.registry import FORMATS


@FORMATS.register_module("ijepa")
def ijepa(obj: dict) -> tuple[None, dict] | None:
    if not (isinstance(obj.get("target_encoder"), dict) and "predictor" in obj):
        return None
    return None, {"method": "ijepa", **epochs_from(obj)}  # save_checkpoint(epoch + 1): epochs done
