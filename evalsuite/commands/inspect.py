"""evalsuite inspect CHECKPOINT: detected format, matching arch, key counts, metadata."""

from __future__ import annotations

import argparse
import json

NAME = "inspect"
HELP = "show a checkpoint's detected format, arch, matched/missing/unexpected keys and metadata"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint")
    p.add_argument("--arch", help="compare against this arch instead of the inferred one")
    p.add_argument("--trust-checkpoint", action="store_true")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from evalsuite.checkpoint import inspect_checkpoint

    info = inspect_checkpoint(args.checkpoint, args.arch, args.trust_checkpoint)
    summary = info.summary()
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        for key, value in summary.items():
            print(f"{key:17s} {value}")
        if not info.report.ok:
            print(f"{'problem':17s} {info.report.problem()}")
    return 0 if info.report.ok else 1
