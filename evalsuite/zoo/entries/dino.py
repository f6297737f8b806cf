"""DINO (Caron et al. 2021, arXiv 2104.14294): the backbone-only releases of facebookresearch/dino.

URLs and figures: the repository's README.md, 'Pretrained models' table (k-nn and linear columns,
ImageNet top-1). No hash is published. Layouts: the ViT files are the bare ``VisionTransformer``
state dict (timm's naming), the ResNet-50 file a torchvision ResNet-50 state dict without ``fc``
(hubconf.py loads each into its network).
"""

from evalsuite.zoo.entries._protocols import BICUBIC_CROP, DINO_KNN, DINO_LINEAR
from evalsuite.zoo.entry import Figure, ZooEntry, add

README = "facebookresearch/dino README.md, 'Pretrained models' table"
PAPER = "Caron et al. 2021, Emerging Properties in Self-Supervised Vision Transformers (arXiv 2104.14294)"
ROOT = "https://dl.fbaipublicfiles.com/dino/"


def _figures(knn: float, linear: float, linear_mode: str | None) -> tuple[Figure, ...]:
    vit = {"feature_mode": "cls"} if linear_mode else {}
    linear_protocol = {"feature_mode": linear_mode, "transform": BICUBIC_CROP} if linear_mode else {"transform": BICUBIC_CROP}
    return (Figure("imagenet", "knn", "top1@k=20", knn, f"{README}, k-nn column", {**DINO_KNN, **vit}),
            Figure("imagenet", "linear", "top1", linear, f"{README}, linear column", linear_protocol, DINO_LINEAR))


# ViT-S/16 linear: the class tokens of the last 4 blocks (eval_linear.py --n_last_blocks 4, its default);
# ViT-B/16: the last class token with average-pooled patch tokens (--n_last_blocks 1 --avgpool_patchtokens true).
add(ZooEntry("dino_vits16", "DINO", "vit_small_patch16", ROOT + "dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth",
             README, "bare VisionTransformer state dict, teacher backbone only (timm naming)", 224, None,
             "imagenet-1k", _figures(74.5, 77.0, "cls_last4"), PAPER))
add(ZooEntry("dino_vitb16", "DINO", "vit_base_patch16", ROOT + "dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth",
             README, "bare VisionTransformer state dict, teacher backbone only (timm naming)", 224, None,
             "imagenet-1k", _figures(76.1, 78.2, "cls+avgpool"), PAPER))
add(ZooEntry("dino_resnet50", "DINO", "resnet50", ROOT + "dino_resnet50_pretrain/dino_resnet50_pretrain.pth",
             README, "torchvision ResNet-50 state dict without fc, teacher backbone only", 224, None,
             "imagenet-1k", _figures(67.5, 75.3, None), PAPER))
