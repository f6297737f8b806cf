"""One sweep job: a checkpoint's suite on one dataset, run by ``evaluate`` with
``skip_existing``, so a job that is run again computes only the rows that are missing."""

from __future__ import annotations

import json
import os
import socket
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from evalsuite.atomic import write_text
from evalsuite.results import now

SWEEP_DIR = ".sweep"


@dataclass(frozen=True)
class SweepJob:
    """Everything a job needs, picklable: submitit sends it to another process or node."""

    key: str
    checkpoint: str
    dataset: str
    results_dir: str
    request: dict = field(default_factory=dict)  # the other ``EvalRequest`` fields, shared by the sweep

    def state_path(self) -> Path:
        return Path(self.results_dir) / SWEEP_DIR / "jobs" / f"{self.key}.json"


def _write_state(job: SweepJob, state: str, **info) -> None:
    record = {"key": job.key, "state": state, "time": now(), "host": socket.gethostname(), "pid": os.getpid(), **info}
    write_text(job.state_path(), json.dumps(record, indent=1, sort_keys=True))


def job_state(job: SweepJob) -> dict:
    """The job's own record, or ``submitted`` when it has not started yet."""
    try:
        return json.loads(job.state_path().read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {"key": job.key, "state": "submitted"}


def run_job(job: SweepJob) -> list[str]:
    """Run the job; record ``running``, then ``done`` with its rows or ``failed`` with its error."""
    from evalsuite.runner import EvalRequest, evaluate

    _write_state(job, "running")
    try:
        req = EvalRequest(checkpoint=job.checkpoint, datasets=[job.dataset], results_dir=job.results_dir,
                          skip_existing=True, quiet=True, **job.request)
        written = [str(p) for p in evaluate(req)]
    except BaseException as exc:
        last = traceback.format_exception_only(type(exc), exc)[-1].strip()
        _write_state(job, "failed", error=last)
        raise
    _write_state(job, "done", rows_written=len(written))
    return written
