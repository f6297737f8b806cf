"""Official facebookresearch SimSiam and MoCo v1/v2/v3 checkpoints.

All store ``{'arch', 'epoch', 'state_dict', 'optimizer'}`` of the DDP-wrapped builder
(``main_moco.py`` / ``main_simsiam.py`` ``save_checkpoint``): SimSiam's encoder is
``module.encoder.``, MoCo v1/v2's query encoder ``module.encoder_q.`` and MoCo v3's
``module.base_encoder.``. The weights are found by structure (the query/base encoder by the
MoCo convention, each encoder's projection MLP ``fc`` dropped as their ``main_lincls.py`` does);
these adapters only name the method.
"""

from __future__ import annotations

from evalsuite.checkpoint.formats.common import has_key_under
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


@FORMATS.register_module("mocov3")
class MoCoV3Format(_Official):
    name, prefix, method = "mocov3", "module.base_encoder.", "mocov3"
