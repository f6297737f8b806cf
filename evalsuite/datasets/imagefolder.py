"""A user's own data as ``imagefolder:PATH``.

Layout: ``PATH/train/<class>/*`` and ``PATH/test/<class>/*``; a ``PATH/val/`` beside ``test/``
is the validation split, and a ``val/`` without ``test/`` serves as the test split (as in
Imagenette, whose only held-out split is called val).

Labels come from train's class folders (sorted, as torchvision's ``ImageFolder`` numbers them);
test and val may lack a class or hold an empty one, but a class they have that train lacks, or
an empty class in train, is an error (no image could teach it). Unreadable files are named; with
``skip_bad_images`` they are left out and counted (``DatasetSpec.skipped_images``).
"""

from __future__ import annotations

from pathlib import Path

from torchvision.datasets import ImageFolder

from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.images import default_workers, load_rgb, unreadable
from evalsuite.errors import EvalsuiteError


class _Folder(ImageFolder):
    """An ``ImageFolder`` numbering classes as train does (``classes``), decoding with ``load_rgb``."""

    def __init__(self, root: Path, classes: list[str] | None) -> None:
        self._train_classes = classes
        super().__init__(root, loader=load_rgb, allow_empty=classes is not None)

    def find_classes(self, directory):
        if self._train_classes is None:
            return super().find_classes(directory)
        return self._train_classes, {c: i for i, c in enumerate(self._train_classes)}

    def drop(self, paths: set[str]) -> None:
        self.samples = [s for s in self.samples if s[0] not in paths]
        self.imgs, self.targets = self.samples, [t for _, t in self.samples]


def _split_names(path: Path) -> dict[str, str]:
    if not (path / "train").is_dir():
        raise EvalsuiteError(
            f"image folder {str(path)!r} has no train/ directory; expected PATH/train/<class>/* "
            "and PATH/test/<class>/* (or PATH/val/<class>/*)"
        )
    test_dir = "test" if (path / "test").is_dir() else "val" if (path / "val").is_dir() else None
    if test_dir is None:
        raise EvalsuiteError(f"image folder {str(path)!r} has neither test/ nor val/ beside train/")
    names = {"train": "train", "test": test_dir}
    if test_dir == "test" and (path / "val").is_dir():
        names["val"] = "val"
    return names


def _build(path: Path, names: dict[str, str]) -> dict[str, _Folder]:
    try:
        train = _Folder(path / "train", None)
    except FileNotFoundError as exc:  # torchvision: no class folder, or a class folder without images
        raise EvalsuiteError(f"image folder {str(path)!r}: train/ cannot be used ({exc}); every class folder of "
                             "train/ needs at least one image") from None
    splits = {"train": train}
    for split, folder in names.items():
        if split == "train":
            continue
        extra = sorted(p.name for p in (path / folder).iterdir() if p.is_dir() and p.name not in train.class_to_idx)
        if extra:
            raise EvalsuiteError(f"image folder {str(path)!r}: {folder}/ has class {extra[0]!r} that train/ lacks; "
                                 "every class of a held-out split needs training images")
        splits[split] = _Folder(path / folder, train.classes)
        if not len(splits[split]):
            raise EvalsuiteError(f"image folder {str(path)!r}: {folder}/ holds no images")
    return splits


def _skip_bad(splits: dict[str, _Folder], workers: int) -> dict[str, int]:
    skipped = {}
    for split, ds in splits.items():
        bad = unreadable([p for p, _ in ds.samples], workers)
        ds.drop(set(bad))
        if bad:
            skipped[split] = len(bad)
    return skipped


def folder_spec(path: str | Path, name: str | None = None, skip_bad_images: bool = False) -> DatasetSpec:
    path = Path(path)
    splits = _build(path, _split_names(path))
    skipped = _skip_bad(splits, default_workers()) if skip_bad_images else {}
    if skip_bad_images and not all(len(ds) for ds in splits.values()):
        raise EvalsuiteError(f"image folder {str(path)!r}: no readable image is left in a split after skipping "
                             f"{sum(skipped.values())} unreadable file(s)")
    native = max(load_rgb(splits["train"].samples[0][0]).size)
    split_note = "official" if (path / "test").is_dir() else "val/ used as the test split"
    return DatasetSpec(name=name or f"imagefolder:{path}", splits=splits, classes=splits["train"].classes,
                       native_size=native, split_note=split_note, skipped_images=skipped)
