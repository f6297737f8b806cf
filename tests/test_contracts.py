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
from evalsuite.datasets.base import IGNORE
from evalsuite.errors import EvalsuiteError
from evalsuite.registry import DATASETS, TASKS, get, names
from evalsuite.results import protocol_id
from evalsuite.features import feature_step
from evalsuite.runner import EvalRequest, data_step, evaluate
from evalsuite.tasks.protocol import hook
from test_detection import write_voc
from tests.fixtures import datasets as fx
from tests.fixtures import segmentation as fx_seg
from tests.fixtures import imagenet as imagenet_fx

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
    "segmentation_step": ("resnet_tiny", lambda tmp: f"voc2012seg:{fx_seg.write_voc_seg(tmp / 'voc')}"),
}


def _smoke_options(name: str) -> dict:
    cls = get(TASKS, name)
    return {f"{name}.{k}": list(v) if isinstance(v, tuple) else v for k, v in hook(cls, "SMOKE").items()}


@pytest.mark.parametrize("name", names(TASKS))
def test_every_task_runs_on_its_data_step_and_writes_one_row(name, tmp_path, one_thread):
    cls = get(TASKS, name)
    step = hook(cls, "data_step") or feature_step
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
    fields = dataclasses.fields(cls)  # an ``omit_default`` field is in the row only when set (tasks/base.settings_of)
    assert {f.name for f in fields if not f.metadata.get("omit_default")} <= set(row["settings"]) <= {f.name for f in fields}
    extra = {k: row[k] for k in ("transform", "precision", "label_protocol") if k in row}
    if name == "detection":  # the row states detection's own resize; the id hashes the old name (tasks/detection.py)
        from evalsuite.tasks.detection import LEGACY_ID_TRANSFORM, TRANSFORM

        assert row["transform"] == TRANSFORM
        extra = {"transform": LEGACY_ID_TRANSFORM, "precision": row["precision"]}
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
    rows = [json.loads(Path(p).read_text()) for p in evaluate(req)]
    # One colour per class: a random network's features separate them, and both tasks measured
    # 1.0 (2026-12-07, 2-core CPU); a broken kNN or probe does not.
    assert [(r["task"], r["value"]) for r in rows] == [("knn", 1.0), ("linear", 1.0)]
    first, second = (r["timings"] for r in rows)
    assert first["features_train_s"] > 0
    assert second["features_train_s"] < first["features_train_s"]


@pytest.mark.parametrize("name", names(DATASETS))
def test_every_dataset_without_its_files_says_where_they_belong(name, tmp_path):
    """Without its files and without --download, a dataset either builds from what it carries
    (digits: real images in every split, nothing written to the folder) or fails with
    one sentence naming the folder, writing nothing there."""
    root = tmp_path / "data"
    root.mkdir()
    try:
        spec = build_dataset(name, root, download=False)
    except EvalsuiteError as exc:
        assert str(root.resolve()) in str(exc), str(exc)
        assert not any(root.iterdir()), sorted(p.name for p in root.iterdir())
        return
    assert not any(root.iterdir()), sorted(p.name for p in root.iterdir())
    assert spec.sizes["train"] > 0 and spec.sizes["test"] > 0, f"{name} built from an empty folder with no images"
    for split in spec.splits.values():
        image, _ = split[0]
        assert isinstance(image, Image.Image) and min(image.size) > 0


@pytest.mark.parametrize("name", names(DATASETS))
def test_every_dataset_builds_a_spec_from_its_fixture(name, tmp_path, monkeypatch):
    """Each dataset from its tiny copy in its real on-disk layout (tests/fixtures/datasets.py), or
    from what it carries (digits): splits, sizes and targets agree with its classes."""
    root = tmp_path / "data"
    root.mkdir()
    if name in fx.WRITERS:
        fx.bypass_md5(monkeypatch)
        fx.write(name, root)
    elif name.startswith("imagenet"):  # imagenet and its subsets read one copy (tests/fixtures/imagenet.py)
        imagenet_fx.write("prepared", root / "imagenet")
    try:
        spec = build_dataset(name, root, download=False)
    except EvalsuiteError as exc:
        pytest.fail(f"{name} has no offline copy in tests/fixtures/datasets.py (WRITERS) and carries no data: add "
                    f"its fixture in its real on-disk layout ({exc})")
    assert spec.name == name and {"train", "test"} <= set(spec.splits) and spec.classes
    assert spec.sizes == {k: len(v) for k, v in spec.splits.items()} and min(spec.sizes.values()) > 0
    for split in spec.splits.values():
        img, target = split[0]
        target = np.asarray(target)
        assert img.mode == "RGB" and spec.native_size > 0
        if spec.multilabel:
            assert target.shape == (len(spec.classes),) and set(np.unique(target)) <= {0.0, 1.0, IGNORE}
        else:
            assert 0 <= int(target) < len(spec.classes)
