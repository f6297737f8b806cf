"""Detection datasets by name, kept apart from the classification ``DATASETS`` registry.

A detection dataset is lists of detectron2 dataset dicts (``file_name``, ``image_id``,
``height``, ``width``, ``annotations`` with XYXY_ABS boxes and contiguous ``category_id``) for
``train`` and ``test``, plus how its test split is scored (``voc`` or ``coco``). Names:
``voc:PATH``, ``coco:ANN.json:IMG_DIR[:TEST_ANN.json:TEST_IMG_DIR]``, and the standard sets
registered in ``DETECTION_DATASETS`` (``voc2007``, ``voc2012``, ``voc0712``, ``coco2017``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mmengine.registry import Registry

from evalsuite.errors import one_of

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
    native_size: int = 800  # what the runner's (unused) feature transform reads
    multilabel: bool = False
    sizes: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        assert {"train", "test"} <= set(self.splits), self.splits.keys()
        assert self.evaluator in ("voc", "coco"), self.evaluator
        self.sizes = {k: len(v) for k, v in self.splits.items()}


def build_detection_dataset(name: str, root: str = "data", download: bool = False) -> DetectionSpec:
    """``voc:PATH``, ``coco:ANN.json:IMG_DIR[:TEST_ANN.json:TEST_IMG_DIR]`` or a registered name."""
    from evalsuite.detection import coco, voc  # noqa: F401  (register the standard sets)

    kind, sep, rest = name.partition(":")
    if sep and kind == "voc":
        return voc.voc_folder(rest, name=name)
    if sep and kind == "coco":
        return coco.coco_from_arg(rest, name=name)
    if name not in DETECTION_DATASETS.module_dict:
        valid = sorted(DETECTION_DATASETS.module_dict) + ["voc:PATH", "coco:ANN.json:IMG_DIR"]
        raise one_of("detection dataset", name, valid)
    return DETECTION_DATASETS.get(name)(str(Path(root)), download)
