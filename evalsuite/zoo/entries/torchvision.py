"""torchvision's supervised ImageNet ResNets, the baseline every self-supervised figure is read
against (SimCLR, Chen et al. 2020, Sec. 6 and Table 8; BYOL, Grill et al. 2020, Sec. 4.2).

URLs, file names and top-1: ``torchvision.models.ResNet18_Weights`` / ``ResNet50_Weights``
(``weights.url``, ``weights.meta['_metrics']``; tests/test_baselines.py checks them against the
installed torchvision). Hash: the first hex digits of each file's sha256 are in its name (checked
by ``torch.hub.download_url_to_file``). Layout: a plain torchvision state dict, classifier ``fc``
included (dropped on loading). ``evalsuite baselines`` registers the same files
(``evalsuite.baselines`` reads ``TORCHVISION``).
"""

import re

from evalsuite.zoo.entry import Figure, Hash, ZooEntry, add

URL_ROOT = "https://download.pytorch.org/models/"
SOURCE = "torchvision weights metadata (weights.meta['_metrics']['ImageNet-1K']['acc@1'])"
PROCEDURE = "the network's own 1000-way classifier, trained end to end with labels"
#: (zoo name, baseline label, torchvision weights, file, published top-1). ResNet-18 has only
#: IMAGENET1K_V1; IMAGENET1K_V2 (the longer "new recipe") exists for ResNet-50.
TORCHVISION = (
    ("torchvision_resnet18", "supervised-resnet18-imagenet1k-v1", "ResNet18_Weights.IMAGENET1K_V1", "resnet18-f37072fd.pth", 69.758),
    ("torchvision_resnet50", "supervised-resnet50-imagenet1k-v1", "ResNet50_Weights.IMAGENET1K_V1", "resnet50-0676ba61.pth", 76.130),
    ("torchvision_resnet50_v2", "supervised-resnet50-imagenet1k-v2", "ResNet50_Weights.IMAGENET1K_V2", "resnet50-11ad3fa6.pth", 80.858),
)


def hash_prefix(file: str) -> str:
    match = re.search(r"-([0-9a-f]{8,})\.", file)
    assert match, file
    return match.group(1)


for _name, _label, _weights, _file, _top1 in TORCHVISION:
    add(ZooEntry(
        _name, "supervised ImageNet", _file.split("-")[0], URL_ROOT + _file, f"torchvision.models.{_weights}",
        "plain torchvision state dict (fc included)", 224, None, "imagenet-1k",
        (Figure("imagenet", "supervised", "top1", _top1, f"{SOURCE}, {_weights}", {}, PROCEDURE),),
        f"torchvision {_weights}", Hash("sha256", hash_prefix(_file), "torchvision's file name"), kind="supervised",
        published_rows=(("supervised ImageNet (torchvision IMAGENET1K_V1)", "resnet50", None),) if _name == "torchvision_resnet50" else ()))
