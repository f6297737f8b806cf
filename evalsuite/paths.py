"""Where ``evalsuite eval`` writes, and the check that it can, made before anything heavy is
imported, so a folder that cannot be written is reported at once (not after torch has loaded,
nor after a whole evaluation has run)."""

from __future__ import annotations

import os
from pathlib import Path

from evalsuite.atomic import writable_dir


#: The folders under the cache root, one per kind of entry (``evalsuite.cache``): sharded features,
#: whole-split features of earlier versions, decoded images, and patch tokens (kept for the probes
#: that read them; no task writes there yet).
CACHE_FOLDERS = ("shards", "features", "decoded", "tokens")


def cache_root(cache_dir: str | Path | None = None) -> Path:
    """The one folder every evalsuite cache lives under (``CACHE_FOLDERS``):
    ``--cache-dir``, else ``$EVALSUITE_CACHE``, else ``$XDG_CACHE_HOME/evalsuite`` (~/.cache)."""
    if cache_dir:
        return Path(cache_dir).expanduser()
    if os.environ.get("EVALSUITE_CACHE"):
        return Path(os.environ["EVALSUITE_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "evalsuite"


def check_outputs(results_dir: str | Path | None, cache_dir: str | Path | None) -> None:
    """Every folder a run writes to, created and proven writable; else one sentence. No
    ``results_dir``: the Python API's evaluate without one writes no rows."""
    if results_dir is not None:
        writable_dir(results_dir, "results folder (--results)")
        if (Path(results_dir) / ".work").exists():  # else made inside the proven folder by the tasks that train
            writable_dir(Path(results_dir) / ".work", "work folder")
    root = cache_root(cache_dir)
    for folder in (root, root / "shards", root / "decoded"):  # the root first: the folder the user named
        writable_dir(folder, "cache folder (--cache-dir)")
