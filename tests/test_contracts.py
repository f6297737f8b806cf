"""Contract tests parametrised over the registries: a new dataset or task is tested the day it is
added, with no list here to edit (formats: test_formats.py; methods: test_pretrain_methods.py;
archs: test_archs.py).

Tasks run through the runner end to end, each on the data its own data step builds, with the
task's ``SMOKE`` settings (the smallest that run every code path).
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalsuite.datasets import build_dataset
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import DATASETS, TASKS, get, names
from evalsuite.results import protocol_id
from evalsuite.runner import EvalRequest, data_step, evaluate, feature_step
from test_detection import write_voc

COLOURS = {"red": (200, 30, 30), "green": (30, 200, 30), "blue": (30, 30, 200)}


def colour_folder(root: Path, n_train: int = 8, n_test: int = 4, size: int = 16) -> Path:
    """imagefolder layout ``split/class/i.png``: noisy 16 px squares of one colour per class."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        for name, rgb in COLOURS.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(rng.normal(rgb, 25, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / name / f"{i}.png")
    return root


#: Per data step (by function name): the arch and a tiny dataset name made in a temporary folder.
#: A task with a new kind of data step needs its fixture here.
STEP_DATA = {
    "feature_step": ("resnet_tiny", lambda tmp: f"imagefolder:{colour_folder(tmp / 'colours')}"),
    "detection_step": ("resnet18", lambda tmp: f"voc:{write_voc(tmp / 'VOCsynth')}"),
}


def _smoke_options(name: str) -> dict:
    cls = get(TASKS, name)
    return {f"{name}.{k}": list(v) if isinstance(v, tuple) else v for k, v in getattr(cls, "SMOKE", {}).items()}


@pytest.mark.parametrize("name", names(TASKS))
def test_every_task_runs_on_its_data_step_and_writes_one_row(name, tmp_path, one_thread):
    cls = get(TASKS, name)
    step = getattr(cls, "data_step", None) or feature_step
    assert step.__name__ in STEP_DATA, f"task {name!r} takes data step {step.__name__}; add its fixture to STEP_DATA"
    arch, make = STEP_DATA[step.__name__]
    dataset = make(tmp_path)
    req = EvalRequest(checkpoint="random", arch=arch, tasks=[name], datasets=[dataset], results_dir=str(tmp_path / "rows"),
                      device="cpu", quiet=True, cfg_options=_smoke_options(name), cache_dir=str(tmp_path / "cache"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        (path,) = evaluate(req)
    row = json.loads(Path(path).read_text())
    assert row["task"] == name and row["dataset"] == dataset
    assert math.isfinite(row["value"]) and 0.0 <= row["value"] <= 1.0, row["value"]
    assert not row["metrics"] or row["metrics"][row["metric"]] == row["value"]
    assert set(row["settings"]) == {f.name for f in dataclasses.fields(cls)}
    extra = {k: row[k] for k in ("transform",) if k in row}
    assert row["protocol_id"] == protocol_id(name, row["settings"], dataset, extra)
    assert row["timings"]["task_s"] >= 0


def test_tasks_that_need_different_data_are_refused_together():
    tasks = {name: get(TASKS, name)() for name in ("knn", "detection")}
    with pytest.raises(EvalsuiteError, match="tasks knn, detection mix detection and feature data"):
        data_step(tasks)


def test_each_row_reports_only_its_own_task_timings(tmp_path, one_thread):
    """The second task reads the features the first extracted: its row must not claim that time."""
    dataset = f"imagefolder:{colour_folder(tmp_path / 'colours')}"
    req = EvalRequest(checkpoint="random", arch="resnet_tiny", tasks=["knn", "linear"], datasets=[dataset],
                      results_dir=str(tmp_path / "rows"), device="cpu", quiet=True,
                      cfg_options=_smoke_options("knn"), cache_dir=str(tmp_path / "cache"))
    first, second = (json.loads(Path(p).read_text())["timings"] for p in evaluate(req))
    assert first["features_train_s"] > 0
    assert second["features_train_s"] < first["features_train_s"]


def voc2007_devkit(root: Path) -> Path:
    """``VOCdevkit/VOC2007`` as torchvision's VOCDetection reads it (Annotations, JPEGImages,
    ImageSets/Main/{train,val,test}.txt), the synthetic boxes relabelled with two VOC classes."""
    folder = write_voc(root / "VOCdevkit" / "VOC2007", n=12, splits=False)
    for xml in (folder / "Annotations").glob("*.xml"):
        xml.write_text(xml.read_text().replace("<name>box</name>", "<name>cat</name>").replace("<name>slab</name>", "<name>dog</name>"))
    (folder / "ImageSets" / "Main").mkdir(parents=True)
    for split, ids in (("train", range(0, 6)), ("val", range(6, 9)), ("test", range(9, 12))):
        (folder / "ImageSets" / "Main" / f"{split}.txt").write_text("".join(f"im{i:03d}\n" for i in ids))
    return root


#: Datasets whose reader accepts a small fixture in their real layout (digits needs none). The
#: others' torchvision readers want the real archives, so only their missing-files contract runs.
DATASET_FIXTURES = {
    "cifar10": lambda root: colour_folder(root / "cifar10"),  # the tree DATA_ROOT/cifar10/{train,test}/<class>/
    "cifar100": lambda root: colour_folder(root / "cifar100"),
    "voc2007": voc2007_devkit,
}


@pytest.mark.parametrize("name", names(DATASETS))
def test_every_dataset_without_its_files_says_where_they_belong(name, tmp_path):
    """Without its files and without --download, a dataset either builds from what it carries
    (digits) or fails with one sentence naming itself and the folder, writing nothing there."""
    root = tmp_path / "data"
    root.mkdir()
    try:
        build_dataset(name, root, download=False)
    except EvalsuiteError as exc:
        assert repr(name) in str(exc) and str(root.resolve()) in str(exc), str(exc)
        assert not any(root.iterdir()), sorted(p.name for p in root.iterdir())


@pytest.mark.parametrize("name", names(DATASETS))
def test_every_dataset_builds_a_spec_from_its_fixture(name, tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    if name in DATASET_FIXTURES:
        DATASET_FIXTURES[name](root)
    try:
        spec = build_dataset(name, root, download=False)
    except EvalsuiteError:
        pytest.skip(f"{name} has no offline fixture; its reader needs the real files")
    assert spec.name == name and {"train", "test"} <= set(spec.splits) and spec.classes
    assert spec.sizes == {k: len(v) for k, v in spec.splits.items()} and min(spec.sizes.values()) > 0
    for split in spec.splits.values():
        img, target = split[0]
        target = np.asarray(target)
        assert img.mode == "RGB" and spec.native_size > 0
        if spec.multilabel:
            assert target.shape == (len(spec.classes),) and set(np.unique(target)) <= {0.0, 1.0}
        else:
            assert 0 <= int(target) < len(spec.classes)
