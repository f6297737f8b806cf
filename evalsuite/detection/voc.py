"""Pascal VOC-format folders: ``Annotations/*.xml``, ``JPEGImages/``, ``ImageSets/Main/<split>.txt``.

Boxes follow detectron2's VOC loader (``pascal_voc.py``): XYXY_ABS with ``xmin``/``ymin`` moved
to 0-based pixels (minus 1), objects marked difficult kept for training and flagged so the VOC
evaluator ignores them. A box with ``xmin >= xmax`` or ``ymin >= ymax`` cannot be trained on and
is dropped with a warning (BCCD has two).

Standard sets (Everingham et al. 2010): ``voc2007`` trains on VOC07 trainval and tests on VOC07
test, ``voc0712`` trains on VOC07+12 trainval and tests on VOC07 test (the MoCo/SimSiam/BYOL
detection transfer protocol, He et al. 2020, Sec. 4.2), ``voc2012`` trains on train and tests
on val. VOC07 test is scored with the 11-point AP of the VOC07 devkit; any other folder with
the all-point AP of VOC2010+.
"""

from __future__ import annotations

import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

from evalsuite.datasets.voc import VOC_CLASSES
from evalsuite.detection.spec import DETECTION_DATASETS, HELD_OUT_FRACTION, DetectionSpec, seeded_split
from evalsuite.errors import EvalsuiteError

BOX_MODE_XYXY_ABS = 0  # detectron2.structures.BoxMode.XYXY_ABS, without importing detectron2 here


def read_ids(folder: Path, split: str) -> list[str]:
    path = folder / "ImageSets" / "Main" / f"{split}.txt"
    return [line.split()[0] for line in path.read_text().splitlines() if line.strip()]


def parse_annotation(folder: Path, image_id: str) -> dict:
    """One VOC XML -> {file_name, image_id, height, width, objects: [(name, [x1, y1, x2, y2], difficult)]}."""
    path = folder / "Annotations" / f"{image_id}.xml"
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as exc:
        raise EvalsuiteError(f"VOC annotation {str(path)!r} cannot be read ({exc}); every listed image needs an XML file") from None
    size = tree.find("size")
    objects = []
    for obj in tree.findall("object"):
        box = obj.find("bndbox")
        coords = [float(box.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")]
        coords[0] -= 1.0  # 1-based pixel index -> 0-based coordinate, as detectron2's loader
        coords[1] -= 1.0
        difficult = obj.find("difficult")
        objects.append((obj.find("name").text.strip(), coords, difficult is not None and difficult.text.strip() == "1"))
    filename = tree.findtext("filename") or f"{image_id}.jpg"
    image = folder / "JPEGImages" / Path(filename).name
    if not image.is_file():
        image = folder / "JPEGImages" / f"{image_id}.jpg"
    return {"file_name": str(image), "image_id": image_id, "height": int(float(size.findtext("height"))),
            "width": int(float(size.findtext("width"))), "objects": objects}


def to_records(parsed: list[dict], classes: list[str]) -> tuple[list[dict], dict[str, list]]:
    """Parsed annotations -> detectron2 dataset dicts, and the degenerate boxes dropped per image."""
    index = {c: i for i, c in enumerate(classes)}
    records, dropped = [], {}
    for item in parsed:
        anns = []
        for name, (x1, y1, x2, y2), difficult in item["objects"]:
            if name not in index:
                raise EvalsuiteError(f"image {item['image_id']!r} has class {name!r}, which is not one of: {', '.join(classes)}")
            if x1 + 1 >= x2 or y1 + 1 >= y2:  # xmin >= xmax in the file's 1-based pixels
                dropped.setdefault(item["image_id"], []).append([x1 + 1, y1 + 1, x2, y2])
                continue
            anns.append({"category_id": index[name], "bbox": [x1, y1, x2, y2], "bbox_mode": BOX_MODE_XYXY_ABS,
                         "difficult": int(difficult)})
        records.append({k: item[k] for k in ("file_name", "image_id", "height", "width")} | {"annotations": anns})
    return records, dropped


def voc_folder(path: str, name: str | None = None, classes: list[str] | None = None,
               train_splits: tuple[str, ...] | None = None, test_split: str | None = None,
               year: int = 2012, extra_train: list[Path] = ()) -> DetectionSpec:
    """Any VOC-format folder: ``trainval`` (else ``train``) -> ``test`` (else ``val``) when split files
    exist, else a seeded 80/20 split of all annotations (seed 0), written into the spec."""
    folder = Path(path).expanduser()
    if not (folder / "Annotations").is_dir():
        raise EvalsuiteError(f"VOC folder {str(folder)!r} has no Annotations/ directory; give a folder with Annotations/ and JPEGImages/")
    main = folder / "ImageSets" / "Main"
    available = {p.stem for p in main.glob("*.txt")} if main.is_dir() else set()
    split_files, note = {}, "official"
    if test_split is None and available:
        test_split = next((s for s in ("test", "val") if s in available), None)
    if train_splits is None and available:
        train_splits = next(((s,) for s in ("trainval", "train") if s in available and s != test_split), None)
    if train_splits and test_split:
        missing = [s for s in (*train_splits, test_split) if s not in available]
        if missing:
            raise EvalsuiteError(f"VOC folder {str(folder)!r} has no ImageSets/Main/{missing[0]}.txt; it has: {', '.join(sorted(available)) or 'none'}")
        train_ids = [(folder, i) for s in train_splits for i in read_ids(folder, s)]
        test_ids = read_ids(folder, test_split)
        note = f"official: {'+'.join(train_splits)} -> {test_split}"
    else:
        all_ids = sorted(p.stem for p in (folder / "Annotations").glob("*.xml"))
        if len(all_ids) < 2:
            raise EvalsuiteError(f"VOC folder {str(folder)!r} has {len(all_ids)} annotation(s); at least 2 are needed to split train/test")
        tr, test_ids = seeded_split(all_ids)
        train_ids = [(folder, i) for i in tr]
        split_files = {"train": tr, "test": test_ids}
        note = f"no ImageSets/Main split files: seeded (seed 0) {1 - HELD_OUT_FRACTION:.0%}/{HELD_OUT_FRACTION:.0%} train/test split of the annotations"
    for other in extra_train:
        train_ids += [(other, i) for i in read_ids(other, "trainval")]
    train_parsed = [parse_annotation(f, i) for f, i in train_ids]
    test_parsed = [parse_annotation(folder, i) for i in test_ids]
    if classes is None:
        classes = sorted({o[0] for item in train_parsed + test_parsed for o in item["objects"]})
    train, dropped = to_records(train_parsed, classes)
    test, dropped_test = to_records(test_parsed, classes)
    dropped.update(dropped_test)
    if dropped:
        n = sum(len(v) for v in dropped.values())
        first = next(iter(dropped))
        warnings.warn(f"VOC folder {str(folder)!r}: dropped {n} box(es) with xmin >= xmax or ymin >= ymax "
                      f"(first in image {first!r}: {dropped[first][0]})", stacklevel=2)
    return DetectionSpec(name or f"voc:{path}", {"train": train, "test": test}, list(classes), "voc", year,
                         note, split_files, dropped)


def _devkit(root: str, year: str) -> Path:
    folder = Path(root) / "VOCdevkit" / f"VOC{year}"
    if not folder.is_dir():
        raise EvalsuiteError(f"VOC{year} is not at {str(folder)!r}; put the VOCdevkit there (or name a folder with voc:PATH)")
    return folder


@DETECTION_DATASETS.register_module("voc2007")
def voc2007(root: str, download: bool) -> DetectionSpec:
    return voc_folder(str(_devkit(root, "2007")), "voc2007", VOC_CLASSES, ("trainval",), "test", 2007)


@DETECTION_DATASETS.register_module("voc2012")
def voc2012(root: str, download: bool) -> DetectionSpec:
    return voc_folder(str(_devkit(root, "2012")), "voc2012", VOC_CLASSES, ("train",), "val", 2012)


@DETECTION_DATASETS.register_module("voc0712")
def voc0712(root: str, download: bool) -> DetectionSpec:
    """VOC07 trainval + VOC12 trainval -> VOC07 test (16,551 -> 4,952 images)."""
    return voc_folder(str(_devkit(root, "2007")), "voc0712", VOC_CLASSES, ("trainval",), "test", 2007,
                      extra_train=[_devkit(root, "2012")])
