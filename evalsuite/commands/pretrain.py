"""evalsuite pretrain RECIPE: train a backbone with a bundled method (SimSiam, BYOL, SimCLR, NNCLR)."""

from __future__ import annotations

import argparse
import os

from evalsuite.cliopts import parse_cfg_options

NAME = "pretrain"
HELP = "pre-train a backbone from a recipe in pretrain/ (writes WORK_DIR/backbone.pth for evalsuite eval)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("recipe", help="recipe file or name in pretrain/, e.g. simsiam_cifar10_resnet18")
    p.add_argument("--work-dir", help="output folder (default work_dirs/RECIPE)")
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --work-dir")
    p.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override recipe keys, e.g. epochs=20")
    p.add_argument("--launcher", default="none", help="none, pytorch (torchrun) or slurm")
    p.add_argument("--device", default=None, help="cpu to force the CPU (default: CUDA when available)")
    p.add_argument("--cache-dir", help="folder of every cache, here the decoded training images (default $EVALSUITE_CACHE, else ~/.cache/evalsuite)")
    p.add_argument("--verbose", action="store_true", help="show mmengine's environment, config, hooks and warnings on the terminal too (they are always in the work dir's log file)")
    p.add_argument("--local-rank", "--local_rank", type=int, default=0, help=argparse.SUPPRESS)


def check(args: argparse.Namespace, options: dict) -> None:
    """Work dir, recipe and --cfg-options checked before the trainer starts (nothing is written)."""
    from pathlib import Path

    from evalsuite.atomic import writable_dir
    from evalsuite.errors import EvalsuiteError

    if args.work_dir:  # at once, before torch loads; the default folder is named after the recipe, so it waits
        writable_dir(args.work_dir, "work dir (--work-dir)")
    from evalsuite.pretrain.trainer import load_recipe
    from evalsuite.schema import check_recipe_options

    try:
        recipe = load_recipe(args.recipe)
    except SyntaxError as exc:
        raise EvalsuiteError(f"recipe {args.recipe!r} (or a file it inherits) does not parse: line {exc.lineno}: "
                             f"{exc.msg}") from None
    check_recipe_options(recipe.to_dict(), options)
    writable_dir(args.work_dir or Path("work_dirs") / recipe.recipe_name, "work dir (--work-dir)")


def run(args: argparse.Namespace) -> int:
    options = parse_cfg_options(args.cfg_options)
    check(args, options)
    from evalsuite.pretrain.console import console
    from evalsuite.pretrain.dist import world
    from evalsuite.pretrain.trainer import run_pretrain

    if args.cache_dir:  # the one cache root evalsuite.paths.cache_root reads, as for eval's --cache-dir
        os.environ["EVALSUITE_CACHE"] = args.cache_dir
    with console(args.verbose):
        out = run_pretrain(args.recipe, args.work_dir, args.resume, options, args.launcher, args.device)
    if world()[0] != 0:
        return 0
    last = out["history"][-1] if out["history"] else {}
    knn = f", online kNN {last['knn']:.4f}" if "knn" in last else ""
    print(f"trained {last.get('epoch', 0)} epoch(s) in {out['wall_s']:.1f} s{knn}; checkpoint {out['checkpoint']}")
    return 0
