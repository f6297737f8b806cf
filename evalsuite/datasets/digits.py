"""scikit-learn's bundled 8x8 handwritten digits: the offline default, no download.

1,797 images of 10 classes (Alpaydin & Kaynak 1998, UCI). There is no official split, so a
seeded, stratified 30% test split is fixed here (seed 0) and written into every result.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from torch.utils.data import Dataset

from evalsuite.datasets.base import DatasetSpec, stratified_holdout
from evalsuite.registry import DATASETS

TEST_FRACTION = 0.3
SPLIT_SEED = 0


class ArrayImages(Dataset):
    """(N, H, W) or (N, H, W, 3) uint8 array + int labels -> (PIL RGB image, label)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return Image.fromarray(self.images[i]).convert("RGB"), int(self.labels[i])


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """Images (1797, 8, 8) uint8 in 0..255 and labels (1797,)."""
    bunch = load_digits()
    images = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
    return images, bunch.target.astype(np.int64)


@DATASETS.register_module("digits")
def digits(root: str, download: bool) -> DatasetSpec:
    images, labels = digits_arrays()
    train, test = stratified_holdout(labels, TEST_FRACTION, SPLIT_SEED)
    return DatasetSpec(
        name="digits",
        splits={"train": ArrayImages(images[train], labels[train]), "test": ArrayImages(images[test], labels[test])},
        classes=[str(d) for d in range(10)],
        native_size=8,
        split_note=f"seeded stratified {TEST_FRACTION:.0%} test split (seed {SPLIT_SEED})",
    )
