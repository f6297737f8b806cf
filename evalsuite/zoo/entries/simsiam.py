"""SimSiam (Chen and He 2021, arXiv 2011.10566): the 100-epoch ResNet-50 of facebookresearch/simsiam.

URL and figure: README.md, 'Models and Logs' table (pre-train ckpt link, top-1 acc. 68.1, batch
256 pre-training, LARS linear classification). No hash is published. Layout: main_simsiam.py's
checkpoint ``{'epoch', 'arch', 'state_dict', 'optimizer'}`` of the DDP model, the encoder under
``module.encoder.`` (its fc the projection MLP) beside ``module.predictor.``.
"""

from evalsuite.zoo.entries._protocols import SIMSIAM_LINEAR
from evalsuite.zoo.entry import Figure, ZooEntry, add

README = "facebookresearch/simsiam README.md, 'Models and Logs' table"

add(ZooEntry(
    "simsiam_resnet50_100ep", "SimSiam", "resnet50",
    "https://dl.fbaipublicfiles.com/simsiam/models/100ep/pretrain/checkpoint_0099.pth.tar", README,
    "main_simsiam.py checkpoint: state_dict of the DDP SimSiam model (module.encoder, module.predictor)", 224, 100,
    "imagenet-1k", (Figure("imagenet", "linear", "top1", 68.1, f"{README}, top-1 acc. column", {}, SIMSIAM_LINEAR),),
    "Chen and He 2021, Exploring Simple Siamese Representation Learning (arXiv 2011.10566)"))
