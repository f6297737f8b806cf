"""SwAV (Caron et al. 2020, arXiv 2006.09882): the 800-epoch ResNet-50 of facebookresearch/swav.

URL and figure: README.md, 'Model Zoo' table (SwAV, 800 epochs, batch 4096, 2x224 + 6x96 crops,
ImageNet top-1 75.3); hubconf.py loads the same URL. No hash is published. Layout: the bare
state dict of the DDP model (``module.`` prefix; src/resnet50.py names the trunk as torchvision
does, beside ``projection_head`` and ``prototypes``).
"""

from evalsuite.zoo.entries._protocols import SWAV_LINEAR
from evalsuite.zoo.entry import Figure, ZooEntry, add

README = "facebookresearch/swav README.md, 'Model Zoo' table"

add(ZooEntry(
    "swav_resnet50_800ep", "SwAV", "resnet50", "https://dl.fbaipublicfiles.com/deepcluster/swav_800ep_pretrain.pth.tar",
    README, "bare DDP state dict (module.; projection_head, prototypes)", 224, 800, "imagenet-1k",
    (Figure("imagenet", "linear", "top1", 75.3, f"{README}, ImageNet top-1 acc. column", {}, SWAV_LINEAR),),
    "Caron et al. 2020, Unsupervised Learning of Visual Features by Contrasting Cluster Assignments (arXiv 2006.09882)",
    published_rows=(("SwAV", "resnet50", 800),)))
