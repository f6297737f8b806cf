"""bench/lightly_race.py's lightly side, smoke-tested: each benchmark model takes a step on tiny
views and each transform makes two 32 px views (the race itself needs the CIFAR-10 tree and
minutes; bench/RESULTS.md has its figures)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch
from PIL import Image

RACE = runpy.run_path(str(Path(__file__).resolve().parents[1] / "bench" / "lightly_race.py"), run_name="race_test")


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("method", RACE["METHODS"])
def test_benchmark_model_steps_and_transform_gives_two_views(method):
    torch.manual_seed(0)
    model, step, lr, transform, _ = RACE["lightly_model"](method)
    views = transform(Image.new("RGB", (32, 32), (120, 60, 30)))
    assert [tuple(v.shape) for v in views] == [(3, 32, 32)] * 2
    x = torch.randn(4, 3, 8, 8)
    loss = step(x, x.flip(3))
    loss.backward()
    assert torch.isfinite(loss) and lr == 6e-2
    assert all(p.grad is not None for n, p in model.named_parameters() if n.startswith("backbone."))
