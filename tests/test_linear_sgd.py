"""linear_sgd: only the head trains, the backbone stays bit-identical (and the guard catches it if not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from evalsuite.archs.resnet import resnet_tiny
from evalsuite.datasets.base import DatasetSpec
from evalsuite.datasets.digits import ArrayImages
from evalsuite.runner import REPO_ROOT, build_task, load_suite
from evalsuite.tasks.base import EvalContext
from evalsuite.tasks.linear_sgd import LinearSGD

pytestmark = pytest.mark.usefixtures("one_thread")  # see conftest.one_thread


def colour_spec(per_class: int = 16, size: int = 16) -> DatasetSpec:
    """Three classes of noisy 16 px images: mostly red, mostly green, mostly blue."""
    rng = np.random.default_rng(0)

    def make(n):
        labels = np.repeat(np.arange(3), n)
        images = rng.integers(0, 120, size=(len(labels), size, size, 3))
        images[np.arange(len(labels)), :, :, labels] += 120
        return ArrayImages(images.astype(np.uint8), labels)

    return DatasetSpec(name="colours", splits={"train": make(per_class), "test": make(per_class // 2)},
                       classes=["red", "green", "blue"], native_size=size)


def ctx_for(model: nn.Module, work_dir: Path | None = None) -> EvalContext:
    """The task gets this very module (not a copy), so the test sees what training did to it."""
    return EvalContext(spec=colour_spec(), seed=0, device=torch.device("cpu"), feature_fn=None,
                       backbone_fn=lambda: model, work_dir=str(work_dir or Path.cwd()))


FAST = dict(epochs=3, batch_size=16, lr=1.0, num_workers=0)


def test_backbone_is_bit_identical_and_head_learns():
    torch.manual_seed(0)
    model = resnet_tiny()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    out = LinearSGD(**FAST).run(ctx_for(model))
    after = model.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)  # running BN statistics included
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert out.extra["backbone_unchanged"] is True
    losses = out.extra["train_loss_per_epoch"]
    assert len(losses) == 3 and losses[-1] < losses[0]
    assert out.value > 0.5  # chance is 1/3


class TrainModeBackbone(nn.Module):
    """A backbone that (wrongly) switches itself to train mode, so its BN statistics drift."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = resnet_tiny()
        self.num_features, self.small_input = self.inner.num_features, True

    def forward(self, x):
        self.inner.train()
        return self.inner(x)


def test_guard_catches_a_backbone_that_changed():
    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match="changed .* frozen backbone tensor"):
        LinearSGD(**{**FAST, "epochs": 1}).run(ctx_for(TrainModeBackbone()))


def test_schedules_and_recipes():
    step = LinearSGD(schedule="step", lr=30.0, milestones=(60, 80))
    assert [step.lr_at(e) for e in (0, 59, 60, 80)] == pytest.approx([30.0, 30.0, 3.0, 0.3])
    cos = LinearSGD(schedule="cosine", lr=1.0, epochs=90)
    assert cos.lr_at(0) == 1.0 and cos.lr_at(45) == pytest.approx(0.5)
    simsiam = build_task("linear_sgd", load_suite(str(REPO_ROOT / "tasks" / "linear_sgd_simsiam.py"), {}))
    assert (simsiam.optimizer, simsiam.epochs, simsiam.batch_size) == ("lars", 90, 4096)
    assert simsiam.lr == pytest.approx(0.02 * 4096 / 256)
    moco = build_task("linear_sgd", load_suite(str(REPO_ROOT / "tasks" / "linear_sgd_moco.py"), {}))
    assert (moco.optimizer, moco.lr, moco.epochs, moco.schedule, moco.weight_decay) == ("sgd", 30.0, 100, "step", 0.0)
    cifar = build_task("linear_sgd", load_suite(str(REPO_ROOT / "tasks" / "linear_sgd_cifar.py"), {}))
    assert cifar.schedule == "cosine"
    with pytest.raises(ValueError, match="valid optimizers are: sgd, lars"):
        LinearSGD(optimizer="adam")


def test_interrupted_run_resumes_exactly(tmp_path, monkeypatch):
    torch.manual_seed(0)
    model = resnet_tiny()
    task = LinearSGD(**{**FAST, "epochs": 4})
    reference = task.run(ctx_for(model, tmp_path / "ref"))
    assert not (tmp_path / "ref" / "linear_sgd").exists()  # removed once the test score exists

    real_epoch, calls = LinearSGD.train_epoch, []

    def killed_in_epoch_3(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_epoch(self, *args)

    monkeypatch.setattr(LinearSGD, "train_epoch", killed_in_epoch_3)
    with pytest.raises(KeyboardInterrupt):
        task.run(ctx_for(model, tmp_path / "run"))
    assert len(list((tmp_path / "run" / "linear_sgd").glob("*/head.pt"))) == 1

    calls.clear()
    monkeypatch.setattr(LinearSGD, "train_epoch", lambda self, *a: calls.append(1) or real_epoch(self, *a))
    resumed = task.run(ctx_for(model, tmp_path / "run"))
    assert len(calls) == 2  # epochs 3 and 4 only
    assert resumed.extra["train_loss_per_epoch"] == reference.extra["train_loss_per_epoch"]
    assert resumed.value == reference.value
    assert not (tmp_path / "run" / "linear_sgd").exists()
