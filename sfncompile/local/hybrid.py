"""Hybrid runs: a local run sends the tasks of its `@batch` steps to AWS Batch.

When the datastore is on S3 and the deployment settings name a job queue and an image, each
task of such a step is a Batch job from the code package and job definitions that `deploy`
uses (sfncompile.deploy.batch_jobs), while the other steps stay local processes. The runner
waits on the job and then reads the task's commit from S3, as for a local task. With a local
datastore (or no queue and image configured) those steps run locally, as every step does, and
the run says so: a laptop without AWS still runs every flow.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sfncompile.ir import FlowIR, StepIR
from sfncompile.local.outcome import Key, Outcome
from sfncompile.local.progress import Progress
from sfncompile.runtime import datastore as ds
from sfncompile.runtime.storage import KeyNotFound, Storage

if TYPE_CHECKING:
    from sfncompile.deploy.batch_jobs import BatchJobs

# DescribeJobs is polled from this interval up to the longest one, growing as a job runs on:
# a short job is seen to end quickly, a long one costs few calls.
FIRST_POLL_SECONDS = 0.25
LONGEST_POLL_SECONDS = 5.0
NEEDED_SETTINGS = ("job_queue", "image")


class LocalRunner(Protocol):
    """What this module uses of sfncompile.local.runner.LocalRunner."""

    flow: str
    run_id: str
    params: dict[str, Any]
    origin_run: str | None
    progress: Progress
    storage: Storage

    def committed(self, key: Key, attempt: int) -> dict[str, Any] | None: ...


def runs_on_batch(step: StepIR) -> bool:
    """Whether a local run (with an S3 datastore) sends this step's tasks to AWS Batch."""
    return step.policies.batch.requested


class RemoteSteps:
    """Runs the tasks of some steps as Batch jobs, for the local runner's worker threads."""

    def __init__(self, jobs: BatchJobs, steps: list[str]) -> None:
        self.jobs = jobs
        self.steps = frozenset(steps)
        self._active: dict[str, Key] = {}  # job id -> task
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def handles(self, step: str) -> bool:
        return step in self.steps

    def execute(self, runner: LocalRunner, key: Key, attempt: int,
                caught: dict[str, Any] | None) -> Outcome:
        step, task = key
        began = time.monotonic()
        job_id = self.jobs.submit(step, runner.run_id, task, attempt,
                                  runner.params if step == "start" else None, caught,
                                  runner.origin_run)
        with self._lock:
            self._active[job_id] = key
        runner.progress.batch_job(key, job_id, "SUBMITTED")
        try:
            status = self._wait(runner, key, job_id)
        finally:
            with self._lock:
                self._active.pop(job_id, None)
        outcome = Outcome(key, attempt, 0 if status.status == "SUCCEEDED" else 1, "",
                          time.monotonic() - began, caught)
        if outcome.returncode == 0:
            outcome.done = runner.committed(key, attempt)
            if outcome.done is None:
                outcome.error = f"AWS Batch job {job_id} succeeded but the task never committed"
        if not outcome.succeeded:
            outcome.output = task_output(runner, key, attempt)
            outcome.output += f"\nsfncompile: AWS Batch job {job_id}: {status.status}"
            outcome.output += f" ({status.reason})\n" if status.reason else "\n"
        return outcome

    def _wait(self, runner: LocalRunner, key: Key, job_id: str) -> Any:
        from sfncompile.deploy.batch_jobs import FINAL_STATES, JobStatus

        seen, pause = "SUBMITTED", FIRST_POLL_SECONDS
        while not self._stopping.wait(pause):
            status = self.jobs.status(job_id)
            if status.status != seen:
                seen = status.status
                runner.progress.batch_job(key, job_id, seen)
            if seen in FINAL_STATES:
                return status
            pause = min(LONGEST_POLL_SECONDS, pause * 1.5)
        return JobStatus("FAILED", "the run was interrupted")

    def terminate_all(self) -> list[str]:
        """Stop waiting, and terminate every job this run started that is still going."""
        self._stopping.set()
        with self._lock:
            jobs = list(self._active)
        for job_id in jobs:
            self.jobs.terminate(job_id, "sfncompile: the local run was interrupted")
        return jobs


def task_output(runner: LocalRunner, key: Key, attempt: int) -> str:
    """What the task printed, as its runtime stored it with the task (any attempt it used)."""
    where = (runner.storage, runner.flow, runner.run_id, *key)
    attempts = ds.list_attempts(*where)
    chosen = attempt if attempt in attempts else (attempts[-1] if attempts else attempt)
    parts = []
    for name in ("stdout", "stderr"):
        try:
            parts.append(ds.read_log(*where, chosen, name).decode(errors="replace"))
        except KeyNotFound:
            continue
    return "".join(parts)


def plan_remote_steps(flow: FlowIR, flow_file: Path, root: str,
                      say: Callable[[str], None]) -> RemoteSteps | None:
    """The @batch steps of a run that go to AWS Batch, ready to submit; None when every step
    runs locally (saying why, when some step asked for Batch)."""
    steps = [s.name for s in flow.analysis.ordered if runs_on_batch(s)]
    if not steps:
        return None
    which = f"@batch step{'s' if len(steps) > 1 else ''} {', '.join(steps)}"
    if not root.startswith("s3://"):
        say(f"note: {which} run{'' if len(steps) > 1 else 's'} locally: the datastore is local "
            "(an s3:// --datastore-root sends them to AWS Batch)")
        return None
    from sfncompile.deploy.batch_jobs import prepare_batch_jobs
    from sfncompile.deploy.config import load_config

    config = load_config(flow_file.parent)
    missing = [n for n in NEEDED_SETTINGS if not config.get(n)]
    if missing:
        say(f"note: {which} run{'' if len(steps) > 1 else 's'} locally: set "
            f"{' and '.join(missing)} (deployment settings) to send them to AWS Batch")
        return None
    say(f"{which}: AWS Batch jobs on {config.get('job_queue')}")
    jobs = prepare_batch_jobs(flow, flow_file, config, root, steps,
                              lambda line: say(f"  {line}"))
    return RemoteSteps(jobs, steps)
