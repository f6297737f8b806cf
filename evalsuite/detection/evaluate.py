"""Score detections on a ``DetectionSpec``'s test split with detectron2's evaluators.

VOC: ``PascalVOCDetectionEvaluator`` (AP averaged over IoU 0.50:0.95 in steps of 0.05, AP50,
AP75; difficult objects ignored; 11-point AP for VOC07, area AP otherwise). It reads ground truth
from a VOC folder, so the test split's loaded boxes (degenerate ones already dropped) are written
as a VOC folder under the work dir, together with the image-set file: the split is written down.
COCO: ``COCOEvaluator`` with the plain pycocotools path (the fast evaluator is C++), on a COCO
json written from the same records.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from evalsuite.detection import require_detectron2
from evalsuite.detection.spec import DetectionSpec
from evalsuite.launch import world


def write_voc_truth(records: list[dict], classes: list[str], folder: Path, split: str = "test") -> Path:
    """Write ``records`` as ``Annotations/*.xml`` + ``ImageSets/Main/<split>.txt`` (VOC's 1-based xmin/ymin)."""
    (folder / "Annotations").mkdir(parents=True, exist_ok=True)
    (folder / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for r in records:
        root = ET.Element("annotation")
        ET.SubElement(root, "filename").text = Path(r["file_name"]).name
        size = ET.SubElement(root, "size")
        ET.SubElement(size, "width").text, ET.SubElement(size, "height").text = str(r["width"]), str(r["height"])
        for ann in r["annotations"]:
            obj = ET.SubElement(root, "object")
            ET.SubElement(obj, "name").text = classes[ann["category_id"]]
            ET.SubElement(obj, "pose").text, ET.SubElement(obj, "truncated").text = "Unspecified", "0"  # parse_rec reads them
            ET.SubElement(obj, "difficult").text = str(ann.get("difficult", 0))
            box = ET.SubElement(obj, "bndbox")
            x1, y1, x2, y2 = ann["bbox"]
            for key, value in zip(("xmin", "ymin", "xmax", "ymax"), (x1 + 1, y1 + 1, x2, y2)):
                ET.SubElement(box, key).text = str(int(round(value)))  # the evaluator parses ints
        ET.ElementTree(root).write(folder / "Annotations" / f"{r['image_id']}.xml")
    (folder / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"{r['image_id']}\n" for r in records))
    return folder


def build_evaluator(spec: DetectionSpec, out_dir: Path, fast_coco_eval: bool = False):
    """A detectron2 evaluator for ``spec``'s test split and the catalog name it was registered under."""
    require_detectron2()
    from detectron2.data import DatasetCatalog, MetadataCatalog

    name = f"evalsuite-{uuid.uuid4().hex[:12]}"
    records = spec.splits["test"]
    DatasetCatalog.register(name, lambda: records)
    meta = MetadataCatalog.get(name)
    meta.set(thing_classes=list(spec.classes))
    if spec.evaluator == "voc":
        from detectron2.evaluation import PascalVOCDetectionEvaluator

        folder = out_dir / "voc_truth"
        if world()[0] == 0:  # only the first process scores (the evaluator gathers predictions there)
            write_voc_truth(records, spec.classes, folder)
        meta.set(dirname=str(folder), split="test", year=spec.voc_year)
        return PascalVOCDetectionEvaluator(name), name
    from detectron2.evaluation import COCOEvaluator

    return COCOEvaluator(name, tasks=("bbox",), distributed=True, output_dir=str(out_dir),
                         use_fast_impl=fast_coco_eval), name


def release(name: str) -> None:
    from detectron2.data import DatasetCatalog, MetadataCatalog

    DatasetCatalog.remove(name)
    MetadataCatalog.remove(name)


def box_metrics(results: dict) -> dict[str, float]:
    """detectron2's ``{'bbox': {'AP': 45.1, ...}}`` (percent) -> ``{'AP': 0.451, 'AP50': ..., 'AP75': ...}``."""
    bbox = results["bbox"]
    return {k: float(bbox[k]) / 100.0 for k in ("AP", "AP50", "AP75")}
