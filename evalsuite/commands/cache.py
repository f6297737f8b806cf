"""evalsuite cache [list|prune]: what the cache root holds, per checkpoint and dataset, and pruning it.

``list`` sums the entries under the root (``evalsuite.cache.entries``) per (kind, checkpoint, arch,
dataset): feature entries name their checkpoint by its sha256 prefix, decoded images are shared by
every checkpoint. ``prune`` removes the entries of one checkpoint (``--checkpoint`` a file or a
sha256 prefix) and/or those unchanged for longer than ``--older-than``; ``--dry-run`` only lists them.
"""

from __future__ import annotations

import argparse
import re
import time

NAME = "cache"
HELP = "list the feature and decoded-image caches (size per checkpoint and dataset) or prune them"
ACTIONS = ("list", "prune")
#: ``--older-than`` units, in seconds.
UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", nargs="?", default="list", help=" or ".join(ACTIONS) + " (default list)")
    p.add_argument("--cache-dir", help="the cache root (default $EVALSUITE_CACHE, else ~/.cache/evalsuite)")
    p.add_argument("--checkpoint", help="prune: the entries of this checkpoint (its file, or a sha256 prefix as listed)")
    p.add_argument("--older-than", help="prune: entries unchanged for longer than this, e.g. 30d, 12h, 90m, 2w")
    p.add_argument("--dry-run", action="store_true", help="prune: list what would be removed, remove nothing")


def run(args: argparse.Namespace) -> int:
    from evalsuite.cache import entries, remove
    from evalsuite.errors import EvalsuiteError, one_of
    from evalsuite.paths import cache_root

    if args.action not in ACTIONS:
        raise one_of("cache action", args.action, ACTIONS)
    found = entries(args.cache_dir)
    if args.action == "list":
        print(f"cache root {cache_root(args.cache_dir)}: {len(found)} entries, {_size(sum(e.bytes for e in found))}")
        for (kind, ckpt, arch, dataset), group in sorted(_groups(found).items()):
            partial = sum(not e.complete for e in group)
            print(f"{kind:9s} {ckpt or '-':12s} {arch or '-':20s} {dataset or '-':16s} {len(group):4d} "
                  f"{_size(sum(e.bytes for e in group)):>9s}" + (f"  ({partial} partial)" if partial else ""))
        return 0
    if not args.checkpoint and not args.older_than:
        raise EvalsuiteError("evalsuite cache prune needs --checkpoint FILE|SHA256-PREFIX, --older-than AGE, or both")
    chosen = found
    if args.checkpoint:
        sha = _sha256(args.checkpoint)
        chosen = [e for e in chosen if e.key.get("checkpoint_sha256", "").startswith(sha)]
    if args.older_than:
        cutoff = time.time() - _age(args.older_than)
        chosen = [e for e in chosen if e.mtime < cutoff]
    for entry in chosen:
        print(f"{'would remove' if args.dry_run else 'removed'} {entry.path} ({_size(entry.bytes)})")
        if not args.dry_run:
            remove(entry)
    verb = "would free" if args.dry_run else "freed"
    print(f"{len(chosen)} entries, {verb} {_size(sum(e.bytes for e in chosen))}")
    return 0


def _groups(found) -> dict:
    out: dict[tuple, list] = {}
    for e in found:
        out.setdefault((e.kind, e.key.get("checkpoint_sha256", "")[:12], e.key.get("arch", ""),
                        e.key.get("dataset", "")), []).append(e)
    return out


def _sha256(value: str) -> str:
    """A checkpoint file's sha256, or a prefix of one as listed (at least 6 characters; a random
    init is listed as random-seedN)."""
    from pathlib import Path

    from evalsuite.errors import EvalsuiteError

    if Path(value).is_file():
        from evalsuite.checkpoint.io import sha256_file

        return sha256_file(value)
    if not re.fullmatch(r"[0-9a-z-]{6,64}", value):
        raise EvalsuiteError(f"--checkpoint {value!r} is neither a file nor a sha256 prefix; give a checkpoint file "
                             "or 6 to 64 characters of its sha256 as 'evalsuite cache list' shows them")
    return value


def _age(text: str) -> float:
    from evalsuite.errors import EvalsuiteError

    m = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw]?)", text.strip())
    if not m:
        raise EvalsuiteError(f"--older-than {text!r} is not an age; give a number and a unit of m, h, d or w, e.g. 30d")
    return float(m[1]) * UNITS[m[2] or "d"]


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"
