"""Executors for a sweep: ``slurm`` (a submitit array job), ``local`` (submitit's local executor,
N jobs at once on this machine, one GPU each where there are GPUs) and ``debug`` (in this process,
one after another: submitit's own debug executor opens pdb on a failure, which a sweep that
should report the failure and go on cannot use)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from evalsuite.errors import EvalsuiteError, one_of
from evalsuite.sweep.jobs import SWEEP_DIR, SweepJob, run_job

EXECUTORS = ("local", "slurm", "debug")


def log_folder(results_dir: str | Path) -> Path:
    return Path(results_dir) / SWEEP_DIR / "logs"


def make_executor(kind: str, results_dir: str | Path, options: dict):
    """A submitit executor of ``kind`` with the sweep's resources (``options``: time in minutes,
    jobs, gpus_per_job, and for SLURM partition, cpus_per_job, mem_gb, account)."""
    import submitit

    if kind not in EXECUTORS:
        raise one_of("executor", kind, EXECUTORS)
    if kind == "debug":
        return None
    try:
        executor = submitit.AutoExecutor(folder=log_folder(results_dir), cluster=kind)
    except RuntimeError as exc:  # submitit: no srun on PATH
        raise EvalsuiteError(f"--executor slurm needs SLURM's sbatch and srun on PATH ({exc}); "
                             "use --executor local on a machine without SLURM") from None
    common = {"name": "evalsuite-sweep", "timeout_min": options["time"]}
    if kind == "slurm":
        executor.update_parameters(
            **common, gpus_per_node=options["gpus_per_job"], cpus_per_task=options.get("cpus_per_job"),
            mem_gb=options.get("mem_gb"), slurm_partition=options.get("partition"),
            slurm_account=options.get("account"), slurm_array_parallelism=options["jobs"],
        )
    else:
        executor.update_parameters(**common)
    return executor


def _record(entry: dict, job) -> None:
    entry["executor_id"] = str(job.job_id)
    entry["stdout"], entry["stderr"] = str(job.paths.stdout), str(job.paths.stderr)


def submit_slurm(executor, jobs: list[SweepJob], entries: dict[str, dict]) -> None:
    """All jobs as one SLURM array; returns once ``sbatch`` has accepted it."""
    with executor.batch():
        handles = [executor.submit(run_job, job) for job in jobs]
    for job, handle in zip(jobs, handles):
        _record(entries[job.key], handle)


def run_local(executor, jobs: list[SweepJob], entries: dict[str, dict], n: int, gpus: int,
              on_change: Callable[[], None], poll_s: float = 0.2) -> None:
    """Keep at most ``n`` jobs running until all have ended; job ``i`` sees GPU ``i % gpus``."""
    pending, running, started = list(jobs), [], 0
    while pending or running:
        while pending and len(running) < n:
            job = pending.pop(0)
            if gpus:
                executor.update_parameters(gpus_per_node=1, visible_gpus=(started % gpus,))
            handle = executor.submit(run_job, job)
            _record(entries[job.key], handle)
            running.append(handle)
            started += 1
            on_change()
        time.sleep(poll_s)
        running = [h for h in running if not h.done()]


def run_debug(jobs: list[SweepJob], entries: dict[str, dict], on_change: Callable[[], None]) -> None:
    """In this process, one job after another; a failing job is recorded and the next one runs."""
    for i, job in enumerate(jobs):
        entries[job.key]["executor_id"] = f"in-process-{i}"
        on_change()
        try:
            run_job(job)
        except Exception:  # noqa: BLE001  (run_job recorded the error; the others go on)
            pass
