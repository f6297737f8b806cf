"""MoCo v2 (Chen et al. 2020, arXiv 2003.04297) and MoCo v3 (Chen, Xie and He 2021, arXiv 2104.02057).

MoCo v2: facebookresearch/moco README.md, 'Models' table: URL, top-1 linear accuracy and the
first 8 hex digits of the file's md5 (the 'md5' column). Layout: main_moco.py's checkpoint
``{'epoch', 'arch', 'state_dict', 'optimizer'}`` of the DDP model, query encoder under
``module.encoder_q.`` (its ``main_lincls.py`` keeps that one).
MoCo v3: facebookresearch/moco-v3 CONFIG.md, the ResNet-50 and ViT tables (pretrain files and
linear accuracy); no hash is published. Layout: main_moco.py's checkpoint with the base encoder
under ``module.base_encoder.`` (projection MLP in its ``fc``/``head``), ``module.momentum_encoder.``
and ``module.predictor.``; its ViT-Small has 12 heads (moco-v3 vits.py), hence ``_h12``.
"""

from evalsuite.zoo.entries._protocols import MOCO_LINEAR, MOCOV3_LINEAR
from evalsuite.zoo.entry import Figure, Hash, ZooEntry, add

V2_README = "facebookresearch/moco README.md, 'Models' table"
V3_CONFIG = "facebookresearch/moco-v3 CONFIG.md"
V2_PAPER = "Chen et al. 2020, Improved Baselines with Momentum Contrastive Learning (arXiv 2003.04297)"
V3_PAPER = "Chen, Xie and He 2021, An Empirical Study of Training Self-Supervised Vision Transformers (arXiv 2104.02057)"
V3_LAYOUT = "main_moco.py checkpoint: state_dict of the DDP MoCo_{} (module.base_encoder, module.momentum_encoder, module.predictor)"

add(ZooEntry(
    "mocov2_resnet50_800ep", "MoCo v2", "resnet50",
    "https://dl.fbaipublicfiles.com/moco/moco_checkpoints/moco_v2_800ep/moco_v2_800ep_pretrain.pth.tar", V2_README,
    "main_moco.py checkpoint: state_dict of the DDP MoCo model (module.encoder_q, module.encoder_k, queue)", 224, 800,
    "imagenet-1k", (Figure("imagenet", "linear", "top1", 71.1, f"{V2_README}, top-1 acc. column", {}, MOCO_LINEAR),),
    V2_PAPER, Hash("md5", "a04e12f8", f"{V2_README}, md5 column"), published_rows=(("MoCo-v2", "resnet50", 800),)))

add(ZooEntry(
    "mocov3_resnet50_1000ep", "MoCo v3", "resnet50", "https://dl.fbaipublicfiles.com/moco-v3/r-50-1000ep/r-50-1000ep.pth.tar",
    f"{V3_CONFIG}, 'ResNet-50 models' table", V3_LAYOUT.format("ResNet"), 224, 1000, "imagenet-1k",
    (Figure("imagenet", "linear", "top1", 74.6, f"{V3_CONFIG}, ResNet-50 table, linear acc column", {}, MOCOV3_LINEAR),),
    V3_PAPER))

for _name, _arch, _file, _linear in (("mocov3_vits16_300ep", "vit_small_patch16_h12", "vit-s-300ep", 73.2),
                                     ("mocov3_vitb16_300ep", "vit_base_patch16", "vit-b-300ep", 76.7)):
    add(ZooEntry(
        _name, "MoCo v3", _arch, f"https://dl.fbaipublicfiles.com/moco-v3/{_file}/{_file}.pth.tar",
        f"{V3_CONFIG}, 'ViT Models' table", V3_LAYOUT.format("ViT"), 224, 300, "imagenet-1k",
        (Figure("imagenet", "linear", "top1", _linear, f"{V3_CONFIG}, ViT table, linear acc column",
                {"feature_mode": "cls"}, MOCOV3_LINEAR),),
        V3_PAPER))
