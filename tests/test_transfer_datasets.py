"""The 12 transfer datasets of tasks/transfer.py, each from a tiny copy in torchvision's on-disk layout
(tests/fixtures/datasets.py) through ``evalsuite eval`` with kNN and the linear probe: split sizes,
the validation source, no test image in train or val, the dataset's metric, and the labels read
right (the classes differ in brightness, so a random network scores perfectly only when every
image carries its own label)."""

from __future__ import annotations

import os

import pytest
from mmengine.config import Config
import torch

from evalsuite.cli import main
from evalsuite.datasets import build_dataset
from evalsuite.datasets.base import IGNORE
from evalsuite.datasets.voc import LABEL_PROTOCOL, VOC_CLASSES, voc_targets
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import DATASETS, tagged
from evalsuite.results import read_rows
from tests.fixtures import datasets as fx

TRANSFER = list(Config.fromfile("tasks/transfer.py").datasets)  # the suite's (Ericsson et al. 2021) order
FAST = ["--cfg-options", "linear.wd_num=3", "knn.ks=[1,5]", "knn.headline_k=5"]


def _read_labels(spec, fixture) -> dict[str, list[tuple[str, object]]]:
    """Per split, (digest, label) of every item, labels as the wrapper returns them."""
    return {split: [(fx.digest(img), target) for img, target in ds] for split, ds in spec.splits.items()}


def _check_labels(read, fixture, multilabel: bool) -> None:
    """Every item is an image the fixture wrote, and the written class -> label map is one to one."""
    mapping = {}
    for items in read.values():
        for key, target in items:
            assert key in fixture.written, "an item is not an image the fixture wrote"
            if multilabel:  # the non-difficult object's class positive, the difficult-only one ignored
                assert (target == 1).sum() == 1 and (target == IGNORE).sum() == 1, target
                target = int(target.argmax())
            mapping.setdefault(fixture.written[key], set()).add(int(target))
    assert all(len(labels) == 1 for labels in mapping.values()), mapping
    assert len({next(iter(v)) for v in mapping.values()}) == len(mapping), mapping


def test_the_transfer_suite_is_the_registrys_transfer_tag_and_each_has_a_fixture():
    assert sorted(TRANSFER) == tagged(DATASETS, "transfer") and set(TRANSFER) <= set(fx.WRITERS)


@pytest.mark.parametrize("name", TRANSFER)
def test_transfer_dataset_end_to_end(name, tmp_path, monkeypatch, one_thread):
    fx.bypass_md5(monkeypatch)
    data = tmp_path / "data"
    fixture = fx.write(name, data)
    spec = build_dataset(name, data)
    assert spec.sizes == fixture.spec_sizes and len(spec.classes) == fixture.classes
    assert spec.metric == fixture.metric
    read = _read_labels(spec, fixture)
    _check_labels(read, fixture, spec.multilabel)
    test_images = {key for key, _ in read["test"]}
    assert len(test_images) == spec.sizes["test"]
    for split in set(spec.splits) - {"test"}:
        assert not test_images & {key for key, _ in read[split]}, f"a test image is in {split}"

    results = tmp_path / "res"
    assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", name, "--data-root", str(data),
                 "--results", str(results), "--quiet", *FAST]) == 0
    rows = {row["task"]: row for row in read_rows(results)}
    linear, knn = rows["linear"], rows["knn"]
    assert linear["extra"]["split"]["sizes"] == fixture.sizes
    assert linear["extra"]["split"]["val_source"] == fixture.val_source
    assert linear["split"]["sizes"] == fixture.spec_sizes
    assert linear["metric"] == fixture.metric and knn["metric"] == f"{fixture.metric}@k=5"
    assert linear.get("label_protocol", "") == spec.label_protocol == knn.get("label_protocol", "")
    bank = fixture.spec_sizes["train"] + fixture.spec_sizes.get("val", 0)  # kNN: all labelled non-test images
    assert knn["extra"] == {"bank_size": bank, "test_size": fixture.sizes["test"]}
    assert linear["value"] == 1.0 and knn["metrics"][f"{fixture.metric}@k=1"] == 1.0
    # multi-label rows also carry the area AP of the VOC07 SVM benchmarks (tasks/metrics.py), never as the headline
    area = {"linear": rows["linear"]["metrics"].get("map_area"), "knn": knn["metrics"].get("map_area@k=1")}
    assert area == ({"linear": 1.0, "knn": 1.0} if spec.multilabel else {"linear": None, "knn": None})


def test_voc_difficult_only_class_is_ignored(tmp_path):
    """The fixture's images each hold one object of their class and one difficult object of the
    next: the next class is IGNORE (the devkit's 0), every other class 0."""
    fx.write("voc2007", tmp_path)
    spec = build_dataset("voc2007", tmp_path)
    assert spec.label_protocol == LABEL_PROTOCOL
    for split in spec.splits.values():
        for i in (0, len(split) - 1):
            detection_objects = split.detection[i][1]["annotation"]["object"]
            name = next(o["name"] for o in detection_objects if o["difficult"] == "0")
            hard = next(o["name"] for o in detection_objects if o["difficult"] == "1")
            expected = torch.zeros(len(VOC_CLASSES))
            expected[VOC_CLASSES.index(name)], expected[VOC_CLASSES.index(hard)] = 1.0, IGNORE
            torch.testing.assert_close(split[i][1], expected)


def test_voc_targets_a_non_difficult_object_makes_its_class_positive():
    objects = [{"name": "cat", "difficult": "1"}, {"name": "cat", "difficult": "0"}, {"name": "dog", "difficult": "1"}]
    target = voc_targets(objects)
    assert target[VOC_CLASSES.index("cat")] == 1.0 and target[VOC_CLASSES.index("dog")] == IGNORE
    assert (target == 0).sum() == len(VOC_CLASSES) - 2
    assert voc_targets(objects[::-1]).equal(target)


def test_stanford_cars_names_the_manual_layout(tmp_path):
    for download in (False, True):
        layout = r"stanford_cars/devkit/\{cars_meta.mat,cars_train_annos.mat\}"
        with pytest.raises(EvalsuiteError, match=r"cannot be downloaded .* " + layout):
            build_dataset("cars", tmp_path, download=download)


def test_sun397_without_partition_files_names_them(tmp_path):
    fx.write("sun397", tmp_path)
    (tmp_path / "SUN397" / "Training_01.txt").unlink()
    with pytest.raises(EvalsuiteError, match=r"partition file .*Training_01.txt.* is missing; unzip .*Partitions.zip"):
        build_dataset("sun397", tmp_path)


SLOW_SCALE = {"cifar10": 10, "cifar100": 10}  # 32 px: cheap; the 224 px datasets get 3x their fast size


@pytest.mark.slow
def test_transfer_suite_at_size_through_the_caches(tmp_path, monkeypatch, one_thread):
    """All 12 copies at 3x (10x for CIFAR: 210 images) their fast size, in one run of the transfer suite:
    every split is decoded once into the decode cache and its features into the feature cache,
    the linear probe sweeps a 9-value grid on the right validation split, and a second run with
    another grid is served from the feature cache alone."""
    import evalsuite.features as features

    fx.bypass_md5(monkeypatch)
    data, cache = tmp_path / "data", tmp_path / "cache"
    fixtures = {name: fx.write(name, data, SLOW_SCALE.get(name, 3)) for name in TRANSFER}
    base = ["eval", "random", "--arch", "resnet_tiny", "--suite", "tasks/transfer.py", "--data-root", str(data), "--quiet"]
    cfg = ["--cfg-options", "knn.ks=[1,5]", "knn.headline_k=5"]
    assert main([*base, "--results", str(tmp_path / "a"), *cfg, "linear.wd_num=9"]) == 0
    splits = sum(len(f.spec_sizes) for f in fixtures.values())
    assert len(list((cache / "shards").glob("*/key.json"))) == splits
    assert len(list((cache / "decoded").glob("*.npy"))) == splits
    rows = {(r["dataset"], r["task"]): r for r in read_rows(tmp_path / "a")}
    assert len(rows) == 2 * len(TRANSFER)
    for name, fixture in fixtures.items():
        linear = rows[(name, "linear")]
        assert linear["extra"]["split"]["sizes"] == fixture.sizes and linear["split"]["sizes"] == fixture.spec_sizes
        assert linear["extra"]["split"]["val_source"] == fixture.val_source
        curve = linear["extra"]["val_curve"]
        assert len(curve) == 9 and linear["chosen"]["wd"] in [r["wd"] for r in curve]
        assert linear["value"] == 1.0 and rows[(name, "knn")]["value"] == 1.0, name

    def no_extraction(*args, **kwargs):
        raise AssertionError("features were extracted again instead of read from the cache")

    monkeypatch.setattr(features, "extract_into", no_extraction)
    assert main([*base, "--results", str(tmp_path / "b"), "--tasks", "linear", *cfg, "linear.wd_num=5"]) == 0
    assert {len(r["extra"]["val_curve"]) for r in read_rows(tmp_path / "b")} == {5}


def test_voc_finetune_and_linear_sgd_rows_carry_both_aps(tmp_path, monkeypatch, one_thread):
    """The trainers that fit images end to end take VOC's 1 / 0 / IGNORE targets too, and their
    rows carry map11 (the headline) and the benchmarks' area AP, each in [0, 1]."""
    fx.bypass_md5(monkeypatch)
    data = tmp_path / "data"
    fx.write("voc2007", data)
    results = tmp_path / "res"
    assert main(["eval", "random", "--arch", "resnet_tiny", "--datasets", "voc2007", "--data-root", str(data),
                 "--results", str(results), "--quiet", "--tasks", "finetune,linear_sgd", "--cfg-options",
                 "finetune.steps=2", "finetune.batch_size=4", "finetune.lrs=[0.1]", "finetune.wds=[0.0]",
                 "finetune.num_workers=0", "linear_sgd.epochs=1", "linear_sgd.batch_size=4", "linear_sgd.num_workers=0"]) == 0
    rows = {row["task"]: row for row in read_rows(results)}
    assert set(rows) == {"finetune", "linear_sgd"}
    for row in rows.values():
        assert row["metric"] == "map11" and row["label_protocol"] == "difficult-ignored"
        assert 0 <= row["metrics"]["map_area"] <= 1 and row["metrics"]["map11"] == row["value"]


def test_stl10_files_are_hashed_once_then_only_when_they_change(tmp_path, monkeypatch):
    """torchvision md5-hashes STL-10's 2.6 GB on every build; after one good check a marker of the
    files' sizes and times lets later builds skip it, until a file changes."""
    import torchvision.datasets.stl10 as stl

    fx.bypass_md5(monkeypatch)
    hashed = []
    monkeypatch.setattr(stl, "check_integrity", lambda fpath, md5=None: hashed.append(fpath) or os.path.isfile(fpath))
    data = tmp_path / "data"
    fx.write("stl10", data)
    build_dataset("stl10", data)
    first = len(hashed)
    assert first > 0 and (data / "stl10_binary" / ".evalsuite-verified.json").is_file()
    assert len(build_dataset("stl10", data).splits["test"]) > 0 and len(hashed) == first  # not hashed again
    test_x = data / "stl10_binary" / "test_X.bin"
    os.utime(test_x, ns=(test_x.stat().st_atime_ns, test_x.stat().st_mtime_ns + 10**9))  # a changed file
    build_dataset("stl10", data)
    assert len(hashed) > first
