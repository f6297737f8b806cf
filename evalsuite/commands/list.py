"""evalsuite list archs|formats|datasets|tasks|methods."""

from __future__ import annotations

import argparse

NAME = "list"
HELP = "list registered archs, checkpoint formats, datasets, tasks or pre-training methods"
KINDS = ("archs", "formats", "datasets", "tasks", "methods")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", help=", ".join(KINDS))


def run(args: argparse.Namespace) -> int:
    from evalsuite import registry
    from evalsuite.errors import one_of

    table = {"archs": registry.ARCHS, "formats": registry.FORMATS, "datasets": registry.DATASETS,
             "tasks": registry.TASKS, "methods": registry.METHODS}
    if args.kind not in table:
        raise one_of("kind", args.kind, KINDS)
    for name in registry.names(table[args.kind]):
        print(name)
    if args.kind == "datasets":
        print("imagefolder:PATH")
    return 0
