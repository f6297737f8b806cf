"""Fine-grained transfer datasets of Kornblith et al. 2019 (Table 1), via torchvision.

Scored by mean per-class accuracy where that paper does (aircraft, flowers102, pets),
top-1 otherwise. Official validation splits are used where they exist.
"""

from __future__ import annotations

from pathlib import Path

from torchvision import datasets as tvd

from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.missing import dataset_files
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import DATASETS, tags

#: The files torchvision's ``StanfordCars`` reads (torchvision/datasets/stanford_cars.py); its
#: original host is gone, so torchvision cannot download it and the user places them by hand.
CARS_LAYOUT = ("stanford_cars/devkit/{cars_meta.mat,cars_train_annos.mat}, stanford_cars/cars_train/*.jpg, "
               "stanford_cars/cars_test/*.jpg and stanford_cars/cars_test_annos_withlabels.mat")


@DATASETS.register_module("flowers102")
@tags("transfer")
def flowers102(root: str, download: bool) -> DatasetSpec:
    with dataset_files("flowers102", root):
        splits = {s: tvd.Flowers102(root, split=s, download=download) for s in ("train", "val", "test")}
    classes = [str(i) for i in range(102)]
    return DatasetSpec("flowers102", splits, classes, metric="mean_per_class", split_note="official train/val/test")


@DATASETS.register_module("pets")
@tags("transfer")
def pets(root: str, download: bool) -> DatasetSpec:
    with dataset_files("pets", root):
        splits = {
            "train": tvd.OxfordIIITPet(root, split="trainval", download=download),
            "test": tvd.OxfordIIITPet(root, split="test", download=download),
        }
    return DatasetSpec("pets", splits, list(splits["train"].classes), metric="mean_per_class")


@DATASETS.register_module("aircraft")
@tags("transfer")
def aircraft(root: str, download: bool) -> DatasetSpec:
    with dataset_files("aircraft", root):
        splits = {s: tvd.FGVCAircraft(root, split=s, annotation_level="variant", download=download) for s in ("train", "val", "test")}
    return DatasetSpec("aircraft", splits, list(splits["train"].classes), metric="mean_per_class",
                       split_note="official train/val/test, variant level (100 classes)")


@DATASETS.register_module("cars")
@tags("transfer")
def cars(root: str, download: bool) -> DatasetSpec:
    try:  # present files are read even with --download, as torchvision does for every other dataset
        splits = {s: tvd.StanfordCars(root, split=s) for s in ("train", "test")}
    except RuntimeError as exc:
        raise EvalsuiteError(f"Stanford Cars was not found under {Path(root).resolve()} and cannot be downloaded any "
                             f"more (its original host is gone); place {CARS_LAYOUT} there by hand") from exc
    return DatasetSpec("cars", splits, list(splits["train"].classes))


@DATASETS.register_module("food101")
@tags("transfer")
def food101(root: str, download: bool) -> DatasetSpec:
    with dataset_files("food101", root):
        splits = {s: tvd.Food101(root, split=s, download=download) for s in ("train", "test")}
    return DatasetSpec("food101", splits, list(splits["train"].classes))
