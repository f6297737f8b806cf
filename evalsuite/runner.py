"""``evaluate``: one checkpoint through a suite's tasks on its datasets, one result row each.

checkpoint -> backbone (loaded once) -> features per (dataset, split) (cached) -> task -> row.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import torch
from mmengine.config import Config
from torch import nn

from evalsuite.archs.vit import apply_feature_mode
from evalsuite.checkpoint import LoadedCheckpoint, load_backbone
from evalsuite.cache import FeatureCache
from evalsuite.errors import EvalsuiteError
from evalsuite.features import feature_step
from evalsuite.imaging import compute_precision
from evalsuite.launch import check_launcher, init_distributed, local_device, world
from evalsuite.paths import cache_root, check_outputs
from evalsuite.registry import TASKS, get
from evalsuite.resources import find_recipe
from evalsuite.results import checkpoint_record, default_results_dir, make_row, protocol_id, row_path, write_row
from evalsuite.schema import check_parses, check_suite
from evalsuite.tasks.base import PROCESSES, DataStep, Prepared, Session, settings_of
from evalsuite.tasks.protocol import hook
from evalsuite.zoo import is_zoo
from evalsuite.zoo.load import published_field, zoo_backbone

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
    cls = get(TASKS, entry.pop("type", name))  # its keys and values were checked with the suite (load_suite)
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


def data_step(tasks: dict) -> DataStep:
    """The one data step every task of the suite takes (its ``data_step``, else the feature pipeline)."""
    steps = {name: hook(task, "data_step") or feature_step for name, task in tasks.items()}
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
    single = sorted(name for name, task in tasks.items() if hook(task, "processes") not in PROCESSES)
    if single:
        able = sorted(name for name in TASKS.module_dict if hook(TASKS.get(name), "processes") in PROCESSES)
        raise EvalsuiteError(f"--launcher {req.launcher} runs only the tasks {', '.join(able)}; "
                             f"run {', '.join(single)} without a launcher")
    init_distributed(req.launcher, device.type == "cuda", EVAL_TIMEOUT)
    return local_device(device.type == "cuda")


@dataclass
class Plan:
    """What one ``evaluate`` call will do, every setting already checked: the suite, its tasks and
    their data step, the datasets, seeds and this process's device and rank."""

    cfg: Config
    tasks: dict
    step: DataStep
    datasets: list[str]
    seeds: list[int]
    device: torch.device
    rank: int


def make_plan(req: EvalRequest) -> Plan:
    """Everything that can be wrong with the request, found before the checkpoint is read."""
    cfg = load_suite(req.suite, req.cfg_options)  # every key and value of the suite, preprocessing included
    tasks = {name: build_task(name, cfg) for name in req.tasks or list(cfg.get("tasks", ["knn", "linear"]))}
    step = data_step(tasks)
    device = _distributed_device(req, tasks, resolve_device(req.device))
    seeds = _seeds(req, cfg)
    check_outputs(req.results_dir, req.cache_dir)  # before any work (``evalsuite eval`` checked already)
    return Plan(cfg, tasks, step, req.datasets or list(cfg.get("datasets", ["digits"])), seeds, device, world()[0])


def open_session(req: EvalRequest, plan: Plan, loaded: tuple[nn.Module, LoadedCheckpoint] | None) -> Session:
    """The backbone (``loaded``, else read from ``req.checkpoint``) and what every dataset shares."""
    if loaded is None and is_zoo(req.checkpoint):  # a published checkpoint by name: fetched, hash-checked
        loaded = zoo_backbone(req, plan.seeds[0])
    model, info = loaded or load_backbone(req.checkpoint, req.arch, req.trust_checkpoint, seed=plan.seeds[0],
                                          key=req.key, allow_nonfinite=req.allow_nonfinite)
    features = dict(plan.cfg.get("features", {}))
    apply_feature_mode(model, features.get("mode"))  # ViTs: cls, avgpool, cls+avgpool, cls_last4
    work_dir = Path(req.results_dir) / ".work" if req.results_dir else cache_root(req.cache_dir) / "work"
    return Session(model=model, info=info, device=plan.device, data_root=req.data_root, download=req.download,
                   work_dir=str(work_dir), quiet=req.quiet, cache=FeatureCache(req.cache_dir),
                   features=features, skip_bad_images=req.skip_bad_images)


def run_task(task_name: str, task, prepared: Prepared, seed: int, session: Session, label: str,
             pid: str, protocol: dict, skipped: dict) -> dict:
    """One (dataset, task, seed): run the task on a fresh context and make its row."""
    ctx = prepared.context(seed)
    torch.manual_seed(seed)
    start = time.perf_counter()
    out = task.run(ctx)
    timings = {**ctx.timings, "task_s": round(time.perf_counter() - start, 3)}
    row = make_row(checkpoint=checkpoint_record(session.info, label), task=task_name, spec=prepared.spec, seed=seed,
                   out=out, settings=settings_of(task), protocol=protocol, skipped=skipped, pid=pid,
                   timings=timings, device=str(session.device))
    row.update(published_field(row))  # zoo checkpoints: the published figure, protocol differences
    return row


def evaluate(req: EvalRequest, loaded: tuple[nn.Module, LoadedCheckpoint] | None = None,
             rows: list[dict] | None = None) -> list[Path]:
    """Run every (dataset, task, seed) of the request; return the result files written.

    ``loaded``: a backbone already in memory (the Python API's ``evaluate(module)``) instead of
    ``req.checkpoint``. ``rows``: collects every row. ``req.results_dir=None`` writes no file."""
    plan = make_plan(req)
    session = open_session(req, plan, loaded)
    label = req.name or default_label(session.info)
    # bf16 on a GPU, fp32 on a CPU: part of every row's protocol, so the two never share a cell
    precision = {"precision": compute_precision(plan.device)}
    written = []
    # every dataset's data step first: what they refuse (a size the backbone cannot take) before any decoding
    for prepared in [plan.step(dataset_name, session) for dataset_name in plan.datasets]:
        spec = prepared.spec
        skipped = {"skipped_images": spec.skipped_images} if getattr(spec, "skipped_images", None) else {}
        named = {"skipped_files": spec.skipped_files} if getattr(spec, "skipped_files", None) else {}
        ids = {**(prepared.id_protocol or prepared.protocol), **precision, **skipped}  # skipped images: other data
        for seed in plan.seeds:
            for task_name, task in plan.tasks.items():
                pid = protocol_id(task_name, settings_of(task), spec.name, ids)
                path = (row_path(req.results_dir, label, task_name, spec.name, seed, pid, file_id(session.info))
                        if req.results_dir else None)
                if req.skip_existing and path and path.exists():
                    continue
                if plan.rank != 0 and hook(task, "processes") == "first":
                    continue  # its features are in the cache; the first process runs the task on them
                row = run_task(task_name, task, prepared, seed, session, label, pid,
                               {**prepared.protocol, **precision}, {**skipped, **named})
                if plan.rank != 0:  # every process trained and scored; the first one writes the row
                    continue
                if rows is not None:
                    rows.append(row)
                if path:
                    written.append(write_row(path, row))
                if not req.quiet:
                    print(f"{label} {spec.name} {task_name} seed={seed}: {row['metric']} = {row['value']:.4f}", flush=True)
    return written
