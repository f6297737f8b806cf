"""Frozen-feature tasks across processes (``evalsuite eval --launcher pytorch``): two CPU processes
on gloo, each with the environment torchrun gives it, extract their contiguous parts of every split
into one cache entry; the features and rows equal those of one process, bit for bit (digits: 1,257
train images, odd, so the parts differ in size and no image is padded in twice), and one row per
task is written."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import torch
import torch.multiprocessing as mp

from evalsuite.cli import main
from evalsuite.cache import FeatureKey, ShardWriter
from evalsuite.launch import rank_span

OPTIONS = ["features.shard_images=100", "knn.ks=[5,10]", "knn.headline_k=10", "linear.wd_num=3",
           "linear_multi.learning_rates=[0.01,1.0]", "linear_multi.epochs=2", "linear_multi.batch_size=64"]
ARGS = ["random", "--arch", "resnet_tiny", "--datasets", "digits", "--tasks", "knn,linear,linear_multi", "--device", "cpu",
        "--quiet", "--cfg-options", *OPTIONS]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    """One process as torchrun starts it (its environment), running the CLI's ``eval``; forked, so the
    modules the test already imported are not imported again (seconds per process)."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    code = main(["eval", *ARGS, "--launcher", "pytorch", "--results", f"{out}/r2", "--cache-dir", f"{out}/c2"])
    Path(out, f"rank{rank}.rc").write_text(str(code))
    torch.distributed.destroy_process_group()


def _rows(folder: Path) -> dict[str, dict]:
    return {row["task"]: row for row in (json.loads(p.read_text()) for p in folder.rglob("*.json"))}


def _entries(cache: Path) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    out = {}
    for folder in sorted((cache / "shards").iterdir()):
        key = FeatureKey(**json.loads((folder / "key.json").read_text()))
        out[f"{key.split}:{folder.name}"] = ShardWriter(folder, key, create=False).load()
    return out


def test_two_processes_give_the_features_and_rows_of_one(tmp_path, one_thread):
    mp.start_processes(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True, start_method="fork")
    assert [(tmp_path / f"rank{r}.rc").read_text() for r in range(2)] == ["0", "0"]
    assert main(["eval", *ARGS, "--results", str(tmp_path / "r1"), "--cache-dir", str(tmp_path / "c1")]) == 0

    feats1, feats2 = _entries(tmp_path / "c1"), _entries(tmp_path / "c2")
    assert sorted(feats1) == sorted(feats2) and len(feats1) == 2  # train and test, under the same keys
    for name, (features, targets) in feats1.items():
        assert torch.equal(features, feats2[name][0]) and torch.equal(targets, feats2[name][1]), name
    # the second process's part of train starts at image 628, in its own shards
    assert (next((tmp_path / "c2" / "shards").glob(f"*/{rank_span(1257, 1, 2)[0]:010d}-0000000728.features.npy")))

    rows1, rows2 = _rows(tmp_path / "r1"), _rows(tmp_path / "r2")
    assert sorted(rows1) == sorted(rows2) == ["knn", "linear", "linear_multi"]
    assert len(list((tmp_path / "r2").rglob("*.json"))) == 3  # the first process alone wrote
    # linear_multi is data-parallel: each process half of every batch, gradients summed; the same
    # steps up to the order of float additions, so the same head wins and scores within one image
    multi1, multi2 = rows1.pop("linear_multi"), rows2.pop("linear_multi")
    assert multi2["extra"]["processes"] == 2 and multi1["extra"]["processes"] == 1
    assert multi1["chosen"] == multi2["chosen"] and abs(multi1["value"] - multi2["value"]) <= 1 / 540
    for a, b in zip(multi1["extra"]["val_curve"], multi2["extra"]["val_curve"]):
        assert abs(a["val"] - b["val"]) <= 1 / 252
    for task, row in rows1.items():
        other = rows2[task]
        assert (row["value"], row["metrics"], row["chosen"], row["protocol_id"]) == \
               (other["value"], other["metrics"], other["chosen"], other["protocol_id"]), task


def test_rank_spans_cover_every_image_once():
    for size in (1, 7, 50_000):
        for world in (1, 2, 3, 7, 8):
            spans = [rank_span(size, r, world) for r in range(world)]
            assert spans[0][0] == 0 and spans[-1][1] == size
            assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
            assert max(b - a for a, b in spans) - min(b - a for a, b in spans) <= 1


def test_nccl_groups_get_the_evaluation_timeout_in_mmengines_units(monkeypatch):
    """mmengine's init_dist takes seconds and builds the timedelta itself; a timedelta would fail."""
    import datetime

    import mmengine.dist.utils as mm

    from evalsuite.launch import init_distributed
    from evalsuite.runner import EVAL_TIMEOUT

    calls = []
    monkeypatch.setattr(mm, "_init_dist_slurm", lambda backend, **kw: calls.append((backend, kw)))
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)
    init_distributed("slurm", True, EVAL_TIMEOUT)
    assert calls == [("nccl", {"init_backend": "torch", "timeout": datetime.timedelta(hours=24)})]
