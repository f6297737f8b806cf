"""Fine-tune a checkpoint and the random-init floor on the shared CIFAR-10 JPEG copy.

Runs ``evalsuite eval`` with the ``finetune`` task of ``tasks/finetune.py`` (Ericsson et al. 2021
protocol; schedule and grid overridable here) for each checkpoint plus ``random`` init of the
same arch, writes one result row each under ``--results`` and prints a Markdown table with the
test accuracy, the chosen lr/wd, the validation grid and the wall time.

The JPEG copy is not the original pixels (see ../shared/data/README.md): accuracies sit a little
below published CIFAR-10 figures.

Tiny CPU smoke run (about a minute):
    .venv/bin/python bench/finetune_cifar.py --device cpu --per-class 20 --test-per-class 10 \
        --steps 10 --lrs 0.1 --wds 0 --arch resnet_tiny
GPU (see the report for the command used): --device cuda with the full data.
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from evalsuite.results import read_rows  # noqa: E402
from evalsuite.runner import EvalRequest, evaluate  # noqa: E402

_CANDIDATES = [base / "shared" / "data" / "cifar10-jpeg.tar.gz" for base in (REPO.parent, REPO)]
ARCHIVE = next((c for c in _CANDIDATES if c.is_file()), _CANDIDATES[0])


def floats(text: str) -> list[float]:
    return [float(t) for t in text.split(",") if t.strip()]


def extract(archive: Path, root: Path, per_class: int, test_per_class: int) -> Path:
    """Unpack ``archive`` (train/<class>/*.jpg, test/<class>/*.jpg) to ``root/cifar10``, keeping at
    most ``per_class`` / ``test_per_class`` images per class (0: all). Reused when already there."""
    target = root / "cifar10"
    stamp = target / f".complete-{per_class}-{test_per_class}"
    if stamp.is_file():
        return target
    if not archive.is_file():
        sys.exit(f"archive {archive} not found; pass --archive (the shared CIFAR-10 JPEG copy)")
    counts: Counter = Counter()
    with tarfile.open(archive) as tar:
        def keep(member: tarfile.TarInfo) -> bool:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) != 3:
                return False
            limit = per_class if parts[0] == "train" else test_per_class
            counts[parts[:2]] += 1
            return limit == 0 or counts[parts[:2]] <= limit
        members = [m for m in tar if keep(m)]
        tar.extractall(target, members=members, filter="data")
    stamp.touch()
    return target


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", action="append", default=[], help="checkpoint to fine-tune (repeatable); "
                   "random init of --arch always runs too")
    p.add_argument("--arch", default="cifar_resnet18", help="arch for random init and for checkpoints without one")
    p.add_argument("--archive", default=str(ARCHIVE))
    p.add_argument("--data-root", default="/tmp/evalsuite-bench-data", help="where the archive is unpacked")
    p.add_argument("--per-class", type=int, default=0, help="train images per class (0: all 5,000)")
    p.add_argument("--test-per-class", type=int, default=0, help="test images per class (0: all 1,000)")
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lrs", type=floats, default=None, help="comma-separated lr grid (default: the recipe's 4)")
    p.add_argument("--wds", type=floats, default=None, help="comma-separated wd grid (default: the recipe's 5)")
    p.add_argument("--workers", type=int, default=-1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--results", default=str(REPO / "bench" / "results" / "finetune_cifar"))
    p.add_argument("--cache-dir", default=None)
    return p.parse_args()


def main() -> int:
    args = parse_args()
    start = time.perf_counter()
    extract(Path(args.archive), Path(args.data_root), args.per_class, args.test_per_class)
    extract_s = time.perf_counter() - start
    cfg = {"finetune.steps": args.steps, "finetune.batch_size": args.batch_size,
           "finetune.num_workers": args.workers, "finetune.save_every": max(args.steps // 10, 1)}
    if args.lrs:
        cfg["finetune.lrs"] = args.lrs
    if args.wds:
        cfg["finetune.wds"] = args.wds
    import torch
    torch.backends.cudnn.benchmark = True
    runs = [(c, None) for c in args.checkpoint] + [("random", f"random-{args.arch}")]
    walls = {}
    for checkpoint, name in runs:
        t0 = time.perf_counter()
        paths = evaluate(EvalRequest(checkpoint=checkpoint, arch=args.arch,
                                     suite=str(REPO / "tasks" / "finetune.py"), tasks=["finetune"],
                                     datasets=["cifar10"], data_root=args.data_root, results_dir=args.results,
                                     name=name, seeds=[args.seed], device=args.device, cfg_options=cfg,
                                     cache_dir=args.cache_dir, quiet=True))
        walls[str(paths[0])] = time.perf_counter() - t0
    print(f"\nextract {extract_s:.1f} s; total {time.perf_counter() - start:.1f} s; "
          f"steps={args.steps} batch={args.batch_size} subset={args.per_class or 5000}/{args.test_per_class or 1000} per class\n")
    print("| model | test top1 | val top1 | lr | wd | runs | wall s | device |")
    print("|---|---|---|---|---|---|---|---|")
    for row in read_rows(args.results):
        if row["_file"] not in walls:
            continue
        c = row["chosen"]
        print(f"| {row['checkpoint']['label']} | {100 * row['value']:.2f} | {100 * row['metrics']['val_top1']:.2f} | "
              f"{c['lr']:g} | {c['wd']:g} | {len(row['extra']['val_grid']) + 1} | {walls[row['_file']]:.1f} | {row['device']} |")
        print(json.dumps({"val_grid": row["extra"]["val_grid"], "split": row["extra"]["split"]}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
