"""Start a sweep, report on it, retry it, finalize it."""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path

from evalsuite.errors import EvalsuiteError
from evalsuite.results import slug
from evalsuite.sweep import executors
from evalsuite.sweep.jobs import SweepJob
from evalsuite.sweep.manifest import Manifest, job_status

EXIT_JOBS_FAILED = 1


@dataclass
class SweepOptions:
    checkpoints: list[str]
    results_dir: str | None
    executor: str = "local"
    jobs: int = 2
    time: int = 120
    partition: str | None = None
    gpus_per_job: int = 1
    cpus_per_job: int | None = None
    mem_gb: float | None = None
    account: str | None = None
    wait: bool = False
    baseline: str | None = None
    request: dict = field(default_factory=dict)  # EvalRequest fields shared by every job
    datasets: list[str] | None = None

    def executor_options(self) -> dict:
        return {"jobs": self.jobs, "time": self.time, "partition": self.partition, "gpus_per_job": self.gpus_per_job,
                "cpus_per_job": self.cpus_per_job, "mem_gb": self.mem_gb, "account": self.account,
                "baseline": self.baseline}


def _check(opts: SweepOptions) -> list[str]:
    """Everything that can be checked before a job is submitted; returns the dataset names."""
    from evalsuite.runner import build_task, data_step, load_suite

    if not opts.checkpoints:
        raise EvalsuiteError("evalsuite sweep needs one or more checkpoints (or --status DIR)")
    if not opts.results_dir:
        raise EvalsuiteError("evalsuite sweep needs --results DIR: the sweep's rows, manifest and logs go there")
    if opts.executor not in executors.EXECUTORS:
        raise EvalsuiteError(f"unknown executor {opts.executor!r}; valid executors are: {', '.join(executors.EXECUTORS)}")
    for name, value, least in (("--jobs", opts.jobs, 1), ("--time", opts.time, 1), ("--slurm-gpus-per-job", opts.gpus_per_job, 0)):
        if value < least:
            raise EvalsuiteError(f"{name} {value} is not valid; give an integer >= {least}")
    for ckpt in opts.checkpoints:
        if ckpt != "random" and not Path(ckpt).is_file():
            raise EvalsuiteError(f"checkpoint {ckpt!r} does not exist; give checkpoint files (or 'random' with --arch)")
    if "random" in opts.checkpoints and not opts.request.get("arch"):
        raise EvalsuiteError("checkpoint 'random' needs --arch to say which network to initialise")
    cfg = load_suite(opts.request.get("suite"), opts.request.get("cfg_options") or {})
    names = opts.request.get("tasks") or cfg.get("tasks", ["knn", "linear"])
    data_step({name: build_task(name, cfg) for name in names})  # one kind of data per job
    return list(opts.datasets or cfg.get("datasets", ["digits"]))


def _absolute(request: dict) -> dict:
    """Paths made absolute: a SLURM job or a local subprocess may start in another folder."""
    from evalsuite.resources import find_recipe

    out = dict(request)
    if out.get("suite"):  # a shipped suite's name (``default``) or a file: the file it names
        out["suite"] = str(find_recipe("tasks", out["suite"]).resolve())
    for key in ("data_root", "cache_dir"):
        if out.get(key):
            out[key] = str(Path(out[key]).resolve())
    return out


def job_key(checkpoint: str, dataset: str) -> str:
    """Stable and readable: the file's stem, a short hash of its absolute path, the dataset."""
    where = "random" if checkpoint == "random" else str(Path(checkpoint).resolve())
    return f"{slug(Path(checkpoint).stem)[:40]}-{hashlib.sha1(where.encode()).hexdigest()[:6]}__{slug(dataset)[:40]}"


def _plan(opts: SweepOptions, datasets: list[str], results_dir: str) -> list[SweepJob]:
    request = _absolute(opts.request)
    jobs = []
    for ckpt in opts.checkpoints:
        path = ckpt if ckpt == "random" else str(Path(ckpt).resolve())
        jobs += [SweepJob(job_key(ckpt, ds), path, ds, results_dir, request) for ds in datasets]
    return jobs


def _to_submit(manifest: Manifest, jobs: list[SweepJob]) -> list[SweepJob]:
    """Jobs not done and not running: a re-run resumes a sweep that was cut short."""
    for job in jobs:
        manifest.jobs.setdefault(job.key, {"checkpoint": job.checkpoint, "dataset": job.dataset, "request": job.request})
    return [job for job in jobs if job_status(manifest, job.key)["state"] not in ("done", "running")]


def _submit(manifest: Manifest, jobs: list[SweepJob]) -> None:
    options = manifest.executor_options
    executor = executors.make_executor(manifest.executor, manifest.results_dir, options)
    if manifest.executor == "slurm":
        executors.submit_slurm(executor, jobs, manifest.jobs)
        manifest.save()
    elif manifest.executor == "local":
        gpus = _local_gpus(jobs)
        executors.run_local(executor, jobs, manifest.jobs, options["jobs"], gpus, manifest.save)
    else:
        executors.run_debug(jobs, manifest.jobs, manifest.save)


def _local_gpus(jobs: list[SweepJob]) -> int:
    if not jobs or jobs[0].request.get("device") == "cpu":
        return 0
    import torch

    return torch.cuda.device_count()


def start_sweep(opts: SweepOptions) -> int:
    datasets = _check(opts)
    results_dir = str(Path(opts.results_dir).resolve())
    Path(results_dir).mkdir(parents=True, exist_ok=True)
    try:
        manifest = Manifest.load(results_dir)
        manifest.executor, manifest.executor_options = opts.executor, opts.executor_options()
    except EvalsuiteError:
        manifest = Manifest(results_dir, opts.executor, opts.executor_options())
    jobs = _plan(opts, datasets, results_dir)
    todo = _to_submit(manifest, jobs)
    manifest.save()
    print(f"sweep: {len(jobs)} job(s), {len(jobs) - len(todo)} already done or running, submitting {len(todo)} "
          f"({opts.executor})", flush=True)
    _submit(manifest, todo)
    if opts.executor == "slurm" and not opts.wait:
        print(f"sweep: submitted; follow it with `evalsuite sweep --status {results_dir}`")
        return 0
    if opts.executor == "slurm":
        _wait_slurm(manifest)
    return _report(manifest, finalize=True)


def _wait_slurm(manifest: Manifest, poll_s: float = 30.0) -> None:
    import time

    while any(job_status(manifest, key)["state"] in ("submitted", "running") for key in manifest.jobs):
        time.sleep(poll_s)


def _report(manifest: Manifest, finalize: bool | str) -> int:
    """Print each job's state; finalize when every job is done (``'required'``: or fail); exit 1
    when some job failed."""
    status = {key: job_status(manifest, key) for key in sorted(manifest.jobs)}
    counts: dict[str, int] = {}
    for key, st in status.items():
        counts[st["state"]] = counts.get(st["state"], 0) + 1
        line = f"{st['state']:<9} {key}"
        if st.get("error"):
            line += f"  error: {st['error']}"
        print(line)
    print("sweep: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items())))
    if counts.get("failed") or counts.get("lost"):
        print(f"sweep: {counts.get('failed', 0) + counts.get('lost', 0)} job(s) did not finish; see the errors above "
              f"and `evalsuite sweep --status {manifest.results_dir} --retry-failed`", file=sys.stderr)
        return EXIT_JOBS_FAILED
    if counts.get("done") != len(status):
        if finalize == "required":
            raise EvalsuiteError(f"sweep in {manifest.results_dir!r} is not finished ({len(status) - counts.get('done', 0)} "
                                 "job(s) submitted or running); --finalize needs every job done")
        return 0
    if finalize:
        finalize_sweep(manifest)
    return 0


def finalize_sweep(manifest: Manifest) -> None:
    """The leaderboard and report of the sweep's folder, written once all jobs are done."""
    from evalsuite.atomic import write_text
    from evalsuite.leaderboard import full_leaderboard
    from evalsuite.report import make_report

    out = Path(manifest.results_dir)
    baseline = manifest.executor_options.get("baseline")
    try:
        text = full_leaderboard(out, baseline)
        make_report(out, out / "report.html", baseline)
    except EvalsuiteError as exc:
        raise EvalsuiteError(f"sweep: the leaderboard or report failed: {exc} (the rows are in {out})") from None
    write_text(out / "leaderboard.md", text)
    print(f"sweep: wrote {out / 'leaderboard.md'} and {out / 'report.html'}")


def show_status(results_dir: str, retry_failed: bool = False, finalize: bool = False) -> int:
    manifest = Manifest.load(Path(results_dir).resolve())
    if retry_failed:
        again = [manifest.job(k) for k in sorted(manifest.jobs) if job_status(manifest, k)["state"] in ("failed", "lost")]
        print(f"sweep: submitting {len(again)} failed or lost job(s) again ({manifest.executor})", flush=True)
        _submit(manifest, again)
        if manifest.executor == "slurm":
            return 0
    return _report(manifest, finalize="required" if finalize else retry_failed)
