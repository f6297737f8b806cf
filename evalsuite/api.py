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
        value = tensor.detach().cpu().contiguous().view(-1)
        digest.update(f"{key}:{value.dtype}:{tuple(tensor.shape)}".encode())
        digest.update(value.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _in_memory(model: nn.Module, arch: str | None):
    from evalsuite.checkpoint.load import KeyReport, LoadedCheckpoint

    sha = module_sha256(model)
    name = arch or type(model).__name__
    meta = {"label": f"{type(model).__name__}-{sha[:8]}", "source": "in-memory nn.Module"}
    return model, LoadedCheckpoint(f"<in-memory {type(model).__name__}>", sha, "module", name, meta, KeyReport())


def _names(value: str | Sequence[str] | None) -> list[str] | None:
    return [value] if isinstance(value, str) else (list(value) if value is not None else None)


def evaluate(model_or_path: nn.Module | str | Path, datasets: str | Sequence[str] | None = None,
             tasks: str | Sequence[str] | None = None, arch: str | None = None, *, suite: str | None = None,
             results_dir: str | Path | None = None, name: str | None = None, seeds: Sequence[int] | None = None,
             device: str = "auto", data_root: str | Path = "data", download: bool = False,
             cache_dir: str | Path | None = None, trust_checkpoint: bool = False,
             cfg_options: dict | None = None, quiet: bool = True) -> pd.DataFrame:
    """Evaluate a backbone with a suite's tasks (default ``tasks/default.py``: kNN and the linear
    probe) on ``datasets``; one table row per (dataset, task, seed), in the order run.

    ``model_or_path``: a checkpoint file, ``'random'`` (with ``arch``), or an ``nn.Module`` that
    maps images (N, 3, H, W) to features (N, D) (it is put in eval mode on ``device``; its label
    defaults to its class and weight hash). ``results_dir``: also write each row there, as
    ``evalsuite eval --results`` does. ``value`` is a fraction, as stored; the full row (settings,
    all metrics, chosen hyperparameters) follows in the other columns.
    """
    import pandas as pd
    from torch import nn

    from evalsuite.runner import EvalRequest, evaluate as run

    loaded = _in_memory(model_or_path, arch) if isinstance(model_or_path, nn.Module) else None
    req = EvalRequest(
        checkpoint=str(model_or_path) if loaded is None else loaded[1].path, arch=arch, suite=suite,
        tasks=_names(tasks), datasets=_names(datasets), data_root=str(data_root), download=download,
        results_dir=str(results_dir) if results_dir is not None else None, name=name,
        seeds=list(seeds) if seeds is not None else None, device=device, trust_checkpoint=trust_checkpoint,
        cfg_options=dict(cfg_options or {}), cache_dir=str(cache_dir) if cache_dir else None, quiet=quiet,
    )
    rows: list[dict] = []
    run(req, loaded, rows)
    table = pd.DataFrame([{**row, "checkpoint": row["checkpoint"]["label"], "checkpoint_record": row["checkpoint"]}
                          for row in rows])
    if table.empty:
        return pd.DataFrame(columns=list(COLUMNS))
    return table[list(COLUMNS) + [c for c in table.columns if c not in COLUMNS]]
