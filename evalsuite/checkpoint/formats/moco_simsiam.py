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


_MOCOV3_PREFIX = "module.base_encoder."
#: MoCo v3 ViTs whose heads differ from width / 64 (facebookresearch/moco-v3 vits.py).
MOCOV3_VIT_HEADS = {"vit_small": 12}


def _method_if_under(obj: dict, prefix: str, method: str) -> tuple[None, dict] | None:
    """The method's name when the DDP-wrapped encoder ``prefix`` is in ``state_dict``."""
    return (None, {"method": method}) if has_key_under(obj.get("state_dict"), prefix) else None


@FORMATS.register_module("simsiam")
def simsiam(obj: dict) -> tuple[None, dict] | None:
    return _method_if_under(obj, "module.encoder.", "simsiam")


@FORMATS.register_module("moco")
def moco(obj: dict) -> tuple[None, dict] | None:
    return _method_if_under(obj, "module.encoder_q.", "moco")


@FORMATS.register_module("mocov3")
def mocov3(obj: dict) -> tuple[None, dict] | None:
    found = _method_if_under(obj, _MOCOV3_PREFIX, "mocov3")
    heads = MOCOV3_VIT_HEADS.get(obj.get("arch"))
    vit = infer_vit(with_prefix(obj["state_dict"], _MOCOV3_PREFIX)) if found and heads else None
    if vit is not None:
        found[1]["arch"] = with_heads(vit, heads)
    return found
