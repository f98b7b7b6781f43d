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

from sfncompile.conventions.steps import START
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, Storage
from sfncompile.ir import FlowIR, StepIR
from sfncompile.local.outcome import Key, Outcome
from sfncompile.local.progress import Progress

if TYPE_CHECKING:
    from sfncompile.deploy.batch_jobs import BatchJobs

# DescribeJobs is polled from this interval up to the longest one, growing as a job runs on:
# a short job is seen to end quickly, a long one costs few calls.
FIRST_POLL_SECONDS = 0.25
LONGEST_POLL_SECONDS = 5.0
NEEDED_SETTINGS = ("job_queue", "image")
INTERRUPTED = "sfncompile: the local run was interrupted"


class LocalRunner(Protocol):
    """What this module uses of sfncompile.local.runner.LocalRunner."""

    flow: str
    graph: dict[str, Any]
    run_id: str
    params: dict[str, Any]
    origin_run: str | None
    progress: Progress
    storage: Storage

    def committed(self, key: Key, attempt: int) -> dict[str, Any] | None: ...


def runs_on_batch(step: StepIR) -> bool:
    """Whether a local run (with an S3 datastore) sends this step's tasks to AWS Batch. The
    nodes of a @parallel step run here: a task of the local runner is one node, a job of
    its multi-node definition would be all of them."""
    return step.policies.batch.requested and step.policies.parallel is None


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
        try:
            first = step == runner.graph.get("start_step", START)
            job_id = self.jobs.submit(step, runner.run_id, task, attempt,
                                      runner.params if first else None, caught,
                                      runner.origin_run)
        except Exception as exc:  # AWS refused the job: a failed attempt, as @retry sees it
            if type(exc).__module__.split(".")[0] != "botocore":
                raise
            return Outcome(key, attempt, 1, f"sfncompile: AWS Batch refused the job: {exc}\n",
                           time.monotonic() - began, caught,
                           error=f"AWS Batch refused the job: {exc}")
        with self._lock:
            late = self._stopping.is_set()  # interrupted while the job was being submitted
            if not late:
                self._active[job_id] = key
        runner.progress.batch_job(key, job_id, "SUBMITTED")
        if late:
            self.jobs.terminate(job_id, INTERRUPTED)
            runner.progress.batch_job(key, job_id, "terminated")
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

    def terminate_all(self) -> list[tuple[Key, str]]:
        """Stop waiting, and terminate every job this run started that is still going; return
        the (task, job id) of each job terminated."""
        self._stopping.set()
        with self._lock:
            jobs = list(self._active.items())
        stopped = []
        for job_id, key in jobs:
            try:
                self.jobs.terminate(job_id, INTERRUPTED)
            except Exception as exc:  # keep stopping the others; the interruption goes on
                if type(exc).__module__.split(".")[0] != "botocore":
                    raise
                continue
            stopped.append((key, job_id))
        return stopped


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


def plan_remote_steps(flow: FlowIR, flow_file: Path, root: str, say: Callable[[str], None],
                      every_step: bool = False) -> RemoteSteps | None:
    """The @batch steps of a run (all of them with `every_step`: `run --with batch`) that go to
    AWS Batch, ready to submit; None when every step runs locally (saying why, when some step
    asked for Batch)."""
    steps = [s.name for s in flow.analysis.ordered
             if runs_on_batch(s) or (every_step and s.policies.parallel is None)]
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
