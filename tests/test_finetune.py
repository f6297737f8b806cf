"""finetune: the whole network adapts (beats the frozen probe where it must), resume is exact,
and the paper recipe carries the paper's grid."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from evalsuite.archs.resnet import resnet_tiny
from evalsuite.datasets.base import IGNORE, DatasetSpec
from evalsuite.datasets.digits import ArrayImages
from evalsuite.extraction import extract
from evalsuite.imaging import Transformed
from evalsuite.preprocess import eval_transform
from evalsuite.runner import REPO_ROOT, build_task, load_suite
from evalsuite.tasks import finetune as ft
from evalsuite.tasks.base import EvalContext
from evalsuite.tasks.finetune_data import classification_loss
from evalsuite.tasks.linear import Linear

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.one_thread


def colour_spec(per_class: int = 24, test_per_class: int = 12, size: int = 16, seed: int = 0) -> DatasetSpec:
    """Three classes of noisy 16 px images: mostly red, mostly green, mostly blue."""
    rng = np.random.default_rng(seed)

    def make(n):
        labels = np.repeat(np.arange(3), n)
        images = rng.integers(0, 120, size=(len(labels), size, size, 3))
        images[np.arange(len(labels)), :, :, labels] += 120
        return ArrayImages(images.astype(np.uint8), labels)

    return DatasetSpec(name="colours", splits={"train": make(per_class), "test": make(test_per_class)},
                       classes=["red", "green", "blue"], native_size=size)


def collapsed_tiny() -> torch.nn.Module:
    """resnet_tiny whose last block outputs a constant: frozen features carry no label information,
    so only a method that trains the backbone can do better than chance."""
    torch.manual_seed(0)
    model = resnet_tiny()
    block = model.layer4[0]
    for bn in (block.bn2, block.downsample[1]):
        bn.weight.data.zero_()
        bn.bias.data.fill_(1.0)
    return model


def make_ctx(spec: DatasetSpec, model: torch.nn.Module, work_dir) -> EvalContext:
    transform, _ = eval_transform(spec.native_size, model.small_input)

    def features(split):
        return extract(copy.deepcopy(model), Transformed(spec.splits[split], transform), torch.device("cpu"), quiet=True)

    return EvalContext(spec=spec, seed=0, device=torch.device("cpu"), feature_fn=features,
                       backbone_fn=lambda: copy.deepcopy(model), work_dir=str(work_dir))


def test_finetune_beats_frozen_probe_when_backbone_must_adapt(tmp_path):
    spec, model = colour_spec(), collapsed_tiny()
    ctx = make_ctx(spec, model, tmp_path)
    probe = Linear(wd_num=5, max_iter=50).run(ctx)
    assert probe.value < 0.5  # constant features: chance is 1/3
    out = ft.Finetune(steps=40, batch_size=16, lrs=(0.1,), wds=(0.0,), num_workers=0).run(ctx)
    assert out.value > probe.value + 0.3, (out.value, probe.value)
    assert out.chosen == {"lr": 0.1, "wd": 0.0, "weight_decay": 0.0}
    assert out.extra["split"]["sizes"] == {"train": 57, "val": 15, "test": 36}
    assert not (tmp_path / "finetune").exists() or not any((tmp_path / "finetune").iterdir())


def test_grid_choice_on_val_and_wd_divided_by_lr(tmp_path):
    task = ft.Finetune(steps=2, batch_size=8, lrs=(1e-2, 1e-1), wds=(0.0, 1e-4), num_workers=0)
    assert task.grid() == [(1e-2, 0.0), (1e-2, 1e-4), (1e-1, 0.0), (1e-1, 1e-4)]
    assert math.isclose(task.decay(1e-2, 1e-4), 1e-2)
    out = task.run(make_ctx(colour_spec(per_class=8, test_per_class=4), collapsed_tiny(), tmp_path))
    grid = out.extra["val_grid"]
    assert len(grid) == 4
    best = max(grid, key=lambda g: g[2])
    assert (out.chosen["lr"], out.chosen["wd"]) == (best[0], best[1])
    assert out.metrics["val_top1"] == best[2]


def test_interrupted_run_resumes_exactly(tmp_path, monkeypatch):
    spec, model = colour_spec(per_class=8, test_per_class=8), collapsed_tiny()
    task = ft.Finetune(steps=10, batch_size=8, lrs=(0.1,), wds=(0.0, 1e-4), num_workers=0, save_every=4)
    reference = task.run(make_ctx(spec, model, tmp_path / "ref"))

    real_step, calls = ft.train_step, []

    def counting_step(*args, limit=None):
        calls.append(1)
        if limit is not None and len(calls) == limit:
            raise KeyboardInterrupt  # killed during grid point 2, after its snapshot at step 4
        return real_step(*args)

    monkeypatch.setattr(ft, "train_step", lambda *a: counting_step(*a, limit=15))
    with pytest.raises(KeyboardInterrupt):
        task.run(make_ctx(spec, model, tmp_path / "run"))
    state = list((tmp_path / "run" / "finetune").glob("*/state.json"))
    assert len(state) == 1 and (state[0].parent / "run1.pt").is_file()

    calls.clear()
    monkeypatch.setattr(ft, "train_step", lambda *a: counting_step(*a))
    resumed = task.run(make_ctx(spec, model, tmp_path / "run"))
    assert len(calls) == (10 - 4) + 10  # rest of grid point 2, then the train+val retrain; point 1 is not redone
    assert resumed.value == reference.value
    assert resumed.extra["val_grid"] == reference.extra["val_grid"]
    assert not state[0].parent.exists()


def test_paper_recipe_has_the_protocol_grid():
    task = build_task("finetune", load_suite(str(REPO_ROOT / "tasks" / "finetune.py"), {}))
    assert np.allclose(task.lrs, np.logspace(-4, -1, 4))
    assert task.wds[0] == 0.0 and np.allclose(task.wds[1:], np.logspace(-6, -3, 4))
    assert (task.steps, task.batch_size, task.momentum, task.nesterov, task.wd_over_lr) == (5000, 64, 0.9, True, True)




def test_multilabel_loss_fits_an_ignored_pair_as_a_negative():
    """Fine-tuning and linear_sgd fit VOC's IGNORE (difficult-only) pairs as the VOC07 benchmarks'
    trainers do (evalsuite.datasets.base.training_targets): as negatives."""
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    ignored, negative = torch.tensor([[1.0, IGNORE, 0.0]]), torch.tensor([[1.0, 0.0, 0.0]])
    assert classification_loss(logits, ignored, True) == classification_loss(logits, negative, True)
