"""What a detection dataset is (``DetectionSpec``), the registry of the standard sets, and the
seeded train/test split used where a folder or json has none. Every other detection data file
imports this one, and this one imports none of them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from mmengine.registry import Registry

#: Contract: a function ``(root: str, download: bool) -> DetectionSpec``.
DETECTION_DATASETS = Registry("detection dataset")

#: Fraction of images held out as the test split when a folder or json has no official split.
HELD_OUT_FRACTION = 0.2


@dataclass
class DetectionSpec:
    """A detection dataset's train/test image records and how the test split is scored.

    Attributes:
        name: the name it was built from (``voc:PATH``, ``voc0712``, ...).
        splits: ``train`` and ``test`` lists of detectron2 dataset dicts.
        classes: class names in ``category_id`` order.
        evaluator: ``voc`` (detectron2's Pascal VOC evaluator) or ``coco`` (COCO evaluator).
        voc_year: 2007 scores with the VOC07 11-point AP, 2012 with the all-point (area) AP.
        split_note: how the split was made; ``split_files`` the written-down image ids of a
            seeded split.
        dropped: boxes the loader dropped (degenerate), as ``image_id: [box, ...]``.
    """

    name: str
    splits: dict[str, list[dict]]
    classes: list[str]
    evaluator: str = "voc"
    voc_year: int = 2012
    split_note: str = "official"
    split_files: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, list] = field(default_factory=dict)
    sizes: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        assert {"train", "test"} <= set(self.splits), self.splits.keys()
        assert self.evaluator in ("voc", "coco"), self.evaluator
        self.sizes = {k: len(v) for k, v in self.splits.items()}


def seeded_split(ids: list[str], fraction: float = HELD_OUT_FRACTION, seed: int = 0) -> tuple[list[str], list[str]]:
    order = np.random.default_rng(seed).permutation(len(ids))
    n_test = max(1, int(round(fraction * len(ids))))
    test = sorted(ids[i] for i in order[:n_test])
    return sorted(set(ids) - set(test)), test
