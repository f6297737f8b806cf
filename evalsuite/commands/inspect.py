"""evalsuite inspect CHECKPOINT: where the backbone was found, the arch, key counts, metadata.

The ``loaded`` line is the path taken (``state_dict -> strip 'module.' -> 120/120 backbone
tensors; dropped: fc.weight, fc.bias``); when nothing fits it is the closest candidate, and the
``problem`` line says what it lacked. Exit status 0 when the backbone would load, else 1.
"""

from __future__ import annotations

import argparse
import json

NAME = "inspect"
HELP = "show where a checkpoint's backbone was found (or the closest miss), its arch, key counts and metadata"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint file or Hugging Face model folder")
    p.add_argument("--arch", help="compare against this arch instead of the inferred one")
    p.add_argument("--key", help="dotted location of the backbone inside the file, e.g. student or state_dict.module.encoder_k")
    p.add_argument("--trust-checkpoint", action="store_true")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from evalsuite.checkpoint import inspect_checkpoint

    info = inspect_checkpoint(args.checkpoint, args.arch, args.trust_checkpoint, args.key)
    summary = info.summary()
    if args.json:
        print(json.dumps(summary, indent=1, default=str))
    else:
        for key, value in summary.items():
            print(f"{key:17s} {value}")
        if not info.report.ok:
            print(f"{'problem':17s} {info.report.problem()}")
        elif info.nonfinite:
            print(f"{'problem':17s} NaN or inf in {len(info.nonfinite)} backbone tensor(s): {', '.join(info.nonfinite[:5])}")
    return 0 if info.report.ok and not info.nonfinite else 1
