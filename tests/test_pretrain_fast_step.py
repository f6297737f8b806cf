"""The fast step computes what the plain (mmengine OptimWrapper) step computes: same seed, same
batches, same learning-rate changes -> the same losses and the same weights, buffers and state.

On CPU the fast step's own function runs eagerly (compiling it needs a GPU and minutes of
compile time); on CUDA the same function is what ``torch.compile`` captures."""

from __future__ import annotations

import pytest
import torch
from mmengine.optim import OptimWrapper

from evalsuite.lars import LARS
from evalsuite.pretrain.fast_step import FastStep
from evalsuite.pretrain.trainer import build_runner, load_recipe, train
from evalsuite.registry import METHODS, get

SMALL = {
    "simsiam": dict(dim=32, proj_layers=2, pred_hidden=8),
    "byol": dict(hidden=32, dim=16, total_steps=6, tau_base=0.9),
    "simclr": dict(hidden=32, dim=16, temperature=0.5),
    "nnclr": dict(proj_dims=(32, 16), pred_dims=(32, 16), queue_size=24),
    "supervised": dict(num_classes=4),
}
VIEWS = [dict(size=16), dict(size=16, solarize_p=0.2)]


def _model(name: str):
    torch.manual_seed(0)
    views = VIEWS[:1] if name == "supervised" else VIEWS
    model = get(METHODS, name)(arch="resnet_tiny", views=views, **SMALL[name])
    model.data_preprocessor.reseed(7)
    return model


def _batches(steps: int = 3, n: int = 16) -> list[dict]:
    g = torch.Generator().manual_seed(1)
    return [{"inputs": torch.randint(0, 256, (n, 3, 16, 16), dtype=torch.uint8, generator=g),
             "labels": torch.randint(0, 4, (n,), generator=g)} for _ in range(steps)]


def _train(name: str, fast: bool, lars: bool) -> tuple[list[float], object]:
    model = _model(name)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = LARS(params, lr=0.5, weight_decay=1e-4, eta=0.02) if lars else torch.optim.SGD(params, lr=0.1, momentum=0.9)
    wrapper = OptimWrapper(opt)
    if fast:
        model.use_fast_step(compile_mode=None)
    losses = []
    for i, batch in enumerate(_batches()):
        for group in opt.param_groups:  # the schedule changes the lr between steps, as a host float
            group["lr"] = group["lr"] * (0.5 if i else 1.0)
        losses.append(model.train_step(batch, wrapper)["loss"].item())
    return losses, model


@pytest.mark.parametrize("name,lars", [("simsiam", False), ("byol", True), ("simclr", True), ("nnclr", False),
                                       ("supervised", False)])
def test_fast_step_matches_plain_step(name, lars, one_thread):
    plain_losses, plain = _train(name, fast=False, lars=lars)
    fast_losses, fast = _train(name, fast=True, lars=lars)
    assert plain.fast_step is None and isinstance(fast.fast_step, FastStep) and fast.fast_step.calls == 3
    assert fast_losses == pytest.approx(plain_losses, abs=1e-6)
    a, b = plain.state_dict(), fast.state_dict()  # weights, BN statistics, BYOL's target, NNCLR's queue
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key
    assert torch.allclose(plain.pop_epoch_stats(), fast.pop_epoch_stats(), atol=1e-6)
    moved = _model(name).backbone.conv1.weight
    assert not torch.equal(moved, fast.backbone.conv1.weight)  # it trained


def test_bad_compile_mode_is_refused():
    with pytest.raises(ValueError, match="max-autotune-no-cudagraphs"):
        FastStep(_model("simsiam"), torch.optim.SGD(_model("simsiam").parameters(), lr=0.1), compile_mode="fastest")


def test_trainer_takes_the_fast_step_and_matches_the_plain_one(tmp_path, one_thread):
    options = {"epochs": 2, "batch_size": 16, "data.limit": 32, "log_level": "WARNING", "method.dim": 32,
               "method.pred_hidden": 8, "monitor.knn_interval": 0}
    histories = {}
    for fast in (True, False):
        runner, hook = build_runner(load_recipe("simsiam_digits_tiny", {**options, "fast_step": fast}),
                                    str(tmp_path / str(fast)), device="cpu")
        train(runner)
        assert (runner.model.fast_step is not None) == fast
        histories[fast] = [r[key] for r in hook.history for key in ("loss", "std")]
    assert histories[True] == pytest.approx(histories[False], abs=1e-6)
