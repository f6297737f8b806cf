"""The Python API for notebooks and scripts: ``evaluate`` and ``load_backbone``.

    import evalsuite
    df = evalsuite.evaluate("backbone.pth", datasets=["digits"], tasks=["knn", "linear"])
    net = evalsuite.load_backbone("backbone.pth")       # an nn.Module, features (N, D) out
    df = evalsuite.evaluate(net, datasets=["digits"], tasks=["knn"], name="after-my-edit")

The same protocols, caches and rows as ``evalsuite eval``; nothing is written unless
``results_dir`` is given.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily: ``import evalsuite`` must stay light
    import pandas as pd
    from torch import nn

#: The leading columns of ``evaluate``'s table; the rest of each row follows as it is stored.
COLUMNS = ("checkpoint", "dataset", "task", "metric", "value", "seed", "protocol_id")


def load_backbone(path: str | Path, arch: str | None = None, trust_checkpoint: bool = False) -> nn.Module:
    """The backbone of a checkpoint in any supported format (``evalsuite list formats``), built
    as ``arch`` (inferred when None) with every backbone key loaded; it maps images (N, 3, H, W)
    to features (N, D). Read with ``weights_only=True`` unless ``trust_checkpoint``."""
    from evalsuite.checkpoint import load_backbone as load

    return load(path, arch, trust_checkpoint)[0]


def module_sha256(model: nn.Module) -> str:
    """Hash of a module's current weights and buffers: the feature cache's key for an in-memory
    backbone, so a module changed since the last call never reuses its old features."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in model.state_dict().items():
        if not isinstance(tensor, torch.Tensor):  # a quantized module's packed parameters, extra state
            digest.update(f"{key}:{tensor!r}".encode())
            continue
        value = tensor.detach().cpu()
        value = value.int_repr() if value.is_quantized else value.to_dense() if value.layout != torch.strided else value
        value = value.contiguous().view(-1)
        digest.update(f"{key}:{tensor.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes() if value.numel() else b"")
    return digest.hexdigest()


def _in_memory(model: nn.Module, arch: str | None):
    from evalsuite.checkpoint.load import KeyReport, LoadedCheckpoint
    from evalsuite.errors import EvalsuiteError

    meta = [name for name, t in model.state_dict().items() if getattr(t, "is_meta", False)]
    if meta:
        raise EvalsuiteError(f"module {type(model).__name__} has {len(meta)} tensor(s) on the meta device (no values), "
                             f"such as {meta[0]}; load or initialise its weights first (e.g. "
                             "model.to_empty(device='cpu') then model.load_state_dict(...))")
    sha = module_sha256(model)
    name = arch or type(model).__name__
    meta_info = {"label": f"{type(model).__name__}-{sha[:8]}", "source": "in-memory nn.Module"}
    return model, LoadedCheckpoint(f"<in-memory {type(model).__name__}>", sha, "module", name, meta_info, KeyReport())


#: The API's plain arguments and what each must be: (types, what a valid value is).
_KINDS = {
    "arch": ((str,), "a registered arch name, timm:NAME or pkg.module:callable (a str)"),
    "suite": ((str, Path), "a suite name or recipe file (a str or Path)"),
    "results_dir": ((str, Path), "a folder (a str or Path)"),
    "name": ((str,), "a label (a str)"),
    "device": ((str,), "'auto', 'cpu' or 'cuda'"),
    "data_root": ((str, Path), "a folder (a str or Path)"),
    "cache_dir": ((str, Path), "a folder (a str or Path)"),
    "download": ((bool,), "True or False"),
    "trust_checkpoint": ((bool,), "True or False"),
    "quiet": ((bool,), "True or False"),
}


def _check_kinds(values: dict) -> None:
    """A wrong type is one sentence naming the argument, as a bad command-line value is."""
    from evalsuite.errors import EvalsuiteError

    for key, value in values.items():
        types, valid = _KINDS[key]
        if value is not None and not isinstance(value, types):
            raise EvalsuiteError(f"{key}={value!r} is not {valid}")


def _source(model_or_path, arch: str | None):
    """``(model, info)`` for an in-memory module, None for a path (loaded by the runner)."""
    from torch import nn

    from evalsuite.errors import EvalsuiteError

    if isinstance(model_or_path, nn.Module):
        return _in_memory(model_or_path, arch)
    if not isinstance(model_or_path, (str, Path)):
        raise EvalsuiteError(f"model_or_path={model_or_path!r} is not a checkpoint file, 'random' (with arch) or an "
                             "nn.Module mapping images (N, 3, H, W) to features (N, D)")
    return None


def evaluate(model_or_path: nn.Module | str | Path, datasets: str | Sequence[str] | None = None,
             tasks: str | Sequence[str] | None = None, arch: str | None = None, *, suite: str | None = None,
             results_dir: str | Path | None = None, name: str | None = None,
             seeds: int | str | Sequence[int] | None = None, device: str = "auto", data_root: str | Path = "data",
             download: bool = False, cache_dir: str | Path | None = None, trust_checkpoint: bool = False,
             cfg_options: dict | str | Sequence[str] | None = None, quiet: bool = True) -> pd.DataFrame:
    """Evaluate a backbone with a suite's tasks (default ``tasks/default.py``: kNN and the linear
    probe) on ``datasets``; one table row per (dataset, task, seed), in the order run.

    ``model_or_path``: a checkpoint file, ``'random'`` (with ``arch``), or an ``nn.Module`` that
    maps images (N, 3, H, W) to features (N, D) (it is put in eval mode on ``device``; its label
    defaults to its class and weight hash). ``results_dir``: also write each row there, as
    ``evalsuite eval --results`` does. ``value`` is a fraction, as stored; the full row (settings,
    all metrics, chosen hyperparameters) follows in the other columns.

    Arguments take the command line's forms too: ``datasets='digits,cifar10'``, ``seeds='0,1'``,
    ``cfg_options='knn.temperature=0.1 knn.ks=[10,20]'`` (or a dict, or a list of ``key=value``);
    a wrong type or value is an ``EvalsuiteError`` with the command line's sentence.
    """
    import pandas as pd

    from evalsuite.cliopts import cfg_options as options, name_list, seed_list
    from evalsuite.runner import EvalRequest, evaluate as run

    _check_kinds(dict(arch=arch, suite=suite, results_dir=results_dir, name=name, device=device, data_root=data_root,
                      cache_dir=cache_dir, download=download, trust_checkpoint=trust_checkpoint, quiet=quiet))
    req = EvalRequest(
        checkpoint="", arch=arch, suite=str(suite) if suite is not None else None,
        tasks=name_list(tasks, "tasks", "task", "knn,linear"),
        datasets=name_list(datasets, "datasets", "dataset", "digits or cifar10,imagefolder:PATH"),
        data_root=str(data_root), download=download, results_dir=str(results_dir) if results_dir is not None else None,
        name=name, seeds=seed_list(seeds, "seeds"), device=device, trust_checkpoint=trust_checkpoint,
        cfg_options=options(cfg_options, "cfg_options"), cache_dir=str(cache_dir) if cache_dir else None, quiet=quiet,
    )
    loaded = _source(model_or_path, arch)  # after the cheap checks, before any work
    req.checkpoint = str(model_or_path) if loaded is None else loaded[1].path
    rows: list[dict] = []
    run(req, loaded, rows)
    table = pd.DataFrame([{**row, "checkpoint": row["checkpoint"]["label"], "checkpoint_record": row["checkpoint"]}
                          for row in rows])
    if table.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    return table[list(COLUMNS) + [c for c in table.columns if c not in COLUMNS]]
