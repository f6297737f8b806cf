"""evalsuite list archs|formats|datasets|tasks|methods|suites|recipes."""

from __future__ import annotations

import argparse

NAME = "list"
HELP = "list registered archs, checkpoint formats, datasets, tasks, pre-training methods, shipped suites or recipes"
KINDS = ("archs", "formats", "datasets", "tasks", "methods", "suites", "recipes")
#: Shipped recipe files (evalsuite.resources): suites for eval --suite, recipes for pretrain.
RECIPES = {"suites": "tasks", "recipes": "pretrain"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", help=", ".join(KINDS))


def run(args: argparse.Namespace) -> int:
    from evalsuite.errors import one_of

    if args.kind in RECIPES:
        from evalsuite.resources import recipe_names

        print("\n".join(recipe_names(RECIPES[args.kind])))
        return 0
    from evalsuite import registry

    table = {"archs": registry.ARCHS, "formats": registry.FORMATS, "datasets": registry.DATASETS,
             "tasks": registry.TASKS, "methods": registry.METHODS}
    if args.kind not in table:
        raise one_of("kind", args.kind, KINDS)
    for name in registry.names(table[args.kind]):
        print(name)
    if args.kind == "datasets":
        print("imagefolder:PATH")
    return 0
