"""Segmentation datasets by name, in their official layouts, kept apart from the classification
``DATASETS`` registry (their items are (image, mask) pairs, their metric mIoU).

An item is (PIL RGB image, (H, W) int64 mask) with labels 0..C-1 and ``IGNORE`` (255) for pixels
that are not scored. Names: ``voc2012seg`` and ``ade20k`` under ``--data-root``, or
``voc2012seg:PATH`` / ``ade20k:PATH`` with PATH the folder that holds ``VOCdevkit`` /
``ADEChallengeData2016``. The official val split is the test split (the linear segmentation
protocol tunes nothing).

- ``voc2012seg``: PASCAL VOC 2012 segmentation (Everingham et al. 2010), read by torchvision's
  ``VOCSegmentation`` from ``VOCdevkit/VOC2012/{JPEGImages,SegmentationClass,ImageSets/Segmentation}``:
  1,464 train / 1,449 val images, 21 classes (background and the 20 object classes); the
  palette PNGs' index 255 marks object borders and "difficult" regions, ignored.
- ``ade20k``: the ADE20K scene-parsing benchmark (Zhou et al. 2017), the SceneParsing challenge
  release ``ADEChallengeData2016/{images,annotations}/{training,validation}`` (20,210 / 2,000
  images, JPEG images and single-channel PNG annotations of the same stem): 150 classes in values
  1..150, 0 "other". Scored with mmsegmentation's ``reduce_zero_label`` (open-mmlab/mmsegmentation,
  ``mmseg/datasets/ade.py`` and ``LoadAnnotations``): 0 -> 255 ignored, k -> k - 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from mmengine.registry import Registry
from PIL import Image
from torch.utils.data import Dataset

from evalsuite.datasets.voc import VOC_CLASSES
from evalsuite.errors import EvalsuiteError, one_of

#: Mask value of pixels that are not scored (VOC's border label; ADE20K's "other" after reduce-zero-label).
IGNORE = 255
#: Contract: a function ``(root: Path, download: bool) -> SegmentationSpec``.
SEG_DATASETS = Registry("segmentation dataset")


@dataclass
class SegmentationSpec:
    """A segmentation dataset's ``train`` and ``test`` splits and its classes."""

    name: str
    splits: dict[str, Dataset]
    classes: list[str]
    ignore_index: int = IGNORE
    label_note: str = ""
    split_note: str = "official train / val (val scored as test)"
    sizes: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        assert {"train", "test"} <= set(self.splits), self.splits.keys()
        self.sizes = {k: len(v) for k, v in self.splits.items()}


def build_segmentation_dataset(name: str, root: str = "data", download: bool = False) -> SegmentationSpec:
    """``voc2012seg``, ``ade20k`` (under ``root``) or ``NAME:PATH`` (PATH holding the dataset's folder)."""
    kind, sep, path = name.partition(":")
    if kind not in SEG_DATASETS.module_dict:
        raise one_of("segmentation dataset", name, [*SEG_DATASETS.module_dict, "voc2012seg:PATH", "ade20k:PATH"])
    spec = SEG_DATASETS.get(kind)(Path(path if sep else root).expanduser(), download)
    spec.name = name
    return spec


class VOCMasks(Dataset):
    """torchvision's ``VOCSegmentation`` with masks as int64 arrays (palette indices are the labels)."""

    def __init__(self, base) -> None:
        self.base, self.root = base, base.root

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        image, mask = self.base[i]
        return image.convert("RGB"), np.asarray(mask, dtype=np.int64)


@SEG_DATASETS.register_module("voc2012seg")
def voc2012seg(root: Path, download: bool) -> SegmentationSpec:
    from torchvision.datasets import VOCSegmentation

    folder = root / "VOCdevkit" / "VOC2012"
    try:
        splits = {k: VOCMasks(VOCSegmentation(str(root), "2012", s, download=download))
                  for k, s in (("train", "train"), ("test", "val"))}
    except (RuntimeError, OSError):  # torchvision's own words speak of download=True, not of this CLI
        raise EvalsuiteError(f"PASCAL VOC 2012 segmentation not found under {str(root.resolve())!r}; place "
                             f"{folder}/{{JPEGImages,SegmentationClass,ImageSets/Segmentation}} there or add --download") from None
    return SegmentationSpec("voc2012seg", splits, ["background", *VOC_CLASSES], label_note="voc: 255 ignored")


class ADE20K(Dataset):
    """``ADEChallengeData2016/images/<split>/*.jpg`` with ``annotations/<split>/<stem>.png``."""

    def __init__(self, folder: Path, split: str) -> None:
        self.root = folder
        self.images = sorted((folder / "images" / split).glob("*.jpg"))
        self.masks = [folder / "annotations" / split / f"{p.stem}.png" for p in self.images]
        missing = [m for m in self.masks if not m.is_file()]
        if not self.images or missing:
            what = f"annotation {missing[0]}" if missing else f"images in {folder / 'images' / split}"
            raise EvalsuiteError(f"ADE20K is incomplete under {str(folder.parent.resolve())!r}: no {what}; the "
                                 "SceneParsing release unpacks to ADEChallengeData2016/{images,annotations}/"
                                 "{training,validation}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        mask = np.asarray(Image.open(self.masks[i]), dtype=np.int64)
        reduced = np.where(mask == 0, IGNORE, mask - 1)  # reduce_zero_label: "other" ignored, 1..150 -> 0..149
        return Image.open(self.images[i]).convert("RGB"), reduced


@SEG_DATASETS.register_module("ade20k")
def ade20k(root: Path, download: bool) -> SegmentationSpec:
    folder = root / "ADEChallengeData2016"
    if not folder.is_dir():
        raise EvalsuiteError(f"ADE20K not found under {str(root.resolve())!r}: unpack the SceneParsing release "
                             "ADEChallengeData2016.zip there (it cannot be downloaded by evalsuite)")
    splits = {"train": ADE20K(folder, "training"), "test": ADE20K(folder, "validation")}
    return SegmentationSpec("ade20k", splits, [f"class{k}" for k in range(1, 151)],
                            label_note="ade20k: reduce_zero_label (0 ignored, k -> k-1)")
