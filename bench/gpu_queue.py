"""The GPU queue: the measurements the project still owes, in order, each sized to finish within
9 minutes of one device call (10-minute limit per command), data setup included.

One call runs the first items that have no row yet in bench/RESULTS.md (as many as fit its
``--budget-s``), each as its own bench script under a time box, then writes their rows (machine,
command, date, figures) into bench/RESULTS.md and everything under ``--out``: the updated
RESULTS.md, each item's JSON and log. On the device machine ``--out`` is ``$OUT``, so the figures
come back with the call; copy ``$OUT/RESULTS.md`` over bench/RESULTS.md and commit. An item's row
is its ``<!-- gpu-queue: ID -->`` marker; delete a row to have the queue run that item again.

Items (full size: CIFAR-10, CIFAR ResNet-18, batch 512, the recipes in pretrain/):
    speed     speed split per method: trainer, ceiling (eager and compiled), augmented loop,
              augmentation alone, the usual DataLoader recipe      (bench/pretrain_speed.py)
    compile   the fast step's compile modes on SimSiam (none, default, reduce-overhead; max-autotune
              is left out: its autotuning is expected not to fit 9 minutes beside them): compile s, graph
              breaks, steady epoch s, projected 200-epoch wall, compiled vs eager losses; the
              fastest becomes the next items' ``compile``                     (same script)
    simsiam   SimSiam 200 epochs + kNN (k=200, T=0.1) + L-BFGS probe   (bench/pretrain_methods.py)
    byol, simclr, nnclr   the same for each method
    collapse  SimSiam 20 epochs with and without stop-gradient, std and kNN every epoch
    eval      evaluation speed with the batched L-BFGS solver          (bench/eval_speed.py)
    probe     the linear-probe race against scikit-learn (digits pixels, 512-d and 2,048-d
              features of 10k CIFAR-10 images; issue 17's goal: >= 20x at equal accuracy)
    knn       kNN at ImageNet scale: 50,000 queries against banks of 10k, 100k and 1,281,167
              synthetic 384-d rows, block sized from free GPU memory: time, GPU working memory,
              predictions against the whole-bank search up to 100k       (bench/knn_scale.py)
    vitprobes kNN, L-BFGS linear, MAE's linear (linear_bn) and the attentive probe side by side on
              CIFAR-10 with a random-init ViT-S/16 at 224 (tasks/vit_probes.py), seconds per task
    segment   the dense linear probe (segmentation) with a ViT-S/16, 224 crops, 2,000 iterations at
              batch 16 on a VOC2012-layout synthetic set (no VOC on the device): crops/s, mIoU
    linear_scale  the L-BFGS probe's memory plan at ImageNet size: synthetic 1.28M x 384 features,
              1,000 classes, the 45-penalty batch: basis, s per evaluation, a 10-iteration fit,
              peak memory                                              (bench/linear_scale.py)

    python bench/gpu_queue.py --list            # done and pending items
    python bench/gpu_queue.py                   # on the device machine: the next items
    python bench/gpu_queue.py --smoke           # every item at tiny size on CPU (digits), rows
                                                # into --out/RESULTS.md, never bench/RESULTS.md

Setup on the device machine (as the project's device calls do it): the CIFAR-10 JPEG tarball at
``.gpudata/cifar10-jpeg.tar.gz`` (or ``shared/data/``) is unpacked into ``--data-root`` once.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from evalsuite.atomic import write_text  # noqa: E402
from evalsuite.pretrain.base import self_supervised  # noqa: E402

RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## GPU queue (`bench/gpu_queue.py`)"
MARKER = re.compile(r"<!-- gpu-queue: (\w+)(?: (\{.*?\}))? -->")
METHODS = self_supervised()  # every registered method that learns without labels
#: Digits at tiny size: a few steps of every code path, nothing measured.
SMOKE_RECIPE = ["data.limit=48", "batch_size=16"]


@dataclass(frozen=True)
class Item:
    """One measurement: ``args(ctx, smoke)`` is the bench script's argv, ``render(data)`` its rows."""

    id: str
    title: str
    script: str
    est_s: int  # full-size wall time it is sized for, setup included (<= 540)
    args: Callable[[dict, bool], list[str]]
    render: Callable[[dict], str]
    result: str  # the JSON the script writes, relative to the item's folder


def _speed_args(ctx: dict, smoke: bool) -> list[str]:
    if smoke:
        return ["--device", "cpu", "--recipe-suffix", "digits_tiny", "--epochs", "2", "--steps", "2", "--warmup", "1",
                "--workers", "0", "--work-dir", ctx["work"], "--out", ctx["result"],
                "--cfg-options", f"data.root={ctx['data']}", *SMOKE_RECIPE]
    return ["--device", "cuda", "--epochs", "3", "--steps", "50", "--compile", "default", "--work-dir", ctx["work"],
            "--out", ctx["result"], "--cfg-options", f"data.root={ctx['data']}"]


def _compile_args(ctx: dict, smoke: bool) -> list[str]:
    if smoke:
        return ["--device", "cpu", "--recipe-suffix", "digits_tiny", "--methods", "simsiam", "--epochs", "2",
                "--trainer-modes", "False", "--work-dir", ctx["work"], "--out", ctx["result"],
                "--cfg-options", f"data.root={ctx['data']}", *SMOKE_RECIPE]
    return ["--device", "cuda", "--methods", "simsiam", "--epochs", "4", "--work-dir", ctx["work"],
            "--trainer-modes", "False,default,reduce-overhead", "--out", ctx["result"],
            "--cfg-options", f"data.root={ctx['data']}"]


def _method_args(method: str, ablation: bool = False) -> Callable[[dict, bool], list[str]]:
    def args(ctx: dict, smoke: bool) -> list[str]:
        which = ["--methods", "none", "--ablation-epochs", "2" if smoke else "20"] if ablation else \
            ["--methods", method, "--no-ablation"]
        options = ["monitor.knn_interval=1"] if ablation else []
        if ctx.get("compile") and not smoke:
            options.append(f"compile={ctx['compile']}")
        if smoke:
            return [*which, "--suffix", "digits_tiny", "--device", "cpu", "--data-root", ctx["data"],
                    "--results", ctx["work"], "--cfg-options", *SMOKE_RECIPE, "epochs=1", *options]
        return [*which, "--suffix", "cifar10_resnet18", "--device", "cuda", "--data-root", ctx["data"],
                "--results", ctx["work"], *(["--cfg-options", *options] if options else [])]
    return args


def _eval_args(ctx: dict, smoke: bool) -> list[str]:
    if smoke:
        return ["--dataset", "digits", "--arch", "resnet_tiny", "--device", "cpu", "--workers", "0", "--skip-sklearn",
                "--data-root", ctx["data"], "--out", ctx["result"]]
    return ["--dataset", "cifar10", "--data-root", ctx["data"], "--arch", "cifar_resnet18", "--skip-sklearn",
            "--out", ctx["result"]]


def _probe_args(ctx: dict, smoke: bool) -> list[str]:
    common = ["--probe-only", "--data-root", ctx["data"], "--out", ctx["result"]]
    if smoke:
        return common + ["--device", "cpu", "--probe-sets", "digits", "--grid-every", "8"]
    return common + ["--probe-images", "10000"]


def _knn_args(ctx: dict, smoke: bool) -> list[str]:
    if smoke:
        return ["--sizes", "2000,4000", "--queries", "64", "--dim", "16", "--classes", "10", "--threads", "1",
                "--whole-bank", "--out", ctx["result"]]
    return ["--device", "cuda", "--queries", "50000", "--whole-bank", "--out", ctx["result"]]


def _render_knn(data: dict) -> str:
    lines = [f"Device: {data['device']}; k = {', '.join(map(str, data['ks']))} from one search.", "",
             "| search | bank rows | queries | s | working MB (RSS) | GPU working MB | block rows | "
             "same predictions as whole bank |", "|" + " --- |" * 8]
    for r in data["rows"]:
        same = {True: "yes", False: "**no**"}.get(r.get("same_predictions_as_whole_bank"), "-")
        lines.append(f"| {r['impl']} | {r['bank']:,} | {r['queries']:,} | {r['seconds']} | {r['working_mb']} | "
                     f"{r.get('gpu_working_mb', '-')} | {_num(r.get('block_rows'))} | {same} |")
    return "\n".join(lines)


def _vitprobes_args(ctx: dict, smoke: bool) -> list[str]:
    if smoke:
        return ["--what", "probes", "--smoke", "--arch", "vit_tiny_patch16", "--resolution", "32", "--device", "cpu",
                "--out", ctx["result"]]
    return ["--what", "probes", "--dataset", f"imagefolder:{ctx['data']}/cifar10", "--arch", "vit_small_patch16",
            "--resolution", "224", "--out", ctx["result"]]


def _segment_args(ctx: dict, smoke: bool) -> list[str]:
    if smoke:
        return ["--what", "segment", "--smoke", "--arch", "vit_tiny_patch16", "--device", "cpu", "--out", ctx["result"]]
    return ["--what", "segment", "--arch", "vit_small_patch16", "--crop", "224", "--iters", "2000", "--out", ctx["result"]]


def _render_vitprobes(data: dict) -> str:
    lines = ["| task | metric | value (random init) | task s | chosen | tokens |", "|" + " --- |" * 6]
    for r in data["rows"]:
        tokens = r.get("tokens") or {}
        store = f"{tokens.get('store')} {tokens.get('shape')} {tokens.get('gb')} GB" if tokens else "-"
        lines.append(f"| {r['task']} | {r['metric']} | {100 * r['value']:.2f} | {r['task_s']} | {r.get('chosen')} | {store} |")
    extra = f"; {data['crops_per_s']} training crops/s over the whole run" if "crops_per_s" in data else ""
    return "\n".join(lines) + f"\n\nWall {data['wall_s']} s{extra}."


def _render_probe(data: dict) -> str:
    lines = [f"Device: {data['device']}; {data.get('grid', 45)} penalties.", "",
             "| features | evalsuite sweep s (iterations) | scikit-learn default s | speed-up | "
             "test top-1 evalsuite / scikit-learn | chosen wd | largest val-curve gap (points) |", "|" + " --- |" * 7]
    for name, row in data["sets"].items():
        ev, sk = row["evalsuite"], row["sklearn_default"]
        lines.append(f"| {name} | {ev['sweep_s']} ({ev['iterations']:,}) | {sk['sweep_s']} | {sk['speedup']}x | "
                     f"{100 * ev['test_top1']:.2f} / {100 * sk['test_top1']:.2f} | {ev['chosen_wd']:.3g} / "
                     f"{sk['chosen_wd']:.3g} | {sk['max_val_gap_points']} |")
    return "\n".join(lines)


def _num(v, fmt: str = ",.0f") -> str:
    return "-" if v is None else format(v, fmt)


def _render_speed(data: dict) -> str:
    lines = ["| method | trainer | ceiling | ceiling compiled (compile s) | augmented loop | augmentation alone | "
             "DataLoader recipe | trainer / ceiling | trainer / compiled ceiling |", "|" + " --- |" * 9]
    for r in data["rows"]:
        compiled = r.get("ceiling_compiled_img_s")
        lines.append(f"| {r['method']} | {_num(r['trainer_img_s'])} | {_num(r['ceiling_img_s'])} | "
                     f"{_num(compiled)} ({_num(r.get('ceiling_compile_s'), '.1f')}) | {_num(r['augmented_loop_img_s'])} | "
                     f"{_num(r['augment_only_img_s'])} | {_num(r['dataloader_img_s'])} | {r['trainer_vs_ceiling']:.2f} | "
                     f"{'-' if not compiled else format(r['trainer_img_s'] / compiled, '.2f')} |")
    syncs = ", ".join(f"{r['method']}: {r.get('host_syncs_in_fast_step', 'not checked')}" for r in data["rows"])
    return ("Images/s (one image = both views).\n\n" + "\n".join(lines) +
            f"\n\nHost synchronisations inside the fast step (CUDA sync debug mode 'error'): {syncs}.")


def best_mode(data: dict) -> str | bool:
    """The compile mode with the shortest projected 200-epoch wall time (False: none)."""
    rows = [r for r in data.get("rows", []) if "error" not in r]
    return min(rows, key=lambda r: r["projected_200_epochs_s"])["mode"] if rows else False


def _render_compile(data: dict) -> str:
    lines = ["| mode | compile s | graph breaks | first epoch s | steady epoch s | img/s | projected 200 epochs s |",
             "|" + " --- |" * 7]
    for r in data["rows"]:
        if "error" in r:
            lines.append(f"| {r['mode']} | failed: {r['error']} | | | | | |")
            continue
        lines.append(f"| {r['mode']} | {r['compile_s']:.1f} | {r.get('graph_breaks', '-')} | {r['first_epoch_s']:.1f} | "
                     f"{r['steady_epoch_s']:.2f} | "
                     f"{_num(r['img_per_s'])} | {r['projected_200_epochs_s']:.0f} |")
    checks = [f"{r['mode']}: " + ", ".join(f"{a} / {b}" for a, b in r["eager_vs_compiled_losses"])
              for r in data["rows"] if r.get("eager_vs_compiled_losses")]
    agree = ("\n\nEager / compiled fast-step losses, same seed and batches, identity views: " + "; ".join(checks) + "."
             if checks else "")
    return "\n".join(lines) + agree + f"\n\nChosen for the next items: `compile={best_mode(data)}` (shortest projected 200-epoch run)."


def _render_method(data: dict) -> str:
    from pretrain_methods import GOALS, table

    runs = data["runs"]
    suffix = runs[0]["recipe"].split("_", 1)[1] if runs else ""
    out = table(runs, GOALS.get(suffix, {}))  # issue 15's goals, above lightly's 200-epoch figures
    compiles = [f"{r['label']}: {r['compile_s']} s" for r in runs if r.get("compile_s")]
    if compiles:
        out += "\n\nCompile time inside the wall time: " + ", ".join(compiles) + "."
    return out


def _render_collapse(data: dict) -> str:
    runs = {("none" if r["label"].endswith("-no-stopgrad") else "stopgrad"): r for r in data["runs"]}
    epochs = [h["epoch"] for h in runs["stopgrad"]["history"]]
    by = {k: {h["epoch"]: h for h in r["history"]} for k, r in runs.items()}
    lines = ["| epoch | std, stop-gradient | kNN, stop-gradient | std, none | kNN, none |", "|" + " --- |" * 5]
    for e in epochs:
        a, b = by["stopgrad"].get(e, {}), by["none"].get(e, {})
        lines.append(f"| {e} | {_num(a.get('std'), '.4f')} | {_num(a.get('knn'), '.3f')} | {_num(b.get('std'), '.4f')} | "
                     f"{_num(b.get('knn'), '.3f')} |")
    return "\n".join(lines) + "\n\n" + _render_method(data)


def _render_eval(data: dict) -> str:
    x, lin = data["extraction"], data["linear_torch"]
    return (f"| figure | value |\n| --- | --- |\n| forward ceiling (img/s) | {_num(x['ceiling_images_per_s'])} |\n"
            f"| extraction from the decoded cache (img/s) | {_num(x['cached_images_per_s'])} ({x['ratio']:.2f}x) |\n"
            f"| extraction streaming (img/s) | {_num(x['streamed_images_per_s'])} |\n"
            f"| 45-value batched L-BFGS sweep (s) | {lin['sweep_s']} (grid batch {lin['grid_batch']}) |\n"
            f"| test top-1 of the chosen wd | {100 * lin['test_top1']:.2f} (wd {lin['chosen_wd']:.3g}) |\n"
            f"| whole `evalsuite eval` (kNN + linear, s) | {data['whole_eval_s']} |")


def _scale_args(ctx: dict, smoke: bool) -> list[str]:
    if smoke:
        return ["--sizes", "2000", "--dim", "32", "--classes", "20", "--device", "cpu", "--out", ctx["result"]]
    return ["--sizes", "1281167", "--dim", "384", "--classes", "1000", "--device", "cuda", "--iters", "10",
            "--out", ctx["result"]]


def _render_scale(data: dict) -> str:
    lines = ["| rows | plan (storage, block rows, penalties side by side) | basis s | s per evaluation | "
             "L-BFGS iterations, s | peak GiB (features GiB) |", "| --- | --- | --- | --- | --- | --- |"]
    for r in data["sizes"]:
        if "error" in r:
            lines.append(f"| {r['n']:,} | failed: {r['error']} | | | | |")
            continue
        p = r["plan"]
        lines.append(f"| {r['n']:,} | {p['storage']}, {p['block_rows'] or 'all'}, {p['grid_batch'] or 1} | {r['basis_s']} | "
                     f"{r['eval_s']} | {r['fit_iters']}, {r['fit_s']} | {r['peak_gib']} ({r['features_gib']}) |")
    return "\n".join(lines)


ITEMS = [
    Item("speed", "Pre-training speed split per method", "pretrain_speed.py", 480, _speed_args, _render_speed,
         "result.json"),
    Item("compile", "Compile modes of the fast step (SimSiam)", "pretrain_speed.py", 540, _compile_args,
         _render_compile, "result.json"),
    *(Item(m, f"{m} 200 epochs + evaluation", "pretrain_methods.py", 540, _method_args(m), _render_method,
           "work/summary.json") for m in METHODS),
    Item("collapse", "SimSiam collapse ablation, 20 epochs", "pretrain_methods.py", 360, _method_args("", True),
         _render_collapse, "work/summary.json"),
    Item("eval", "Evaluation speed (batched L-BFGS)", "eval_speed.py", 150, _eval_args, _render_eval, "result.json"),
    Item("probe", "Linear-probe race against scikit-learn", "eval_speed.py", 480, _probe_args, _render_probe, "result.json"),
    Item("knn", "kNN at ImageNet scale (1.28M-row bank)", "knn_scale.py", 240, _knn_args, _render_knn, "result.json"),
    Item("vitprobes", "kNN, linear, MAE-linear and attentive probes, ViT-S/16 at 224, CIFAR-10", "vit_probes.py", 420,
         _vitprobes_args, _render_vitprobes, "result.json"),
    Item("segment", "Dense linear probe (segmentation), ViT-S/16, 224 crops", "vit_probes.py", 300, _segment_args,
         _render_vitprobes, "result.json"),
    Item("linear_scale", "L-BFGS probe at ImageNet scale (synthetic 1.28M x 384, 1,000 classes)", "linear_scale.py", 240,
         _scale_args, _render_scale, "result.json"),
]


def markers(text: str) -> dict[str, dict]:
    """Item id -> the JSON its row's marker carries, for every item that has a row."""
    return {m.group(1): json.loads(m.group(2) or "{}") for m in MARKER.finditer(text)}


def pending(text: str, only: list[str] | None = None) -> list[Item]:
    done = markers(text)
    return [i for i in ITEMS if i.id not in done and (not only or i.id in only)]


def unpack_cifar(data_root: Path) -> None:
    """The shared JPEG copy into DATA_ROOT/cifar10/{train,test}, once."""
    if (data_root / "cifar10" / "train").is_dir():
        return
    for archive in (ROOT / ".gpudata" / "cifar10-jpeg.tar.gz", ROOT / "shared" / "data" / "cifar10-jpeg.tar.gz",
                    ROOT.parent / "shared" / "data" / "cifar10-jpeg.tar.gz"):
        if archive.is_file():
            (data_root / "cifar10").mkdir(parents=True, exist_ok=True)
            with tarfile.open(archive) as tar:
                tar.extractall(data_root / "cifar10", filter="data")
            return
    raise SystemExit(f"no CIFAR-10 under {data_root}/cifar10 and no cifar10-jpeg.tar.gz in .gpudata/ or shared/data/")


def _machine(smoke: bool) -> str:
    import torch

    if smoke or not torch.cuda.is_available():
        return f"CPU ({os.cpu_count()} cores), torch {torch.__version__}" + (", smoke run at tiny size (digits): "
                                                                            "checks the code path, measures nothing" if smoke else "")
    return f"{torch.cuda.get_device_name()}, torch {torch.__version__}"


def run_item(item: Item, ctx: dict, smoke: bool, timeout: float, in_process: bool) -> tuple[dict | None, str, float]:
    """Run one item's script; (its JSON or None, its command line, wall seconds)."""
    folder = Path(ctx["out"]) / item.id
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    item_ctx = {**ctx, "work": str(folder / "work"), "result": str(folder / "result.json")}
    argv = item.args(item_ctx, smoke)
    command = " ".join(["python", f"bench/{item.script}", *argv])
    start = time.perf_counter()
    if in_process:  # tests: no interpreter start-up per item, no time box
        import runpy

        runpy.run_path(str(ROOT / "bench" / item.script), run_name="gpu_queue_item")["main"](argv)
    else:
        with open(folder / "log.txt", "w") as log:
            try:
                subprocess.run([sys.executable, str(ROOT / "bench" / item.script), *argv], cwd=ROOT, stdout=log,
                               stderr=subprocess.STDOUT, timeout=timeout, env={**os.environ, "PYTHONUNBUFFERED": "1"})
            except subprocess.TimeoutExpired:
                log.write(f"\n== gpu_queue: time box of {timeout:.0f} s reached\n")
    wall = time.perf_counter() - start
    result = folder / item.result
    return (json.loads(result.read_text()) if result.is_file() else None), command, wall


def row(item: Item, data: dict | None, command: str, wall: float, smoke: bool) -> str:
    """The RESULTS.md section of one item: its marker, machine, command, date and figures."""
    extra = {"best_mode": best_mode(data)} if item.id == "compile" and data else {}
    marker = f"<!-- gpu-queue: {item.id}{' ' + json.dumps(extra) if extra else ''} -->"
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = (f"### {item.title} {marker}\n\nMachine: {_machine(smoke)}. Date: {when}. Wall: {wall:.0f} s "
            f"(sized for {item.est_s} s). Command (via `python bench/gpu_queue.py{' --smoke' if smoke else ''}`):\n"
            f"`{command}`\n\n")
    if data is None:
        return head + "**No figures**: the script wrote no result (failed or timed out; see its log under $OUT).\n"
    try:
        return head + item.render(data) + "\n"
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        return head + f"Partial result, not rendered ({type(exc).__name__}: {exc}); the JSON is under $OUT.\n"


def add_rows(text: str, sections: list[str]) -> str:
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\nOne row per item, written by the queue itself (see its docstring).\n"
    return text.rstrip("\n") + "\n\n" + "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true", help="every item at tiny size on CPU")
    p.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "work_dirs" / "gpu_queue")))
    p.add_argument("--results", type=Path, help="the RESULTS.md to read and update (default: bench/RESULTS.md; "
                                                "with --smoke a copy under --out)")
    p.add_argument("--data-root", type=Path, default=ROOT / "data")
    p.add_argument("--budget-s", type=float, default=540, help="start an item only if its size fits what is left")
    p.add_argument("--items", help="comma-separated ids to consider (default: the whole queue, in order)")
    p.add_argument("--list", action="store_true", help="print done and pending items and stop")
    p.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    results = args.results or (args.out / "RESULTS.md" if args.smoke else RESULTS)
    if not results.is_file():
        shutil.copyfile(RESULTS, results)
    text = results.read_text()
    todo = pending(text, args.items.split(",") if args.items else None)
    if args.list:
        done = markers(text)
        for item in ITEMS:
            print(f"{'done   ' if item.id in done else 'pending'} {item.id:9s} {item.title} (sized {item.est_s} s)")
        return 0
    if not args.smoke:
        unpack_cifar(args.data_root)
    ctx = {"out": str(args.out), "data": str(args.data_root), "compile": markers(text).get("compile", {}).get("best_mode")}
    start, sections = time.perf_counter(), []
    for item in todo:
        left = args.budget_s - (time.perf_counter() - start)
        if not args.smoke and item.est_s > left:
            break
        print(f"== {item.id}: {item.title}", flush=True)
        data, command, wall = run_item(item, ctx, args.smoke, left, args.in_process)
        sections.append(row(item, data, command, wall, args.smoke))
        if item.id == "compile" and data:
            ctx["compile"] = best_mode(data)
        text = add_rows(results.read_text(), sections[-1:])
        write_text(results, text)  # after every item: a later time-out keeps the rows already earned
        print(sections[-1], flush=True)
    write_text(args.out / "RESULTS.md", results.read_text())
    if not sections:
        print("nothing ran: " + ("every item has a row" if not todo else f"{todo[0].id} needs {todo[0].est_s} s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
