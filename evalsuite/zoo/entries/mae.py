"""MAE (He et al. 2022, arXiv 2111.06377): the ViT-Base encoder of facebookresearch/mae.

URL and md5 (its first 6 hex digits): README.md, 'Fine-tuning with pre-trained checkpoints'
table. Figures: FINETUNE.md, 'Linear Probing' table (this repository's PyTorch/GPU run, 67.8; the
paper's TF/TPU figure is 68.0) and README.md's fine-tuning table (ImageNet-1K, 83.6). Layout:
``{'model': encoder state dict}`` (timm naming, fixed sin-cos position embedding), pre-trained
1600 epochs with normalised-pixel targets (FINETUNE.md, Notes).
"""

from evalsuite.zoo.entries._protocols import MAE_FINETUNE, MAE_LINEAR
from evalsuite.zoo.entry import Figure, Hash, ZooEntry, add

README = "facebookresearch/mae README.md, 'Fine-tuning with pre-trained checkpoints' table"

add(ZooEntry(
    "mae_vitb16", "MAE", "vit_base_patch16", "https://dl.fbaipublicfiles.com/mae/pretrain/mae_pretrain_vit_base.pth",
    README, "{'model': encoder state dict} (timm naming, no decoder)", 224, 1600, "imagenet-1k",
    (Figure("imagenet", "linear", "top1", 67.8, "facebookresearch/mae FINETUNE.md, 'Linear Probing' table, this repo (PT/GPU)",
            {"feature_mode": "cls"}, MAE_LINEAR),
     Figure("imagenet", "finetune", "top1", 83.6, "facebookresearch/mae README.md, fine-tuning table, ImageNet-1K",
            {}, MAE_FINETUNE)),
    "He et al. 2022, Masked Autoencoders Are Scalable Vision Learners (arXiv 2111.06377)",
    Hash("md5", "8cad7c", f"{README}, md5 row")))
