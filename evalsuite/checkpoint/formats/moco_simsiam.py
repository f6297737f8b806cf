"""Official facebookresearch SimSiam and MoCo v1/v2/v3 checkpoints.

All store ``{'arch', 'epoch', 'state_dict', 'optimizer'}`` of the DDP-wrapped builder:
SimSiam's encoder is ``module.encoder.``, MoCo v1/v2's query encoder ``module.encoder_q.``
and MoCo v3's ``module.base_encoder.``. Each encoder's ``fc`` is the projection MLP there,
not a classifier, so it is dropped (as those repos' ``main_lincls.py`` do).
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import drop, has_keys_under, with_prefix
from evalsuite.registry import FORMATS


def _meta(obj: dict, method: str) -> dict:
    meta = {"method": method}
    if isinstance(obj.get("arch"), str):
        meta["arch_hint"] = obj["arch"]
    if isinstance(obj.get("epoch"), int):
        meta["epochs"] = obj["epoch"]
    return meta


class _Official:
    prefix = ""
    method = ""

    @classmethod
    def detect(cls, obj: dict) -> bool:
        return has_keys_under(obj.get("state_dict"), cls.prefix, "conv1.weight")

    @classmethod
    def convert(cls, obj: dict):
        return drop(with_prefix(obj["state_dict"], cls.prefix), "fc."), _meta(obj, cls.method)


@FORMATS.register_module("simsiam")
class SimSiamFormat(_Official):
    name, prefix, method = "simsiam", "module.encoder.", "simsiam"


@FORMATS.register_module("moco")
class MoCoFormat(_Official):
    name, prefix, method = "moco", "module.encoder_q.", "moco"


@FORMATS.register_module("mocov3")
class MoCoV3Format(_Official):
    name, prefix, method = "mocov3", "module.base_encoder.", "mocov3"
