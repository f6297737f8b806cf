"""PASCAL VOC 2007 as multi-label classification (Everingham et al. 2010), scored by 11-point mAP.

Targets are multi-hot over the 20 classes from the objects not marked difficult, the
classification protocol of the VOC07 SVM/linear benchmarks (Goyal et al. 2019, Sec. 4.1).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch.utils.data import Dataset
from torchvision import datasets as tvd

from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.missing import dataset_files
from evalsuite.registry import DATASETS

VOC_CLASSES = [
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train", "tvmonitor",
]


class VOCMultiLabel(Dataset):
    def __init__(self, detection: tvd.VOCDetection) -> None:
        self.detection = detection

    def __len__(self) -> int:
        return len(self.detection)

    def __getitem__(self, i: int):
        img, ann = self.detection[i]
        target = torch.zeros(len(VOC_CLASSES))  # (20,) multi-hot
        for obj in ann["annotation"]["object"]:
            if obj.get("difficult", "0") != "1":
                target[VOC_CLASSES.index(obj["name"])] = 1.0
        return img, target


@DATASETS.register_module("voc2007")
def voc2007(root: str, download: bool) -> DatasetSpec:
    listings = Path(root) / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main"
    with dataset_files("voc2007", root):
        # torchvision's VOC downloads (and unpacks) whenever asked, even when the files are there
        splits = {
            s: VOCMultiLabel(tvd.VOCDetection(root, year="2007", image_set=s,
                                              download=download and not (listings / f"{s}.txt").is_file()))
            for s in ("train", "val", "test")
        }
    return DatasetSpec("voc2007", splits, VOC_CLASSES, metric="map11", multilabel=True)
