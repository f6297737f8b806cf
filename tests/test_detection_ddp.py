"""Detection across processes (``evalsuite eval --launcher pytorch``): two CPU processes on gloo
train one R18-FPN as DDP with synchronised BN, score it together, and write one row."""

from __future__ import annotations

import json
import os
import socket
import warnings
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from test_detection import TINY, write_voc

from evalsuite.errors import EvalsuiteError


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, voc: str, out: str) -> None:
    from evalsuite.cliopts import parse_cfg_options
    from evalsuite.detection.train import check_replicas
    from evalsuite.runner import EvalRequest, evaluate

    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    torch.set_num_threads(1)
    req = EvalRequest(checkpoint="random", arch="resnet18", suite="tasks/detection_short_r18_fpn.py",
                      datasets=[f"voc:{voc}"], results_dir=str(Path(out) / "results"), device="cpu", quiet=True,
                      cfg_options=parse_cfg_options(TINY), cache_dir=str(Path(out) / "cache"), launcher="pytorch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        written = evaluate(req)
    torch.manual_seed(rank)  # a model whose weights differ per process must be refused
    try:
        check_replicas(torch.nn.Linear(3, 2))
        refused = False
    except EvalsuiteError:
        refused = True
    Path(out, f"rank{rank}.json").write_text(json.dumps({"written": [str(w) for w in written], "refused": refused}))
    torch.distributed.destroy_process_group()


def test_two_processes_train_one_model_and_write_one_row(tmp_path):
    voc = write_voc(tmp_path / "VOCsynth")
    mp.spawn(_worker, args=(2, _free_port(), str(voc), str(tmp_path)), nprocs=2, join=True)
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(2)]
    assert len(ranks[0]["written"]) == 1 and ranks[1]["written"] == []
    assert all(r["refused"] for r in ranks)
    assert len(list((tmp_path / "results").glob("*.json"))) == 1
    row = json.loads(Path(ranks[0]["written"][0]).read_text())
    assert row["extra"]["processes"] == 2  # the weights were checked equal on both
    assert row["extra"]["norm_used"] == "naiveSyncBN"  # SyncBN on CPU processes
    assert set(row["metrics"]) == {"AP", "AP50", "AP75"} and all(0.0 <= v <= 1.0 for v in row["metrics"].values())


def test_launcher_refuses_tasks_that_cannot_run_across_processes(tmp_path):
    from evalsuite.runner import EvalRequest, evaluate

    req = EvalRequest(checkpoint="random", arch="resnet_tiny", tasks=["knn", "finetune"], results_dir=str(tmp_path),
                      device="cpu", quiet=True, launcher="pytorch")
    with pytest.raises(EvalsuiteError, match="runs only the tasks detection, knn, linear.*; run finetune without"):
        evaluate(req)
    assert not torch.distributed.is_initialized() and list(tmp_path.iterdir()) == []
    req.launcher = "mpi"
    with pytest.raises(EvalsuiteError, match="unknown launcher 'mpi'; valid launchers are: none, pytorch, slurm"):
        evaluate(req)
