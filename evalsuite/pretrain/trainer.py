"""``run_pretrain``: a recipe in ``pretrain/`` -> an mmengine ``Runner`` -> backbone checkpoints.

Recipe keys (every recipe sets them; ``--cfg-options`` overrides any):
    method: dict(type=<registered method>, arch=<registered arch>, **method arguments)
    views: augmentation dict per view (``evalsuite.pretrain.augment.ViewSpec`` fields)
    data: dict(dataset=, root=, in_memory=, store_size=, num_workers=, knn_split=, limit=)
    epochs, batch_size (global, over all processes), seed
    optimizer: dict(type='SGD'|'LARS', base_lr=..., **optimizer arguments); lr = base_lr * batch / 256
    warmup_epochs, log_interval, checkpoint_interval, sync_bn, amp
    fast_step (default True): one process trains through ``evalsuite.pretrain.fast_step`` (the
        same arithmetic as mmengine's per-step path, in one function); DDP keeps the plain step
    compile: False, or a mode of ``fast_step.COMPILE_MODES`` (True = 'default'): on CUDA the fast
        step is compiled whole; under DDP each child module is compiled instead
    monitor: dict(knn_interval=, knn_k=, knn_t=)
    latest_every_s (default 0): seconds between writes of the rolling ``latest.pth`` (0: every epoch)
"""

from __future__ import annotations

import copy
import inspect
import itertools
import subprocess
import time
from pathlib import Path

import torch
from mmengine.config import Config
from mmengine.runner import Runner

from evalsuite.errors import EvalsuiteError
from evalsuite.launch import init_distributed
from evalsuite.pretrain.console import QuietRunner
from evalsuite.pretrain.data import build_train_data, decode_split, split_workers, store_size
from evalsuite.pretrain.dist import world
from evalsuite.pretrain.fast_step import COMPILE_MODES
from evalsuite.pretrain.hooks import PretrainMonitorHook
from evalsuite.pretrain.resume import RollingCheckpointHook, resume_source
from evalsuite.pretrain.syncbn import convert_sync_bn
from evalsuite.registry import METHODS, get
from evalsuite.resources import find_recipe
from evalsuite.rules import AT_LEAST_0, AT_LEAST_1, POSITIVE, WORKERS

#: Runs built by this process so far. mmengine keeps one logger, visualizer and message hub per
#: experiment name and names an experiment by the second it starts, so two runs started in one
#: second in one process (back-to-back tests, a script looping over recipes) shared the first
#: one's logger and wrote into its log file; a per-process count keeps every run's name its own
#: (and equal across the ranks of one launch, which count alike).
_RUNS = itertools.count()

REPO_ROOT = Path(__file__).resolve().parents[2]
#: lr = base_lr x batch / 256, the linear scaling rule (Goyal et al. 2017, Sec. 2.1), as SimSiam
#: (Sec. 4 / App. A), SimCLR (App. B.1, LARS) and BYOL (App. C) use it.
LR_REFERENCE_BATCH = 256
#: Value rules of the recipe keys read here (dotted, as ``--cfg-options`` names them); a method's own
#: arguments declare theirs on its class (``ARG_RULES``), a view's on ``ViewSpec``'s fields.
RECIPE_RULES = {
    **dict.fromkeys(("epochs", "batch_size", "log_interval", "checkpoint_interval", "monitor.knn_k"), (AT_LEAST_1,)),
    **dict.fromkeys(("seed", "warmup_epochs", "latest_every_s", "data.limit", "monitor.knn_interval",
                     "optimizer.momentum", "optimizer.weight_decay"), (AT_LEAST_0,)),
    **dict.fromkeys(("optimizer.base_lr", "optimizer.lr", "monitor.knn_t"), (POSITIVE,)),
    "data.num_workers": (WORKERS,),
}


def load_recipe(recipe: str, cfg_options: dict | None = None) -> Config:
    path = find_recipe("pretrain", recipe)
    cfg = Config.fromfile(str(path))
    recipe_arch = cfg.get("method", {}).get("arch")
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    cfg.recipe_name = path.stem
    cfg.recipe_arch = recipe_arch  # the arch as the recipe file gives it, before --cfg-options
    return cfg


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def method_class(cfg: Config):
    """The registered method class of a recipe (``method.type``)."""
    return get(METHODS, cfg.method.type)


def compile_mode(cfg: Config, device: torch.device) -> str | None:
    """The recipe's ``compile`` as a torch.compile mode, or None (off, or not on CUDA)."""
    mode = cfg.get("compile", False)
    mode = "default" if mode is True else mode
    if mode and mode not in COMPILE_MODES:
        raise EvalsuiteError(f"compile={mode!r} is not a compile mode; give False or one of: {', '.join(COMPILE_MODES)}")
    return mode if mode and device.type == "cuda" else None


def uses_fast_step(cfg: Config) -> bool:
    """Whether this run takes the fast step: asked for (the default) and a single process."""
    return bool(cfg.get("fast_step", True)) and world()[1] == 1


def build_model(cfg: Config, num_classes: int, device: torch.device):
    method = copy.deepcopy(dict(cfg.method))
    cls = get(METHODS, method.pop("type"))
    if method.get("arch") is None:
        raise EvalsuiteError("recipe key method.arch is missing; give a registered arch, e.g. cifar_resnet18")
    if len(cfg.views) != cls.num_views:
        raise EvalsuiteError(f"method {cfg.method.type!r} trains on {cls.num_views} view(s) per image but the recipe "
                             f"gives {len(cfg.views)} in views; give {cls.num_views}")
    if cls.needs_labels:
        method.setdefault("num_classes", num_classes)
    valid = set(inspect.signature(cls).parameters) - {"views"}
    unknown = sorted(set(method) - valid)
    if unknown:
        raise EvalsuiteError(f"method {cfg.method.type!r} has no setting {unknown[0]!r}; valid settings are: {', '.join(sorted(valid))}")
    model = cls(views=list(cfg.views), **method)
    if cfg.get("sync_bn", False) and world()[1] > 1:
        model = convert_sync_bn(model, device)
    model = model.to(device, memory_format=torch.channels_last)
    mode = compile_mode(cfg, device)
    if uses_fast_step(cfg):
        model.use_fast_step(mode, amp=cfg.get("amp", True))
    elif mode:
        for name, child in model.named_children():
            if name != "data_preprocessor" and not name.startswith("target"):
                child.compile(mode=mode)
    return model


def _schedulers(cfg: Config) -> list[dict]:
    epochs = cfg.epochs
    warmup = min(cfg.get("warmup_epochs", 0), epochs - 1)  # short runs (smoke tests, benchmarks) keep a cosine phase
    out = []
    if warmup:
        out.append(dict(type="FixAwareLinearLR", start_factor=1e-3, by_epoch=True, begin=0, end=warmup,
                        convert_to_iter_based=True))
    out.append(dict(type="FixAwareCosineLR", T_max=epochs - warmup, eta_min=0.0, by_epoch=True, begin=warmup,
                    end=epochs, convert_to_iter_based=True))
    return out


def _optim_wrapper(cfg: Config, global_batch: int, cuda: bool) -> dict:
    opt = copy.deepcopy(dict(cfg.optimizer))
    opt["lr"] = opt.pop("base_lr") * global_batch / LR_REFERENCE_BATCH
    wrapper = "BF16OptimWrapper" if cuda and cfg.get("amp", True) else "OptimWrapper"
    return dict(type=wrapper, optimizer=opt, constructor="MethodParamGroups")


def _knn_data(cfg: Config, loader, spec, in_memory: bool):
    monitor = dict(cfg.get("monitor", {}))
    if not monitor.get("knn_interval") or not in_memory:
        return None
    split = cfg.data.get("knn_split", "test")
    query_x, query_y = decode_split(spec, split, store_size(spec, dict(cfg.data)), split_workers(dict(cfg.data), spec, split))
    return loader.images, loader.labels, query_x, query_y, len(spec.classes)


def _runner_cfg(cfg: Config) -> Config:
    """The recipe as the Runner reads it: our own ``sync_bn`` handled here, our DDP wrapper."""
    out = copy.deepcopy(cfg)
    out.pop("sync_bn", None)
    out.model_wrapper_cfg = dict(type="MethodDDP", broadcast_buffers=False)
    return out


def build_runner(cfg: Config, work_dir: str, resume: bool = False, launcher: str = "none",
                 device: str | None = None) -> tuple[Runner, PretrainMonitorHook]:
    """Everything a run needs, built; ``runner.train()`` starts it."""
    cuda = torch.cuda.is_available() and device != "cpu"
    init_distributed(launcher, cuda)
    dev = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    rank, size = world()
    if cfg.batch_size % size:
        raise EvalsuiteError(f"batch_size {cfg.batch_size} is not divisible by the {size} processes; give a multiple of {size}")
    seed = cfg.get("seed", 0)
    torch.manual_seed(seed)
    loader, spec, in_memory = build_train_data(dict(cfg.data), cfg.batch_size // size, dev, seed)
    model = build_model(cfg, len(spec.classes), dev)
    meta = dict(arch=cfg.method.arch, method=cfg.method.type, dataset=spec.name, recipe=cfg.recipe_name,
                recipe_arch=cfg.get("recipe_arch"),
                commit=git_commit(), kind="supervised" if method_class(cfg).needs_labels else "ssl",
                batch_size=cfg.batch_size)
    monitor = dict(cfg.get("monitor", {}))
    hook = PretrainMonitorHook(meta, seed, _knn_data(cfg, loader, spec, in_memory), monitor.get("knn_interval", 10),
                               monitor.get("knn_k", 200), monitor.get("knn_t", 0.1), cfg.get("checkpoint_interval", 1))
    log_interval = cfg.get("log_interval", 50)
    source = resume_source(work_dir) if resume else None
    runner = QuietRunner(  # mmengine's Runner; its terminal output: evalsuite.pretrain.console
        model=model, work_dir=work_dir, train_dataloader=loader,
        train_cfg=dict(type="LeanEpochLoop", max_epochs=cfg.epochs, hook_interval=log_interval),
        optim_wrapper=_optim_wrapper(cfg, cfg.batch_size, cuda), param_scheduler=_schedulers(cfg),
        default_hooks=dict(
            runtime_info=dict(type="RuntimeInfoHook"), timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=log_interval),
            param_scheduler=dict(type="ParamSchedulerHook"),
            checkpoint=dict(type="CheckpointHook", interval=cfg.get("checkpoint_interval", 1), max_keep_ckpts=2,
                            save_last=True),
        ),
        custom_hooks=[hook, RollingCheckpointHook(cfg.get("latest_every_s", 0))], launcher=launcher,
        randomness=dict(seed=seed),
        resume=source is not None, load_from=source,
        env_cfg=dict(cudnn_benchmark=cuda, dist_cfg=dict(backend="nccl" if cuda else "gloo")),
        cfg=_runner_cfg(cfg), default_scope=None, log_level=cfg.get("log_level", "INFO"),
        experiment_name=f"{cfg.recipe_name}_run{next(_RUNS)}",
    )
    if resume and source is None:
        runner.logger.info(f"--resume: {work_dir} holds no checkpoint yet; training starts at epoch 1")
    return runner, hook


def train(runner: Runner) -> None:
    """``runner.train()``; a resume reads its checkpoint through ``evalsuite.pretrain.resume``
    (``weights_only=True`` with a reviewed allow-list), set up by ``build_runner``."""
    runner.train()


def run_pretrain(recipe: str, work_dir: str | None = None, resume: bool = False, cfg_options: dict | None = None,
                 launcher: str = "none", device: str | None = None) -> dict:
    """Train a recipe; return {'history': per-epoch records, 'checkpoint': path, 'wall_s': seconds}."""
    cfg = load_recipe(recipe, cfg_options)
    work_dir = work_dir or str(Path("work_dirs") / cfg.recipe_name)
    start = time.perf_counter()
    runner, hook = build_runner(cfg, work_dir, resume, launcher, device)
    train(runner)
    return {"history": hook.history, "checkpoint": str(Path(work_dir) / "backbone.pth"),
            "wall_s": round(time.perf_counter() - start, 2)}
