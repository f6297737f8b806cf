"""Scene, object and texture datasets of the transfer benchmarks, via torchvision.

Caltech-101 has no official split: it follows Kornblith et al. 2019 (Sec. A.1) and
ssl-transfer (Ericsson et al. 2021; ``linear.py`` lists 102 classes), 30 train images per class
of all 102 folders (BACKGROUND_Google included), the rest test, drawn with a fixed seed written
into every result. SUN397 uses the dataset's own partition 1 (``Training_01.txt`` /
``Testing_01.txt``), as Kornblith et al. and ssl-transfer's ``datasets/sun397.py`` do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from torch.utils.data import Dataset, Subset
from torchvision import datasets as tvd
from torchvision.datasets.folder import default_loader
from torchvision.datasets.utils import download_url, extract_archive

from evalsuite.datasets.base import DatasetSpec, per_class_split
from evalsuite.datasets.missing import dataset_files
from evalsuite.datasets.verified import already_verified, record_verified
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import DATASETS, tags

SPLIT_SEED = 0
CALTECH_TRAIN_PER_CLASS = 30  # Kornblith et al. 2019, Sec. A.1: 30 train images per class
SUN_PARTITION = "01"  # Kornblith et al. 2019, Sec. A.1: the first of SUN397's ten official partitions
# The partition lists ship apart from the images (Xiao et al. 2010, the SUN397 page); the sha256 is
# the one torchvision's prototype SUN397 resource records (pytorch/vision, prototype/datasets/_builtin/sun397.py).
SUN_PARTITIONS_URL = "https://vision.princeton.edu/projects/2010/SUN/download/Partitions.zip"
SUN_PARTITIONS_SHA256 = "e3311ea5f812d4cc6faef194688343d1111f6cd6f70f2c62f393c2b8d6ba1ec9"


class FileList(Dataset):
    """(path, label) pairs -> (PIL RGB image, label); ``root`` names the source for the feature cache."""

    def __init__(self, root: Path, samples: list[tuple[Path, int]]) -> None:
        self.root, self.samples = root, samples

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        path, label = self.samples[i]
        return default_loader(str(path)), label


class _STL10Verified(tvd.STL10):
    """STL-10 whose files ``evalsuite.datasets.verified`` has already seen md5-checked, unchanged."""

    def _check_integrity(self) -> bool:
        return True


@DATASETS.register_module("stl10")
@tags("transfer")
def stl10(root: str, download: bool) -> DatasetSpec:
    folder = Path(root) / tvd.STL10.base_folder
    names = [name for name, _ in tvd.STL10.train_list + tvd.STL10.test_list]
    cls = _STL10Verified if not download and already_verified(folder, names) else tvd.STL10
    with dataset_files("stl10", root):
        splits = {s: cls(root, split=s, download=download) for s in ("train", "test")}
    if cls is tvd.STL10:
        record_verified(folder, names)
    return DatasetSpec("stl10", splits, list(splits["train"].classes), native_size=96)


@DATASETS.register_module("dtd")
@tags("transfer")
def dtd(root: str, download: bool) -> DatasetSpec:
    with dataset_files("dtd", root):
        splits = {s: tvd.DTD(root, split=s, partition=1, download=download) for s in ("train", "val", "test")}
    return DatasetSpec("dtd", splits, list(splits["train"].classes), split_note="official split 1")


@DATASETS.register_module("caltech101")
@tags("transfer")
def caltech101(root: str, download: bool) -> DatasetSpec:
    with dataset_files("caltech101", root):
        if not download and not (Path(root) / "caltech101").is_dir():
            raise FileNotFoundError("caltech101")  # torchvision would make the folder before finding it empty
        tvd.Caltech101(root, target_type="category", download=download)  # fetches and checks the layout
    # torchvision drops BACKGROUND_Google; the benchmark keeps it as the 102nd class, so the
    # category folders are read directly (sorted, as ssl-transfer's label order).
    full = tvd.ImageFolder(Path(root) / "caltech101" / "101_ObjectCategories")
    train, test = per_class_split(full.targets, CALTECH_TRAIN_PER_CLASS, None, SPLIT_SEED)
    return DatasetSpec(
        "caltech101", {"train": Subset(full, train), "test": Subset(full, test)}, list(full.classes),
        metric="mean_per_class",
        split_note=f"{CALTECH_TRAIN_PER_CLASS} train images per class of 102, rest test (seed {SPLIT_SEED})",
    )


def _sun_partition_file(data_dir: Path, kind: str, download: bool) -> Path:
    """``Training_01.txt`` / ``Testing_01.txt`` beside ClassName.txt (or in ``Partitions/``)."""
    name = f"{kind}_{SUN_PARTITION}.txt"
    candidates = [data_dir / name, data_dir / "Partitions" / name]
    if download and not any(p.is_file() for p in candidates):
        download_url(SUN_PARTITIONS_URL, str(data_dir), "Partitions.zip")
        digest = hashlib.sha256((data_dir / "Partitions.zip").read_bytes()).hexdigest()
        if digest != SUN_PARTITIONS_SHA256:
            raise EvalsuiteError(f"{data_dir / 'Partitions.zip'} has sha256 {digest[:12]}..., not "
                                 f"{SUN_PARTITIONS_SHA256[:12]}...; delete it and download again")
        extract_archive(str(data_dir / "Partitions.zip"), str(data_dir))
    for path in candidates:
        if path.is_file():
            return path
    raise EvalsuiteError(
        f"SUN397 partition file {str(candidates[0])!r} is missing; unzip {SUN_PARTITIONS_URL} into {data_dir} "
        "(or pass --download)"
    )


def _sun_split(data_dir: Path, listing: Path, class_to_idx: dict[str, int]) -> FileList:
    """Lines like ``/a/abbey/sun_aaalbzqrimafwbiv.jpg``; the class is the path between the letter and the file."""
    samples = []
    for line in listing.read_text().split():
        rel = line.strip("/")
        cls = rel.split("/", 1)[1].rsplit("/", 1)[0]
        if cls not in class_to_idx:
            raise EvalsuiteError(f"{listing}: {line!r} names class {cls!r}, which ClassName.txt does not list")
        samples.append((data_dir / rel, class_to_idx[cls]))
    return FileList(data_dir, samples)


@DATASETS.register_module("sun397")
@tags("transfer")
def sun397(root: str, download: bool) -> DatasetSpec:
    with dataset_files("sun397", root):
        full = tvd.SUN397(root, download=download)
    data_dir = Path(root) / "SUN397"
    splits = {
        split: _sun_split(data_dir, _sun_partition_file(data_dir, kind, download), full.class_to_idx)
        for split, kind in (("train", "Training"), ("test", "Testing"))
    }
    return DatasetSpec("sun397", splits, list(full.classes), split_note=f"official partition {int(SUN_PARTITION)}")
