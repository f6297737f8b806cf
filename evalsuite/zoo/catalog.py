"""Zoo entries by name and their files in the cache root (``<cache root>/zoo/<name>/<file>``)."""

from __future__ import annotations

import importlib
from pathlib import Path

from evalsuite.errors import EvalsuiteError
from evalsuite.paths import cache_root
from evalsuite.registry import ZOO, import_folder

PREFIX = "zoo:"
#: Beside a file with no published hash: the sha256 it had when it was downloaded, checked on every later use.
PIN_SUFFIX = ".sha256"


def is_zoo(checkpoint: object) -> bool:
    return isinstance(checkpoint, str) and checkpoint.startswith(PREFIX)


def _load() -> None:
    package = importlib.import_module("evalsuite.zoo.entries")  # each family's file registers its entries
    import_folder(package.__name__, package.__path__)


def entries() -> dict:
    """name -> ``ZooEntry``, every registered entry, sorted by name."""
    _load()
    return {name: ZOO.module_dict[name]() for name in sorted(ZOO.module_dict)}


def get_entry(name: str):
    """The entry of ``zoo:NAME`` (or of NAME); an unknown name lists the valid ones."""
    _load()
    bare = name[len(PREFIX):] if is_zoo(name) else name
    if bare not in ZOO.module_dict:
        raise EvalsuiteError(f"unknown zoo checkpoint {bare!r}; valid names are: {', '.join(sorted(ZOO.module_dict))} "
                             "(evalsuite list zoo)")
    return ZOO.module_dict[bare]()


def local_path(entry, cache_dir: str | Path | None = None) -> Path:
    """Where the entry's file lives once downloaded (it may not exist)."""
    return cache_root(cache_dir) / "zoo" / entry.name / entry.file


def is_present(entry, cache_dir: str | Path | None = None) -> bool:
    return local_path(entry, cache_dir).is_file()
