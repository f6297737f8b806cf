"""Detection transfer on BCCD (blood-cell detection, 364 images, VOC layout): R18-FPN and R50-FPN,
random init and (optionally) a checkpoint each, with the short schedule.

Prints a markdown table of AP / AP50 / AP75, iterations/s and wall time per run, and writes the
result rows (``evalsuite leaderboard --results DIR`` shows them) plus ``summary.json`` to --results.

    # CPU smoke run (minutes):
    python bench/detection_bccd.py --device cpu --tiny
    # GPU (the short recipe as written, AMP):
    python bench/detection_bccd.py --device cuda --r18-checkpoint R18.pth --r50-checkpoint R50.pth
"""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalsuite.cliopts import parse_cfg_options  # noqa: E402
from evalsuite.atomic import write_text  # noqa: E402
from evalsuite.results import read_rows  # noqa: E402
from evalsuite.runner import EvalRequest, evaluate  # noqa: E402

# ../shared beside the checkout (developers, CI) or shared/ inside it (the GPU machine's copy).
DEFAULT_TAR = next((p for p in (ROOT.parent / "shared" / "data" / "bccd-voc.tar.gz", ROOT / "shared" / "data" / "bccd-voc.tar.gz")
                    if p.is_file()), ROOT.parent / "shared" / "data" / "bccd-voc.tar.gz")
RECIPES = {"resnet18": "tasks/detection_short_r18_fpn.py", "resnet50": "tasks/detection_short_r50_fpn.py"}
TINY = ["detection.max_iter=4", "detection.batch_size=2", "detection.min_size_train=[160]",
        "detection.max_size_train=224", "detection.min_size_test=160", "detection.max_size_test=224",
        "detection.precise_bn_iters=2", "detection.num_workers=0"]


def unpack(tar: Path, dest: Path) -> Path:
    folder = dest / "BCCD"
    if not (folder / "Annotations").is_dir():
        if not tar.is_file():
            sys.exit(f"BCCD archive {tar} not found; pass --tar")
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tar) as t:
            t.extractall(dest, filter="data")
    return folder


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tar", type=Path, default=DEFAULT_TAR)
    p.add_argument("--data", type=Path, default=ROOT / "work_dirs" / "bccd", help="where to unpack BCCD")
    p.add_argument("--results", type=Path, default=ROOT / "work_dirs" / "bench_detection_bccd")
    p.add_argument("--device", default="auto")
    p.add_argument("--archs", default="resnet18,resnet50")
    p.add_argument("--r18-checkpoint", help="checkpoint for the R18-FPN 'from checkpoint' run")
    p.add_argument("--r50-checkpoint", help="checkpoint for the R50-FPN 'from checkpoint' run")
    p.add_argument("--trust-checkpoint", action="store_true")
    p.add_argument("--seeds", default="0")
    p.add_argument("--tiny", action="store_true", help="4 iterations at 160 px: a CPU smoke run")
    p.add_argument("--cfg-options", nargs="+", default=[], help="extra overrides, e.g. detection.max_iter=500")
    args = p.parse_args()

    folder = unpack(args.tar, args.data)
    options = (TINY if args.tiny else []) + args.cfg_options
    seeds = [int(s) for s in args.seeds.split(",")]
    runs = []
    for arch in args.archs.split(","):
        ckpt = {"resnet18": args.r18_checkpoint, "resnet50": args.r50_checkpoint}.get(arch)
        for source in ["random"] + ([ckpt] if ckpt else []):
            # a checkpoint keeps the runner's label (recipe and epochs for evalsuite's own files)
            name = f"random-{arch}-fpn" if source == "random" else None
            req = EvalRequest(checkpoint=source, arch=arch, suite=str(ROOT / RECIPES[arch]), datasets=[f"voc:{folder}"],
                              results_dir=str(args.results), name=name, seeds=seeds, device=args.device,
                              trust_checkpoint=args.trust_checkpoint, cfg_options=parse_cfg_options(options), quiet=True)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                written = evaluate(req)
            wall = time.perf_counter() - start
            for path in written:
                row = json.loads(Path(path).read_text())
                loaded = row["extra"]["loaded"]
                runs.append({"label": row["checkpoint"]["label"], "arch": arch, "init": "random" if source == "random" else source,
                             "seed": row["seed"], **{k: round(100 * v, 2) for k, v in row["metrics"].items()},
                             "iters_per_s": row["extra"]["iters_per_s"], "images_per_s": row["extra"]["images_per_s"],
                             "max_iter": row["settings"]["max_iter"], "batch": row["settings"]["batch_size"],
                             "train_s": row["timings"]["train_s"], "wall_s": round(wall / len(written), 1),
                             "device": row["device"],
                             "loaded": f"{loaded['loaded_tensors']}/{loaded['trunk_tensors']}"})
                print(json.dumps(runs[-1]), flush=True)
    lines = ["| run | init | backbone tensors loaded | seed | AP | AP50 | AP75 | iters | batch | it/s | img/s | train s | wall s | device |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['label']} | {r['init']} | {r['loaded']} | {r['seed']} | {r['AP']:.1f} | {r['AP50']:.1f} | {r['AP75']:.1f} | {r['max_iter']} | "
              f"{r['batch']} | {r['iters_per_s']:.2f} | {r['images_per_s']:.1f} | {r['train_s']:.0f} | {r['wall_s']:.0f} | {r['device']} |"
              for r in runs]
    table = "\n".join(lines)
    print(table)
    write_text(args.results / "summary.json", json.dumps({"command": " ".join(sys.argv), "runs": runs}, indent=1))
    write_text(args.results / "summary.md", f"`{' '.join(sys.argv)}`\n\n{table}\n")
    assert len(read_rows(args.results)) >= len(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
