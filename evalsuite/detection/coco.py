"""COCO-format json (Lin et al. 2014): ``coco:ANN.json:IMG_DIR`` and ``coco2017``.

With one annotation file the images are split by a seeded 80/20 split (seed 0, written into the
spec); with two (``coco:TRAIN.json:TRAIN_DIR:TEST.json:TEST_DIR``) they are train and test.
``coco2017`` trains on train2017 and tests on val2017, the COCO transfer protocol of MoCo
(He et al. 2020, Sec. 4.2). Crowd boxes are kept for the evaluator and ignored in training by
detectron2's mapper.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalsuite.detection import require_detectron2
from evalsuite.detection.spec import DETECTION_DATASETS, DetectionSpec, seeded_split
from evalsuite.errors import EvalsuiteError


def load_coco(json_file: str, image_dir: str) -> tuple[list[dict], list[str]]:
    """COCO json -> (detectron2 dicts with contiguous category ids, class names in that order)."""
    path = Path(json_file)
    if not path.is_file():
        raise EvalsuiteError(f"COCO annotation file {json_file!r} does not exist; give coco:ANNOTATIONS.json:IMAGE_DIR")
    if not Path(image_dir).is_dir():
        raise EvalsuiteError(f"COCO image folder {image_dir!r} does not exist; give coco:ANNOTATIONS.json:IMAGE_DIR")
    require_detectron2()
    from detectron2.data.datasets.coco import load_coco_json

    categories = sorted(json.loads(path.read_text())["categories"], key=lambda c: c["id"])
    # dataset_name makes detectron2 map category ids to 0..C-1 (and record the map in its metadata).
    records = load_coco_json(str(path), image_dir, dataset_name=f"evalsuite-coco:{path.resolve()}")
    for r in records:
        r["image_id"] = str(r["image_id"])
    return records, [c["name"] for c in categories]


def coco_from_arg(rest: str, name: str) -> DetectionSpec:
    parts = rest.split(":")
    if len(parts) not in (2, 4):
        raise EvalsuiteError(f"dataset {name!r} is not coco:ANN.json:IMG_DIR or coco:TRAIN.json:TRAIN_DIR:TEST.json:TEST_DIR")
    train, classes = load_coco(parts[0], parts[1])
    if len(parts) == 4:
        test, test_classes = load_coco(parts[2], parts[3])
        if test_classes != classes:
            raise EvalsuiteError(f"dataset {name!r}: the test json's categories differ from the train json's")
        return DetectionSpec(name, {"train": train, "test": test}, classes, "coco", split_note="given train/test files")
    by_id = {r["image_id"]: r for r in train}
    tr, te = seeded_split(sorted(by_id))
    return DetectionSpec(name, {"train": [by_id[i] for i in tr], "test": [by_id[i] for i in te]}, classes, "coco",
                         split_note="one json: seeded (seed 0) 80/20 train/test split of its images",
                         split_files={"train": tr, "test": te})


@DETECTION_DATASETS.register_module("coco2017")
def coco2017(root: str, download: bool) -> DetectionSpec:
    base = Path(root) / "coco"
    ann = base / "annotations"
    arg = f"{ann / 'instances_train2017.json'}:{base / 'train2017'}:{ann / 'instances_val2017.json'}:{base / 'val2017'}"
    spec = coco_from_arg(arg, "coco2017")
    spec.split_note = "official: train2017 -> val2017"
    return spec
