"""`status NAME RUN`: what Step Functions says about an execution, in plain words (a Batch
job's cause is a whole DescribeJobs entry: its reason and job are what a user needs), and with
a datastore what the execution recorded about itself (which alone knows the exception) and
what the run end recorder wrote about its end (emit/run_end.py)."""

from __future__ import annotations

import json
from typing import Any

from sfncompile.client.run_record import EXECUTION_STATUS, batch_failure
from sfncompile.client.run_summary import MAX_SHOWN, caught_note, failure_lines, run_summary


def execution_lines(info: dict[str, Any]) -> list[str]:
    """The failed step and why, from the execution's history; for a run that succeeded, the
    failed attempts that @retry ran again (or a Batch job @catch handled) as a note."""
    lines = []
    cause = plain_cause(info.get("cause"))
    steps = ", ".join(info["failed_steps"])
    if info["status"] == "SUCCEEDED":
        if steps:
            why = f" ({cause[0].split(': ', 1)[1]})" if cause else ""
            lines.append(f"note: step {steps} had a failed attempt{why}; @retry ran it again "
                         "or @catch handled it, and the run succeeded")
        return lines
    if steps:
        lines.append(f"failed step: {steps}")
    return lines + cause


def plain_cause(cause: Any) -> list[str]:
    """An execution's failure cause as lines: for a Batch job, its reason and the job (never
    the whole DescribeJobs JSON); a Lambda's or a state's error, its message."""
    if not cause:
        return []
    job = batch_failure(cause)
    if job:
        where = "/".join(str(job[k]) for k in ("step", "task") if k in job)
        lines = [f"reason: {job.get('reason') or 'the Batch job failed'}"
                 + (f" (task {where}, attempt {job['attempt']})" if where and "attempt" in job
                    else "")]
        if job.get("job_id"):
            stream = f", log stream {job['log_stream']}" if job.get("log_stream") else ""
            lines.append(f"batch job: {job['job_id']}{stream}")
        return lines
    return [f"cause: {_message(cause)}"]


def _message(cause: Any) -> str:
    """A JSON cause's errorMessage (a Lambda's) or the text, on one line, cut short."""
    try:
        parsed = json.loads(cause) if isinstance(cause, str) else cause
    except ValueError:
        parsed = cause
    if isinstance(parsed, dict):
        lowered = {str(k).lower(): v for k, v in parsed.items()}
        parsed = next((lowered[k] for k in ("errormessage", "message", "cause", "error")
                       if lowered.get(k)), parsed)
    text = " ".join(str(parsed).split())
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def recorded_run(root: str, flow: str, run_id: str, execution_status: str,
                 root_option: str = "", catch_steps: list[str] | None = None) -> list[str]:
    """The run's record under `root`: its summary, the failed task's last log lines (and the
    command, with `root_option`, that prints the rest), failures @catch handled (in
    `catch_steps`; every step when not known)."""
    from sfncompile.client import Run
    from sfncompile.datastore.storage import DatastoreError, open_storage
    from sfncompile.exception import MetaflowNotFound

    try:
        run = Run(f"{flow}/{run_id}", open_storage(root))
        if not run._meta:
            return [f"no run record under {root}/{flow}/{run_id}"]
        lines = [line for line in run_summary(run) if not line.startswith("note:")]
        lines += failure_lines(run, root_option) + _caught(run, catch_steps)
    except MetaflowNotFound:
        return [f"no run record under {root}/{flow}/{run_id}"]
    except DatastoreError as exc:
        return [f"cannot read the run record: {exc}"]
    said = EXECUTION_STATUS.get(execution_status, execution_status.lower())
    if run.status != said:
        lines.append(f"recorded status: {run.status} (Step Functions: {said}; the run end "
                     "recorder has not written the end yet, or was not deployed)")
    return lines


def recorded_meta(root: str, flow: str, run_id: str) -> dict[str, Any] | None:
    """The run's record as stored, for `status --json` (None when there is none)."""
    from sfncompile.client import Run
    from sfncompile.datastore.storage import DatastoreError, open_storage
    from sfncompile.exception import MetaflowNotFound

    try:
        return Run(f"{flow}/{run_id}", open_storage(root))._meta or None
    except (MetaflowNotFound, DatastoreError):
        return None


def _caught(run: Any, catch_steps: list[str] | None) -> list[str]:
    if run.status != "succeeded":
        return []
    names = run.step_names()
    notes = []
    for name in names if catch_steps is None else [n for n in catch_steps if n in names]:
        for task in run[name].tasks():
            note = caught_note(task)
            if note:
                notes.append(note)
    return notes
