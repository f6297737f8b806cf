"""``evaluate``: one checkpoint through a suite's tasks on its datasets, one result row each.

checkpoint -> backbone (loaded once) -> features per (dataset, split) (cached) -> task -> row.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from mmengine.config import Config
from torch import nn

from evalsuite.archs.vit import apply_feature_mode
from evalsuite.checkpoint import LoadedCheckpoint, load_backbone
from evalsuite.datasets import build_dataset
from evalsuite.errors import EvalsuiteError
from evalsuite.features import (
    DecodedCache,
    FeatureCache,
    FeatureKey,
    FeatureSettings,
    Transformed,
    cache_root,
    compute_precision,
    extract,
    extract_array,
    loader_workers,
    source_of,
)
from evalsuite.preprocess import Preprocess
from evalsuite.tokens import ImageSource
from evalsuite.launch import check_launcher, init_distributed, local_device, world
from evalsuite.paths import check_outputs
from evalsuite.registry import TASKS, get
from evalsuite.resources import find_recipe
from evalsuite.results import SCHEMA_VERSION, default_results_dir, now, protocol_id, row_path, versions, write_row
from evalsuite.schema import check_parses, check_suite
from evalsuite.tasks.base import DataStep, EvalContext, Prepared, Session, settings_of

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
    launcher: str = "none"  # 'pytorch' (torchrun) or 'slurm': tasks that train across processes (detection)
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


def _feature_fn(session: Session, spec):
    """``split -> (features, targets)`` through the feature cache, the transform's id and the
    preprocessing record of the row (``evalsuite.preprocess``)."""
    model, info, cache = session.model, session.info, session.cache
    preprocess = Preprocess.from_cfg(session.features)
    transform, transform_id, resolution_source = preprocess.transform(spec.native_size, model, info.meta, session.quiet)
    stats = preprocess.stats(info.meta)
    decoded = DecodedCache(cache.root.parent)  # the same cache root
    settings = FeatureSettings(**session.features)
    batch_size = settings.batch_size
    memo = {}

    def key(split: str) -> FeatureKey:
        dataset = spec.splits[split]
        # A ViT's feature mode changes what the same weights give, so it is part of the key (ResNets: none).
        mode = getattr(model, "feature_mode", None)
        arch_key = info.arch if mode is None else f"{info.arch}[{mode}]"
        return FeatureKey(info.sha256, arch_key, spec.name, split, transform_id, len(dataset), source_of(dataset),
                          compute_precision(session.device), spec.label_protocol)

    def features(split: str):
        if split in memo:
            return memo[split]
        dataset = spec.splits[split]
        key_ = key(split)
        got = cache.get(key_)
        fresh = got is None
        if fresh:
            workers = loader_workers(settings.num_workers, len(dataset))
            images = Transformed(dataset, transform)
            desc = f"features {spec.name}/{split}"
            array = decoded.get_or_build(key_.images_key(), images, workers, batch_size, f"decoding {spec.name}/{split}",
                                         session.quiet)
            if array is not None:
                got = extract_array(model, array[0], array[1], session.device, batch_size, desc, session.quiet, stats)
            else:
                got = extract(model, images, session.device, batch_size, workers, desc=desc, quiet=session.quiet,
                              stats=stats)
        check_finite_features(got[0], f"{spec.name}/{split}", info.meta.get("nonfinite_tensors"))
        if fresh:  # never cache what cannot be used
            cache.put(key_, *got)
        memo[split] = got
        return got

    record = {"normalize": preprocess.normalize, "mean": list(stats[0]), "std": list(stats[1]),
              "resize": preprocess.resize, "resolution_from": resolution_source}
    images = ImageSource(transform, transform_id, stats, key, cache.root.parent, batch_size, settings.num_workers,
                         session.quiet)  # what the token probes read (evalsuite.tokens)
    return features, transform_id, record, images


def check_finite_features(features: torch.Tensor, where: str, nonfinite_weights: int | None) -> None:
    """Features (N, D) with NaN or inf cannot be probed (the probe's eigendecomposition and every
    score would be meaningless): one sentence with how many images and which, before anything
    is cached or fitted."""
    bad = (~torch.isfinite(features)).any(1)  # (N,)
    if bool(bad.any()):
        first = bad.nonzero()[0].item()
        cause = (f"the checkpoint was loaded with {nonfinite_weights} non-finite tensor(s) (--allow-nonfinite)"
                 if nonfinite_weights else "the backbone's forward overflowed or divided by zero; "
                 "'evalsuite inspect CHECKPOINT' shows whether its weights are finite")
        raise EvalsuiteError(f"features of {where} hold NaN or inf for {int(bad.sum())} of {len(bad)} images "
                             f"(the first is image {first}): {cause}; nothing was cached or written")


def feature_step(dataset_name: str, session: Session) -> Prepared:
    """The classification data step: a ``DATASETS`` entry, its frozen features through the cache."""
    spec = build_dataset(dataset_name, session.data_root, session.download, session.skip_bad_images)
    feature_fn, transform_id, preprocess, images = _feature_fn(session, spec)

    def context(seed: int) -> EvalContext:
        return EvalContext(spec=spec, seed=seed, device=session.device, feature_fn=feature_fn, images=images,
                           backbone_fn=session.backbone, work_dir=session.work_dir, quiet=session.quiet)

    mode = getattr(session.model, "feature_mode", None)  # ViTs only: in the row and the protocol id
    vit = {"feature_mode": mode} if mode else {}
    # a dataset whose targets changed meaning (VOC's difficult pairs) states how, in the row and the
    # id, so its new rows never share a cell with the old; the others' ids stay as they were
    labels = {"label_protocol": spec.label_protocol} if spec.label_protocol else {}
    # the id hashes the transform id (it names any non-ImageNet normalisation) and not the whole
    # preprocessing record, so rows made before that record existed keep their ids
    return Prepared(spec, {"transform": transform_id, "preprocess": preprocess, **vit, **labels}, context,
                    id_protocol={"transform": transform_id, **vit, **labels})


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


def _distributed_device(req: EvalRequest, tasks: dict, device: torch.device) -> torch.device:
    """Join the launcher's process group; this process's device (its local GPU under NCCL)."""
    check_launcher(req.launcher)  # a bad name is reported before the tasks are checked
    if req.launcher == "none":
        return device
    single = sorted(name for name, task in tasks.items() if not getattr(task, "distributed", False))
    if single:
        raise EvalsuiteError(f"--launcher {req.launcher} runs only tasks that train across processes (detection); "
                             f"run {', '.join(single)} without a launcher")
    init_distributed(req.launcher, device.type == "cuda")
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
