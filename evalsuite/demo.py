"""``make demo``: the whole story offline on CPU, on scikit-learn's digits.

Evaluates random init by kNN and the linear probe and prints the leaderboard. (Pre-training
joins this story in ``evalsuite pretrain``.)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from evalsuite.leaderboard import leaderboard
from evalsuite.runner import EvalRequest, evaluate

RESULTS = Path("results/demo")
ARCH = "resnet_tiny"


def main() -> int:
    shutil.rmtree(RESULTS, ignore_errors=True)
    evaluate(EvalRequest(checkpoint="random", arch=ARCH, results_dir=str(RESULTS), quiet=True))
    print()
    print(leaderboard(RESULTS, fmt="md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
