"""This project's own checkpoints: ``{'evalsuite': meta, 'state_dict': backbone}``.

Written by ``evalsuite pretrain`` and ``save_backbone``; the metadata names the arch, method,
epochs, dataset, recipe and commit, so ``evalsuite eval`` needs no flags to read one.
"""

from __future__ import annotations

from pathlib import Path

import torch

from evalsuite.atomic import atomic_path
from evalsuite.registry import FORMATS

FORMAT_VERSION = 1


@FORMATS.register_module("evalsuite")
def evalsuite_native(obj: dict) -> tuple[None, dict] | None:
    if not (isinstance(obj.get("evalsuite"), dict) and "state_dict" in obj):
        return None
    meta = {k: v for k, v in obj["evalsuite"].items() if isinstance(v, (str, int, float, bool))}
    return None, meta  # the weights are ``state_dict``, found by structure


def save_backbone(path: str | Path, state_dict: dict[str, torch.Tensor], **meta) -> None:
    """Write a backbone in this project's format, atomically (temp file + rename).

    ``meta`` should hold at least ``arch``; ``method``, ``epochs``, ``dataset``, ``recipe``
    and ``commit`` are read back by ``evalsuite inspect`` and land in result rows.
    """
    payload = {"evalsuite": {"version": FORMAT_VERSION, **meta}, "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}}
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
