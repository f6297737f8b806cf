"""The three layouts ImageNet-1k (ILSVRC2012 classification) is kept in on disk, each read into
the same ``Layout``: (file, wnid) pairs for train and for the official val set.

- ``torchvision``: the three files of image-net.org (``ILSVRC2012_img_train.tar``,
  ``ILSVRC2012_img_val.tar``, ``ILSVRC2012_devkit_t12.tar.gz``), read by
  ``torchvision.datasets.ImageNet``, which parses the devkit's ``data/meta.mat`` and
  ``data/ILSVRC2012_validation_ground_truth.txt`` into ``meta.bin`` and extracts the archives into
  ``train/`` and ``val/`` class folders beside them (pytorch/vision, torchvision/datasets/imagenet.py);
- ``prepared``: ``train/nXXXXXXXX/*.JPEG`` and ``val/nXXXXXXXX/*.JPEG``, what most scripts leave
  (the val images sorted into class folders);
- ``kaggle``: the ImageNet Object Localization Challenge download, ``ILSVRC/Data/CLS-LOC/train/
  nXXXXXXXX/*.JPEG`` and a flat ``ILSVRC/Data/CLS-LOC/val/*.JPEG`` labelled by
  ``LOC_val_solution.csv`` (``ImageId,PredictionString``, the string ``"wnid x1 y1 x2 y2"`` per box,
  every box of an image of its one class) with ``LOC_synset_mapping.txt`` (``wnid words`` per line).

A layout is recognised by any one of its files; a layout that is only partly there is refused
with one sentence naming what is missing.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from torchvision import datasets as tvd
from torchvision.datasets import imagenet as tv_imagenet
from torchvision.datasets.folder import IMG_EXTENSIONS

from evalsuite.errors import EvalsuiteError

WNID = re.compile(r"n\d{8}")
KAGGLE_DIR = Path("ILSVRC", "Data", "CLS-LOC")
KAGGLE_LABELS, KAGGLE_NAMES = "LOC_val_solution.csv", "LOC_synset_mapping.txt"
TV_TRAIN, TV_VAL, TV_DEVKIT = (tv_imagenet.ARCHIVE_META[k][0] for k in ("train", "val", "devkit"))
TV_META = tv_imagenet.META_FILE  # what torchvision writes after parsing the devkit


@dataclass
class Layout:
    """One ImageNet copy: ``train`` and ``val`` as (file, wnid) pairs; ``names``: wnid -> words
    where the layout carries them."""

    kind: str
    root: Path
    train: list[tuple[Path, str]]
    val: list[tuple[Path, str]]
    names: dict[str, str] = field(default_factory=dict)


def _images(folder: Path) -> list[Path]:
    with os.scandir(folder) as entries:
        return sorted(Path(e.path) for e in entries if e.is_file() and e.name.lower().endswith(IMG_EXTENSIONS))


def class_folders(split_dir: Path, what: str) -> list[tuple[Path, str]]:
    """(file, wnid) of every image in ``split_dir/nXXXXXXXX/``, classes in sorted order."""
    dirs = sorted(p for p in split_dir.iterdir() if p.is_dir())
    if not dirs:
        loose = len(_images(split_dir))
        hint = (f" but {loose} images lie loose in it; sort them into class folders (or use the devkit or "
                "Kaggle layout, which label a flat val/)") if loose else ""
        raise EvalsuiteError(f"ImageNet {what} {str(split_dir)!r} has no nXXXXXXXX class folder{hint}")
    bad = [p.name for p in dirs if not WNID.fullmatch(p.name)]
    if bad:
        raise EvalsuiteError(f"ImageNet {what} {str(split_dir)!r} has folder {bad[0]!r}, which is not a WordNet id "
                             "like n01440764; ImageNet's class folders are named by wnid")
    return [(path, d.name) for d in dirs for path in _images(d)]


def _missing_sentence(kind: str, root: Path, missing: list[str]) -> EvalsuiteError:
    return EvalsuiteError(f"ImageNet in the {kind} layout under {str(root)!r} is only partly there: it lacks "
                          f"{' and '.join(missing)}")


def _torchvision(root: Path) -> Layout:
    missing = []
    if not (root / TV_META).is_file() and not (root / TV_DEVKIT).is_file():
        missing.append(TV_DEVKIT)
    for split, tar in (("train", TV_TRAIN), ("val", TV_VAL)):
        if not (root / split).is_dir() and not (root / tar).is_file():
            missing.append(f"{tar} (or the {split}/ folder torchvision extracts from it)")
    if missing:
        raise _missing_sentence("torchvision", root, missing)
    splits = {}
    for split in ("train", "val"):
        try:  # extracts the archive on first use, as torchvision does, then reads the class folders
            ds = tvd.ImageNet(str(root), split=split)
        except RuntimeError as exc:  # an archive whose md5 is not image-net.org's
            raise EvalsuiteError(f"ImageNet in the torchvision layout under {str(root)!r}: {exc}") from None
        splits[split] = [(Path(p), ds.wnids[t]) for p, t in ds.samples]
    names = {wnid: words[0] for wnid, words in zip(ds.wnids, ds.classes)}
    return Layout("torchvision", root, splits["train"], splits["val"], names)


def _prepared(root: Path) -> Layout:
    if not (root / "val").is_dir():
        raise _missing_sentence("prepared", root, ["val/ beside train/ (val/nXXXXXXXX/*.JPEG)"])
    return Layout("prepared", root, class_folders(root / "train", "train/"), class_folders(root / "val", "val/"))


def _kaggle_labels(path: Path) -> dict[str, str]:
    """``LOC_val_solution.csv`` -> {ImageId: wnid of its first box}."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != ["ImageId", "PredictionString"]:
            raise EvalsuiteError(f"{str(path)!r} has columns {reader.fieldnames}; Kaggle's file has ImageId,"
                                 "PredictionString")
        return {row["ImageId"]: row["PredictionString"].split()[0] for row in reader}


def _kaggle(root: Path) -> Layout:
    data = root / KAGGLE_DIR
    needed = [KAGGLE_DIR / "train", KAGGLE_DIR / "val", Path(KAGGLE_LABELS), Path(KAGGLE_NAMES)]
    missing = [str(p) for p in needed if not (root / p).exists()]
    if missing:
        raise _missing_sentence("Kaggle", root, missing)
    names = dict(line.split(" ", 1) for line in (root / KAGGLE_NAMES).read_text().splitlines() if line.strip())
    names = {wnid: words.split(",")[0].strip() for wnid, words in names.items()}
    labels = _kaggle_labels(root / KAGGLE_LABELS)
    files = {p.stem: p for p in _images(data / "val")}
    absent = sorted(set(labels) - set(files))
    if absent:
        raise EvalsuiteError(f"ImageNet in the Kaggle layout under {str(root)!r} is only partly there: {KAGGLE_LABELS} "
                             f"labels {len(absent)} image(s) that {KAGGLE_DIR / 'val'} lacks, the first {absent[0]}.JPEG")
    unlabelled = sorted(set(files) - set(labels))
    if unlabelled:
        raise EvalsuiteError(f"{files[unlabelled[0]]} has no row in {root / KAGGLE_LABELS} ({len(unlabelled)} val "
                             "image(s) without one); the val images and the labels file come from different copies")
    train = class_folders(data / "train", str(KAGGLE_DIR / "train"))
    unknown = sorted({w for _, w in train} - set(names))
    if unknown:
        raise EvalsuiteError(f"{KAGGLE_DIR / 'train'} has class {unknown[0]!r}, which {KAGGLE_NAMES} does not list")
    return Layout("kaggle", root, train, [(files[i], labels[i]) for i in sorted(labels)], names)


#: Layout -> (files any one of which marks it, reader). Checked in this order: torchvision's
#: extraction leaves train/ and val/ beside its archives, so its files are looked for first.
LAYOUTS = {
    "torchvision": ((TV_TRAIN, TV_VAL, TV_DEVKIT, TV_META), _torchvision),
    "kaggle": (("ILSVRC", KAGGLE_LABELS, KAGGLE_NAMES), _kaggle),
    "prepared": (("train",), _prepared),
}


def find_layout(data_root: str | Path) -> Layout:
    """The ImageNet copy in ``DATA_ROOT/imagenet`` (or ``DATA_ROOT`` itself), in whichever layout it is."""
    data_root = Path(data_root)
    for folder in (data_root / "imagenet", data_root):
        for markers, read in LAYOUTS.values():
            if any((folder / m).exists() for m in markers):
                return read(folder)
    raise EvalsuiteError(
        f"ImageNet was not found in {str(data_root / 'imagenet')!r} or {str(data_root)!r}; place there torchvision's "
        f"{TV_TRAIN}, {TV_VAL} and {TV_DEVKIT}, or train/ and val/ class folders, or Kaggle's ILSVRC/ with "
        f"{KAGGLE_LABELS} and {KAGGLE_NAMES} (it cannot be downloaded: image-net.org asks each user to sign in)"
    )
