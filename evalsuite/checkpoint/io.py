"""Read a checkpoint file as untrusted input.

``torch.load(weights_only=True)`` by default and a numpy-only unpickler for detectron2
``.pkl`` files; anything that needs arbitrary unpickling is refused unless the user passes
``--trust-checkpoint``. A truncated or corrupted file is one clear error.
"""

from __future__ import annotations

import hashlib
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalsuite.errors import EvalsuiteError

TRUST_HINT = "pass --trust-checkpoint if you trust its source"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, strings, numbers and numpy arrays, nothing that runs code."""

    _ALLOWED = {
        ("collections", "OrderedDict"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")


def _read_pickle(path: Path, trust: bool) -> Any:
    with open(path, "rb") as f:
        if trust:
            return pickle.load(f, encoding="latin1")
        try:
            return _NumpyOnlyUnpickler(f, encoding="latin1").load()
        except pickle.UnpicklingError as exc:
            if "is not allowed" in str(exc):
                raise EvalsuiteError(f"checkpoint {str(path)!r} needs arbitrary unpickling ({exc}); {TRUST_HINT}") from exc
            raise


def _read_torch(path: Path, trust: bool) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=not trust)
    except pickle.UnpicklingError as exc:
        if "weights_only" in str(exc) or "Weights only load failed" in str(exc):
            first = str(exc).split("\n")[0]
            raise EvalsuiteError(f"checkpoint {str(path)!r} holds more than tensors ({first}); {TRUST_HINT}") from exc
        raise


def read_checkpoint(path: str | Path, trust: bool = False) -> Any:
    """Load the object stored in ``path`` (dict of tensors or arrays, usually) on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise EvalsuiteError(f"checkpoint {str(path)!r} does not exist; give a checkpoint file or 'random'")
    if path.stat().st_size == 0:
        raise EvalsuiteError(f"checkpoint {str(path)!r} is empty (0 bytes); it is truncated or was never written")
    reader = _read_pickle if path.suffix == ".pkl" else _read_torch
    try:
        obj = reader(path, trust)
    except EvalsuiteError:
        raise
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, OSError) as exc:
        raise EvalsuiteError(
            f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); "
            "the file is truncated, corrupted or not a PyTorch/pickle checkpoint"
        ) from exc
    if not isinstance(obj, dict):
        raise EvalsuiteError(f"checkpoint {str(path)!r} holds a {type(obj).__name__}, not a dict of weights")
    return obj


def as_tensor_dict(sd: dict) -> dict[str, torch.Tensor]:
    """Keep tensor (and numpy array) entries as tensors; drop scalars and strings."""
    out = {}
    for key, value in sd.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value))
        if isinstance(value, torch.Tensor):
            out[key] = value
    return out


def is_flat_state_dict(obj: Any) -> bool:
    """A non-empty dict whose values are all tensors or arrays."""
    return (
        isinstance(obj, dict)
        and len(obj) > 0
        and all(isinstance(v, (torch.Tensor, np.ndarray)) for v in obj.values())
    )
