"""``evalsuite sweep``: many checkpoints x datasets, one job each, on SLURM or locally.

checkpoints x datasets -> one job per (checkpoint, dataset) (its tasks share one feature
extraction) -> submitit executor (``slurm``, ``local`` with N concurrent jobs, ``debug``
in-process) -> result rows in the results folder -> leaderboard and report written once.

The sweep's state lives beside its rows, in ``RESULTS/.sweep/``: ``manifest.json`` (what was
asked, each job's executor id and log paths) and ``jobs/KEY.json`` (each job's own state, written
by the job itself, so ``evalsuite sweep --status`` needs no live connection to the executor).
"""

from evalsuite.sweep.jobs import SweepJob, job_state, run_job
from evalsuite.sweep.manifest import Manifest, sweep_status

__all__ = ["Manifest", "SweepJob", "job_state", "run_job", "sweep_status"]
