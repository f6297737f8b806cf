"""evalsuite sweep: jobs per (checkpoint, dataset) through submitit, resumable, with a manifest."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evalsuite.archs import build_backbone
from evalsuite.checkpoint import save_backbone
from evalsuite.cli import main
from evalsuite.results import read_rows
from evalsuite.sweep import Manifest, sweep_status

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--cfg-options", "knn.ks=[5]", "knn.headline_k=5", "linear.wd_num=3", "linear.max_iter=50"]


def _ckpts(tmp_path: Path, n: int = 2) -> list[str]:
    paths = []
    for i in range(n):
        import torch

        torch.manual_seed(i)
        path = tmp_path / f"ckpt{i}" / "backbone.pth"
        save_backbone(path, build_backbone("resnet_tiny").state_dict(), arch="resnet_tiny", label=f"tiny{i}")
        paths.append(str(path))
    return paths


def _folder(root: Path) -> str:
    """A 3-class image folder (train/test, 8 and 4 images a class), digits-sized: 12 px."""
    rng = np.random.default_rng(0)
    for split, n in (("train", 8), ("test", 4)):
        for c in range(3):
            (root / split / f"c{c}").mkdir(parents=True)
            for i in range(n):
                pixels = np.clip(rng.normal(60 + 70 * c, 20, (12, 12, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(root / split / f"c{c}" / f"{i}.png")
    return f"imagefolder:{root}"


def _sweep(ckpts, results, datasets, *extra) -> int:
    return main(["sweep", *ckpts, "--results", str(results), "--datasets", ",".join(datasets),
                 "--device", "cpu", *FAST, *extra])


def _row_files(results: Path) -> dict[str, float]:
    return {r["_file"]: os.stat(r["_file"]).st_mtime_ns for r in read_rows(results)}


def test_local_executor_two_jobs_at_once(tmp_path, capsys):
    """2 checkpoints x 2 datasets, 2 jobs at a time in subprocesses: every row present once."""
    results = tmp_path / "results"
    datasets = ["digits", _folder(tmp_path / "tiny")]
    assert _sweep(_ckpts(tmp_path), results, datasets, "--executor", "local", "--jobs", "2") == 0
    rows = read_rows(results)
    cells = sorted((r["checkpoint"]["label"], r["dataset"], r["task"]) for r in rows)
    assert len(cells) == 8 and len(set(cells)) == 8  # 2 ckpts x 2 datasets x (knn, linear), none twice
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)
    status = sweep_status(results)
    assert [s["state"] for s in status.values()] == ["done"] * 4
    assert all(Path(s["stderr"]).is_file() for s in status.values())  # submitit's logs, named in the manifest
    assert (results / "leaderboard.md").is_file() and (results / "report.html").is_file()
    assert "tiny0" in (results / "leaderboard.md").read_text()


def test_killed_job_resumes_with_only_missing_rows(tmp_path):
    """A job killed after its first row: the re-run computes the missing rows, keeps the rest."""
    results, ckpts = tmp_path / "results", _ckpts(tmp_path)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    # The knn row comes first; linear (a 45-value grid to 1000 iterations) is still running when we kill.
    proc = subprocess.Popen([sys.executable, "-m", "evalsuite", "sweep", ckpts[0], "--results", str(results),
                             "--datasets", "digits", "--device", "cpu", "--executor", "debug",
                             "--cfg-options", "knn.ks=[5]", "knn.headline_k=5"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not read_rows(results) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    kept = _row_files(results)
    assert len(kept) == 1 and next(iter(sweep_status(results).values()))["state"] == "lost"

    assert _sweep(ckpts, results, ["digits"], "--executor", "debug") == 0
    after = _row_files(results)
    assert len(after) == 4  # 2 ckpts x (knn, linear)
    assert all(after[f] == mtime for f, mtime in kept.items())  # the row written before the kill was not redone


def test_failing_job_is_reported_and_the_others_finish(tmp_path, capsys):
    results, ckpts = tmp_path / "results", _ckpts(tmp_path)
    bad = tmp_path / "broken.pth"
    bad.write_bytes(Path(ckpts[0]).read_bytes()[:200])  # truncated
    assert _sweep([ckpts[0], str(bad)], results, ["digits"], "--executor", "debug") == 1
    status = sweep_status(results)
    states = {s["checkpoint"]: s for s in status.values()}
    assert states[str(bad.resolve())]["state"] == "failed"
    assert "broken.pth" in states[str(bad.resolve())]["error"]
    assert states[str(Path(ckpts[0]).resolve())]["state"] == "done"
    assert len(read_rows(results)) == 2
    assert not (results / "leaderboard.md").exists()  # written once, when every job is done
    capsys.readouterr()
    assert main(["sweep", "--status", str(results)]) == 1
    out = capsys.readouterr()
    assert "failed" in out.out and "broken.pth" in out.out and "--retry-failed" in out.err
    assert main(["sweep", "--status", str(results), "--finalize"]) == 1  # not while a job failed

    bad.write_bytes(Path(ckpts[1]).read_bytes())  # the user fixes the file and retries the failed job only
    assert main(["sweep", "--status", str(results), "--retry-failed"]) == 0
    assert {s["state"] for s in sweep_status(results).values()} == {"done"}
    assert len(read_rows(results)) == 4 and (results / "leaderboard.md").is_file()


def test_slurm_submission_script(tmp_path, monkeypatch):
    """The sbatch script submitit writes for the sweep, checked with stand-ins for sbatch and srun."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "submitted.sh"
    (bin_dir / "sbatch").write_text(f"#!/bin/sh\ncp \"$1\" {record}\necho 'Submitted batch job 4242'\n")
    (bin_dir / "srun").write_text("#!/bin/sh\nexit 0\n")
    for tool in ("sbatch", "srun"):
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    results, ckpts = tmp_path / "results", _ckpts(tmp_path)
    assert _sweep(ckpts, results, ["digits", "cifar10"], "--executor", "slurm", "--jobs", "3",
                  "--slurm-partition", "gpu-p", "--slurm-gpus-per-job", "1", "--slurm-time", "90",
                  "--slurm-cpus-per-job", "8") == 0
    script = record.read_text()
    for line in ("#SBATCH --partition=gpu-p", "#SBATCH --gpus-per-node=1", "#SBATCH --time=90",
                 "#SBATCH --cpus-per-task=8", "#SBATCH --array=0-3%3", "#SBATCH --job-name=evalsuite-sweep"):
        assert line in script, line
    assert "submitit.core._submit" in script
    manifest = Manifest.load(results)
    assert sorted(e["executor_id"] for e in manifest.jobs.values()) == [f"4242_{i}" for i in range(4)]
    assert {e["dataset"] for e in manifest.jobs.values()} == {"digits", "cifar10"}
    assert {s["state"] for s in sweep_status(results).values()} == {"submitted"}


@pytest.mark.parametrize("argv, needle", [
    (["sweep", "--results", "R", "--executor", "local"], "needs one or more checkpoints"),
    (["sweep", "x.pth", "--results", "R"], "'x.pth' does not exist"),
    (["sweep", "random", "--arch", "resnet_tiny", "--results", "R", "--executor", "ray"], "unknown executor 'ray'"),
    (["sweep", "random", "--arch", "resnet_tiny", "--results", "R", "--jobs", "0"], "--jobs 0"),
    (["sweep", "random", "--arch", "resnet_tiny"], "needs --results"),
    (["sweep", "random", "--arch", "resnet_tiny", "--results", "R", "--tasks", "knn,detection"], "mix detection and feature"),
    (["sweep", "--status", "nowhere"], "/nowhere' (no .sweep/manifest.json)"),
])
def test_bad_sweeps_are_one_sentence(tmp_path, monkeypatch, capsys, argv, needle):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert needle in err and "Traceback" not in err
    assert not (tmp_path / "R").exists()


def test_jobs_get_absolute_paths_and_a_suite_by_name(tmp_path, monkeypatch):
    """A job may start in another folder: paths are made absolute, a shipped suite's name kept findable."""
    from evalsuite.sweep.run import _absolute

    monkeypatch.chdir(tmp_path)
    out = _absolute({"suite": "default", "data_root": "data", "cache_dir": "cache", "arch": "resnet_tiny"})
    assert Path(out["suite"]).is_absolute() and Path(out["suite"]).name == "default.py" and Path(out["suite"]).is_file()
    assert out["data_root"] == str(tmp_path / "data")  # not there yet (--download fetches it there)
    assert out["cache_dir"] == str(tmp_path / "cache") and out["arch"] == "resnet_tiny"
