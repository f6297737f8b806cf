"""The linear probe's val curve against a tightly converged scikit-learn, on all 45 penalties
(issue 17, item 1: warm and cold solves agree with each other and with the exact reference).

For each feature set: scikit-learn's ``LogisticRegression`` cold at every wd (``tol=1e-10,
max_iter=20000``: the reference), evalsuite's sweep warm one by one (``grid_batch=0``, the CPU
path) and cold all at once (``grid_batch=45``, the GPU path). Prints, per path, the largest
val-curve gap to the reference and where, the chosen wd, iterations and how many fits converged.

Feature sets: ``digits`` (64-d pixels, the split of ``tests/test_linear.py``), or any file saved
by ``bench/eval_speed.py``'s sets (``--features FILE.pt`` holding ``train``/``val`` pairs).

    python bench/probe_convergence.py                       # digits, 64-d
    python bench/probe_convergence.py --features sets.pt    # a saved (train, val) feature set
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalsuite.datasets.base import stratified_holdout  # noqa: E402
from evalsuite.datasets.digits import digits_arrays  # noqa: E402
from evalsuite.tasks.base import Split  # noqa: E402
from evalsuite.tasks.linear import ProbeSettings, Standardizer, sweep, wd_grid  # noqa: E402


def digits_sets() -> tuple[Split, Split]:
    """Digits pixels (64-d), train and val as ``tests/test_linear.py`` draws them."""
    images, labels = digits_arrays()
    x, y = torch.from_numpy(images.reshape(len(images), -1).astype(np.float32)), torch.from_numpy(labels)
    trval, _ = stratified_holdout(labels, 0.3, 0)
    tr, va = stratified_holdout(labels[trval], 0.2, 0)
    return Split(x[trval][tr], y[trval][tr]), Split(x[trval][va], y[trval][va])


def reference(train: Split, val: Split, grid: list[float]) -> tuple[dict, float]:
    """wd -> val top-1 of scikit-learn converged cold at each wd, and the seconds it took."""
    from sklearn.linear_model import LogisticRegression

    norm = Standardizer(train.features)
    xt, xv = norm(train.features).double().numpy(), norm(val.features).double().numpy()
    t = time.perf_counter()
    curve = {wd: LogisticRegression(C=1 / wd, tol=1e-10, max_iter=20000).fit(xt, train.targets.numpy())
             .score(xv, val.targets.numpy()) for wd in grid}
    return curve, time.perf_counter() - t


def compare(train: Split, val: Split, grid: list[float], ref: dict, grid_batch: int) -> dict:
    settings = ProbeSettings(metric="top1", num_classes=int(train.targets.max()) + 1, grid_batch=grid_batch)
    t = time.perf_counter()
    wd, curve, _ = sweep(train, val, grid, settings)
    seconds = time.perf_counter() - t
    gaps = {r["wd"]: abs(r["val"] - ref[r["wd"]]) for r in curve}
    worst = max(gaps, key=gaps.get)
    return {"grid_batch": grid_batch, "seconds": round(seconds, 2), "max_gap_points": round(100 * gaps[worst], 2),
            "at_wd": worst if gaps[worst] else None, "chosen_wd": wd, "iterations": sum(r["iterations"] for r in curve),
            "converged": sum(r["converged"] for r in curve), "fits": len(curve), "curve": {r["wd"]: r["val"] for r in curve}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--features", help="a .pt with train/val (features, targets) pairs; default: digits pixels")
    ap.add_argument("--grid-every", type=int, default=1, help="every K-th penalty of the 45")
    ap.add_argument("--out", help="write the figures as JSON here too")
    args = ap.parse_args(argv)
    if args.features:
        saved = torch.load(args.features, weights_only=True)
        train, val = Split(*saved["train"]), Split(*saved["val"])
    else:
        train, val = digits_sets()
    grid = wd_grid()[::args.grid_every]
    ref, ref_s = reference(train, val, grid)
    best = max(ref.values())
    report = {"features": args.features or "digits pixels (64-d)", "train/val": [len(train), len(val)],
              "reference": {"seconds": round(ref_s, 2), "chosen_wd": max(w for w, v in ref.items() if v == best)},
              "paths": [compare(train, val, grid, ref, gb) for gb in (0, len(grid))]}
    for path in report["paths"]:
        path["gap_to_warm_points"] = round(100 * max(abs(v - report["paths"][0]["curve"][w]) for w, v in path["curve"].items()), 2)
    print(json.dumps({**report, "paths": [{k: v for k, v in p.items() if k != "curve"} for p in report["paths"]]}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
