"""Every recipe in tasks/ and pretrain/ resolves, is at most one ``_base_`` level deep, and sets no
key that nothing reads."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.registry import OPTIMIZERS

import evalsuite.pretrain  # noqa: F401  (registers the methods and LARS)
from evalsuite.errors import EvalsuiteError
from evalsuite.pretrain.augment import ViewSpec
from evalsuite.registry import METHODS, TASKS, get, names
from evalsuite.runner import build_task, load_suite

ROOT = Path(__file__).resolve().parents[1]
TASK_RECIPES = sorted((ROOT / "tasks").glob("*.py"))
PRETRAIN_RECIPES = sorted((ROOT / "pretrain").glob("*.py"))

#: What the pre-training trainer reads (evalsuite/pretrain/trainer.py and data.py); a recipe key
#: outside these is a typo or a leftover. ``_name`` keys are a recipe's own helpers.
PRETRAIN_KEYS = {"data", "views", "method", "optimizer", "epochs", "batch_size", "seed", "warmup_epochs",
                 "log_interval", "checkpoint_interval", "compile", "sync_bn", "amp", "monitor", "log_level",
                 "fast_step", "latest_every_s"}
DATA_KEYS = {"dataset", "root", "download", "in_memory", "knn_split", "num_workers", "store_size", "limit", "on_device"}
MONITOR_KEYS = {"knn_interval", "knn_k", "knn_t"}


def _bases(path: Path) -> list[Path]:
    """The files a recipe names in ``_base_`` (a string or a list of them)."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_base_" for t in node.targets):
            value = ast.literal_eval(node.value)
            return [path.parent / v for v in ([value] if isinstance(value, str) else value)]
    return []


@pytest.mark.parametrize("path", TASK_RECIPES + PRETRAIN_RECIPES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_recipe_is_at_most_one_base_deep(path):
    for base in _bases(path):
        assert base.is_file(), base
        assert not _bases(base), f"{path.name} -> {base.name} -> {_bases(base)[0].name}: inherit from one file that has no base"


@pytest.mark.parametrize("path", TASK_RECIPES, ids=lambda p: p.name)
def test_task_recipe_keys_are_all_read(path):
    cfg = load_suite(str(path), {})  # fails on a top-level key the runner does not read
    for name in set(cfg.keys()) & set(names(TASKS)):
        build_task(name, cfg)  # fails on a setting the task does not have
    for name in cfg.get("tasks", []):
        get(TASKS, cfg.get(name, {}).get("type", name))


def test_a_key_nothing_reads_is_refused(tmp_path):
    suite = tmp_path / "typo.py"
    suite.write_text('_base_ = ["%s"]\ndataset = ["cifar10"]\n' % (ROOT / "tasks" / "default.py"))
    with pytest.raises(EvalsuiteError, match="sets 'dataset', which nothing reads"):
        load_suite(str(suite), {})
    with pytest.raises(EvalsuiteError, match=r"features has no setting 'batchsize' \(did you mean features.batch_size"):
        load_suite(str(ROOT / "tasks" / "default.py"), {"features.batchsize": 8})
    with pytest.raises(EvalsuiteError, match="task 'knn' has no setting 'temp'"):
        build_task("knn", load_suite(None, {"knn.temp": 0.1}))


def _public(d: dict) -> set[str]:
    return {k for k in d if not k.startswith("_")}


@pytest.mark.parametrize("path", [p for p in PRETRAIN_RECIPES if not p.name.startswith("_")], ids=lambda p: p.name)
def test_pretrain_recipe_keys_are_all_read(path):
    cfg = Config.fromfile(str(path)).to_dict()
    assert _public(cfg) <= PRETRAIN_KEYS, _public(cfg) - PRETRAIN_KEYS
    assert set(cfg["data"]) <= DATA_KEYS, set(cfg["data"]) - DATA_KEYS
    assert set(cfg.get("monitor", {})) <= MONITOR_KEYS, set(cfg["monitor"]) - MONITOR_KEYS
    view_fields = set(ViewSpec.__dataclass_fields__)
    for view in cfg["views"]:
        assert set(view) <= view_fields, set(view) - view_fields
    method = dict(cfg["method"])
    params = inspect.signature(get(METHODS, method.pop("type"))).parameters
    assert set(method) <= set(params) - {"views"}, set(method) - set(params)
    optimizer = dict(cfg["optimizer"])
    kind = optimizer.pop("type")
    optimizer.pop("base_lr")  # scaled to ``lr`` by the trainer
    params = inspect.signature(OPTIMIZERS.get(kind)).parameters
    assert set(optimizer) <= set(params) - {"params", "lr"}, set(optimizer) - set(params)
