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


#: At most this many left-out files are named one per line; the rest are counted.
MAX_NAMED = 5


def _why_not_a_row(path: Path) -> tuple[dict | None, str]:
    """The row stored in ``path``, or None and why it is not one."""
    try:
        row = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, "not valid JSON: a half-written or damaged file"
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if not isinstance(row, dict) or "schema_version" not in row:
        return None, "JSON but not a result row (no schema_version)"
    if row["schema_version"] != SCHEMA_VERSION:
        return None, f"a row of schema version {row['schema_version']!r}; this evalsuite reads version {SCHEMA_VERSION}"
    if "value" not in row:
        return None, "a result row without a value"
    return row, ""


def read_rows(results_dir: str | Path, warn: bool = True) -> list[dict]:
    """Every result row under ``results_dir`` (recursively). evalsuite's own state in hidden folders
    (``.sweep/``, ``.work/``) and hidden files are not rows; any other ``.json`` that is not a row
    (damaged, half-written, another program's) is left out with a warning naming it, unless not ``warn``."""
    from evalsuite.errors import warn as say

    root, rows, left_out = Path(results_dir), [], []
    for path in sorted(root.rglob("*.json")):
        if any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        row, why = _why_not_a_row(path)
        if row is None:
            left_out.append(f"left out {str(path)!r} ({why})")
            continue
        row["_file"] = str(path)
        rows.append(row)
    if warn and left_out:
        shown = f"; the {len(rows)} row(s) read are shown"
        for line in left_out[:MAX_NAMED]:
            say(line + shown)
        if len(left_out) > MAX_NAMED:
            say(f"and {len(left_out) - MAX_NAMED} more file(s) under {str(root)!r} that are not result rows were left out")
    return rows


def protocol_fields(row: dict) -> dict:
    """What a row's protocol id hashes, flat: the task's settings, the transform, the ViT feature
    mode, the precision, a dataset's label protocol and any skipped images (``evalsuite.runner``)."""
    fields = {k: row.get(k) for k in ("transform", "feature_mode", "precision", "label_protocol")}
    fields["skipped_images"] = (row.get("split") or {}).get("skipped_images")
    fields.update(row.get("settings") or {})
    return {k: v for k, v in fields.items() if v is not None}
