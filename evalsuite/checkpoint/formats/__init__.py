"""Checkpoint format adapters, one file each; importing this package registers them all."""

from evalsuite.checkpoint.formats import (  # noqa: F401
    detectron2,
    evalsuite_native,
    lightly,
    lightning,
    mmselfsup,
    moco_simsiam,
    timm_train,
    torchvision_plain,
    vissl,
)
