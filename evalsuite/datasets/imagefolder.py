"""A user's own data as ``imagefolder:PATH``.

Layout: ``PATH/train/<class>/*`` and ``PATH/test/<class>/*``; a ``PATH/val/`` beside ``test/``
is the validation split, and a ``val/`` without ``test/`` serves as the test split (as in
Imagenette, whose only held-out split is called val).

Labels come from train's class folders (sorted, as torchvision's ``ImageFolder`` numbers them);
test and val may lack a class or hold an empty one, but a class they have that train lacks, or
an empty class in train, is an error (no image could teach it). Unreadable files are named; with
``skip_bad_images`` they are left out and counted (``DatasetSpec.skipped_images``). Hidden entries
(``.DS_Store``, macOS ``._x.jpg``, ``.ipynb_checkpoints/``) and files without an image extension are
left out and counted (``DatasetSpec.skipped_files``). Symlinked folders are followed (a subset
built by linking class folders is common), each real folder once: a loop or a folder reached
twice is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from torchvision.datasets import ImageFolder
from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.images import default_workers, load_rgb, unreadable
from evalsuite.errors import EvalsuiteError


class _Folder(ImageFolder):
    """An ``ImageFolder`` numbering classes as train does (``classes``), decoding with ``load_rgb``,
    walking its folders with ``walk_class`` (hidden entries and non-image files counted in
    ``skipped``, symlinked folders read once)."""

    def __init__(self, root: Path, classes: list[str] | None) -> None:
        self._train_classes = classes
        self.skipped = {"hidden": 0, "not_image": 0}
        super().__init__(root, loader=load_rgb, allow_empty=classes is not None)

    def find_classes(self, directory):
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
        self.skipped["hidden"] += sum(e.name.startswith(".") for e in entries)
        self.skipped["not_image"] += sum(not e.name.startswith(".") and not e.is_dir() for e in entries)
        classes = self._train_classes or [e.name for e in entries if e.is_dir() and not e.name.startswith(".")]
        if not classes:
            raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
        return classes, {c: i for i, c in enumerate(classes)}

    def make_dataset(self, directory, class_to_idx, extensions=None, is_valid_file=None, allow_empty=False):
        """torchvision's ``make_dataset`` with its order (walked folders sorted by path, files by
        name), but each real folder read once: a symlink back up the tree (``a/loop -> ..``) or to a
        folder already read would count images twice or under another class, so it is refused."""
        seen: dict[str, str] = {}
        samples, empty = [], []
        for name in sorted(class_to_idx):
            folder = os.path.join(directory, name)
            if not os.path.isdir(folder):
                continue
            found = walk_class(folder, seen, self.skipped)
            samples += [(path, class_to_idx[name]) for path in found]
            empty += [] if found else [name]
        if empty and not allow_empty:
            raise FileNotFoundError(f"Found no valid file for the classes {', '.join(empty)}. "
                                    f"Supported extensions are: {', '.join(IMG_EXTENSIONS)}")
        return samples

    def drop(self, paths: set[str]) -> None:
        self.samples = [s for s in self.samples if s[0] not in paths]
        self.imgs, self.targets = self.samples, [t for _, t in self.samples]


def walk_class(folder: str, seen: dict[str, str], skipped: dict[str, int]) -> list[str]:
    """Image paths under ``folder`` (symlinks followed), in torchvision's order; hidden entries and
    non-image files are counted into ``skipped``; ``seen`` maps each real folder read to its path."""
    found: list[tuple[str, list[str]]] = []
    stack = [folder]
    while stack:
        here = stack.pop()
        real = os.path.realpath(here)
        if real in seen:
            raise EvalsuiteError(f"image folder {real!r} is reached twice, as {seen[real]!r} and as {here!r}: one folder "
                                 "under two names (a symlink) would count its images twice and under two classes; "
                                 "remove the symlink")
        seen[real] = here
        entries = sorted(os.scandir(here), key=lambda e: e.name)
        files = []
        for entry in entries:
            if entry.name.startswith("."):
                skipped["hidden"] += 1
            elif entry.is_dir():
                target = os.path.realpath(entry.path)
                if entry.is_symlink() and (real + os.sep).startswith(target + os.sep):
                    raise EvalsuiteError(f"image folder {entry.path!r} is a symlink to {target!r}, a folder that "
                                         "contains it: reading it would loop (and count images twice, under the "
                                         "wrong class); remove the link")
                stack.append(entry.path)
            elif has_file_allowed_extension(entry.name, IMG_EXTENSIONS):
                files.append(entry.name)
            else:
                skipped["not_image"] += 1
        found.append((here, files))
    return [os.path.join(root, name) for root, files in sorted(found) for name in files]


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
        extra = sorted(p.name for p in (path / folder).iterdir()
                       if p.is_dir() and not p.name.startswith(".") and p.name not in train.class_to_idx)
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
    files = {split: {k: n for k, n in ds.skipped.items() if n} for split, ds in splits.items()}
    return DatasetSpec(name=name or f"imagefolder:{path}", splits=splits, classes=splits["train"].classes,
                       native_size=native, split_note=split_note, skipped_images=skipped,
                       skipped_files={split: n for split, n in files.items() if n})
