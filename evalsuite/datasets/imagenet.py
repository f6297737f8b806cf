"""ImageNet-1k (ILSVRC2012 classification; Russakovsky et al. 2015) and its common subsets.

Read from ``DATA_ROOT/imagenet`` (or ``DATA_ROOT``) in whichever of the three layouts it is kept in
(``evalsuite.datasets._imagenet_layouts``: torchvision's archives, prepared class folders,
Kaggle's CLS-LOC); the split note of every row names the layout found.

Class index = position of the wnid in sorted order, as torchvision's ``ImageNet`` (an
``ImageFolder``) numbers them, so a head trained elsewhere lines up. The official val set
(50,000 images) is the test set and is never used to choose anything: hyperparameters are chosen
on ``HELD_OUT_PER_CLASS`` images per class held out of train with ``HELD_OUT_SEED``
(10,000 of the 1,281,167), the ``val`` split here; the kNN bank is train and that slice together.

- ``imagenet100``: the 100 classes of CMC (Tian et al. 2019; the list solo-learn uses too),
  train and val restricted to them, indices 0..99 in sorted wnid order.
- ``imagenet_1pct`` / ``imagenet_10pct``: SimCLR's 1% and 10% label subsets of train (Chen et al.
  2020, Sec. 6), tested on the full official val; the probes hold their own validation part out
  of the subset (no label outside it is used), the kNN bank is the subset.

The lists ship in ``evalsuite/datasets/imagenet_lists/`` (sources in its README).
"""

from __future__ import annotations

import lzma
from importlib import resources
from pathlib import Path

import numpy as np
from torch.utils.data import Dataset

from evalsuite.datasets._imagenet_layouts import Layout, find_layout
from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.images import load_rgb
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import DATASETS

#: Images per class held out of train to choose hyperparameters on; a class with fewer than
#: twice as many (only in partial copies) gives half of its images.
HELD_OUT_PER_CLASS = 10
HELD_OUT_SEED = 0
LISTS = "imagenet_lists"
SUBSETS = {"imagenet_1pct": "simclr_1percent.txt.xz", "imagenet_10pct": "simclr_10percent.txt.xz"}


class ImageFiles(Dataset):
    """(file, class index) pairs -> (RGB image, index); ``root`` names the copy for the feature
    cache, ``targets`` lets a split be stratified without decoding an image."""

    def __init__(self, root: Path, samples: list[tuple[Path, int]]) -> None:
        self.root, self.samples = root, samples
        self.targets = [t for _, t in samples]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, target = self.samples[i]
        return load_rgb(str(path)), target


def read_list(name: str) -> list[str]:
    """A shipped list, one entry per line (``.xz`` files decompressed)."""
    data = (resources.files("evalsuite.datasets") / LISTS / name).read_bytes()
    return (lzma.decompress(data) if name.endswith(".xz") else data).decode().split()


def held_out(targets: list[int], per_class: int, seed: int) -> tuple[list[int], list[int]]:
    """(kept, held) indices: ``per_class`` of every class held out (half of a class smaller than
    twice that), drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(targets)
    held = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        held.extend(rng.permutation(members)[:min(per_class, len(members) // 2)].tolist())
    held = np.sort(np.asarray(held, dtype=np.int64))
    return np.setdiff1d(np.arange(len(labels)), held).tolist(), held.tolist()


def _indexed(layout: Layout, pairs: list[tuple[Path, str]], index: dict[str, int], split: str) -> ImageFiles:
    extra = sorted({w for _, w in pairs} - set(index))
    if extra:
        raise EvalsuiteError(f"ImageNet ({layout.kind} layout, {layout.root}): {split} has class {extra[0]!r} that "
                             "train lacks; every test class needs training images")
    if not pairs:
        raise EvalsuiteError(f"ImageNet ({layout.kind} layout, {layout.root}): {split} holds no images")
    return ImageFiles(layout.root, [(p, index[w]) for p, w in pairs])


def _spec(name: str, layout: Layout, train: list[tuple[Path, str]], test: list[tuple[Path, str]],
          note: str, hold_out: bool) -> DatasetSpec:
    wnids = sorted({w for _, w in train})
    index = {w: i for i, w in enumerate(wnids)}  # torchvision's order: sorted wnids
    full = _indexed(layout, train, index, "train")
    splits = {"train": full, "test": _indexed(layout, test, index, "the official val set")}
    source = f"{layout.kind} layout at {layout.root}; {len(wnids)} classes; test: the official val set"
    val_source = "official"
    if hold_out:
        kept, held = held_out(full.targets, HELD_OUT_PER_CLASS, HELD_OUT_SEED)
        splits["train"] = ImageFiles(layout.root, [full.samples[i] for i in kept])
        splits["val"] = ImageFiles(layout.root, [full.samples[i] for i in held])
        val_source = (f"{len(held):,} images held out of train, {HELD_OUT_PER_CLASS} per class (half of a class "
                      f"under {2 * HELD_OUT_PER_CLASS}), seed {HELD_OUT_SEED}")
        source += f"; val: {val_source}"
    return DatasetSpec(name, splits, wnids, split_note=f"{note}{source}", val_source=val_source)


def _layout(root: str, download: bool) -> Layout:
    if download:  # nothing to fetch: say so rather than ignore the flag on a missing copy
        try:
            return find_layout(root)
        except EvalsuiteError as exc:
            raise EvalsuiteError(f"{exc}; --download cannot fetch it") from None
    return find_layout(root)


@DATASETS.register_module("imagenet")
def imagenet(root: str, download: bool) -> DatasetSpec:
    layout = _layout(root, download)
    return _spec("imagenet", layout, layout.train, layout.val, "", hold_out=True)


@DATASETS.register_module("imagenet100")
def imagenet100(root: str, download: bool) -> DatasetSpec:
    layout = _layout(root, download)
    keep = set(read_list("cmc_imagenet100.txt"))
    train = [(p, w) for p, w in layout.train if w in keep]
    if not train:
        raise EvalsuiteError(f"ImageNet ({layout.kind} layout, {layout.root}) has none of the 100 classes of "
                             f"imagenet100 (CMC's list, e.g. {sorted(keep)[0]}) in train")
    found = len({w for _, w in train})
    note = f"CMC ImageNet-100 classes ({found} of 100 found); "
    return _spec("imagenet100", layout, train, [(p, w) for p, w in layout.val if w in keep], note, hold_out=True)


def _subset(name: str, root: str, download: bool) -> DatasetSpec:
    layout = _layout(root, download)
    listed = read_list(SUBSETS[name])
    wanted = set(listed)
    train = [(p, w) for p, w in layout.train if p.name in wanted]
    if not train:
        raise EvalsuiteError(f"ImageNet ({layout.kind} layout, {layout.root}): train holds none of the {len(listed):,} "
                             f"files of {name} (SimCLR's list, e.g. {listed[0]})")
    note = f"SimCLR {name.split('_')[1][:-3]}% label subset ({len(train):,} of its {len(listed):,} images found); "
    return _spec(name, layout, train, layout.val, note, hold_out=False)


@DATASETS.register_module("imagenet_1pct")
def imagenet_1pct(root: str, download: bool) -> DatasetSpec:
    return _subset("imagenet_1pct", root, download)


@DATASETS.register_module("imagenet_10pct")
def imagenet_10pct(root: str, download: bool) -> DatasetSpec:
    return _subset("imagenet_10pct", root, download)
