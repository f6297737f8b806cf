"""PASCAL VOC 2007 as multi-label classification (Everingham et al. 2010), scored by 11-point mAP.

Each (image, class) pair is 1 when the image has an object of the class not marked difficult, 0
when it has no object of the class, and ``IGNORE`` (-1) when its only objects of the class are
marked difficult: the devkit's classification ground truth (1 / -1 / 0 in
``ImageSets/Main/<class>_<set>.txt``) with its negatives moved to 0, the encoding of
facebookresearch/fair_self_supervision_benchmark, extra_scripts/create_voc_data_files.py, whose
targets the VOC07 SVM benchmark of Goyal et al. 2019 (Sec. 4.1) trains on. The devkit's AP leaves
the difficult pairs out (Everingham et al. 2010, Sec. 4.2); see ``evalsuite.datasets.base.IGNORE``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import datasets as tvd

from evalsuite.datasets.base import IGNORE, DatasetSpec
from evalsuite.datasets.missing import dataset_files
from evalsuite.registry import DATASETS, tags

VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
]

#: ``DatasetSpec.label_protocol`` of these targets. Before it, difficult-only pairs were negatives;
#: the id keeps feature caches and result rows made then apart from these.
LABEL_PROTOCOL = "difficult-ignored"


def voc_targets(objects: list[dict]) -> torch.Tensor:
    """An annotation's objects (dicts with ``name`` and ``difficult`` '0'/'1') -> (20,) targets of
    1 / 0 / ``IGNORE`` (module docstring)."""
    target = torch.zeros(len(VOC_CLASSES))  # (20,)
    for obj in objects:  # difficult objects first: a non-difficult one of the same class wins
        if obj.get("difficult", "0") == "1":
            target[VOC_CLASSES.index(obj["name"])] = IGNORE
    for obj in objects:
        if obj.get("difficult", "0") != "1":
            target[VOC_CLASSES.index(obj["name"])] = 1.0
    return target


class VOCMultiLabel(Dataset):
    """torchvision's ``VOCDetection`` as (image, (20,) targets of 1 / 0 / ``IGNORE``)."""

    def __init__(self, detection: tvd.VOCDetection) -> None:
        self.detection = detection

    def __len__(self) -> int:
        return len(self.detection)

    def __getitem__(self, i: int):
        img, ann = self.detection[i]
        return img, voc_targets(ann["annotation"]["object"])


@DATASETS.register_module("voc2007")
@tags("transfer")
def voc2007(root: str, download: bool) -> DatasetSpec:
    listings = Path(root) / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"
    with dataset_files("voc2007", root):
        # torchvision's VOC downloads (and unpacks) whenever asked, even when the files are there
        splits = {
            s: VOCMultiLabel(tvd.VOCDetection(root, year="2007", image_set=s,
                                              download=download and not (listings / f"{s}.txt").is_file()))
            for s in ("train", "val", "test")
        }
    return DatasetSpec("voc2007", splits, VOC_CLASSES, metric="map11", multilabel=True,
                       label_protocol=LABEL_PROTOCOL)
