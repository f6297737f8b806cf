"""Detection transfer on a synthetic VOC-format set (coloured rectangles on noise), CPU only."""

from __future__ import annotations

import argparse
import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from evalsuite.archs import build_backbone
from evalsuite.checkpoint import load_backbone
from evalsuite.checkpoint.formats.detectron2 import from_detectron2
from evalsuite.detection.data import build_detection_dataset
from evalsuite.errors import EvalsuiteError
from tests.fixtures.detectron2_keys import TABLE, detectron2_name, detectron2_state, model_key, randomise_batchnorm

CLASSES = ("box", "slab")
TINY = ["detection.max_iter=3", "detection.batch_size=2", "detection.min_size_train=[96]", "detection.max_size_train=128",
        "detection.min_size_test=96", "detection.max_size_test=128", "detection.precise_bn_iters=1",
        "detection.num_workers=0", "detection.roi_batch_size_per_image=32"]


def write_voc(root: Path, n: int = 12, splits: bool = True, bad_box: bool = False, seed: int = 0) -> Path:
    """n 96x128 noise images with 1-2 filled rectangles each; VOC XML with 1-based pixel boxes."""
    rng = np.random.default_rng(seed)
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for i in range(n):
        img = rng.integers(0, 80, (96, 128, 3), dtype=np.uint8)
        objs = []
        for k in range(1 + i % 2):
            x1, y1 = int(rng.integers(1, 60)), int(rng.integers(1, 40))
            w, h = (40, 20) if k else (24, 30)
            img[y1 - 1:y1 - 1 + h, x1 - 1:x1 - 1 + w] = (230, 40, 40) if k == 0 else (40, 230, 40)
            objs.append((CLASSES[k], x1, y1, x1 + w - 1, y1 + h - 1))
        if bad_box and i == 0:
            objs.append(("box", 50, 10, 50, 30))  # xmin >= xmax, as in BCCD
        Image.fromarray(img).save(root / "JPEGImages" / f"im{i:03d}.jpg", quality=95)
        xml = "".join(f"<object><name>{c}</name><difficult>0</difficult><bndbox><xmin>{a}</xmin><ymin>{b}</ymin>"
                      f"<xmax>{x}</xmax><ymax>{y}</ymax></bndbox></object>" for c, a, b, x, y in objs)
        (root / "Annotations" / f"im{i:03d}.xml").write_text(
            f"<annotation><filename>im{i:03d}.jpg</filename><size><width>128</width><height>96</height>"
            f"<depth>3</depth></size>{xml}</annotation>")
    if splits:
        (root / "ImageSets" / "Main").mkdir(parents=True)
        (root / "ImageSets" / "Main" / "trainval.txt").write_text("".join(f"im{i:03d}\n" for i in range(n - 4)))
        (root / "ImageSets" / "Main" / "test.txt").write_text("".join(f"im{i:03d}\n" for i in range(n - 4, n)))
    return root


@pytest.fixture(scope="module")
def voc(tmp_path_factory) -> Path:
    return write_voc(tmp_path_factory.mktemp("voc") / "VOCsynth", bad_box=True)


def test_voc_loader_drops_degenerate_boxes_and_reads_splits(voc):
    with pytest.warns(UserWarning, match="dropped 1 box"):
        spec = build_detection_dataset(f"voc:{voc}")
    assert spec.classes == list(CLASSES)
    assert spec.sizes == {"train": 8, "test": 4}
    assert spec.dropped == {"im000": [[50.0, 10.0, 50.0, 30.0]]}
    first = spec.splits["train"][0]
    assert len(first["annotations"]) == 1  # the degenerate box is gone
    assert first["annotations"][0]["bbox"][:2] == [v - 1.0 for v in _first_box(voc)]  # 1-based -> 0-based


def _first_box(voc: Path) -> list[float]:
    text = (voc / "Annotations" / "im000.xml").read_text()
    return [float(text.split(f"<{k}>")[1].split("<")[0]) for k in ("xmin", "ymin")]


def test_voc_folder_without_split_files_gets_a_written_seeded_split(tmp_path):
    folder = write_voc(tmp_path / "nosplit", n=10, splits=False)
    a, b = build_detection_dataset(f"voc:{folder}"), build_detection_dataset(f"voc:{folder}")
    assert a.split_files == b.split_files and len(a.split_files["test"]) == 2
    assert not set(a.split_files["test"]) & set(a.split_files["train"])
    assert "seeded" in a.split_note


def test_unknown_detection_dataset_lists_valid_names():
    with pytest.raises(EvalsuiteError, match="voc0712"):
        build_detection_dataset("voc2099")


@pytest.mark.parametrize("arch,meta_arch", [("resnet18", "FPN"), ("resnet50", "C4"), ("resnet50", "FPN")])
def test_every_backbone_tensor_lands_in_the_detectron2_model(arch, meta_arch):
    """Each backbone tensor sits where the test's own map of detectron2's names puts it (and where
    the hand-typed table says), read straight from the detectron2 model; every BN has its own
    random weight, bias and statistics, so a bn1/bn2 or shortcut mix-up moves a value."""
    from detectron2.modeling import build_model

    from evalsuite.detection.config import build_cfg
    from evalsuite.detection.convert import load_trunk, trunk_keys
    from evalsuite.tasks.detection import Detection

    torch.manual_seed(0)
    backbone = randomise_batchnorm(build_backbone(arch), seed=1)
    depth = 18 if arch == "resnet18" else 50
    cfg = build_cfg(Detection(meta_arch=meta_arch, norm="BN"), depth, 2, "cpu", 0, ".")
    model = build_model(cfg)
    report = load_trunk(model, backbone, meta_arch)
    src = {k: v for k, v in backbone.state_dict().items() if not k.endswith("num_batches_tracked")}
    assert report["loaded_tensors"] == len(src) == report["trunk_tensors"]
    got = model.state_dict()
    expected = {model_key(detectron2_name(k), meta_arch): k for k in src}
    assert set(expected) == set(trunk_keys(got, meta_arch))  # the map names detectron2's trunk exactly
    for key, tv_key in expected.items():
        assert torch.equal(got[key], src[tv_key]), (key, tv_key)
    column = 1 if meta_arch == "C4" else 2
    rows = [row for row in TABLE if row[0] in src]
    assert len(rows) == (len(TABLE) if depth == 50 else len(TABLE) - 4)
    for row in rows:
        assert torch.equal(got[row[column]], src[row[0]]), row
    # Back through the detectron2 checkpoint reader: every tensor returns unchanged, none missing.
    from evalsuite.checkpoint.formats.detectron2 import _trunk

    back = from_detectron2(_trunk(got))
    back = {k: v for k, v in back.items() if not k.endswith("num_batches_tracked")}
    assert set(back) == set(src)
    assert all(torch.equal(back[k], src[k]) for k in src)


def test_convert_command_writes_a_pkl_the_detectron2_format_reads(tmp_path):
    from evalsuite.commands import convert

    torch.manual_seed(0)
    net = randomise_batchnorm(build_backbone("resnet18"), seed=2)
    ckpt = tmp_path / "r18.pth"
    torch.save(net.state_dict(), ckpt)
    out = tmp_path / "r18.pkl"
    parser = argparse.ArgumentParser()
    convert.add_arguments(parser)
    args = parser.parse_args([str(ckpt), "--to", "detectron2", "-o", str(out)])
    assert convert.run(args) == 0
    with open(out, "rb") as f:  # the file itself holds detectron2's names (the test's own map)
        written = pickle.load(f)["model"]
    expected = detectron2_state(net.state_dict())
    assert written.keys() == expected.keys()
    assert all(np.array_equal(written[k], v.numpy()) for k, v in expected.items())
    model, info = load_backbone(out)
    assert info.format == "detectron2" and info.arch == "resnet18"
    for k, v in net.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            assert torch.equal(model.state_dict()[k], v), k


def ground_truth_metrics(spec, out_dir: Path) -> dict[str, float]:
    """Feed each test image's ground truth to the dataset's evaluator as its predictions."""
    from detectron2.structures import Boxes, BoxMode, Instances

    from evalsuite.detection.evaluate import box_metrics, build_evaluator, release

    evaluator, name = build_evaluator(spec, out_dir)
    try:
        evaluator.reset()
        for r in spec.splits["test"]:
            boxes = [BoxMode.convert(a["bbox"], a["bbox_mode"], BoxMode.XYXY_ABS) for a in r["annotations"]]
            inst = Instances((r["height"], r["width"]))
            inst.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
            inst.scores = torch.ones(len(boxes))
            inst.pred_classes = torch.tensor([a["category_id"] for a in r["annotations"]])
            evaluator.process([{"image_id": r["image_id"]}], [{"instances": inst}])
        return box_metrics(evaluator.evaluate())
    finally:
        release(name)


def test_voc_evaluator_scores_ground_truth_at_ap_100(voc, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec = build_detection_dataset(f"voc:{voc}")
    assert ground_truth_metrics(spec, tmp_path) == pytest.approx({"AP": 1.0, "AP50": 1.0, "AP75": 1.0})


def test_unsupported_ops_fail_plainly():
    from evalsuite.detection import has_cpp_ops
    from evalsuite.detection.config import check_supported
    from evalsuite.tasks.detection import Detection

    if has_cpp_ops():
        pytest.skip("official detectron2 build with C++ ops")
    with pytest.raises(EvalsuiteError, match="deformable convolution needs detectron2's C\\+\\+ ops"):
        check_supported(Detection(deformable_conv=True))
    with pytest.raises(EvalsuiteError, match="fast COCO evaluator"):
        check_supported(Detection(fast_coco_eval=True))


def test_r18_fpn_trains_on_cpu_and_writes_ap_rows(voc, tmp_path, monkeypatch):
    from evalsuite.cliopts import parse_cfg_options
    from evalsuite.leaderboard import build
    from evalsuite.results import read_rows
    from evalsuite.runner import EvalRequest, evaluate

    monkeypatch.setenv("EVALSUITE_CACHE", str(tmp_path / "cache"))
    results = tmp_path / "results"
    req = EvalRequest(checkpoint="random", arch="resnet18", suite="tasks/detection_short_r18_fpn.py",
                      datasets=[f"voc:{voc}"], results_dir=str(results), device="cpu", quiet=True,
                      cfg_options=parse_cfg_options(TINY), cache_dir=str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = evaluate(req)
    assert len(written) == 1
    row = json.loads(Path(written[0]).read_text())
    assert row["task"] == "detection" and row["metric"] == "AP"
    assert set(row["metrics"]) == {"AP", "AP50", "AP75"} and all(0.0 <= v <= 1.0 for v in row["metrics"].values())
    # 3 iterations from a random trunk: measured AP50 0.026, AP 0.006 (2026-12-07, 2-core CPU). The
    # bound a run of this size can carry: some box is found, and the stricter AP is not above AP50.
    assert row["metrics"]["AP50"] > 0 and row["metrics"]["AP"] <= row["metrics"]["AP50"]
    assert row["settings"]["max_iter"] == 3 and row["extra"]["model"] == "R18-FPN"
    assert row["extra"]["loaded"]["loaded_tensors"] == row["extra"]["loaded"]["trunk_tensors"]
    assert row["extra"]["iters_per_s"] > 0 and row["extra"]["dropped_boxes"] == {"im000": [[50.0, 10.0, 50.0, 30.0]]}
    means, _ = build(read_rows(results))
    assert f"voc:{Path(voc).name}/detection AP" in means.columns  # labelled by the folder's name


def test_recipe_for_another_depth_is_refused(voc, tmp_path):
    from evalsuite.cliopts import parse_cfg_options
    from evalsuite.runner import EvalRequest, evaluate

    req = EvalRequest(checkpoint="random", arch="resnet18", suite="tasks/detection_short_r50_fpn.py",
                      datasets=[f"voc:{voc}"], results_dir=str(tmp_path), device="cpu", quiet=True,
                      cfg_options=parse_cfg_options(TINY), cache_dir=str(tmp_path / "cache"))
    with warnings.catch_warnings(), pytest.raises(EvalsuiteError, match="ResNet-50 but the backbone is ResNet-18"):
        warnings.simplefilter("ignore")
        evaluate(req)
