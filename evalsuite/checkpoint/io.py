"""Read a checkpoint file as untrusted input.

``torch.load(weights_only=True)`` by default and a numpy-only unpickler for detectron2
``.pkl`` files; anything that needs arbitrary unpickling is refused unless the user passes
``--trust-checkpoint``. A truncated or corrupted file is one clear error.

Honest training checkpoints carry a few non-tensor objects beside the weights, which
``weights_only`` refuses by default; ``INERT_GLOBALS`` allows exactly those, after review:

- ``argparse.Namespace``: official DINO (``main_dino.py``: ``save_dict['args'] = args``), iBOT and
  many ports save the run's parsed arguments. Rebuilt by ``__new__`` plus a ``__dict__`` update;
  no code of the class runs.
- numpy scalars, dtypes and arrays (``numpy.core`` in files written by numpy 1.x, ``numpy._core``
  by numpy 2): metrics such as ``best_acc1`` or values inside ``args`` saved as numpy numbers.
- mmengine's ``HistoryBuffer`` (``Runner.save_checkpoint`` stores ``message_hub.state_dict()``,
  whose ``log_scalars`` are HistoryBuffers, mmengine 0.10): rebuilt as an inert stand-in, never
  the real class, and its ``statistics_methods`` (pickled as ``getattr(HistoryBuffer, 'mean')``)
  through a ``getattr`` that answers only those four names. A general ``getattr`` is not allowed.

Anything else still needs ``--trust-checkpoint``, and the error names the type.
"""

from __future__ import annotations

import argparse
import functools
import pickle
import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from evalsuite.checkpoint.hub_files import WEIGHT_FILES, is_hub_path, read_hub, sha256_of
from evalsuite.errors import EvalsuiteError

TRUST_HINT = "pass --trust-checkpoint if you trust its source"


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a checkpoint file (or a model folder's files: ``hub_files.sha256_of``, one loop)."""
    return sha256_of(path, chunk)


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


class InertRecord:
    """Stand-in for a pickled record class (mmengine's ``HistoryBuffer``): holds its fields, runs nothing."""


#: The statistics HistoryBuffer pickles by reference (mmengine 0.10.7's ``_set_default_statistics``
#: in mmengine/logging/history_buffer.py); the resume reader allows the same four.
HISTORY_STATISTICS = ("current", "max", "mean", "min")


def _history_getattr(obj: Any, name: str) -> str:
    """``getattr`` as HistoryBuffer's pickle uses it, and nothing else."""
    if obj is InertRecord and name in HISTORY_STATISTICS:
        return f"HistoryBuffer.{name}"
    raise pickle.UnpicklingError(f"getattr({getattr(obj, '__name__', type(obj).__name__)}, {name!r}) is not allowed")


def numpy_reconstructors() -> list:
    """numpy's array and scalar reconstructors (and ``ndarray``, ``dtype``) under the module names
    numpy 1.x (``numpy.core``) and 2.x (``numpy._core``) pickle them."""
    out: list = [np.dtype, np.ndarray]
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        out += [(getattr(np._core.multiarray, n), f"{module}.{n}") for n in ("scalar", "_reconstruct")]
    return out


def _numpy_globals() -> list:
    out = numpy_reconstructors()
    # numpy >= 1.25 may pickle a dtype by its class (numpy.dtypes.Float32DType ...).
    out += [(cls, f"numpy.dtypes.{cls.__name__}") for cls in vars(np.dtypes).values()
            if isinstance(cls, type) and issubclass(cls, np.dtype)]
    return out


INERT_GLOBALS = [
    argparse.Namespace,
    *_numpy_globals(),
    (InertRecord, "mmengine.logging.history_buffer.HistoryBuffer"),
    (_history_getattr, "builtins.getattr"),
]

_GLOBAL = re.compile(r"(?:Unsupported global: GLOBAL |unsupported GLOBAL |global |but got <class ')([\w.]+)")


def _read_torch(path: Path, trust: bool) -> Any:
    if trust:
        return torch.load(path, map_location="cpu", weights_only=False)
    try:
        with torch.serialization.safe_globals(INERT_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found, refused = _GLOBAL.search(str(exc)), re.search(r"getattr\([^)]*\) is not allowed", str(exc))
        if found or refused:
            what = f"the type {found.group(1)}" if found else refused.group(0).replace(" is not allowed", "")
            raise EvalsuiteError(f"checkpoint {str(path)!r} holds {what}, which is not on the "
                                 f"allow-list of inert types; {TRUST_HINT}") from exc
        raise


def unpickler_reason(exc: Exception) -> str:
    """The informative part of a loader error. torch's weights-only errors open with a paragraph
    of boilerplate and put the cause after 'WeightsUnpickler error:', on the same line or the
    next non-empty one; a refused class is named as the type it is ('but got <class 'X'>')."""
    text = str(exc)
    got = re.search(r"but got <class '([\w.]+)'>", text)
    if got:
        return f"the type {got.group(1)}"
    tail = text.split("WeightsUnpickler error:", 1)[1] if "WeightsUnpickler error:" in text else text
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return (lines[0] if lines else f"{type(exc).__name__} without a message")[:160]


#: File names a weights file commonly ends with: named when a folder is given instead of a file.
WEIGHT_SUFFIXES = (".pth", ".pt", ".tar", ".ckpt", ".pkl", ".bin", ".safetensors")


def checkpoint_file(path: str | Path) -> Path:
    """The file (or Hugging Face model folder) to read for the checkpoint argument ``path``; one
    sentence when there is none.

    Any other folder holds no single checkpoint file here; the sentence names the weights-like files in it
    (``evalsuite eval work_dirs/RECIPE`` gets ``backbone.pth``) so the user can pick one."""
    path = Path(path)
    if path.is_dir() and any((path / name).is_file() for name in ("config.json", *WEIGHT_FILES)):
        return path  # a Hugging Face model folder (evalsuite/checkpoint/hub_files.py)
    if path.is_dir():
        found = sorted(p.name for p in path.iterdir() if p.is_file() and p.name.endswith(WEIGHT_SUFFIXES))
        hint = (f"give one of its files, e.g. {', '.join(str(path / n) for n in found[:3])}" if found else
                f"it holds no file ending in {', '.join(WEIGHT_SUFFIXES)} and no config.json or {WEIGHT_FILES[0]} of a "
                "Hugging Face model folder; give the checkpoint file itself")
        raise EvalsuiteError(f"checkpoint {str(path)!r} is a folder, not a checkpoint file; {hint}")
    if not path.is_file():
        raise EvalsuiteError(f"checkpoint {str(path)!r} does not exist; give a checkpoint file or 'random'")
    return path


def read_checkpoint(path: str | Path, trust: bool = False) -> Any:
    """Load the object stored in ``path`` (dict of tensors or arrays, usually) on the CPU."""
    path = checkpoint_file(path)
    if path.is_file() and path.stat().st_size == 0:
        raise EvalsuiteError(f"checkpoint {str(path)!r} is empty (0 bytes); it is truncated or was never written")
    reader = _read_pickle if path.suffix == ".pkl" else _read_torch
    if is_hub_path(path):  # a Hugging Face model folder or a .safetensors file (evalsuite/checkpoint/hub_files.py)
        reader = functools.partial(read_hub, read_torch=_read_torch)
    try:
        obj = reader(path, trust)
    except EvalsuiteError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the deserialiser on an untrusted file means a bad file
        raise EvalsuiteError(
            f"checkpoint {str(path)!r} cannot be read ({type(exc).__name__}: {unpickler_reason(exc)}); "
            "the file is truncated, corrupted or not a PyTorch/pickle checkpoint"
        ) from exc
    if not isinstance(obj, dict):
        raise EvalsuiteError(f"checkpoint {str(path)!r} holds a {type(obj).__name__}, not a dict of weights")
    return obj


#: Attribute of the stand-in for a numpy array torch cannot hold: the array's numpy dtype.
NUMPY_DTYPE = "numpy_dtype"


def as_tensor(value: Any) -> torch.Tensor | None:
    """A tensor, or a numpy array as one (detectron2 ``.pkl``); anything else is None.

    An array torch has no dtype for (``longdouble``, strings, objects ...) becomes a meta tensor of
    its shape carrying its numpy dtype (``NUMPY_DTYPE``), so that where a weight belongs the
    loader names that dtype instead of calling the key missing (``load._check_tensors``)."""
    if isinstance(value, torch.Tensor):
        return value
    if not isinstance(value, np.ndarray):
        return None
    if not value.dtype.isnative:  # a big-endian array (written on another machine)
        value = value.astype(value.dtype.newbyteorder("="))
    if value.dtype.kind in "iu" and value.dtype.char in "qQ":  # numpy's longlong: int64 / uint64 under another name
        value = value.astype(f"{value.dtype.kind}8")
    try:
        # ascontiguousarray turns a 0-d array (a pickled num_batches_tracked) into shape (1,)
        return torch.from_numpy(np.ascontiguousarray(value).reshape(value.shape))
    except TypeError:  # "can't convert np.ndarray of type numpy.longdouble"
        stand_in = torch.empty(value.shape, device="meta")
        setattr(stand_in, NUMPY_DTYPE, f"numpy {value.dtype.name}")
        return stand_in


def as_tensor_dict(sd: dict) -> dict[str, torch.Tensor]:
    """Keep tensor (and numpy array) entries under string keys; drop everything else."""
    return {k: t for k, v in sd.items() if isinstance(k, str) and (t := as_tensor(v)) is not None}
