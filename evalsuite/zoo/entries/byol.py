"""BYOL (Grill et al. 2020, arXiv 2006.07733), a public PyTorch port: OpenMMLab's 200-epoch ResNet-50.

DeepMind's own release is a JAX/Haiku file; this entry is MMSelfSup's reimplementation, trained
and published by open-mmlab (configs/byol/metafile.yml and README.md of open-mmlab/mmpretrain:
the 'Weights' URL and the linear-evaluation figure of its downstream
resnet50_byol-pre_8xb512-linear-coslr-90e_in1k, 71.8). Hash: OpenMMLab names each published
file ``..._{date}-{first 8 hex digits of its sha256}.pth`` (tools/model_converters/
publish_model.py). Layout: ``{'meta', 'state_dict'}`` with ``backbone.`` (torchvision naming),
``neck.``, ``head.`` and the EMA ``target_net.module.0/1.`` (models/selfsup/byol.py). Both
``backbone.`` and ``target_net.module.0.`` hold a whole ResNet-50; the loader's MMPretrain convention
(``evalsuite/checkpoint/conventions.py``) takes ``backbone``, and the entry names it as its key too,
the online backbone MMSelfSup's benchmarks extract.
"""

from evalsuite.zoo.entries._protocols import MMPRETRAIN_LINEAR
from evalsuite.zoo.entry import Figure, Hash, ZooEntry, add

METAFILE = "open-mmlab/mmpretrain configs/byol/metafile.yml"
FILE = "byol_resnet50_16xb256-coslr-200e_in1k_20220825-de817331.pth"

add(ZooEntry(
    "byol_resnet50_mmselfsup_200ep", "BYOL (MMSelfSup)", "resnet50",
    f"https://download.openmmlab.com/mmselfsup/1.x/byol/byol_resnet50_16xb256-coslr-200e_in1k/{FILE}",
    f"{METAFILE}, model byol_resnet50_16xb256-coslr-200e_in1k, Weights",
    "mmengine checkpoint published by publish_model.py: {'meta', 'state_dict'} (backbone., neck., head., target_net.)",
    224, 200, "imagenet-1k",
    (Figure("imagenet", "linear", "top1", 71.8, f"{METAFILE}, resnet50_byol-pre_8xb512-linear-coslr-90e_in1k, Top 1 Accuracy",
            {}, MMPRETRAIN_LINEAR),),
    "Grill et al. 2020, Bootstrap your own latent (arXiv 2006.07733); weights trained by MMSelfSup",
    Hash("sha256", "de817331", "OpenMMLab's file name (publish_model.py appends the sha256's first 8 hex digits)"),
    key="state_dict.backbone"))
