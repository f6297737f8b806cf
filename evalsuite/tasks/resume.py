"""What the training tasks (``finetune``, ``linear_sgd``) keep so an interrupted run resumes: a work
folder keyed by the backbone's weights, the dataset, the seed and the protocol settings (so a
resumed run never mixes two protocols or two checkpoints), and atomic snapshots inside it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import torch
from torch import nn

from evalsuite.atomic import atomic_path
from evalsuite.tasks.base import EvalContext, settings_of


def weights_fingerprint(model: nn.Module) -> str:
    """sha256 of every parameter and buffer: identifies the checkpoint without its path."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


#: Settings that do not change the numbers: a resumed run may use other values.
NOT_PROTOCOL = ("eval_batch_size", "num_workers", "save_every")


def work_folder(ctx: EvalContext, task_name: str, task, fingerprint: str) -> Path:
    """``ctx.work_dir/<task_name>/<key>``; the ``NOT_PROTOCOL`` settings may differ on resume."""
    protocol = {k: v for k, v in settings_of(task).items() if k not in NOT_PROTOCOL}
    blob = json.dumps({"weights": fingerprint, "dataset": ctx.spec.name, "sizes": ctx.spec.sizes,
                       "seed": ctx.seed, "settings": protocol}, sort_keys=True, default=str)
    return Path(ctx.work_dir) / task_name / hashlib.sha256(blob.encode()).hexdigest()[:16]


def atomic_save(obj, path: Path) -> None:
    """``torch.save`` that never leaves a half-written snapshot behind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def load_snapshot(path: Path, device: torch.device) -> dict | None:
    """The snapshot an interrupted run left (weights_only: tensors and plain containers), or None."""
    return torch.load(path, map_location=device, weights_only=True) if path.is_file() else None


def finish(folder: Path) -> None:
    """Remove a finished run's folder, and its task folder when nothing else is left in it."""
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:
        pass  # other runs' folders are still there
