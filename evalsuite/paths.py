"""Where ``evalsuite eval`` writes, and the check that it can, made before anything heavy is
imported, so a folder that cannot be written is reported at once (not after torch has loaded,
nor after a whole evaluation has run)."""

from __future__ import annotations

import os
from pathlib import Path

from evalsuite.atomic import writable_dir


def default_cache_dir() -> Path:
    """Feature cache: ``$EVALSUITE_CACHE/features``, else ``~/.cache/evalsuite/features``."""
    return Path(os.environ.get("EVALSUITE_CACHE", Path.home() / ".cache" / "evalsuite")) / "features"


def decoded_dir(features_root: Path) -> Path:
    """Decoded images live beside the features: shared by every checkpoint, not keyed by one."""
    return features_root.parent / "decoded"


def check_outputs(results_dir: str | Path, cache_dir: str | Path | None) -> None:
    """Every folder a run writes to, created and proven writable; else one sentence."""
    writable_dir(results_dir, "results folder (--results)")
    if (Path(results_dir) / ".work").exists():  # else made inside the proven folder by the tasks that train
        writable_dir(Path(results_dir) / ".work", "work folder")
    features = Path(cache_dir) if cache_dir else default_cache_dir()
    for folder in (features, decoded_dir(features)):
        writable_dir(folder, "cache folder (--cache-dir)")
