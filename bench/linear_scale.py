"""The L-BFGS probe at ImageNet scale: time and peak memory of its parts on synthetic features of
N rows x D dims x C classes, N from 10k to 1.28M, under the memory plan (evalsuite.tasks.probe_memory).

Each size runs in its own process (so its peak memory is its own): build the planned eigenbasis
(mean, covariance and rotation in blocks), then time objective + gradient evaluations of G
penalties side by side (the plan's grid batch; G = 1 on a CPU, where the sweep runs one penalty at
a time) and a capped L-BFGS fit. Peak memory per phase (synthetic data, basis, objective, fit): the process's
VmHWM, reset at each phase's start, on a CPU, the allocator's peak on a GPU; "working" is the peak
less the features' own bytes (N x D float32, given), "beyond" that less the rotated features too.

Also prints the plans for a 24 GB and an 80 GB GPU at full size (computed, not measured).

    python bench/linear_scale.py --sizes 10000,100000 --block-rows 8192 --iters 1 --out result.json  # CPU
    python bench/linear_scale.py --sizes 1281167 --device cuda --out result.json   # GPU queue
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from evalsuite.tasks.lbfgs import batched_lbfgs  # noqa: E402
from evalsuite.tasks.linear import wd_grid  # noqa: E402
from evalsuite.tasks.logistic import LogisticProblem  # noqa: E402
from evalsuite.tasks.probe_memory import basis_for, plan  # noqa: E402

FULL = 1_281_167  # ImageNet-1k train images
GPUS = {"24 GB GPU": 24, "80 GB GPU": 80}


def synthetic(n: int, d: int, c: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """Features (N, D) float32 around C random class means, and targets (N,)."""
    g = torch.Generator().manual_seed(0)
    means = torch.randn(c, d, generator=g)
    y = torch.randint(0, c, (n,), generator=g)
    x = torch.empty(n, d)
    for i in range(0, n, 65536):  # in blocks: no second N x D temporary
        x[i:i + 65536] = means[y[i:i + 65536]] + 2.0 * torch.randn(len(y[i:i + 65536]), d, generator=g)
    return x.to(device), y.to(device)


class Phases:
    """Peak memory of each phase, in GiB: the process's VmHWM (reset at the phase's start through
    /proc/self/clear_refs) on a CPU, the allocator's peak on a GPU; with what was held at its start."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peaks = device, {}

    def _now(self) -> int:
        if self.device.type == "cuda":
            return torch.cuda.memory_allocated(self.device)
        return _status("VmRSS")

    def start(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        self.held = self._now()

    def stop(self, name: str) -> None:
        peak = torch.cuda.max_memory_allocated(self.device) if self.device.type == "cuda" else _status("VmHWM")
        self.peaks[name] = {"held_at_start_gib": round(self.held / 2**30, 2), "peak_gib": round(peak / 2**30, 2)}


def _status(field: str) -> int:
    """A memory figure of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def one(n: int, d: int, c: int, device: torch.device, evals: int, iters: int, block_rows: int) -> dict:
    phases = Phases(device)
    phases.start()
    x, y = synthetic(n, d, c, device)
    phases.stop("data")
    phases.start()
    grid = wd_grid()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    start = time.perf_counter()
    chosen = plan(n, d, c, len(grid) if device.type == "cuda" else 0, device)
    if block_rows:  # the plan's storage and width, a fixed block (the same working memory at every N)
        chosen = replace(chosen, block_rows=block_rows if block_rows < n else 0)
    basis = basis_for(x, chosen, torch.float64)  # one basis: a second built beside it held two rotations
    sync()
    basis_s = time.perf_counter() - start
    phases.stop("basis")
    phases.start()
    g = max(chosen.grid_batch, 1)
    problem = LogisticProblem(basis, y, grid[:g], c)
    theta = torch.zeros(g, problem.r * c + c, dtype=torch.float64, device=device)
    problem(theta)  # warm-up
    sync()
    start = time.perf_counter()
    for _ in range(evals):
        problem(theta)
    sync()
    eval_s = (time.perf_counter() - start) / evals
    phases.stop("objective")
    phases.start()
    start = time.perf_counter()
    _, info = batched_lbfgs(problem, theta, max_iter=iters, scale=problem.penalty_scale, precondition=problem.precondition)
    sync()
    fit_s = time.perf_counter() - start
    phases.stop("fit")
    rotated = basis.xr.numel() * basis.xr.element_size()  # (N, r) in the plan's storage
    peak = max(p["peak_gib"] for p in phases.peaks.values()) * 2**30  # (clear_refs resets ru_maxrss too)
    return {"n": n, "d": d, "classes": c, "device": str(device), "plan": chosen.record(), "basis_s": round(basis_s, 2),
            "eval_s": round(eval_s, 3), "penalties_per_eval": g, "fit_iters": int(info["iterations"].max()),
            "fit_s": round(fit_s, 2), "peak_gib": round(peak / 2**30, 2),
            "features_gib": round(n * d * 4 / 2**30, 2), "working_gib": round((peak - n * d * 4) / 2**30, 2),
            "rotated_gib": round(rotated / 2**30, 2), "beyond_gib": round((peak - n * d * 4 - rotated) / 2**30, 2),
            "phases": phases.peaks}


def gpu_plans(d: int, c: int) -> dict:
    """The plan at full size on a 24 GB and an 80 GB GPU (97% of it free, BUDGET_FRACTION used)."""
    out = {}
    for name, gb in GPUS.items():
        try:
            out[name] = plan(FULL, d, c, 45, torch.device("cuda"), budget=int(0.8 * 0.97 * gb * 2**30)).record()
        except Exception as exc:  # noqa: BLE001 - a refusal is a figure here
            out[name] = {"refused": str(exc)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", default="10000,100000")
    p.add_argument("--dim", type=int, default=384)
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--device", default="cpu")
    p.add_argument("--evals", type=int, default=2)
    p.add_argument("--iters", type=int, default=3, help="L-BFGS iterations of the capped fit")
    p.add_argument("--block-rows", type=int, default=0, help="a fixed block instead of the plan's (0: the plan's)")
    p.add_argument("--one", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    if args.one:
        print(json.dumps(one(args.one, args.dim, args.classes, device, args.evals, args.iters, args.block_rows)))
        return 0
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        cmd = [sys.executable, __file__, "--one", str(n), "--dim", str(args.dim), "--classes", str(args.classes),
               "--device", args.device, "--evals", str(args.evals), "--iters", str(args.iters),
               "--block-rows", str(args.block_rows)]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            rows.append({"n": n, "error": done.stderr.strip().splitlines()[-1:]})
        else:
            rows.append({**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": round(time.perf_counter() - start, 1)})
        print(json.dumps(rows[-1]), flush=True)
    result = {"sizes": rows, "gpu_plans": {str(d): gpu_plans(d, args.classes) for d in (args.dim, 1024, 2048)}}
    print(json.dumps(result["gpu_plans"], indent=1))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
