"""Hugging Face files: a ``.safetensors`` file, or a model folder as ``save_pretrained`` writes it.

- transformers ``PreTrainedModel.save_pretrained`` (``modeling_utils.py``) writes ``config.json``
  and ``model.safetensors`` (``pytorch_model.bin`` in older versions or with
  ``safe_serialization=False``); a large model is split into shards named by
  ``model.safetensors.index.json`` (``{"weight_map": {tensor: shard file}}``).
- timm ``save_for_hf`` (``timm/models/_hub.py``) writes the same two files, its ``config.json``
  naming the timm ``architecture`` and its ``pretrained_cfg``.

A safetensors file holds raw tensors and a str -> str header, nothing to unpickle, so it needs no
``--trust-checkpoint``; a ``pytorch_model.bin`` is read like any ``.pth`` (``weights_only=True``).
The object handed to the format adapters is the flat tensor dict, with the folder's ``config.json``
under ``CONFIG`` and the safetensors header under ``METADATA``: ``.safetensors`` files from any
source go through the same structural search as every other checkpoint.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from evalsuite.errors import EvalsuiteError

CONFIG = "__config__"  # config.json of a model folder, for the adapters (transformers, timm hub)
METADATA = "__metadata__"  # the safetensors header's metadata, as safetensors itself names it
SUFFIX = ".safetensors"
#: Weight files of a model folder, in the order transformers' ``from_pretrained`` prefers them.
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


def is_hub_path(path: Path) -> bool:
    """A model folder or a ``.safetensors`` file: read here, not by ``torch.load``."""
    return path.is_dir() or path.suffix == SUFFIX


def _weights_of(folder: Path) -> Path:
    for name in WEIGHT_FILES:
        if (folder / name).is_file():
            return folder / name
    raise EvalsuiteError(f"folder {str(folder)!r} holds no model weights ({', '.join(WEIGHT_FILES)}); give a folder "
                         "written by save_pretrained / timm's save_for_hf, or a checkpoint file")


def _shards(weights: Path) -> list[Path]:
    """The files holding the weights: the file itself, or every shard an index names."""
    if not weights.name.endswith(".index.json"):
        return [weights]
    try:
        weight_map = json.loads(weights.read_text())["weight_map"]
        files = sorted(set(weight_map.values()))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise EvalsuiteError(f"shard index {str(weights)!r} is not valid JSON with a weight_map ({exc}); "
                             "the folder is damaged") from None
    missing = [f for f in files if not (weights.parent / f).is_file()]
    if missing:
        raise EvalsuiteError(f"shard index {str(weights)!r} names {len(missing)} file(s) that are not there, such as "
                             f"{missing[0]!r}; download every shard of the model")
    return [weights.parent / f for f in files]


def files_of(path: Path) -> list[Path]:
    """Every file the checkpoint is read from (config first), for its sha256."""
    if not path.is_dir():
        return [path]
    config = [path / "config.json"] if (path / "config.json").is_file() else []
    weights = _weights_of(path)
    return config + ([weights] if weights.name.endswith(".index.json") else []) + _shards(weights)


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 of a checkpoint file, or of a model folder's config and weight files in order."""
    digest = hashlib.sha256()
    for file in files_of(Path(path)):
        with open(file, "rb") as f:
            while block := f.read(chunk):
                digest.update(block)
    return digest.hexdigest()


def read_safetensors(path: Path) -> tuple[dict, dict]:
    """(tensors, header metadata) of a safetensors file; a damaged file is one sentence."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise EvalsuiteError(f"checkpoint {str(path)!r} cannot be read as safetensors ({reason}); "
                             "the file is truncated, corrupted or not a safetensors file") from None


def _config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise EvalsuiteError(f"{str(path)!r} is not valid JSON ({exc}); the folder is damaged") from None
    if not isinstance(config, dict):
        raise EvalsuiteError(f"{str(path)!r} holds a {type(config).__name__}, not a model configuration")
    return config


def read_hub(path: Path, trust: bool, read_torch: Callable[[Path, bool], Any]) -> dict:
    """A ``.safetensors`` file or a model folder as one dict: tensors, ``CONFIG``, ``METADATA``."""
    shards = _shards(_weights_of(path)) if path.is_dir() else [path]
    tensors, metadata = {}, {}
    for shard in shards:
        if shard.suffix == SUFFIX:
            found, meta = read_safetensors(shard)
            metadata.update(meta)
        else:  # pytorch_model.bin: a pickle like any .pth, read weights-only
            found = read_torch(shard, trust)
            if not isinstance(found, dict):
                raise EvalsuiteError(f"checkpoint {str(shard)!r} holds a {type(found).__name__}, not a dict of weights")
        tensors.update(found)
    return {**tensors, CONFIG: _config(path) if path.is_dir() else {}, METADATA: metadata}
