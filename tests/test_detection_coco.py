"""COCO-format detection data: json loading with non-contiguous ids, the seeded split, the COCO evaluator."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from evalsuite.detection.data import build_detection_dataset
from evalsuite.errors import EvalsuiteError
from test_detection import CLASSES, ground_truth_metrics, write_voc

CATEGORY_IDS = {"box": 7, "slab": 3}  # non-contiguous and out of name order, as real COCO ids are


def write_coco(tmp_path: Path) -> tuple[Path, Path]:
    """The synthetic VOC set re-written as one COCO json (boxes as [x, y, w, h], 0-based)."""
    voc = write_voc(tmp_path / "voc", n=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = build_detection_dataset(f"voc:{voc}")
    images, annotations = [], []
    for records in spec.splits.values():
        for r in records:
            image_id = len(images) + 1
            images.append({"id": image_id, "file_name": Path(r["file_name"]).name, "height": r["height"], "width": r["width"]})
            for a in r["annotations"]:
                x1, y1, x2, y2 = a["bbox"]
                annotations.append({"id": len(annotations) + 1, "image_id": image_id, "iscrowd": 0, "area": (x2 - x1) * (y2 - y1),
                                    "bbox": [x1, y1, x2 - x1, y2 - y1], "category_id": CATEGORY_IDS[CLASSES[a["category_id"]]]})
    ann = tmp_path / "instances.json"
    ann.write_text(json.dumps({"images": images, "annotations": annotations,
                               "categories": [{"id": i, "name": n} for n, i in CATEGORY_IDS.items()]}))
    return ann, voc / "JPEGImages"


def test_coco_json_loads_with_a_written_seeded_split(tmp_path):
    ann, images = write_coco(tmp_path)
    spec = build_detection_dataset(f"coco:{ann}:{images}")
    assert spec.classes == ["slab", "box"]  # ordered by category id, mapped to 0..C-1
    assert len(spec.splits["train"]) == 8 and len(spec.splits["test"]) == 2
    assert "seeded (seed 0) 80/20" in spec.split_note
    assert {a["category_id"] for r in spec.splits["train"] for a in r["annotations"]} <= {0, 1}
    with pytest.raises(EvalsuiteError, match="does not exist; give coco:ANNOTATIONS.json:IMAGE_DIR"):
        build_detection_dataset(f"coco:{tmp_path / 'none.json'}:{images}")


def test_coco_evaluator_scores_ground_truth_at_ap_100(tmp_path):
    ann, images = write_coco(tmp_path)
    spec = build_detection_dataset(f"coco:{ann}:{images}")
    assert ground_truth_metrics(spec, tmp_path / "eval") == pytest.approx({"AP": 1.0, "AP50": 1.0, "AP75": 1.0})
