"""iBOT (Zhou et al. 2022, arXiv 2111.07832): the teacher backbones of bytedance/ibot.

URLs and figures: README.md, 'Pre-Trained Models' table (k-NN and Lin. columns; ViT-S/16 and the
block-masking ViT-B/16 rows, 'backbone (t)' links). No hash is published. Layout:
``{'state_dict': teacher}`` with the backbone under ``backbone.`` and the iBOT head under ``head.``
(evaluation/classification_layer_decay/extract_backbone_weights.py reads it that way). ViT-S/16
was pre-trained 800 epochs (README, its pre-training example).
"""

from evalsuite.zoo.entries._protocols import BICUBIC_CROP, DINO_KNN, DINO_LINEAR
from evalsuite.zoo.entry import Figure, ZooEntry, add

README = "bytedance/ibot README.md, 'Pre-Trained Models' table"
ROOT = "https://lf3-nlp-opensource.bytetos.com/obj/nlp-opensource/archive/2022/ibot/"
PAPER = "Zhou et al. 2022, iBOT: Image BERT Pre-Training with Online Tokenizer (arXiv 2111.07832)"

for _name, _arch, _folder, _epochs, _knn, _linear, _mode in (
        ("ibot_vits16", "vit_small_patch16", "vits_16", 800, 75.2, 77.9, "cls_last4"),
        ("ibot_vitb16", "vit_base_patch16", "vitb_16", None, 77.1, 79.5, "cls+avgpool")):
    add(ZooEntry(
        _name, "iBOT", _arch, f"{ROOT}{_folder}/checkpoint_teacher.pth", README,
        "{'state_dict': teacher} (backbone., head.)", 224, _epochs, "imagenet-1k",
        (Figure("imagenet", "knn", "top1@k=20", _knn, f"{README}, k-NN column", {**DINO_KNN, "feature_mode": "cls"}),
         Figure("imagenet", "linear", "top1", _linear, f"{README}, Lin. column",
                {"feature_mode": _mode, "transform": BICUBIC_CROP}, DINO_LINEAR + ", as iBOT evaluates")),
        PAPER))
