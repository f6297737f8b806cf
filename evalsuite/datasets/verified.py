"""Check a dataset's files once, not on every run.

torchvision md5-hashes STL-10's binaries (2.6 GB with the unlabeled file, which evalsuite never
reads) whenever a split is built (``torchvision/datasets/stl10.py``, ``_check_integrity``): tens
of seconds per evaluation, twice (train and test). The first build keeps torchvision's check and
then records each file's size and modification time in a marker beside them; a later build whose
files still match the marker skips the hash. A changed, replaced or truncated file no longer
matches, so it is hashed again. A folder that cannot be written just keeps hashing.
"""

from __future__ import annotations

import json
from pathlib import Path

from evalsuite.atomic import atomic_path
from evalsuite.errors import EvalsuiteError

MARKER = ".evalsuite-verified.json"


def file_stats(folder: Path, names: list[str]) -> dict[str, list[int]] | None:
    """name -> [size, mtime_ns] for each file, or None when one is missing."""
    stats = {}
    for name in names:
        path = folder / name
        if not path.is_file():
            return None
        st = path.stat()
        stats[name] = [st.st_size, st.st_mtime_ns]
    return stats


def already_verified(folder: Path, names: list[str]) -> bool:
    """True when the marker records exactly these files as they are now."""
    try:
        recorded = json.loads((folder / MARKER).read_text())
    except (OSError, ValueError):
        return False
    stats = file_stats(folder, names)
    return stats is not None and recorded == stats


def record_verified(folder: Path, names: list[str]) -> None:
    """Write the marker after a successful check; a read-only folder is left as it is."""
    stats = file_stats(folder, names)
    if stats is None:
        return
    try:
        with atomic_path(folder / MARKER) as tmp:
            Path(tmp).write_text(json.dumps(stats, sort_keys=True))
    except (OSError, EvalsuiteError):  # a folder we may read but not write
        pass
