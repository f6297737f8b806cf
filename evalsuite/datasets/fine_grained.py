"""Fine-grained transfer datasets of Kornblith et al. 2019 (Table 1), via torchvision.

Scored by mean per-class accuracy where that paper does (aircraft, flowers102, pets),
top-1 otherwise. Official validation splits are used where they exist.
"""

from __future__ import annotations

from torchvision import datasets as tvd

from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.missing import dataset_files
from evalsuite.registry import DATASETS


@DATASETS.register_module("flowers102")
def flowers102(root: str, download: bool) -> DatasetSpec:
    with dataset_files("flowers102", root):
        splits = {s: tvd.Flowers102(root, split=s, download=download) for s in ("train", "val", "test")}
    classes = [str(i) for i in range(102)]
    return DatasetSpec("flowers102", splits, classes, metric="mean_per_class")


@DATASETS.register_module("pets")
def pets(root: str, download: bool) -> DatasetSpec:
    with dataset_files("pets", root):
        splits = {
            "train": tvd.OxfordIIITPet(root, split="trainval", download=download),
            "test": tvd.OxfordIIITPet(root, split="test", download=download),
        }
    return DatasetSpec("pets", splits, list(splits["train"].classes), metric="mean_per_class")


@DATASETS.register_module("aircraft")
def aircraft(root: str, download: bool) -> DatasetSpec:
    with dataset_files("aircraft", root):
        splits = {s: tvd.FGVCAircraft(root, split=s, annotation_level="variant", download=download) for s in ("train", "val", "test")}
    return DatasetSpec("aircraft", splits, list(splits["train"].classes), metric="mean_per_class")


@DATASETS.register_module("cars")
def cars(root: str, download: bool) -> DatasetSpec:
    with dataset_files("cars", root):
        splits = {s: tvd.StanfordCars(root, split=s, download=download) for s in ("train", "test")}
    return DatasetSpec("cars", splits, list(splits["train"].classes))


@DATASETS.register_module("food101")
def food101(root: str, download: bool) -> DatasetSpec:
    with dataset_files("food101", root):
        splits = {s: tvd.Food101(root, split=s, download=download) for s in ("train", "test")}
    return DatasetSpec("food101", splits, list(splits["train"].classes))
