"""The lines `show` and `status` print about a run and its tasks, local or on Step Functions."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sfncompile.client.run_record import ENDED_BY_AWS, trigger
from sfncompile.conventions.input_keys import describe_include, is_include_reference

if TYPE_CHECKING:
    from sfncompile.client.core import Run, Task

MAX_SHOWN = 300
LOG_TAIL = 10  # the lines of a failed task's log that `show` and `status` print


def when(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def _short(text: Any) -> str:
    one_line = " ".join(str(text).split())
    return one_line if len(one_line) <= MAX_SHOWN else one_line[:MAX_SHOWN - 3] + "..."


def run_summary(run: Run) -> list[str]:
    """Parameters, times (when it started and ended, succeeded or failed), trigger (as its
    record has it), deployment and, for a failed run, where and why."""
    params = {k: v for k, v in run.params.items() if not is_include_reference(v)}
    lines = [f"runner: {run.runner}",
             f"parameters: {json.dumps(params, sort_keys=True, default=str)}",
             *(describe_include(k, v) for k, v in sorted(run.params.items())
               if is_include_reference(v)),
             f"started: {when(run.started_at)}", f"finished: {when(run.ended_at)}"]
    started_by = trigger(run._meta)
    if started_by is not None:
        lines.append(f"trigger: {_short(json.dumps(started_by, sort_keys=True, default=str))}")
    if run.deployed_by:
        lines.append(f"deployed by: {run.deployed_by}")
    for name, tags in (("tags", run.user_tags), ("system tags", run.system_tags)):
        if tags:
            lines.append(f"{name}: {', '.join(sorted(tags))}")
    failure = run.failure
    if failure:
        where = "/".join(str(failure[k]) for k in ("step", "task") if k in failure) or "?"
        if "step" in failure or not run._meta.get(ENDED_BY_AWS):
            lines.append(f"failed step: {where}")
        else:
            lines.append(f"ended by Step Functions: {run.status}")
        if failure.get("error"):
            lines.append(f"error: {_short(failure['error'])}")
        if failure.get("reason"):
            lines.append(f"reason: {_short(failure['reason'])}")
        job = {k: failure[k] for k in ("job_id", "log_stream") if k in failure}
        if job:
            lines.append("batch: " + ", ".join(f"{k} {v}" for k, v in job.items()))
    elif run.runner == "step-functions" and run.status == "running":
        lines.append("note: an execution that Step Functions aborts or times out reads as "
                     "running until the run end recorder has written its end (deploy sets it "
                     "up); `sfncompile status NAME RUN` asks Step Functions")
    return lines


def uncommitted_reason(task: Task) -> str:
    """Why a started task has no result: failed (with its error), or running."""
    meta = task.last_attempt_meta()
    if meta.get("status") != "failed":
        return f"running{batch_job_note(meta)}" if meta else "running or failed"
    error = f": {_short(meta['error'])}" if meta.get("error") else ""
    return f"failed, attempt {meta.get('attempt', '?')}{error}{batch_job_note(meta)}"


def batch_job_note(meta: dict[str, Any]) -> str:
    """`  [batch job ID, log stream S]` for a task that ran in AWS Batch."""
    batch = meta.get("batch") or {}
    if not batch.get("job_id"):
        return ""
    stream = f", log stream {batch['log_stream']}" if batch.get("log_stream") else ""
    return f"  [batch job {batch['job_id']}{stream}]"


def failed_log_tail(run: Run, failure: dict[str, Any]) -> tuple[str, str, list[str]] | None:
    """The failed task's pathspec, the stream and its last lines (stderr, where the
    traceback is; stdout when stderr is empty); None when it kept no log."""
    if "step" not in failure or "task" not in failure:
        return None
    from sfncompile.exception import MetaflowNotFound

    try:
        task = run[str(failure["step"])][str(failure["task"])]
        for stream in ("stderr", "stdout"):
            lines = [line for line in getattr(task, stream).splitlines() if line.strip()]
            if lines:
                return task.pathspec, stream, lines[-LOG_TAIL:]
    except (KeyError, MetaflowNotFound):
        return None
    return None


def failure_lines(run: Run, root_option: str) -> list[str]:
    """For a failed run: the last lines of the failed task's log, and the command that
    prints all of it (`root_option`: the datastore's option of that command, or "")."""
    failure = run.failure
    tail = failed_log_tail(run, failure) if failure else None
    if tail is None:
        return []
    pathspec, stream, lines = tail
    return [f"last lines of its {stream}:", *(f"  | {line}" for line in lines),
            f"the whole log: sfncompile logs {pathspec} --{stream}{root_option}"]


def caught_note(task: Task) -> str | None:
    """A task whose failure @catch handled (the run went on): a note, not a failure."""
    if not task.finished or task.successful:
        return None
    caught = task._done.get("caught")
    return (f"note: {task.pathspec.split('/', 2)[2]} raised {_short(caught or 'an exception')};"
            " @catch handled it and the run went on")
