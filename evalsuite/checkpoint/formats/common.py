"""Small helpers shared by the format adapters."""

from __future__ import annotations

from typing import Any

import torch

from evalsuite.checkpoint.io import as_tensor_dict


def with_prefix(sd: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
    """Entries of ``sd`` under ``prefix``, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in as_tensor_dict(sd).items() if k.startswith(prefix)}


def has_key_under(sd: Any, prefix: str) -> bool:
    """``sd`` is a dict with at least one key under ``prefix``."""
    return isinstance(sd, dict) and any(isinstance(k, str) and k.startswith(prefix) for k in sd)


def epochs_from(record: Any, key: str = "epoch") -> dict:
    """``{"epochs": record[key]}`` when the saving script stored an int there, else ``{}``."""
    return {"epochs": record[key]} if isinstance(record.get(key), int) else {}


def has_keys_under(sd: Any, prefix: str, *required: str) -> bool:
    """``sd`` is a dict with keys ``prefix + r`` for each of ``required``."""
    return isinstance(sd, dict) and all(prefix + r in sd for r in required)
