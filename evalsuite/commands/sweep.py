"""evalsuite sweep CKPT...: every checkpoint through a suite on every dataset, one job per
(checkpoint, dataset), on SLURM or locally; ``--status DIR`` tells where a sweep stands."""

from __future__ import annotations

import argparse

from evalsuite.cliopts import add_request_arguments, request_fields

NAME = "sweep"
HELP = "evaluate many checkpoints, one job per (checkpoint, dataset), via SLURM (submitit) or locally; resumable"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", nargs="*", help="checkpoint files (or 'random' with --arch)")
    p.add_argument("--results", help="results folder of the sweep (rows, manifest, logs, leaderboard)")
    p.add_argument("--status", metavar="DIR", help="show the state of the sweep in results folder DIR")
    p.add_argument("--retry-failed", action="store_true", help="with --status: submit the failed and lost jobs again")
    p.add_argument("--finalize", action="store_true", help="with --status: write the leaderboard and report once all jobs are done")
    p.add_argument("--executor", default="local", help="local (submitit, --jobs at once), slurm (submitit array) or debug (in-process)")
    p.add_argument("--jobs", type=int, default=2, help="jobs running at once (local) or SLURM array parallelism (default 2)")
    p.add_argument("--time", "--slurm-time", dest="time", type=int, default=120, help="time limit of each job in minutes (default 120)")
    p.add_argument("--slurm-partition", help="SLURM partition")
    p.add_argument("--slurm-gpus-per-job", type=int, default=1, help="GPUs per SLURM job (default 1)")
    p.add_argument("--slurm-cpus-per-job", type=int, help="CPUs per SLURM job")
    p.add_argument("--slurm-mem-gb", type=float, help="memory per SLURM job in GB")
    p.add_argument("--slurm-account", help="SLURM account")
    p.add_argument("--wait", action="store_true", help="slurm: wait for the jobs and finalize (local and debug always wait)")
    p.add_argument("--baseline", help="checkpoint label the report compares against")
    add_request_arguments(p)


def run(args: argparse.Namespace) -> int:
    from evalsuite.sweep.run import SweepOptions, show_status, start_sweep

    if args.status:
        return show_status(args.status, retry_failed=args.retry_failed, finalize=args.finalize)
    request = request_fields(args)
    datasets = request.pop("datasets")  # one job per (checkpoint, dataset)
    opts = SweepOptions(
        checkpoints=args.checkpoints, results_dir=args.results, executor=args.executor, jobs=args.jobs,
        time=args.time, partition=args.slurm_partition, gpus_per_job=args.slurm_gpus_per_job,
        cpus_per_job=args.slurm_cpus_per_job, mem_gb=args.slurm_mem_gb, account=args.slurm_account,
        wait=args.wait, baseline=args.baseline, request=request, datasets=datasets,
    )
    return start_sweep(opts)
