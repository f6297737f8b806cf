"""The results store: one JSON file per (checkpoint, task, dataset, seed).

Files are written atomically (a temp file in the same folder, then ``os.replace``), so several
``evalsuite eval`` processes can write into one folder at once and a reader never sees half a row.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
from datetime import datetime, timezone
from pathlib import Path

from evalsuite.atomic import atomic_path

SCHEMA_VERSION = 1


def default_results_dir() -> Path:
    """Where ``evalsuite eval`` writes and the leaderboard reads when ``--results`` is not given:
    ``$EVALSUITE_RESULTS``, else ``$XDG_DATA_HOME/evalsuite/results`` (~/.local/share). Never a
    folder of the repository, so a user's rows never mix with the project's committed ones
    (``results/measured/``)."""
    if os.environ.get("EVALSUITE_RESULTS"):
        return Path(os.environ["EVALSUITE_RESULTS"]).expanduser()
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "evalsuite" / "results"


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[:80] or "x"


def row_path(results_dir: str | Path, label: str, task: str, dataset: str, seed: int, protocol: str = "",
             file_id: str = "") -> Path:
    """One file per (checkpoint, task, dataset, seed) and protocol, so a run under other settings
    adds a row instead of overwriting the earlier one. ``file_id`` (the checkpoint's sha256 prefix)
    keeps two files given the same ``--name`` apart, in the file name and so for ``--skip-existing``."""
    suffix = f"__{protocol}" if protocol else ""
    ident = f"{slug(label)}-{file_id}" if file_id else slug(label)
    return Path(results_dir) / f"{ident}__{slug(task)}__{slug(dataset)}__seed{seed}{suffix}.json"


def protocol_id(task: str, settings: dict, dataset: str, extra: dict | None = None) -> str:
    """Short hash of everything that defines the protocol (not the seed): rows with different
    ids are never averaged into one leaderboard cell."""
    blob = json.dumps({"task": task, "settings": settings, "dataset": dataset, **(extra or {})}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:10]


def checkpoint_record(info, label: str) -> dict:
    """The row's ``checkpoint``: a ``LoadedCheckpoint`` (``evalsuite.checkpoint``) under ``label``."""
    meta = info.meta
    return {
        "label": label, "path": info.path, "sha256": info.sha256, "format": info.format, "arch": info.arch,
        "method": meta.get("method"), "epochs": meta.get("epochs"), "dataset": meta.get("dataset"),
        "kind": meta.get("kind", "random" if info.format == "random" else "ssl"),
        "meta": meta,
    }


def make_row(*, checkpoint: dict, task: str, spec, seed: int, out, settings: dict, protocol: dict,
             skipped: dict, pid: str, timings: dict, device: str) -> dict:
    """One result row (schema ``SCHEMA_VERSION``): what was evaluated (``checkpoint``, ``task``,
    ``dataset``, ``seed``), what it scored (a task's ``TaskOutput``: ``metric``, ``value``,
    ``metrics``, ``chosen``, ``extra``), under which protocol (the task's ``settings``, the data
    step's ``protocol`` keys, the ``split``, their hash ``protocol_id``), and how it ran."""
    return {
        "schema_version": SCHEMA_VERSION,
        "checkpoint": checkpoint,
        "task": task, "dataset": spec.name, "seed": seed,
        "metric": out.metric, "value": out.value, "metrics": out.metrics,
        "settings": settings, "chosen": out.chosen, "extra": out.extra,
        **protocol, "split": {"note": spec.split_note, "sizes": spec.sizes, **skipped},
        "protocol_id": pid,
        "timings": timings,
        "versions": versions(), "device": device, "time": now(),
    }


def versions() -> dict:
    import sklearn
    import torch
    import torchvision

    from evalsuite import __version__

    return {"evalsuite": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "sklearn": sklearn.__version__, "python": platform.python_version()}


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_row(path: str | Path, row: dict) -> Path:
    """Write ``row`` as JSON at ``path`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        json.dump(row, f, indent=1, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    return Path(path)


def read_rows(results_dir: str | Path) -> list[dict]:
    """Every result row under ``results_dir`` (recursively); files that are not rows are skipped."""
    rows = []
    for path in sorted(Path(results_dir).rglob("*.json")):
        if path.name.startswith("."):
            continue
        try:
            row = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue
        if isinstance(row, dict) and row.get("schema_version") == SCHEMA_VERSION and "value" in row:
            row["_file"] = str(path)
            rows.append(row)
    return rows

