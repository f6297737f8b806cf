"""evalsuite list archs|formats|datasets|tasks|methods|suites|recipes|zoo."""

from __future__ import annotations

import argparse

NAME = "list"
HELP = ("list registered archs, checkpoint formats, datasets, tasks, pre-training methods, shipped suites or "
        "recipes, or the zoo of published checkpoints (and which are downloaded)")
KINDS = ("archs", "formats", "datasets", "tasks", "methods", "suites", "recipes", "zoo")
#: Shipped recipe files (evalsuite.resources): suites for eval --suite, recipes for pretrain.
RECIPES = {"suites": "tasks", "recipes": "pretrain"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", help=", ".join(KINDS))
    p.add_argument("--cache-dir", help="zoo: the cache root to look in (default $EVALSUITE_CACHE, else ~/.cache/evalsuite)")


def list_zoo(cache_dir: str | None) -> None:
    """One line per zoo entry: name, method, arch, published hash, whether its file is downloaded."""
    from evalsuite.zoo.catalog import entries, is_present, local_path

    for entry in entries().values():
        digest = f"{entry.hash.algorithm} {entry.hash.prefix}" if entry.hash else "no published hash"
        where = f"present ({local_path(entry, cache_dir)})" if is_present(entry, cache_dir) else "absent"
        print("\t".join((entry.name, entry.method, entry.arch, digest, where)))


def run(args: argparse.Namespace) -> int:
    from evalsuite.errors import one_of

    if args.kind == "zoo":
        list_zoo(args.cache_dir)
        return 0
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
        from evalsuite.segmentation.datasets import SEG_DATASETS

        print("imagefolder:PATH")
        for name in registry.names(SEG_DATASETS):  # the dense-label datasets the segmentation task reads
            print(f"{name} (segmentation), {name}:PATH")
    return 0
