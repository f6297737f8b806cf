"""The trainer end to end on a slice of digits: checkpoints, resume, NaN stop, the command."""

from __future__ import annotations

import math

import pytest
import torch
from mmengine.hooks import Hook

from evalsuite.checkpoint import load_backbone
from evalsuite.cli import main
from evalsuite.errors import EvalsuiteError
from evalsuite.pretrain.trainer import build_runner, load_recipe, run_pretrain, train

FAST = {"epochs": 2, "batch_size": 16, "data.limit": 48, "log_interval": 1, "log_level": "WARNING",
        "method.dim": 32, "method.pred_hidden": 8, "monitor.knn_interval": 2, "checkpoint_interval": 1}


def _cfg(**extra):
    return load_recipe("simsiam_digits_tiny", {**FAST, **extra})


class _Kill(Hook):
    """Simulates a kill in the middle of epoch 2 (after the epoch-1 checkpoint)."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.epoch == 1 and batch_idx == 1:
            raise KeyboardInterrupt


class _PoisonLR(Hook):
    def before_train_epoch(self, runner):
        if runner.epoch == 1:
            for group in runner.optim_wrapper.optimizer.param_groups:
                group["lr"] = float("nan")


def test_checkpoint_is_read_by_eval_without_flags(tmp_path):
    out = run_pretrain("simsiam_digits_tiny", str(tmp_path / "run"), cfg_options=FAST, device="cpu")
    # the monitor's kNN measured 0.291 (2026-12-07, 2-core CPU); 0.1 below that is still twice
    # chance (0.1), which a broken monitor kNN (wrong labels, wrong split) would not reach
    assert [r["epoch"] for r in out["history"]] == [1, 2] and 0.19 < out["history"][-1]["knn"] <= 1
    assert all(0 < r["std"] < 1 for r in out["history"])
    model, info = load_backbone(out["checkpoint"])
    assert info.format == "evalsuite" and info.arch == "resnet_tiny"
    assert info.meta["method"] == "simsiam" and info.meta["epochs"] == 2 and info.meta["dataset"] == "digits"
    assert info.meta["recipe"] == "simsiam_digits_tiny" and info.meta["recipe_arch"] == "resnet_tiny"


def test_resume_after_kill_matches_uninterrupted_run(tmp_path):
    runner, _ = build_runner(_cfg(), str(tmp_path / "straight"), device="cpu")
    train(runner)
    runner, _ = build_runner(_cfg(), str(tmp_path / "killed"), device="cpu")
    runner.register_hook(_Kill(), priority="LOWEST")
    with pytest.raises(KeyboardInterrupt):
        train(runner)
    runner, _ = build_runner(_cfg(), str(tmp_path / "killed"), resume=True, device="cpu")
    train(runner)
    a = torch.load(tmp_path / "straight" / "backbone.pth")["state_dict"]
    b = torch.load(tmp_path / "killed" / "backbone.pth")["state_dict"]
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    runner, _ = build_runner(_cfg(), str(tmp_path / "nan"), device="cpu")
    runner.register_hook(_PoisonLR())
    with pytest.raises(EvalsuiteError, match="NaN"):
        train(runner)
    saved = torch.load(tmp_path / "nan" / "backbone_latest.pth")
    assert saved["evalsuite"]["epochs"] == 1
    assert all(torch.isfinite(v.float()).all() for v in saved["state_dict"].values())
    assert not (tmp_path / "nan" / "epoch_2.pth").exists()


class _CountIters(Hook):
    def __init__(self):
        self.calls = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        self.calls.append(runner.iter)


def test_lean_loop_runs_hooks_every_interval_and_schedules_every_step(tmp_path):
    # 48 images / batch 8 = 6 steps per epoch, hooks every 4 steps and on each epoch's last
    runner, _ = build_runner(_cfg(**{"batch_size": 8, "log_interval": 4}), str(tmp_path / "lean"), device="cpu")
    counter = _CountIters()
    runner.register_hook(counter)
    train(runner)
    assert counter.calls == [3, 5, 7, 11]
    groups = runner.optim_wrapper.optimizer.param_groups
    decayed = [g["lr"] for g in groups if not g["fix_lr"]][0]
    lr0 = 0.2 * 8 / 256  # base_lr x batch / 256
    # stepped on every iteration, hooked or not: the cosine is at its 11th of 12 steps
    assert decayed == pytest.approx(lr0 * (1 + math.cos(math.pi * 11 / 12)) / 2, rel=1e-6)


def test_command_errors(capsys):
    assert main(["pretrain", "no_such_recipe"]) == 2
    err = capsys.readouterr().err
    assert "no_such_recipe" in err and "simsiam_digits_tiny" in err
    assert main(["pretrain", "simsiam_digits_tiny", "--cfg-options", "method.type=mocov9"]) == 2
    assert "mocov9" in capsys.readouterr().err
    assert main(["pretrain", "simsiam_digits_tiny", "--cfg-options", "method.dimm=8"]) == 2
    err = capsys.readouterr().err
    assert "dimm" in err and "stop_gradient" in err
