"""``evaluate``: one checkpoint through a suite's tasks on its datasets, one result row each.

checkpoint -> backbone (loaded once) -> features per (dataset, split) (cached) -> task -> row.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import torch
from mmengine.config import Config
from torch import nn

from evalsuite.archs.vit import apply_feature_mode
from evalsuite.checkpoint import LoadedCheckpoint, load_backbone
from evalsuite.errors import EvalsuiteError
from evalsuite.cache import FeatureCache
from evalsuite.features import feature_step
from evalsuite.imaging import compute_precision
from evalsuite.preprocess import Preprocess
from evalsuite.launch import check_launcher, init_distributed, local_device, world
from evalsuite.paths import cache_root, check_outputs
from evalsuite.registry import TASKS, get
from evalsuite.resources import find_recipe
from evalsuite.results import SCHEMA_VERSION, default_results_dir, now, protocol_id, row_path, versions, write_row
from evalsuite.schema import check_parses, check_suite
from evalsuite.tasks.base import PROCESSES, DataStep, Session, settings_of

DEFAULT_SUITE = "default"  # a shipped suite (evalsuite.resources): tasks/default.py
REPO_ROOT = Path(__file__).resolve().parents[1]  # the checkout's root, in a checkout only


@dataclass
class EvalRequest:
    checkpoint: str
    arch: str | None = None
    suite: str | None = None
    tasks: list[str] | None = None
    datasets: list[str] | None = None
    data_root: str = "data"
    download: bool = False
    results_dir: str | None = field(default_factory=lambda: str(default_results_dir()))  # None: write no files
    name: str | None = None
    seeds: list[int] | None = None  # None: the suite's ``seeds`` (trials), else [0]
    device: str = "auto"
    trust_checkpoint: bool = False
    key: str | None = None  # --key: where the backbone is in the file, when the convention is not wanted
    allow_nonfinite: bool = False
    skip_existing: bool = False
    cfg_options: dict = field(default_factory=dict)
    cache_dir: str | None = None
    quiet: bool = False
    launcher: str = "none"  # 'pytorch' (torchrun) or 'slurm': several processes (tasks.base.PROCESSES)
    skip_bad_images: bool = False  # imagefolder: leave unreadable files out, counted in the row


def resolve_device(name: str) -> torch.device:
    valid = ("auto", "cpu", "cuda")
    if name not in valid and not name.startswith("cuda:"):
        raise EvalsuiteError(f"unknown device {name!r}; valid devices are: {', '.join(valid)}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EvalsuiteError(f"device {name!r} was asked for but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


def load_suite(path: str | None, cfg_options: dict) -> Config:
    path = find_recipe("tasks", path or DEFAULT_SUITE)
    check_parses(path, "suite")
    try:
        cfg = Config.fromfile(str(path))
    except SyntaxError as exc:  # the suite parsed, so a file it inherits (``_base_``) did not
        raise EvalsuiteError(f"a file that suite {str(path)!r} inherits does not parse: "
                             f"line {exc.lineno}: {exc.msg}") from None
    except (OSError, ImportError, KeyError, TypeError) as exc:
        raise EvalsuiteError(f"suite {str(path)!r} cannot be loaded: {exc}") from None
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    check_suite(cfg.to_dict(), str(path))  # every key read by something, every value valid: before any work
    return cfg


def build_task(name: str, cfg: Config):
    """Instantiate the task named ``name`` from the suite's ``name=dict(type=..., ...)`` entry."""
    entry = copy.deepcopy(dict(cfg.get(name, {"type": name})))
    cls = get(TASKS, entry.pop("type", name))
    valid = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(entry) - valid)
    if unknown:
        raise EvalsuiteError(f"task {name!r} has no setting {unknown[0]!r}; valid settings are: {', '.join(sorted(valid))}")
    entry = {k: tuple(v) if isinstance(v, list) else v for k, v in entry.items()}
    try:
        return cls(**entry)
    except ValueError as exc:
        raise EvalsuiteError(f"task {name!r}: {exc}") from exc


def default_label(info: LoadedCheckpoint) -> str:
    """``--name`` when not given: the checkpoint's own label, else its recipe and epochs (every
    ``evalsuite pretrain`` run writes a file called backbone.pth), plus the arch when the recipe's
    name does not say it (``--cfg-options method.arch=...``), else the file name."""
    if info.format == "random":
        return f"random-{info.arch}"
    if info.meta.get("label"):
        return str(info.meta["label"])
    recipe = info.meta.get("recipe")
    if recipe:
        epochs = info.meta.get("epochs")
        label = f"{recipe}-{epochs}ep" if epochs is not None else str(recipe)
        if info.meta.get("recipe_arch"):  # evalsuite pretrain records the recipe's own arch
            return label if info.meta["recipe_arch"] == info.arch else f"{label}-{info.arch}"
        model = str(info.arch).rsplit("_", 1)[-1]  # older files: cifar_resnet18 -> resnet18, resnet_tiny -> tiny
        return label if model in str(recipe) else f"{label}-{info.arch}"
    return Path(info.path).stem


def file_id(info: LoadedCheckpoint) -> str:
    """The checkpoint file's sha256 prefix, part of each row's identity (random init has no file)."""
    return "" if info.format == "random" else info.sha256[:12]


def checkpoint_record(info: LoadedCheckpoint, label: str) -> dict:
    meta = info.meta
    return {
        "label": label, "path": info.path, "sha256": info.sha256, "format": info.format, "arch": info.arch,
        "method": meta.get("method"), "epochs": meta.get("epochs"), "dataset": meta.get("dataset"),
        "kind": meta.get("kind", "random" if info.format == "random" else "ssl"),
        "meta": meta,
    }


def data_step(tasks: dict) -> DataStep:
    """The one data step every task of the suite takes (its ``data_step``, else the feature pipeline)."""
    steps = {name: getattr(task, "data_step", None) or feature_step for name, task in tasks.items()}
    if len(set(steps.values())) > 1:
        kinds = " and ".join(sorted({step.__name__.removesuffix("_step") for step in steps.values()}))
        raise EvalsuiteError(f"tasks {', '.join(tasks)} mix {kinds} data; run them as separate evals")
    return next(iter(steps.values()))


def _seeds(req: EvalRequest, cfg: Config) -> list[int]:
    """The request's seeds, else the suite's (a recipe states its trials, e.g. MoCo's 5 for VOC
    detection), else [0]."""
    seeds = req.seeds if req.seeds is not None else list(cfg.get("seeds", [0]))
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise EvalsuiteError(f"seeds {seeds!r} are not valid; give one or more non-negative integers, e.g. 0,1,2")
    return seeds


#: How long a process may wait in a collective: under --launcher the first process alone fits the
#: "first" tasks (an L-BFGS probe on 1.28M ImageNet features runs for an hour or more) while the
#: others wait for it at the next dataset's extraction; torch's default (10 to 30 min) would end them.
EVAL_TIMEOUT = timedelta(hours=24)


def _distributed_device(req: EvalRequest, tasks: dict, device: torch.device) -> torch.device:
    """Join the launcher's process group; this process's device (its local GPU under NCCL)."""
    check_launcher(req.launcher)  # a bad name is reported before the tasks are checked
    if req.launcher == "none":
        return device
    single = sorted(name for name, task in tasks.items() if getattr(task, "processes", None) not in PROCESSES)
    if single:
        able = sorted(name for name in TASKS.module_dict if getattr(TASKS.get(name), "processes", None) in PROCESSES)
        raise EvalsuiteError(f"--launcher {req.launcher} runs only the tasks {', '.join(able)}; "
                             f"run {', '.join(single)} without a launcher")
    init_distributed(req.launcher, device.type == "cuda", EVAL_TIMEOUT)
    return local_device(device.type == "cuda")


def evaluate(req: EvalRequest, loaded: tuple[nn.Module, LoadedCheckpoint] | None = None,
             rows: list[dict] | None = None) -> list[Path]:
    """Run every (dataset, task, seed) of the request; return the result files written.

    ``loaded``: a backbone already in memory (the Python API's ``evaluate(module)``) instead of
    ``req.checkpoint``. ``rows``: collects every row. ``req.results_dir=None`` writes no file."""
    cfg = load_suite(req.suite, req.cfg_options)
    task_names = req.tasks or list(cfg.get("tasks", ["knn", "linear"]))
    dataset_names = req.datasets or list(cfg.get("datasets", ["digits"]))
    tasks = {name: build_task(name, cfg) for name in task_names}  # fail on a bad task before any work
    step = data_step(tasks)
    Preprocess.from_cfg(dict(cfg.get("features", {})))  # a bad preprocessing setting, before any work
    device = _distributed_device(req, tasks, resolve_device(req.device))
    rank = world()[0]
    seeds = _seeds(req, cfg)
    check_outputs(req.results_dir, req.cache_dir)  # before any work (``evalsuite eval`` checked already)
    model, info = loaded or load_backbone(req.checkpoint, req.arch, req.trust_checkpoint, seed=seeds[0], key=req.key,
                                          allow_nonfinite=req.allow_nonfinite)
    apply_feature_mode(model, cfg.get("features", {}).get("mode"))  # ViTs: cls, avgpool, cls+avgpool, cls_last4
    label = req.name or default_label(info)
    work_dir = Path(req.results_dir) / ".work" if req.results_dir else cache_root(req.cache_dir) / "work"
    session = Session(model=model, info=info, device=device, data_root=req.data_root, download=req.download,
                      work_dir=str(work_dir), quiet=req.quiet, cache=FeatureCache(req.cache_dir),
                      features=dict(cfg.get("features", {})), skip_bad_images=req.skip_bad_images)
    # bf16 on a GPU, fp32 on a CPU: part of every row's protocol, so the two never share a cell
    precision = {"precision": compute_precision(device)}
    written = []
    for dataset_name in dataset_names:
        prepared = step(dataset_name, session)
        spec = prepared.spec
        for seed in seeds:
            for task_name, task in tasks.items():
                settings = settings_of(task)
                skipped = {"skipped_images": spec.skipped_images} if getattr(spec, "skipped_images", None) else {}
                ids = {**(prepared.id_protocol or prepared.protocol), **precision, **skipped}  # skipped images: other data
                pid = protocol_id(task_name, settings, spec.name, ids)
                path = row_path(req.results_dir, label, task_name, spec.name, seed, pid, file_id(info)) if req.results_dir else None
                if req.skip_existing and path and path.exists():
                    continue
                if rank != 0 and getattr(task, "processes", "all") == "first":
                    continue  # its features are in the cache; the first process runs the task on them
                ctx = prepared.context(seed)
                torch.manual_seed(seed)
                start = time.perf_counter()
                out = task.run(ctx)
                task_s = time.perf_counter() - start
                row = {
                    "schema_version": SCHEMA_VERSION,
                    "checkpoint": checkpoint_record(info, label),
                    "task": task_name, "dataset": spec.name, "seed": seed,
                    "metric": out.metric, "value": out.value, "metrics": out.metrics,
                    "settings": settings, "chosen": out.chosen, "extra": out.extra,
                    **prepared.protocol, **precision, "split": {"note": spec.split_note, "sizes": spec.sizes, **skipped},
                    "protocol_id": pid,
                    "timings": {**ctx.timings, "task_s": round(task_s, 3)},
                    "versions": versions(), "device": str(device), "time": now(),
                }
                if rank != 0:  # every process trained and scored; the first one writes the row
                    continue
                if rows is not None:
                    rows.append(row)
                if path:
                    written.append(write_row(path, row))
                if not req.quiet:
                    print(f"{label} {spec.name} {task_name} seed={seed}: {out.metric} = {out.value:.4f}", flush=True)
    return written
