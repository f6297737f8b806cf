"""Datasets by name: ``build_dataset('cifar10', root, download)`` -> ``DatasetSpec``."""

from __future__ import annotations

from pathlib import Path

from evalsuite.datasets.base import VAL_FRACTION, DatasetSpec, stratified_holdout
from evalsuite.datasets.imagefolder import folder_spec
from evalsuite.registry import DATASETS, get, import_folder

import_folder(__name__, __path__)  # each dataset family's file registers itself

DEFAULT_ROOT = Path("data")


def build_dataset(name: str, root: str | Path = DEFAULT_ROOT, download: bool = False,
                  skip_bad_images: bool = False) -> DatasetSpec:
    """Build a registered dataset, or ``imagefolder:PATH`` for a user's own folder tree
    (``skip_bad_images``: leave its unreadable files out and count them)."""
    if name.startswith("imagefolder:"):
        return folder_spec(name.split(":", 1)[1], skip_bad_images=skip_bad_images)
    return get(DATASETS, name)(str(root), download)


__all__ = ["DatasetSpec", "build_dataset", "stratified_holdout", "VAL_FRACTION"]
