"""Official facebookresearch SimSiam and MoCo v1/v2/v3 checkpoints.

All store ``{'arch', 'epoch', 'state_dict', 'optimizer'}`` of the DDP-wrapped builder
(``main_moco.py`` / ``main_simsiam.py`` ``save_checkpoint``): SimSiam's encoder is
``module.encoder.``, MoCo v1/v2's query encoder ``module.encoder_q.`` and MoCo v3's
``module.base_encoder.``. The weights are found by structure (the query/base encoder by the
MoCo convention, each encoder's projection MLP ``fc`` dropped as their ``main_lincls.py`` does);
these adapters only name the method. MoCo v3's ViTs (``vits.py``, a subclass of timm's
``VisionTransformer``) keep timm's naming; its ``vit_small`` has 12 heads, not the usual 6, which
shapes cannot show, so the saved ``arch`` sets it.
"""

from __future__ import annotations

from evalsuite.archs.vit import infer_vit, with_heads
from evalsuite.checkpoint.formats.common import has_key_under, with_prefix
from evalsuite.registry import FORMATS


class _Official:
    prefix = ""
    method = ""

    @classmethod
    def detect(cls, obj: dict) -> bool:
        return has_key_under(obj.get("state_dict"), cls.prefix)

    @classmethod
    def convert(cls, obj: dict):
        return None, {"method": cls.method}


@FORMATS.register_module("simsiam")
class SimSiamFormat(_Official):
    name, prefix, method = "simsiam", "module.encoder.", "simsiam"


@FORMATS.register_module("moco")
class MoCoFormat(_Official):
    name, prefix, method = "moco", "module.encoder_q.", "moco"


#: MoCo v3 ViTs whose heads differ from width / 64 (facebookresearch/moco-v3 vits.py).
MOCOV3_VIT_HEADS = {"vit_small": 12}


@FORMATS.register_module("mocov3")
class MoCoV3Format(_Official):
    name, prefix, method = "mocov3", "module.base_encoder.", "mocov3"

    @classmethod
    def convert(cls, obj: dict):
        tensors, meta = super().convert(obj)
        heads = MOCOV3_VIT_HEADS.get(obj.get("arch"))
        vit = infer_vit(with_prefix(obj["state_dict"], cls.prefix)) if heads else None
        if vit is not None:
            meta["arch"] = with_heads(vit, heads)
        return tensors, meta
