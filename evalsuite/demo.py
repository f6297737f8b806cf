"""``make demo``: the whole story offline on CPU, on scikit-learn's digits, in a few minutes.

1. pre-train SimSiam on digits (``pretrain/simsiam_digits_tiny.py``, resnet_tiny);
2. train the same arch on the digits labels (``pretrain/supervised_digits_tiny.py``);
3. evaluate random init, the SSL checkpoint and the supervised one by kNN and the linear probe;
4. print the leaderboard.
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

from evalsuite.leaderboard import leaderboard
from evalsuite.runner import EvalRequest, evaluate

RESULTS = Path("results/demo")
WORK = Path("work_dirs/demo")
ARCH = "resnet_tiny"
RUNS = (("simsiam-digits", "simsiam_digits_tiny"), ("supervised-digits", "supervised_digits_tiny"))


def _pretrain(recipe: str, work_dir: Path) -> str:
    from evalsuite.pretrain.trainer import run_pretrain

    out = run_pretrain(recipe, str(work_dir), cfg_options={"log_level": "WARNING"}, device="cpu")
    last = out["history"][-1]
    print(f"{recipe}: {last['epoch']} epochs in {out['wall_s']:.0f} s, loss {last['loss']:.3f}, "
          f"std {last['std']:.3f}, online kNN {last.get('knn', float('nan')):.3f}", flush=True)
    return out["checkpoint"]


def main() -> int:
    shutil.rmtree(RESULTS, ignore_errors=True)
    shutil.rmtree(WORK, ignore_errors=True)
    start = time.perf_counter()
    evaluate(EvalRequest(checkpoint="random", arch=ARCH, results_dir=str(RESULTS), quiet=True))
    for label, recipe in RUNS:
        checkpoint = _pretrain(recipe, WORK / label)
        evaluate(EvalRequest(checkpoint=checkpoint, name=label, results_dir=str(RESULTS), quiet=True))
    print()
    print(leaderboard(RESULTS, fmt="md"))
    print(f"\ndemo finished in {time.perf_counter() - start:.0f} s; result rows in {RESULTS}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
