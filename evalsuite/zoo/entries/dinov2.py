"""DINOv2 (Oquab et al. 2024, arXiv 2304.07193) and its register variants (Darcet et al. 2024,
arXiv 2309.16588): the distilled ViT-S/14 and ViT-B/14 backbones of facebookresearch/dinov2.

URLs and figures: the repository's README.md, 'Pretrained models' table (ImageNet k-NN and
linear columns); the same URLs are built in dinov2/hub/backbones.py. No hash is published. Layout:
the bare ``DinoVisionTransformer`` state dict (LayerScale, ``mask_token``, ``register_tokens``
outside the position embedding), whose 37 x 37 position grid is the 518 px of the last, high-
resolution phase of pre-training (Oquab et al. 2024, Sec. 5); the README's figures are at 224 px.
"""

from evalsuite.zoo.entries._protocols import BICUBIC_CROP, DINOV2_LINEAR
from evalsuite.zoo.entry import Figure, ZooEntry, add

README = "facebookresearch/dinov2 README.md, 'Pretrained models' table"
PAPER = "Oquab et al. 2024, DINOv2: Learning Robust Visual Features without Supervision (arXiv 2304.07193)"
ROOT = "https://dl.fbaipublicfiles.com/dinov2/"
#: dinov2/eval/knn.py: temperature 0.07, DINO's bicubic 256 -> 224 crop (make_classification_eval_transform);
#: the README does not say which k its column reports, so k is not compared.
KNN = {"temperature": 0.07, "transform": BICUBIC_CROP, "feature_mode": "cls"}


def _entry(name: str, size: str, registers: bool, knn: float, linear: float) -> ZooEntry:
    model = f"dinov2_vit{size[0]}14"
    file = f"{model}{'_reg4' if registers else ''}_pretrain.pth"
    arch = f"vit_{size}_patch14_ls{'_reg4' if registers else ''}_518"
    with_reg = ", with registers" if registers else ""
    figures = (Figure("imagenet", "knn", "top1", knn, f"{README}, ImageNet k-NN column{with_reg}", KNN),
               Figure("imagenet", "linear", "top1", linear, f"{README}, ImageNet linear column{with_reg}",
                      {"transform": BICUBIC_CROP}, DINOV2_LINEAR))
    layout = "bare DinoVisionTransformer state dict (LayerScale, mask_token" + (", 4 register_tokens)" if registers else ")")
    return add(ZooEntry(name, "DINOv2", arch, f"{ROOT}{model}/{file}", README, layout, 518, None, "LVD-142M",
                        figures, PAPER))


_entry("dinov2_vits14", "small", False, 79.0, 81.1)
_entry("dinov2_vits14_reg", "small", True, 79.1, 80.9)
_entry("dinov2_vitb14", "base", False, 82.1, 84.5)
_entry("dinov2_vitb14_reg", "base", True, 82.0, 84.6)
