"""Resume: a rolling checkpoint every epoch, metrics that never repeat an epoch, and resume files
read with weights_only=True (a planted file is refused and its payload never runs)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch
from mmengine.hooks import Hook

from evalsuite.errors import EvalsuiteError
from evalsuite.pretrain.resume import LATEST, POINTER, _history_statistic, load_resume_checkpoint
from evalsuite.pretrain.trainer import build_runner, load_recipe, train

# 48 images / batch 16 = 3 steps per epoch; interval checkpoints only every 10 epochs
FAST = {"epochs": 3, "batch_size": 16, "data.limit": 48, "log_interval": 1, "log_level": "WARNING",
        "method.dim": 32, "method.pred_hidden": 8, "monitor.knn_interval": 0, "checkpoint_interval": 10}


class _Kill(Hook):
    """A kill in the middle of epoch 3, two epochs after the last interval checkpoint would allow."""

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
        if runner.epoch == 2 and batch_idx == 1:
            raise KeyboardInterrupt


def _runner(work, resume=False):
    return build_runner(load_recipe("simsiam_digits_tiny", FAST), str(work), resume=resume, device="cpu")[0]


def _epochs(work) -> list[int]:
    return [json.loads(line)["epoch"] for line in (work / "metrics.jsonl").read_text().splitlines()]


def test_kill_loses_at_most_one_epoch_and_metrics_never_repeat(tmp_path, one_thread):
    train(_runner(tmp_path / "straight"))
    killed = tmp_path / "killed"
    runner = _runner(killed)
    runner.register_hook(_Kill(), priority="LOWEST")
    with pytest.raises(KeyboardInterrupt):
        train(runner)
    assert not list(killed.glob("epoch_*.pth"))  # no interval checkpoint yet: only the rolling one
    assert load_resume_checkpoint(killed / LATEST)["meta"]["epoch"] == 2
    assert (killed / POINTER).read_text() == str(killed / LATEST)
    with open(killed / "metrics.jsonl", "a") as f:  # as if the kill came after epoch 3's line
        f.write(json.dumps({"epoch": 3, "loss": 0.0, "std": 0.0}) + "\n")
    runner = _runner(killed, resume=True)
    train(runner)
    assert runner.train_loop.iter == 9 and _epochs(killed) == [1, 2, 3]
    a = torch.load(tmp_path / "straight" / "backbone.pth")["state_dict"]
    b = torch.load(killed / "backbone.pth")["state_dict"]
    for key in a:
        assert torch.allclose(a[key].float(), b[key].float(), atol=1e-6), key


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_planted_resume_file_is_refused_and_never_runs(tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    marker = tmp_path / "payload-ran"
    torch.save({"meta": {"epoch": 1}, "state_dict": _Payload(str(marker))}, work / "epoch_1.pth")
    (work / POINTER).write_text(str(work / "epoch_1.pth"))
    with pytest.raises(EvalsuiteError, match="holds more than this trainer.s resume state.*evalsuite pretrain"):
        train(_runner(work, resume=True))
    assert not marker.exists()


def test_pointer_outside_the_work_dir_is_refused(tmp_path):
    work = tmp_path / "run"
    work.mkdir()
    (work / POINTER).write_text(str(tmp_path / "elsewhere.pth"))
    with pytest.raises(EvalsuiteError, match="outside the work dir"):
        _runner(work, resume=True)


def test_resume_getattr_reaches_only_history_statistics():
    from mmengine.logging.history_buffer import HistoryBuffer

    assert _history_statistic(HistoryBuffer, "mean") is HistoryBuffer.mean
    for owner, name in ((HistoryBuffer, "__init__"), (os, "system"), (pickle, "loads")):
        with pytest.raises(EvalsuiteError, match="only the HistoryBuffer statistics"):
            _history_statistic(owner, name)


def test_rolling_checkpoint_waits_its_interval():
    from evalsuite.pretrain.resume import RollingCheckpointHook

    class _NoSave:
        def save_checkpoint(self, *args, **kwargs):
            raise AssertionError("saved before its interval")

    RollingCheckpointHook(every_s=3600).after_train_epoch(_NoSave())


def test_resume_with_nothing_to_resume_says_so(tmp_path, capsys):
    """--resume in a work dir without a checkpoint trains from epoch 1 (a job script that always
    passes --resume must start the first time) and says, on the terminal, that nothing was resumed."""
    runner = _runner(tmp_path / "fresh", resume=True)
    err = capsys.readouterr().err
    assert (f"evalsuite: warning: --resume: work dir {str(tmp_path / 'fresh')!r} holds no checkpoint (last_checkpoint "
            "or latest.pth); nothing was resumed, training starts at epoch 1\n") in err
    assert runner._resume is False and runner._load_from is None


def test_refused_resume_leaves_nothing_behind_and_names_the_type(tmp_path, capsys):
    """A resume file holding what this trainer never writes (a numpy object array) is refused before
    the Runner exists: no WORK_DIR/<timestamp>/ log folder, no copy of the recipe, and the reason
    names the type (not torch's boilerplate first line, nor an empty '()')."""
    from evalsuite.cli import main

    work = tmp_path / "run"
    work.mkdir()
    torch.save({"meta": {"epoch": 1}, "message_hub": np.array([1, "a"], dtype=object)}, work / LATEST)
    assert main(["pretrain", "simsiam_digits_tiny", "--work-dir", str(work), "--resume", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err == (f"evalsuite: error: checkpoint {str(work / LATEST)!r} holds more than this trainer's resume state "
                   "(the type numpy.dtypes.ObjectDType, which its resume files never hold); it was not written by "
                   "evalsuite pretrain, or was altered: remove it from the work dir to resume from the checkpoint "
                   "before, or give a new --work-dir\n")
    assert sorted(p.name for p in work.iterdir()) == [LATEST]
