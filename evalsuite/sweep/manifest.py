"""The sweep manifest (``RESULTS/.sweep/manifest.json``) and ``--status``.

A job's state comes from the record the job writes itself (``jobs.py``); the executor is asked
only to tell a job that died without a word (a killed process, a SLURM job cancelled or out of
time) from one still running.
"""

from __future__ import annotations

import json
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from evalsuite.atomic import process_alive, write_text
from evalsuite.errors import EvalsuiteError
from evalsuite.sweep.jobs import SWEEP_DIR, SweepJob, job_state

MANIFEST = "manifest.json"
# SLURM states after which a job that recorded no result will never record one.
_SLURM_ENDED = {"FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


@dataclass
class Manifest:
    """What the sweep asked for and where each job ran; written atomically after each change."""

    results_dir: str
    executor: str
    executor_options: dict = field(default_factory=dict)
    jobs: dict[str, dict] = field(default_factory=dict)  # key -> SweepJob fields + executor id and log paths

    @staticmethod
    def path_for(results_dir: str | Path) -> Path:
        return Path(results_dir) / SWEEP_DIR / MANIFEST

    @classmethod
    def load(cls, results_dir: str | Path) -> "Manifest":
        path = cls.path_for(results_dir)
        if not path.is_file():
            raise EvalsuiteError(f"no sweep in {str(results_dir)!r} (no {SWEEP_DIR}/{MANIFEST}); "
                                 "give the --results folder an `evalsuite sweep` wrote to")
        try:
            data = json.loads(path.read_text())
            return cls(str(results_dir), data["executor"], data.get("executor_options", {}), data["jobs"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise EvalsuiteError(f"sweep manifest {str(path)!r} is not readable ({exc}); remove it and run the sweep again") from None

    def save(self) -> None:
        data = {"executor": self.executor, "executor_options": self.executor_options, "jobs": self.jobs}
        write_text(self.path_for(self.results_dir), json.dumps(data, indent=1, sort_keys=True))

    def job(self, key: str) -> SweepJob:
        entry = self.jobs[key]
        return SweepJob(key, entry["checkpoint"], entry["dataset"], self.results_dir, entry.get("request", {}))


def _slurm_state(entry: dict, results_dir: str) -> str | None:
    """SLURM's word on a job (via submitit and sacct), or None where it cannot be asked."""
    if not entry.get("executor_id") or shutil.which("sacct") is None:
        return None
    import submitit

    job = submitit.SlurmJob(folder=Path(results_dir) / SWEEP_DIR / "logs", job_id=entry["executor_id"])
    return job.state.split()[0] if job.state else None


def _last_line(path: str | None) -> str | None:
    if not path or not Path(path).is_file():
        return None
    lines = [line.strip() for line in Path(path).read_text(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else None


def job_status(manifest: Manifest, key: str) -> dict:
    """``{'state': ..., 'error': ...}`` of one job, telling a dead job (``lost``) from a live one."""
    entry = manifest.jobs[key]
    record = job_state(manifest.job(key))
    state = record["state"]
    if state == "running" and record.get("host") == socket.gethostname() and not process_alive(int(record["pid"])):
        record = {**record, "state": "lost", "error": f"process {record['pid']} ended without recording a result"}
    elif state in ("running", "submitted") and manifest.executor == "slurm":
        slurm = _slurm_state(entry, manifest.results_dir)
        if slurm in _SLURM_ENDED:
            record = {**record, "state": "lost", "error": f"SLURM ended the job as {slurm}"}
    if record["state"] == "lost":
        record["error"] = _last_line(entry.get("stderr")) or record["error"]
    return {**record, "checkpoint": entry["checkpoint"], "dataset": entry["dataset"],
            "executor_id": entry.get("executor_id"), "stderr": entry.get("stderr")}


def sweep_status(results_dir: str | Path) -> dict[str, dict]:
    """Every job's status, keyed by job key."""
    manifest = Manifest.load(results_dir)
    return {key: job_status(manifest, key) for key in sorted(manifest.jobs)}
