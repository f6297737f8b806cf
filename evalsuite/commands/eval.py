"""evalsuite eval CHECKPOINT: kNN, linear probe and the other tasks of a suite."""

from __future__ import annotations

import argparse

from evalsuite.cliopts import RESULTS_HELP, csv_list, int_list, parse_cfg_options, results_dir

NAME = "eval"
HELP = "evaluate a checkpoint (or 'random') with the tasks of a suite; one result row per (task, dataset, seed)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", help="checkpoint file, or 'random' for random init of --arch")
    p.add_argument("--arch", help="registered arch (evalsuite list archs), timm:NAME or pkg.module:callable; "
                                  "inferred when omitted")
    p.add_argument("--suite", help="suite recipe (default tasks/default.py)")
    p.add_argument("--tasks", help="comma-separated tasks of the suite to run, e.g. knn,linear")
    p.add_argument("--datasets", help="comma-separated datasets, e.g. cifar10,digits or imagefolder:PATH")
    p.add_argument("--data-root", default="data", help="where datasets live (default ./data)")
    p.add_argument("--download", action="store_true", help="download missing datasets into --data-root")
    p.add_argument("--results", default=None, help=RESULTS_HELP)
    p.add_argument("--name", help="label of this checkpoint in results and leaderboards")
    p.add_argument("--seed", type=int, default=None, help="one seed (default: the suite's seeds, else 0)")
    p.add_argument("--seeds", help="several seeds, e.g. 0,1,2: one result row per seed")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--trust-checkpoint", action="store_true", help="allow arbitrary unpickling of the checkpoint")
    p.add_argument("--key", help="dotted location of the backbone in the file when the convention is not wanted, "
                                 "e.g. student (DINO) or state_dict.module.encoder_k; see evalsuite inspect")
    p.add_argument("--allow-nonfinite", action="store_true", help="evaluate weights that hold NaN or inf (refused by default)")
    p.add_argument("--skip-existing", action="store_true", help="skip (task, dataset, seed) rows already written")
    p.add_argument("--cache-dir", help="folder of every cache: features/, decoded/ (default $EVALSUITE_CACHE, else ~/.cache/evalsuite)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.add_argument("--resolution", help="evaluation resolution: auto (default: the backbone's training size when "
                   "known, else 224), native, or N px; the same as --cfg-options features.resize=...")
    p.add_argument("--cfg-options", nargs="+", metavar="KEY=VALUE", help="override suite settings, e.g. knn.temperature=0.1")
    p.add_argument("--skip-bad-images", action="store_true",
                   help="imagefolder: leave out unreadable image files and record how many in the row")
    p.add_argument("--launcher", default="none", help="none, pytorch (torchrun) or slurm: detection across processes/GPUs")


def run(args: argparse.Namespace) -> int:
    from evalsuite.paths import check_outputs

    check_outputs(results_dir(args.results), args.cache_dir)  # in well under a second: before torch is even imported
    from evalsuite.launch import world
    from evalsuite.runner import EvalRequest, evaluate

    seeds = int_list(args.seeds) if args.seeds else ([args.seed] if args.seed is not None else None)  # None: the suite's
    req = EvalRequest(
        checkpoint=args.checkpoint, arch=args.arch, suite=args.suite, tasks=csv_list(args.tasks),
        datasets=csv_list(args.datasets), data_root=args.data_root, download=args.download,
        results_dir=results_dir(args.results), name=args.name, seeds=seeds, device=args.device,
        trust_checkpoint=args.trust_checkpoint, skip_existing=args.skip_existing, key=args.key,
        allow_nonfinite=args.allow_nonfinite,
        cfg_options={**parse_cfg_options(args.cfg_options), **({"features.resize": args.resolution} if args.resolution else {})},
        cache_dir=args.cache_dir, quiet=args.quiet,
        launcher=args.launcher, skip_bad_images=args.skip_bad_images,
    )
    written = evaluate(req)
    if world()[0] == 0:
        print(f"wrote {len(written)} result row(s) to {req.results_dir}")
    return 0
