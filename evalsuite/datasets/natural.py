"""Scene, object and texture datasets of the transfer benchmarks, via torchvision.

Caltech-101 and SUN397 have no split in torchvision: both use the Kornblith et al. 2019
(Sec. A.1) per-class protocol, drawn with a fixed seed and written into every result.
"""

from __future__ import annotations

from torch.utils.data import Subset
from torchvision import datasets as tvd

from evalsuite.datasets.base import DatasetSpec, per_class_split
from evalsuite.datasets.missing import dataset_files
from evalsuite.registry import DATASETS

SPLIT_SEED = 0
CALTECH_TRAIN_PER_CLASS = 30  # Kornblith et al. 2019, Sec. A.1: 30 train images per class
SUN_PER_CLASS = 50  # 50 train / 50 test per class, as SUN397's official partitions


class _RGB(Subset):
    """Caltech-101 holds some grayscale images; every model here expects RGB."""

    def __getitem__(self, i):
        img, target = super().__getitem__(i)
        return img.convert("RGB"), target


@DATASETS.register_module("stl10")
def stl10(root: str, download: bool) -> DatasetSpec:
    with dataset_files("stl10", root):
        splits = {s: tvd.STL10(root, split=s, download=download) for s in ("train", "test")}
    return DatasetSpec("stl10", splits, list(splits["train"].classes), native_size=96)


@DATASETS.register_module("dtd")
def dtd(root: str, download: bool) -> DatasetSpec:
    with dataset_files("dtd", root):
        splits = {s: tvd.DTD(root, split=s, partition=1, download=download) for s in ("train", "val", "test")}
    return DatasetSpec("dtd", splits, list(splits["train"].classes))


@DATASETS.register_module("caltech101")
def caltech101(root: str, download: bool) -> DatasetSpec:
    with dataset_files("caltech101", root):
        full = tvd.Caltech101(root, target_type="category", download=download)
    train, test = per_class_split(full.y, CALTECH_TRAIN_PER_CLASS, None, SPLIT_SEED)
    return DatasetSpec(
        "caltech101", {"train": _RGB(full, train), "test": _RGB(full, test)}, list(full.categories),
        metric="mean_per_class",
        split_note=f"{CALTECH_TRAIN_PER_CLASS} train images per class, rest test (seed {SPLIT_SEED})",
    )


@DATASETS.register_module("sun397")
def sun397(root: str, download: bool) -> DatasetSpec:
    with dataset_files("sun397", root):
        full = tvd.SUN397(root, download=download)
    train, test = per_class_split(full._labels, SUN_PER_CLASS, SUN_PER_CLASS, SPLIT_SEED)
    return DatasetSpec(
        "sun397", {"train": _RGB(full, train), "test": _RGB(full, test)}, list(full.classes),
        split_note=f"{SUN_PER_CLASS} train / {SUN_PER_CLASS} test images per class (seed {SPLIT_SEED})",
    )
