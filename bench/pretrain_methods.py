"""Issue 3's accuracy figures in one script: pre-train each method's recipe, evaluate the checkpoint
(kNN and the linear probe on the test split), compare with the goal; then the SimSiam collapse
ablation (Chen & He 2021, Sec. 4.1, Fig. 2): the same recipe with and without stop-gradient, the
per-dimension std of the normalised projector output and kNN of both.

Goals (issue 3, kNN k=200, T=0.1 on the CIFAR-10 test split after 200 epochs, batch 512): the best
200-epoch figure a well-known SSL library published per method, so SimSiam >= 0.82, BYOL >= 0.87,
SimCLR >= 0.85, NNCLR >= 0.84, each run in <= 5 minutes. Other suffixes have no goal.

GPU (CIFAR-10 JPEG tree under data/cifar10/{train,test}; one method per 10-minute device call):
    python bench/pretrain_methods.py --suffix cifar10_resnet18 --methods simsiam --no-ablation
    python bench/pretrain_methods.py --suffix cifar10_resnet18 --methods none --ablation-epochs 20
CPU (digits, resnet_tiny, a few minutes):
    python bench/pretrain_methods.py --suffix digits_tiny --device cpu
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from evalsuite.atomic import write_text  # noqa: E402
from evalsuite.cliopts import parse_cfg_options  # noqa: E402
from evalsuite.pretrain.trainer import run_pretrain  # noqa: E402
from evalsuite.runner import EvalRequest, evaluate  # noqa: E402

METHODS = ("simsiam", "byol", "simclr", "nnclr")
#: Issue 3's 200-epoch CIFAR-10 goals (kNN k=200, T=0.1) and its time limit per run.
GOALS = {"cifar10_resnet18": {"simsiam": 0.82, "byol": 0.87, "simclr": 0.85, "nnclr": 0.84}}
TIME_GOAL_S = 300
SUITES = {"cifar10_resnet18": str(ROOT / "tasks" / "cifar10_knn200.py")}


def _evaluate(checkpoint: str, label: str, args) -> dict[str, float]:
    """kNN and linear test top-1 of one checkpoint, as written to its result rows."""
    written = evaluate(EvalRequest(checkpoint=checkpoint, name=label, suite=SUITES.get(args.suffix), data_root=args.data_root,
                                   results_dir=str(args.results / "runs"), device=args.device, quiet=True))
    out = {}
    for path in written:
        row = json.loads(Path(path).read_text())
        out[row["task"]] = round(100 * row["metrics"][row["metric"]], 2)  # the suite's headline (kNN: its k)
        out[f"{row['task']}_metric"] = row["metric"]
    return out


def _run(recipe: str, label: str, options: dict, args) -> dict:
    work = args.results / "work" / label
    trained = run_pretrain(recipe, str(work), cfg_options={"log_level": "WARNING", **options}, device=args.device)
    history = trained["history"]
    last = history[-1]
    speeds = [r["img_per_s"] for r in history[1:]] or [history[0]["img_per_s"]]
    scores = _evaluate(trained["checkpoint"], label, args)
    return {"label": label, "recipe": recipe, "epochs": last["epoch"], "wall_s": trained["wall_s"],
            "img_per_s": max(speeds), "loss": round(last["loss"], 4), "std": round(last["std"], 4),
            "knn_online": last.get("knn"), "knn": scores.get("knn"), "knn_metric": scores.get("knn_metric"),
            "linear": scores.get("linear"), "compile_s": history[0].get("compile_s"),
            "history": [{k: r[k] for k in ("epoch", "loss", "std", "knn", "epoch_s") if k in r} for r in history]}


def table(rows: list[dict], goals: dict) -> str:
    lines = ["| run | epochs | wall s | img/s | final std | online kNN | kNN | linear | kNN goal |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        goal = goals.get(r.get("method", ""))
        verdict = "-" if goal is None else f"{100 * goal:.0f}: {'met' if (r['knn'] or 0) >= 100 * goal else 'missed'}"
        online = "-" if r["knn_online"] is None else f"{100 * r['knn_online']:.2f}"
        lines.append(f"| {r['label']} | {r['epochs']} | {r['wall_s']:.0f} | {r['img_per_s']:.0f} | {r['std']:.4f} | "
                     f"{online} | {r['knn']} ({r['knn_metric']}) | {r['linear']} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suffix", default="cifar10_resnet18", help="recipe suffix: pretrain/<method>_<suffix>.py")
    p.add_argument("--methods", default=",".join(METHODS), help="comma-separated, or 'none'")
    p.add_argument("--epochs", type=int, help="override the recipes' epochs")
    p.add_argument("--ablation-epochs", type=int, default=20)
    p.add_argument("--no-ablation", action="store_true")
    p.add_argument("--device", default="auto")
    p.add_argument("--data-root", default="data")
    p.add_argument("--results", type=Path, default=ROOT / "work_dirs" / "bench_pretrain_methods")
    p.add_argument("--cfg-options", nargs="+", default=[], metavar="KEY=VALUE", help="overrides for every recipe")
    args = p.parse_args(argv)
    base = {"data.root": args.data_root, **parse_cfg_options(args.cfg_options)}
    if args.epochs:
        base["epochs"] = args.epochs
    rows = []
    methods = [] if args.methods == "none" else args.methods.split(",")
    for method in methods:
        epochs = f"-{args.epochs}ep" if args.epochs else ""
        row = _run(f"{method}_{args.suffix}", f"{method}-{args.suffix}{epochs}", base, args)
        rows.append({"method": method, **row})
        print(json.dumps(rows[-1]), flush=True)
    if not args.no_ablation:
        for stop in (True, False):
            options = {**base, "epochs": args.ablation_epochs, "method.stop_gradient": stop}
            label = f"simsiam-{args.suffix}-{args.ablation_epochs}ep-{'stopgrad' if stop else 'no-stopgrad'}"
            rows.append(_run(f"simsiam_{args.suffix}", label, options, args))
            print(json.dumps(rows[-1]), flush=True)
    text = table(rows, GOALS.get(args.suffix, {}))
    print(text)
    slow = [r["label"] for r in rows if r.get("method") and args.suffix in GOALS and r["wall_s"] > TIME_GOAL_S]
    if slow:
        print(f"over the {TIME_GOAL_S} s goal: {', '.join(slow)}")
    command = " ".join(["python", "bench/pretrain_methods.py", *sys.argv[1:]])
    write_text(args.results / "summary.json", json.dumps({"command": command, "runs": rows}, indent=1))
    write_text(args.results / "summary.md", f"`{command}`\n\n{text}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
