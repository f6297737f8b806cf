"""CIFAR-10 and CIFAR-100 (Krizhevsky 2009): 50,000 train / 10,000 test images of 32 px.

Reads torchvision's layout under ``--data-root`` (``cifar-10-batches-py``), or an image-folder
tree ``DATA_ROOT/cifar10/{train,test}/<class>/*`` such as the project's shared JPEG copy.
"""

from __future__ import annotations

from pathlib import Path

from torchvision import datasets as tvd

from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.imagefolder import folder_spec
from evalsuite.datasets.missing import dataset_files
from evalsuite.registry import DATASETS, tags


def _cifar(name: str, cls, root: str, download: bool) -> DatasetSpec:
    tree = Path(root) / name
    if (tree / "train").is_dir() and (tree / "test").is_dir() and not download:
        spec = folder_spec(tree, name=name)
        spec.native_size = 32
        return spec
    with dataset_files(name, root):
        train = cls(root, train=True, download=download)
        test = cls(root, train=False, download=download)
    return DatasetSpec(name=name, splits={"train": train, "test": test}, classes=list(train.classes), native_size=32)


@DATASETS.register_module("cifar10")
@tags("transfer")
def cifar10(root: str, download: bool) -> DatasetSpec:
    return _cifar("cifar10", tvd.CIFAR10, root, download)


@DATASETS.register_module("cifar100")
@tags("transfer")
def cifar100(root: str, download: bool) -> DatasetSpec:
    return _cifar("cifar100", tvd.CIFAR100, root, download)
