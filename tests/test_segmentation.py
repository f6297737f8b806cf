"""The dense linear probe (evalsuite/tasks/segmentation.py), its datasets in their official
layouts (evalsuite/segmentation/datasets.py) and mIoU (evalsuite/segmentation/miou.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from sklearn.metrics import confusion_matrix

import evalsuite
from evalsuite.errors import EvalsuiteError
from evalsuite.segmentation.datasets import IGNORE, build_segmentation_dataset
from evalsuite.segmentation.miou import confusion, scores
from evalsuite.segmentation.transforms import fit_scale
from evalsuite.tasks.segmentation import Segmentation
from tests.fixtures.segmentation import voc_palette, write_ade20k, write_voc_seg


def test_miou_against_a_hand_computed_confusion_matrix_with_ignored_pixels():
    gt = torch.tensor([[0, 0, 1], [1, IGNORE, 2]])
    pred = torch.tensor([[0, 1, 1], [1, 2, 0]])  # the ignored pixel's prediction must not count
    matrix = confusion(pred, gt, classes=4, ignore_index=IGNORE)
    by_hand = torch.tensor([[1, 1, 0, 0],   # ground truth 0: once 0, once 1
                            [0, 2, 0, 0],   # ground truth 1: twice 1
                            [1, 0, 0, 0],   # ground truth 2: once 0
                            [0, 0, 0, 0]])  # class 3: in neither
    assert torch.equal(matrix, by_hand)
    keep = (gt != IGNORE).flatten()
    assert np.array_equal(matrix.numpy(), confusion_matrix(gt.flatten()[keep], pred.flatten()[keep], labels=range(4)))
    got = scores(matrix)
    # IoU = TP / (TP + FP + FN): 1/3, 2/3, 0; class 3 has no pixels anywhere and is left out of the mean
    assert got["per_class_iou"][:3] == pytest.approx([1 / 3, 2 / 3, 0.0]) and got["per_class_iou"][3] is None
    assert got["miou"] == pytest.approx(1 / 3)
    assert got["aacc"] == pytest.approx(3 / 5) and got["macc"] == pytest.approx((1 / 2 + 1 + 0) / 3)


def test_voc2012_fixture_reads_as_torchvision_reads_the_devkit(tmp_path):
    root = write_voc_seg(tmp_path)
    png = Image.open(root / "VOCdevkit/VOC2012/SegmentationClass/2007_000000.png")
    assert png.mode == "P" and png.getpalette()[:9] == [0, 0, 0, 128, 0, 0, 0, 128, 0]  # background, aeroplane, bicycle
    assert voc_palette()[255 * 3:] == [224, 224, 192]  # the void band's colour
    spec = build_segmentation_dataset("voc2012seg", str(root))
    assert spec.sizes == {"train": 6, "test": 4} and len(spec.classes) == 21 and spec.classes[0] == "background"
    image, mask = spec.splits["train"][0]
    assert image.mode == "RGB" and mask.dtype == np.int64 and mask.shape == (48, 64)
    assert set(np.unique(mask)) <= {0, 1, 2, 3, IGNORE} and IGNORE in mask


def test_ade20k_fixture_reduces_the_zero_label(tmp_path):
    root = write_ade20k(tmp_path)
    spec = build_segmentation_dataset(f"ade20k:{root}")
    assert spec.sizes == {"train": 6, "test": 4} and len(spec.classes) == 150 and spec.name == f"ade20k:{root}"
    raw = np.asarray(Image.open(root / "ADEChallengeData2016/annotations/training/ADE_train_00000001.png"))
    _, mask = spec.splits["train"][0]
    assert np.array_equal(mask == IGNORE, raw == 0) and np.array_equal(mask[raw > 0], raw[raw > 0] - 1)


def test_missing_or_unknown_segmentation_data_is_one_sentence(tmp_path):
    with pytest.raises(EvalsuiteError, match="VOCdevkit/VOC2012") as info:
        build_segmentation_dataset("voc2012seg", str(tmp_path))
    assert "download=True" not in str(info.value)  # torchvision's API words are not the CLI's
    with pytest.raises(EvalsuiteError, match="ADEChallengeData2016.zip"):
        build_segmentation_dataset("ade20k", str(tmp_path))
    with pytest.raises(EvalsuiteError, match="unknown segmentation dataset 'cityscapes'; valid"):
        build_segmentation_dataset("cityscapes", str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_dinov2_schedule_and_resize():
    task = Segmentation()
    assert (task.crop_size, task.stride, task.iters, task.batch_size, task.lr, task.weight_decay) == \
        (512, 341, 40000, 16, 1e-3, 1e-4)
    assert task.lr_at(0) == pytest.approx(1e-9) and task.lr_at(750) == pytest.approx(1e-3 * (1 - 750 / 40000) * (0.5 + 0.5e-6))
    assert task.lr_at(1500) == pytest.approx(1e-3 * (1 - 1500 / 40000)) and task.lr_at(40000) == 0
    assert fit_scale(500, 375, (2048, 512)) == (683, 512)  # a VOC image: short side to 512
    assert fit_scale(4000, 600, (2048, 512)) == (2048, 307)  # a panorama: long side capped at 2048


@pytest.mark.parametrize("arch, writer, name", [("vit_tiny_patch16", write_voc_seg, "voc2012seg"),
                                                ("resnet18", write_ade20k, "ade20k")])
def test_vit_tiny_and_resnet18_through_segmentation(arch, writer, name, tmp_path, one_thread):
    dataset = f"{name}:{writer(tmp_path / 'data')}"
    options = {"segmentation.crop_size": 32, "segmentation.stride": 21, "segmentation.scale": [64, 32],
               "segmentation.iters": 4, "segmentation.batch_size": 2, "segmentation.warmup_iters": 2,
               "segmentation.num_workers": 0}
    df = evalsuite.evaluate("random", arch=arch, datasets=dataset, tasks=["segmentation"], device="cpu", quiet=True,
                            results_dir=str(tmp_path / "rows"), cfg_options=options)
    row = df.iloc[0]
    assert row["metric"] == "miou" and 0 <= row["value"] <= 1 and math.isfinite(row["metrics"]["aacc"])
    assert row["extra"]["backbone_unchanged"] and row["extra"]["photometric_distortion"] == "not applied"
    assert row["label_protocol"].startswith("voc" if name == "voc2012seg" else "ade20k")
    assert row["extra"]["feature_channels"] == (192 if arch.startswith("vit") else 512)


def test_segmentation_through_sweep_and_into_the_leaderboard(tmp_path, one_thread, capsys):
    from evalsuite.cli import main
    from evalsuite.leaderboard import build
    from evalsuite.results import read_rows

    data = f"voc2012seg:{write_voc_seg(tmp_path / 'data', n_train=4, n_val=2)}"
    results = tmp_path / "sweep"
    assert main(["sweep", "random", "--arch", "resnet_tiny", "--suite", "tasks/segmentation_voc2012.py",
                 "--datasets", data, "--results", str(results), "--executor", "debug", "--device", "cpu",
                 "--cfg-options", "segmentation.crop_size=32", "segmentation.stride=21", "segmentation.scale=[64,32]",
                 "segmentation.iters=2", "segmentation.batch_size=2", "segmentation.warmup_iters=1",
                 "segmentation.num_workers=0"]) == 0
    (row,) = read_rows(results)
    assert row["task"] == "segmentation" and row["metric"] == "miou"
    means, _ = build([row], None)
    assert [c for c in means.columns if "segmentation" in c] == ["voc2012seg:data/segmentation miou"]
    assert (results / "leaderboard.md").is_file()


def test_list_datasets_names_the_segmentation_datasets(capsys):
    from evalsuite.cli import main

    assert main(["list", "datasets"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "voc2012seg (segmentation), voc2012seg:PATH" in out and "ade20k (segmentation), ade20k:PATH" in out
