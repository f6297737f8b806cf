"""A user's own data as ``imagefolder:PATH``.

Layout: ``PATH/train/<class>/*`` and ``PATH/test/<class>/*``; a ``PATH/val/`` beside ``test/``
is the validation split, and a ``val/`` without ``test/`` serves as the test split (as in
Imagenette, whose only held-out split is called val).
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image
from torchvision.datasets import ImageFolder

from evalsuite.datasets.base import DatasetSpec
from evalsuite.errors import EvalsuiteError


def folder_spec(path: str | Path, name: str | None = None) -> DatasetSpec:
    path = Path(path)
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
    try:
        splits = {split: ImageFolder(path / folder) for split, folder in names.items()}
    except FileNotFoundError as exc:
        raise EvalsuiteError(f"image folder {str(path)!r}: {exc}") from exc
    classes = splits["train"].classes
    for split, ds in splits.items():
        if ds.classes != classes:
            raise EvalsuiteError(
                f"image folder {str(path)!r}: {split}/ has classes {ds.classes[:5]}... but train/ has {classes[:5]}...; "
                "every split needs the same class folders"
            )
    with Image.open(splits["train"].samples[0][0]) as first:
        native = max(first.size)
    return DatasetSpec(
        name=name or f"imagefolder:{path}",
        splits=splits,
        classes=classes,
        native_size=native,
        split_note="official" if test_dir == "test" else "val/ used as the test split",
    )
