"""Detection datasets by name, and their images as detectron2 loaders.

A detection dataset (``DetectionSpec``, in ``spec.py``) is lists of detectron2 dataset dicts
(``file_name``, ``image_id``, ``height``, ``width``, ``annotations`` with XYXY_ABS boxes and
contiguous ``category_id``) for ``train`` and ``test``, plus how its test split is scored. Names:
``voc:PATH``, ``coco:ANN.json:IMG_DIR[:TEST_ANN.json:TEST_IMG_DIR]``, and the standard sets
registered in ``DETECTION_DATASETS`` (``voc2007``, ``voc2012``, ``voc0712``, ``coco2017``),
kept apart from the classification ``DATASETS`` registry.
"""

from __future__ import annotations

from pathlib import Path

from evalsuite.detection import coco, voc
from evalsuite.detection.spec import DETECTION_DATASETS, DetectionSpec
from evalsuite.errors import EvalsuiteError, one_of


def build_detection_dataset(name: str, root: str = "data", download: bool = False) -> DetectionSpec:
    """``voc:PATH``, ``coco:ANN.json:IMG_DIR[:TEST_ANN.json:TEST_IMG_DIR]`` or a registered name."""
    kind, sep, rest = name.partition(":")
    if sep and kind == "voc":
        return voc.voc_folder(rest, name=name)
    if sep and kind == "coco":
        return coco.coco_from_arg(rest, name=name)
    if name not in DETECTION_DATASETS.module_dict:
        valid = sorted(DETECTION_DATASETS.module_dict) + ["voc:PATH", "coco:ANN.json:IMG_DIR"]
        raise one_of("detection dataset", name, valid)
    return DETECTION_DATASETS.get(name)(str(Path(root)), download)


def build_loaders(cfg, spec: DetectionSpec, seed: int, num_workers: int):
    """(train, test) detectron2 loaders with detection's own transforms: a shortest edge drawn from
    ``MIN_SIZE_TRAIN`` plus a horizontal flip for training, one fixed shortest edge for testing
    (He et al. 2020, App. A.2). Training images without a box are left out, as detectron2 does."""
    from detectron2.data import DatasetMapper, build_detection_test_loader, build_detection_train_loader
    from detectron2.data import transforms as T
    from detectron2.data.samplers import TrainingSampler

    train = [r for r in spec.splits["train"] if r["annotations"]]
    if not train:
        raise EvalsuiteError(f"dataset {spec.name!r} has no training image with a box")
    aug = [T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TRAIN, cfg.INPUT.MAX_SIZE_TRAIN, "choice"), T.RandomFlip()]
    train_mapper = DatasetMapper(is_train=True, augmentations=aug, image_format="RGB")
    train_loader = build_detection_train_loader(
        train, mapper=train_mapper, sampler=TrainingSampler(len(train), shuffle=True, seed=seed),
        total_batch_size=cfg.SOLVER.IMS_PER_BATCH, num_workers=num_workers)
    test_mapper = DatasetMapper(is_train=False, augmentations=[T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)],
                                image_format="RGB")
    test_loader = build_detection_test_loader(spec.splits["test"], mapper=test_mapper, num_workers=num_workers)
    return train_loader, test_loader
