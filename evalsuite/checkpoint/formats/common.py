"""Small helpers shared by the format adapters."""

from __future__ import annotations

from typing import Any

import torch

from evalsuite.checkpoint.io import as_tensor_dict, is_flat_state_dict

#: Prefixes that mark a wrapper layout; a plain state dict has none of them.
WRAPPER_PREFIXES = (
    "module.", "backbone.", "encoder.", "encoder_q.", "base_encoder.", "momentum_encoder.",
    "online_network.", "_feature_blocks.", "trunk.", "model.", "stem.", "res2.",
)


def with_prefix(sd: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
    """Entries of ``sd`` under ``prefix``, with the prefix removed."""
    return {k[len(prefix):]: v for k, v in as_tensor_dict(sd).items() if k.startswith(prefix)}


def drop(sd: dict[str, torch.Tensor], *prefixes: str) -> dict[str, torch.Tensor]:
    """Remove heads (``fc.`` and the like) that are not part of the backbone."""
    return {k: v for k, v in sd.items() if not k.startswith(prefixes)}


def is_plain(sd: Any) -> bool:
    """A flat state dict in the arch's own naming: no wrapper prefix on any key."""
    return is_flat_state_dict(sd) and not any(k.startswith(WRAPPER_PREFIXES) for k in sd)


def has_keys_under(sd: Any, prefix: str, *required: str) -> bool:
    """``sd`` is a dict with keys ``prefix + r`` for each of ``required``."""
    return isinstance(sd, dict) and all(prefix + r in sd for r in required)
