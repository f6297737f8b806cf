"""evalsuite eval CHECKPOINT: kNN, linear probe and the other tasks of a suite."""

from __future__ import annotations

import argparse

from evalsuite.cliopts import RESULTS_HELP, add_request_arguments, request_fields, results_dir

NAME = "eval"
HELP = "evaluate a checkpoint (or 'random') with the tasks of a suite; one result row per (task, dataset, seed)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint file (.pth, .ckpt, .pkl, .safetensors ...), a Hugging Face model "
                   "folder, 'random' for random init of --arch, or zoo:NAME for a published checkpoint "
                   "(evalsuite list zoo; --download fetches it)")
    add_request_arguments(p)
    p.add_argument("--results", default=None, help=RESULTS_HELP)
    p.add_argument("--name", help="label of this checkpoint in results and leaderboards")
    p.add_argument("--seed", type=int, default=None, help="one seed (default: the suite's seeds, else 0)")
    p.add_argument("--skip-existing", action="store_true", help="skip (task, dataset, seed) rows already written")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--launcher", default="none", help="none, pytorch (torchrun) or slurm: detection across processes/GPUs")


def run(args: argparse.Namespace) -> int:
    from evalsuite.paths import check_outputs

    check_outputs(results_dir(args.results), args.cache_dir)  # in well under a second: before torch is even imported
    from evalsuite.zoo import get_entry, is_zoo

    if is_zoo(args.checkpoint):
        get_entry(args.checkpoint)  # an unknown name, before torch is imported
    from evalsuite.launch import world
    from evalsuite.runner import EvalRequest, evaluate

    req = EvalRequest(checkpoint=args.checkpoint, results_dir=results_dir(args.results), name=args.name,
                      skip_existing=args.skip_existing, quiet=args.quiet, launcher=args.launcher, **request_fields(args))
    written = evaluate(req)
    if world()[0] == 0:
        print(f"wrote {len(written)} result row(s) to {req.results_dir}")
    return 0
