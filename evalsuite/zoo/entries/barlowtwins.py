"""Barlow Twins (Zbontar et al. 2021, arXiv 2103.03230): the ResNet-50 of facebookresearch/barlowtwins.

URL and figure: README.md (commit 004dce3e), 'Pretrained Model' table: 1000 epochs, batch 2048,
acc1 73.3%, the 'ResNet-50' link. (hubconf.py of a later commit points at another file,
``ep1000_bs2048_lrw0.2_lrb0.0048_lambd0.0051/resnet50.pth``, with no figure beside it, so it is
not this entry.) No hash is published. Layout: the torchvision ResNet-50 state dict without
``fc`` (main.py saves ``model.module.backbone.state_dict()``, whose fc is an Identity).
"""

from evalsuite.zoo.entries._protocols import BARLOW_LINEAR
from evalsuite.zoo.entry import Figure, ZooEntry, add

README = "facebookresearch/barlowtwins README.md (commit 004dce3e), 'Pretrained Model' table"

add(ZooEntry(
    "barlowtwins_resnet50_1000ep", "Barlow Twins", "resnet50",
    "https://dl.fbaipublicfiles.com/barlowtwins/epochs1000_bs2048_lr0.2_lambd0.0051_proj_8192_8192_8192_scale0.024/resnet50.pth",
    README, "torchvision ResNet-50 state dict without fc", 224, 1000, "imagenet-1k",
    (Figure("imagenet", "linear", "top1", 73.3, f"{README}, acc1 column", {}, BARLOW_LINEAR),),
    "Zbontar et al. 2021, Barlow Twins: Self-Supervised Learning via Redundancy Reduction (arXiv 2103.03230)"))
