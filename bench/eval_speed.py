"""Evaluation speed, measured in one run (issue 2's benchmark; not a test).

1. Feature extraction images/s through ``evalsuite.extraction.extract`` against the bare
   model-forward ceiling (same model, batch, precision, on tensors already on the device).
2. The 45-value L-BFGS linear sweep in torch against scikit-learn's LogisticRegression sweep
   (warm-started likewise) on the same standardised features: time and chosen wd / test accuracy.
3. A whole ``evalsuite eval`` (kNN + linear) of a ResNet-18 checkpoint on the dataset, cold cache.

``--probe-only`` runs just the linear-probe race (issue 17), side by side in one run, on three
feature sets: digits pixels at 32 px (3,072-d; 1,005 train / 252 val), and 512-d and 2,048-d
features of ``--probe-images`` CIFAR-10 train images (80/20 train/val, 2,000 test images) from a
fixed random ReLU layer over the pixels (a random one-layer backbone: the features are for timing,
not for accuracy). Each set: evalsuite's sweep (warm one by one on a CPU, the whole grid at once on
a GPU), scikit-learn's ``LogisticRegression`` at its defaults (tol 1e-4, warm-started along the
grid, as ``LogisticRegressionCV`` does) and, with ``--sklearn-tight``, scikit-learn converged
(tol 1e-8, max_iter 10,000): time, chosen wd, test accuracy, largest val-curve gap.

Usage (CPU, small):  python bench/eval_speed.py --dataset digits --arch resnet_tiny
GPU, CIFAR-10:       python bench/eval_speed.py --dataset cifar10 --data-root DIR --arch cifar_resnet18
Probe race:          OMP_NUM_THREADS=2 python bench/eval_speed.py --probe-only --data-root DIR --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from torchvision.transforms import v2 as T

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalsuite.archs import build_backbone  # noqa: E402
from evalsuite.checkpoint import save_backbone  # noqa: E402
from evalsuite.datasets import build_dataset  # noqa: E402
from evalsuite.cache import DecodedCache  # noqa: E402
from evalsuite.extraction import extract, extract_array  # noqa: E402
from evalsuite.imaging import Transformed, normalize_batch  # noqa: E402
from evalsuite.preprocess import eval_transform  # noqa: E402
from evalsuite.runner import EvalRequest, evaluate  # noqa: E402
from evalsuite.tasks.base import Split, concat  # noqa: E402
from evalsuite.tasks.linear import ProbeSettings, Standardizer, fit_and_score, sweep, unconverged, wd_grid  # noqa: E402


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


@torch.inference_mode()
def forward_ceiling(model, n_images, side, batch, device, reps=3):
    """Images/s of the bare forward on a ready (batch, 3, side, side) tensor on the device."""
    model.eval().to(device)
    x = normalize_batch(torch.randint(0, 255, (batch, 3, side, side), dtype=torch.uint8), device)
    if device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    steps = max(1, n_images // batch)
    with autocast:
        for _ in range(3):
            model(x)
    best = 0.0
    for _ in range(reps):
        sync(device)
        t = time.perf_counter()
        with autocast:
            for _ in range(steps):
                model(x)
        sync(device)
        best = max(best, steps * batch / (time.perf_counter() - t))
    return best


def sklearn_sweep(train, val, test, grid, tol=1e-4, max_iter=1000):
    """scikit-learn's sweep on the same standardised features, warm-started strongest first."""
    from sklearn.linear_model import LogisticRegression

    norm = Standardizer(train.features)
    xt, xv = norm(train.features).double().numpy(), norm(val.features).double().numpy()
    clf = LogisticRegression(max_iter=max_iter, tol=tol, warm_start=True)
    scores = {}
    t = time.perf_counter()
    for wd in sorted(grid, reverse=True):
        clf.set_params(C=1.0 / wd).fit(xt, train.targets.numpy())
        scores[wd] = clf.score(xv, val.targets.numpy())
    sweep_s = time.perf_counter() - t
    best = max(scores.values())
    wd = max(w for w, s in scores.items() if s == best)
    full = concat(train, val)
    nf = Standardizer(full.features)
    acc = LogisticRegression(C=1.0 / wd, max_iter=max_iter, tol=tol).fit(
        nf(full.features).double().numpy(), full.targets.numpy()).score(nf(test.features).double().numpy(),
                                                                         test.targets.numpy())
    return {"sweep_s": round(sweep_s, 2), "chosen_wd": wd, "test_top1": acc, "curve": scores}


def torch_sweep(train, val, test, grid, device, grid_batch):
    settings = ProbeSettings(metric="top1", num_classes=int(train.targets.max()) + 1, device=device, grid_batch=grid_batch)
    sync(device)
    t = time.perf_counter()
    wd, curve, fit = sweep(train, val, grid, settings)
    sync(device)
    sweep_s = time.perf_counter() - t
    acc, _ = fit_and_score(concat(train, val), test, wd, settings, init=fit)
    return {"sweep_s": round(sweep_s, 2), "chosen_wd": wd, "test_top1": acc, "grid_batch": grid_batch, "grid": len(grid),
            "iterations": sum(r["iterations"] for r in curve), "capped": unconverged(curve),
            "curve": {r["wd"]: r["val"] for r in curve}}


def probe_sets(data_root: str, n_images: int, which: tuple[str, ...] = ("digits", "512", "2048")):
    """(name, train, val, test) feature sets for the probe race (module docstring), those in ``which``."""
    from evalsuite.datasets import stratified_holdout

    def pixels(dataset, side, index):
        tf = T.Compose([T.PILToTensor(), T.Resize(side, interpolation=T.InterpolationMode.BICUBIC)])
        x = torch.stack([tf(dataset[i][0]) for i in index]).flatten(1).float().div_(255)  # (N, 3*side*side)
        y = torch.tensor([dataset[i][1] for i in index])
        return x, y

    def holdout(x, y, x_test, y_test):
        tr, va = stratified_holdout(y.numpy(), 0.2, 0)
        return Split(x[tr], y[tr]), Split(x[va], y[va]), Split(x_test, y_test)

    sets = []
    if "digits" in which:
        digits = build_dataset("digits", data_root)
        sets.append(("digits pixels 32 px (3072-d)",
                     *holdout(*pixels(digits.splits["train"], 32, range(len(digits.splits["train"]))),
                              *pixels(digits.splits["test"], 32, range(len(digits.splits["test"]))))))
    if not {"512", "2048"} & set(which):
        return sets
    cifar = build_dataset("cifar10", data_root)
    rng = torch.Generator().manual_seed(0)
    train_idx = torch.randperm(len(cifar.splits["train"]), generator=rng)[:n_images].tolist()
    test_idx = torch.randperm(len(cifar.splits["test"]), generator=rng)[:2000].tolist()
    x, y = pixels(cifar.splits["train"], 32, train_idx)
    x_test, y_test = pixels(cifar.splits["test"], 32, test_idx)
    for dim in (512, 2048):
        if str(dim) not in which:
            continue
        proj = torch.randn(x.shape[1], dim, generator=rng) / x.shape[1] ** 0.5  # a fixed random ReLU layer
        feats = [torch.relu((a - 0.5) @ proj) for a in (x, x_test)]
        sets.append((f"CIFAR-10 {n_images} images, random ReLU features ({dim}-d)", *holdout(feats[0], y, feats[1], y_test)))
    return sets


def probe_race(args) -> dict:
    device = torch.device(args.device)
    grid, grid_batch = wd_grid()[::args.grid_every], (45 if device.type == "cuda" else 0)
    out = {"device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads",
           "grid": len(grid), "sets": {}}
    for name, train, val, test in probe_sets(args.data_root, args.probe_images, tuple(args.probe_sets.split(","))):
        if args.save_sets:  # for bench/probe_convergence.py --features
            Path(args.save_sets).mkdir(parents=True, exist_ok=True)
            key = name.split("(")[-1].split(")")[0]
            torch.save({"name": name, **{k: (s.features, s.targets) for k, s in (("train", train), ("val", val), ("test", test))}},
                       Path(args.save_sets) / f"{key}_{args.probe_images}.pt")
        row = {"train/val/test": [len(train), len(val), len(test)], "evalsuite": torch_sweep(train, val, test, grid, device, grid_batch)}
        print(name, json.dumps({k: v for k, v in row["evalsuite"].items() if k != "curve"}), flush=True)
        configs = [("sklearn_default", {})] + ([("sklearn_tight", {"tol": 1e-8, "max_iter": 10000})] if args.sklearn_tight else [])
        for key, kw in configs:
            row[key] = sk = sklearn_sweep(train, val, test, grid, **kw)
            sk["speedup"] = round(sk["sweep_s"] / max(row["evalsuite"]["sweep_s"], 1e-9), 2)
            sk["max_val_gap_points"] = round(100 * max(abs(sk["curve"][w] - v) for w, v in row["evalsuite"]["curve"].items()), 2)
            print(name, key, json.dumps({k: v for k, v in sk.items() if k != "curve"}), flush=True)
        out["sets"][name] = row
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--data-root", default="data")
    ap.add_argument("--arch", default="resnet_tiny")
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--workers", type=int, default=min(16, os.cpu_count() or 1))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--skip-sklearn", action="store_true")
    ap.add_argument("--save-features", help="save the train/val/test features here (for --sklearn-from)")
    ap.add_argument("--sklearn-from", help="only run the scikit-learn sweep on features saved by --save-features")
    ap.add_argument("--out", help="write the figures as JSON here too")
    ap.add_argument("--probe-only", action="store_true", help="only the linear-probe race against scikit-learn")
    ap.add_argument("--probe-images", type=int, default=10000, help="CIFAR-10 train images for the probe race")
    ap.add_argument("--probe-sets", default="digits,512,2048", help="feature sets of the probe race")
    ap.add_argument("--sklearn-tight", action="store_true", help="also race scikit-learn converged (tol 1e-8)")
    ap.add_argument("--grid-every", type=int, default=1, help="probe race: every K-th penalty of the 45 (smoke runs)")
    ap.add_argument("--save-sets", help="probe race: also save each feature set here (for bench/probe_convergence.py)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.probe_only:
        report = probe_race(args)
        if args.out:
            Path(args.out).write_text(json.dumps(report, indent=1, default=str))
        return 0
    if args.sklearn_from:  # run apart, e.g. on the CPU while the GPU does other work
        saved = torch.load(args.sklearn_from, weights_only=True)
        sk = sklearn_sweep(*(Split(*saved[k]) for k in ("train", "val", "test")), wd_grid())
        sk.pop("curve")
        print(json.dumps({"linear_sklearn": sk, "torch": saved["torch"]}))
        return 0
    device = torch.device(args.device)
    report = {"device": torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{os.cpu_count()}",
              "torch": torch.__version__, "dataset": args.dataset, "arch": args.arch, "batch": args.batch}

    spec = build_dataset(args.dataset, args.data_root)
    torch.manual_seed(0)
    model = build_backbone(args.arch)
    transform, tid = eval_transform(spec.native_size, model.small_input)
    side = int(tid.replace("native", "")) if tid.startswith("native") else 224
    train_ds = Transformed(spec.splits["train"], transform)
    ceiling = forward_ceiling(model, min(len(train_ds), 20000), side, args.batch, device)
    extract(model, Transformed(spec.splits["test"], transform), device, args.batch, args.workers, quiet=True)  # warm-up
    sync(device)
    t = time.perf_counter()
    extract(model, train_ds, device, args.batch, args.workers, quiet=True)
    sync(device)
    streamed = len(train_ds) / (time.perf_counter() - t)
    decoded = DecodedCache(Path(tempfile.mkdtemp()) / "features")
    t = time.perf_counter()
    images, labels = decoded.get_or_build("bench", train_ds, args.workers, args.batch, "decode", True)
    first = len(train_ds) / (time.perf_counter() - t)
    t = time.perf_counter()
    feats, labels = extract_array(model, images, labels, device, args.batch, quiet=True)
    sync(device)
    rate = len(train_ds) / (time.perf_counter() - t)
    report["extraction"] = {"cached_images_per_s": round(rate), "ceiling_images_per_s": round(ceiling),
                            "ratio": round(rate / ceiling, 3), "streamed_images_per_s": round(streamed),
                            "decode_once_images_per_s": round(first), "images": len(train_ds), "workers": args.workers}
    print(json.dumps(report["extraction"]), flush=True)

    test_f, test_y = extract(model, Transformed(spec.splits["test"], transform), device, args.batch, args.workers, quiet=True)
    from evalsuite.datasets import stratified_holdout

    tr, va = stratified_holdout(labels.numpy(), 0.2, 0)
    train, val, test = Split(feats[tr], labels[tr]), Split(feats[va], labels[va]), Split(test_f, test_y)
    grid = wd_grid()
    report["linear_torch"] = linear = torch_sweep(train, val, test, grid, device, 45 if device.type == "cuda" else 0)
    torch_s, acc = linear["sweep_s"], linear["test_top1"]
    linear.pop("curve")
    if args.save_features:
        torch.save({"train": (train.features, train.targets), "val": (val.features, val.targets),
                    "test": (test.features, test.targets), "torch": report["linear_torch"]}, args.save_features)
    print(json.dumps(report["linear_torch"]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt.pth"
        save_backbone(ckpt, model.state_dict(), arch=args.arch)
        os.environ["EVALSUITE_CACHE"] = str(Path(tmp) / "cache")
        t = time.perf_counter()
        evaluate(EvalRequest(checkpoint=str(ckpt), datasets=[args.dataset], data_root=args.data_root,
                             results_dir=str(Path(tmp) / "res"), device=args.device, quiet=True,
                             cfg_options={"features.num_workers": args.workers, "features.batch_size": args.batch}))
        report["whole_eval_s"] = round(time.perf_counter() - t, 1)
    print(json.dumps({"whole_eval_s": report["whole_eval_s"]}), flush=True)
    if not args.skip_sklearn:
        report["linear_sklearn"] = sk = sklearn_sweep(train, val, test, grid)
        sk.pop("curve")
        report["linear_speedup"] = round(sk["sweep_s"] / torch_s, 1)
        report["linear_acc_gap_points"] = round(100 * (acc - sk["test_top1"]), 2)
        print(json.dumps(sk), flush=True)

    print(json.dumps(report, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
