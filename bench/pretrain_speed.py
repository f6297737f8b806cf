"""Pre-training throughput, per method: the real trainer vs its ceiling vs the usual recipe.

For each method, images/s (one image = one sample, two views) of
  trainer:    ``evalsuite pretrain`` itself (Runner, lean loop, device augmentation), the best
              epoch after the first (compile and cuDNN warm-up excluded);
  augmented:  a plain loop over the trainer's own in-memory uint8 batches and device augmentation
              (the model's data preprocessor), then the same step: the trainer minus mmengine's
              Runner, so trainer / augmented is the Runner's cost and augmented / ceiling the
              augmentation's;
  augment:    the data preprocessor alone (both views), no model;
  ceiling:    the same model's forward + backward + step on ready normalised views already on
              the device (no augmentation, no data movement); with ``--compile MODE`` also the
              same step under torch.compile (CUDA only), its compile seconds reported apart;
  dataloader: the usual recipe: torchvision transforms on PIL images in a DataLoader with one
              worker per CPU core, views copied to the device, then the same step.
Targets on the H100 (issue 3): trainer >= 0.95 x ceiling and >= 3.5 x dataloader.

CPU, tiny (a minute):
    python bench/pretrain_speed.py --device cpu --recipe-suffix digits_tiny --epochs 2 --steps 5 \
        --cfg-options data.limit=512 batch_size=64
GPU (CIFAR-10 JPEG tree under data/cifar10/{train,test}, ResNet-18, batch 512, 32 px):
    python bench/pretrain_speed.py --device cuda --recipe-suffix cifar10_resnet18 --epochs 3 --steps 50
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from torchvision.transforms import v2 as T

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalsuite.atomic import write_text  # noqa: E402
from evalsuite.pretrain.base import self_supervised  # noqa: E402
from evalsuite.cliopts import parse_cfg_options  # noqa: E402
from evalsuite.datasets import build_dataset  # noqa: E402
from evalsuite.preprocess import IMAGENET  # noqa: E402
from evalsuite.pretrain.augment import ViewSpec  # noqa: E402
from evalsuite.pretrain.data import build_train_data  # noqa: E402
from evalsuite.pretrain.trainer import build_model, build_runner, load_recipe, train  # noqa: E402

METHODS = self_supervised()  # every registered method that learns without labels


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _step_fn(model, device: torch.device, lr: float = 0.01):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)

    def step(views: list[torch.Tensor]) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = model.loss(views, None)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        model.after_update()

    return step


def _timed(step, batches, steps: int, warmup: int, batch: int, device: torch.device) -> float:
    it = iter(batches)
    for _ in range(warmup):
        step(next(it))
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step(next(it))
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def ceiling(cfg, device, steps: int, warmup: int, mode: str | None = None) -> tuple[float, float | None]:
    """(img/s, compile seconds or None) of forward + backward + step on ready views; ``mode``
    compiles the step with torch.compile, and its first call (the compile) is timed apart."""
    model = build_model(cfg, 10, device).train()
    b, size = cfg.batch_size, cfg.views[0]["size"]
    views = [torch.randn(b, 3, size, size, device=device).contiguous(memory_format=torch.channels_last) for _ in cfg.views]

    def forever():
        while True:
            yield views

    step, compile_s = _step_fn(model, device), None
    if mode:
        step = torch.compile(step, mode=mode)
        start = time.perf_counter()
        step(views)
        _sync(device)
        compile_s = round(time.perf_counter() - start, 2)
    return _timed(step, forever(), steps, warmup, b, device), compile_s


def _train_batches(cfg, device):
    loader, spec, in_memory = build_train_data(dict(cfg.data), cfg.batch_size, device, cfg.get("seed", 0))
    if not in_memory:
        raise SystemExit(f"recipe {cfg.recipe_name} streams its data; the augmented loop needs data.in_memory=True")

    def forever():
        epoch = 0
        while True:
            loader.sampler.set_epoch(epoch)
            yield from loader
            epoch += 1

    return forever(), len(spec.classes)


def augmented(cfg, device, steps: int, warmup: int) -> tuple[float, float]:
    """(img/s of augmentation + step in a plain loop, img/s of the augmentation alone)."""
    batches, classes = _train_batches(cfg, device)
    model = build_model(cfg, classes, device).train()
    step = _step_fn(model, device)
    pre = model.data_preprocessor
    full = _timed(lambda b: step(pre(b, True)["inputs"]), batches, steps, warmup, cfg.batch_size, device)
    alone = _timed(lambda b: pre(b, True), batches, steps, warmup, cfg.batch_size, device)
    return full, alone


def profile(cfg, device, steps: int, warmup: int, out: Path) -> None:
    """torch.profiler over ``steps`` augmented steps: the top ops by self time, written to ``out``."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    batches, classes = _train_batches(cfg, device)
    model = build_model(cfg, classes, device).train()
    step, pre = _step_fn(model, device), model.data_preprocessor
    for _ in range(warmup):
        step(pre(next(batches), True)["inputs"])
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        for _ in range(steps):
            step(pre(next(batches), True)["inputs"])
        _sync(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    write_text(out, prof.key_averages().table(sort_by=key, row_limit=40))


def _tv_view(spec: ViewSpec) -> T.Compose:
    b, c, s, h = spec.jitter
    ops = [T.RandomResizedCrop(spec.size, scale=spec.crop_scale, ratio=spec.crop_ratio, antialias=True),
           T.RandomHorizontalFlip(spec.flip_p), T.RandomApply([T.ColorJitter(b, c, s, h)], p=spec.jitter_p),
           T.RandomGrayscale(spec.gray_p)]
    if spec.blur_p > 0:
        k = max(3, int(0.1 * spec.size) // 2 * 2 + 1)
        ops.append(T.RandomApply([T.GaussianBlur(k, (0.1, 2.0))], p=spec.blur_p))
    if spec.solarize_p > 0:
        ops.append(T.RandomSolarize(128, p=spec.solarize_p))
    return T.Compose([T.PILToTensor(), *ops, T.ToDtype(torch.float32, scale=True), T.Normalize(*IMAGENET)])


class _TwoViews(torch.utils.data.Dataset):
    def __init__(self, base, transforms, limit: int | None) -> None:
        self.base, self.transforms = base, transforms
        self.n = min(len(base), limit) if limit else len(base)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        img, _ = self.base[i]
        return [t(img) for t in self.transforms]


def dataloader_recipe(cfg, device, steps: int, warmup: int, workers: int) -> float:
    spec = build_dataset(cfg.data["dataset"], cfg.data.get("root", "data"))
    transforms = [_tv_view(ViewSpec(**{k: tuple(v) if isinstance(v, list) else v for k, v in view.items()})) for view in cfg.views]
    data = _TwoViews(spec.splits["train"], transforms, cfg.data.get("limit"))
    loader = DataLoader(data, batch_size=cfg.batch_size, shuffle=True, num_workers=workers, drop_last=True,
                        pin_memory=device.type == "cuda", persistent_workers=workers > 0)
    model = build_model(cfg, len(spec.classes), device).train()
    step = _step_fn(model, device)

    def batches():
        while True:
            for views in loader:
                yield [v.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last) for v in views]

    return _timed(step, batches(), steps, warmup, cfg.batch_size, device)


def trainer(recipe: str, options: dict, device: torch.device, epochs: int, work_dir: str) -> tuple[float, dict]:
    cfg = load_recipe(recipe, {**options, "epochs": epochs, "monitor.knn_interval": 0, "log_level": "WARNING",
                               "checkpoint_interval": epochs})
    runner, hook = build_runner(cfg, work_dir, device=device.type)
    start = time.perf_counter()
    train(runner)
    wall = time.perf_counter() - start
    best = max(r["img_per_s"] for r in (hook.history[1:] or hook.history))
    return best, {"wall_s": round(wall, 2), "epochs": hook.history}


def host_syncs(cfg, device, steps: int = 3) -> str:
    """'none' if ``steps`` fast steps (after two warm-up steps) run under CUDA's sync debug mode
    'error' without a host synchronisation, else the first offending call; CUDA only."""
    if device.type != "cuda":
        return "not checked (CPU)"
    from evalsuite.pretrain.fast_step import FastStep

    batches, classes = _train_batches(cfg, device)
    model = build_model(cfg, classes, device).train()
    step = FastStep(model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.01, momentum=0.9))
    for _ in range(2):
        step(next(batches))
    _sync(device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(steps):
            step(next(batches))
        return "none"
    except RuntimeError as exc:
        return str(exc).splitlines()[0][:200]
    finally:
        torch.cuda.set_sync_debug_mode("default")


def compiled_vs_eager(cfg, device, mode: str, steps: int = 5) -> list[list[float]]:
    """[eager loss, compiled loss] per step of the fast step from the same seed on the same
    batches, with identity views (crop of the whole image, no flip, no colour) so both see the same
    pixels: the compiled step must compute what the eager one computes."""
    from evalsuite.pretrain.fast_step import FastStep

    identity = dict(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), flip_p=0.0, jitter_p=0.0, gray_p=0.0, blur_p=0.0,
                    solarize_p=0.0)
    cfg = copy.deepcopy(cfg)
    cfg.views = [dict(view, **identity) for view in cfg.views]
    batches, classes = _train_batches(cfg, device)
    batches = [next(batches) for _ in range(steps)]
    losses = []
    for compile_mode in (None, mode):
        torch.manual_seed(0)
        model = build_model(cfg, classes, device).train()
        step = FastStep(model, torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.05, momentum=0.9),
                        compile_mode=compile_mode)
        losses.append([round(step(b)["loss"].item(), 5) for b in batches])
    return [list(pair) for pair in zip(*losses)]


def compile_modes(recipe: str, options: dict, device: torch.device, epochs: int, work_dir: str,
                  modes: list[str], run_epochs: int = 200) -> list[dict]:
    """The trainer (fast step) under each compile mode: compile seconds, steady epoch seconds and
    the projected wall time of a ``run_epochs`` run (compile + run_epochs x steady epoch), which is
    what decides the recipe's mode: compiling pays only if it saves more than it costs."""
    rows = []
    for mode in modes:
        mode = False if mode in ("False", "none", "off") else mode
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        try:
            _, detail = trainer(recipe, {**options, "compile": mode}, device, epochs, f"{work_dir}_{mode}")
        except Exception as exc:  # a mode that fails to compile is a finding, not the end of the run
            rows.append({"mode": mode, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"})
            continue
        history = detail["epochs"]
        steady = min(r["epoch_s"] for r in (history[1:] or history))
        compile_s = history[0].get("compile_s") or 0.0
        breaks = sum(torch._dynamo.utils.counters["graph_break"].values())  # the trainer's compile only
        check = compiled_vs_eager(load_recipe(recipe, options), device, mode) if mode and device.type == "cuda" else None
        rows.append({"mode": mode, "compile_s": compile_s, "eager_vs_compiled_losses": check, "steady_epoch_s": steady,
                     "img_per_s": max(r["img_per_s"] for r in (history[1:] or history)),
                     "first_epoch_s": history[0]["epoch_s"],
                     "graph_breaks": breaks,
                     f"projected_{run_epochs}_epochs_s": round(compile_s + run_epochs * steady, 1)})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--recipe-suffix", default="cifar10_resnet18")
    p.add_argument("--epochs", type=int, default=3, help="trainer epochs (the first is excluded)")
    p.add_argument("--steps", type=int, default=50, help="timed steps for ceiling and dataloader")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--work-dir", default="work_dirs/bench_pretrain")
    p.add_argument("--out", default=None, help="write the results as JSON here")
    p.add_argument("--profile", type=Path, help="also write a torch.profiler table per method into this folder")
    p.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--compile", default=None, help="also time the ceiling compiled in this torch.compile mode (CUDA)")
    p.add_argument("--trainer-modes", default=None,
                   help="only time the trainer per compile mode, e.g. False,default,reduce-overhead (the mode choice)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    options = parse_cfg_options(args.cfg_options)
    command = " ".join(["python", "bench/pretrain_speed.py", *(argv if argv is not None else sys.argv[1:])])
    rows = []

    def save() -> None:  # after every method, so a time box that cuts the run keeps what was measured
        if args.out:
            write_text(Path(args.out), json.dumps({"command": command, "rows": rows}, indent=1))

    if args.trainer_modes:
        for method in args.methods.split(","):
            recipe = f"{method}_{args.recipe_suffix}"
            for mode in args.trainer_modes.split(","):  # one at a time: a time box keeps the modes measured
                for row in compile_modes(recipe, options, device, args.epochs, str(Path(args.work_dir) / method), [mode]):
                    rows.append({"method": method, "recipe": recipe, **row})
                    print(json.dumps(rows[-1]), flush=True)
                    save()
        return 0
    for method in args.methods.split(","):
        recipe = f"{method}_{args.recipe_suffix}"
        cfg = load_recipe(recipe, options)
        ceil, _ = ceiling(cfg, device, args.steps, args.warmup)
        mode = args.compile if device.type == "cuda" else None
        ceil_c, compile_s = ceiling(cfg, device, args.steps, args.warmup, mode) if mode else (None, None)
        aug_loop, aug_only = augmented(cfg, device, args.steps, args.warmup)
        loader = dataloader_recipe(cfg, device, args.steps, args.warmup, args.workers)
        real, detail = trainer(recipe, options, device, args.epochs, str(Path(args.work_dir) / method))
        syncs = host_syncs(cfg, device)
        row = {"method": method, "host_syncs_in_fast_step": syncs, "recipe": recipe, "device": str(device), "batch": cfg.batch_size,
               "compile": cfg.get("compile"), "trainer_img_s": round(real, 1), "ceiling_img_s": round(ceil, 1),
               "ceiling_compiled_img_s": ceil_c and round(ceil_c, 1), "ceiling_compile_mode": mode,
               "ceiling_compile_s": compile_s,
               "dataloader_img_s": round(loader, 1), "augmented_loop_img_s": round(aug_loop, 1),
               "augment_only_img_s": round(aug_only, 1), "trainer_vs_ceiling": round(real / ceil, 3),
               "trainer_vs_augmented_loop": round(real / aug_loop, 3), "augmented_loop_vs_ceiling": round(aug_loop / ceil, 3),
               "trainer_vs_dataloader": round(real / loader, 2), "trainer_detail": detail}
        rows.append(row)
        if args.profile:
            profile(cfg, device, args.steps, args.warmup, args.profile / f"{method}.txt")
        print(f"{method:8s} trainer {real:9.1f} img/s | augmented loop {aug_loop:9.1f} ({real / aug_loop:.2f}x) | "
              f"augment alone {aug_only:9.1f} | ceiling {ceil:9.1f} ({real / ceil:.2f}x) | "
              f"dataloader ({args.workers} workers) {loader:9.1f} ({real / loader:.2f}x)", flush=True)
        save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
