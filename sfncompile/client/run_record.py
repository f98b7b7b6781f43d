"""What a run's record (`_run.json`) says, read the same way for a local run and for a Step
Functions execution.

The local runner writes the record as the run goes. A Step Functions execution writes it
itself (emit/asl.py): at its start (status running, the execution input, the start time) and,
through its top-level Catch, at its failure (status failed, the end time, the error and its
cause). Times are epoch seconds in a local record and ISO 8601 text in an execution's.

An execution that Step Functions ends itself (aborted, timed out, or failed by an error no
Catch takes) runs no state after that, so its record still says running (or was never
written). The deployment's run end recorder (emit/run_end.py) then writes `_run_end.json`
from Step Functions' status change event, and `merge_end` folds it into the record.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sfncompile.conventions.input_keys import RESUME_INPUT_KEY, TRIGGER_KEY

STEP_FUNCTIONS = "step-functions"
# Step Functions' own statuses (DescribeExecution), as the client spells them.
EXECUTION_STATUS = {"RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed",
                    "ABORTED": "aborted", "TIMED_OUT": "timed out", "PENDING_REDRIVE": "running"}


# Set on a record that the run end recorder completed, so that readers can say who ended it.
ENDED_BY_AWS = "ended_by_step_functions"
# Why a run ended, when Step Functions' event names no cause.
DEFAULT_REASONS = {
    "aborted": "the execution was stopped (StopExecution)",
    "timed out": "the execution ran past the state machine's TimeoutSeconds "
                 "(deploy --workflow-timeout)",
    "failed": "the execution failed before its failure path could record it",
}


def merge_end(record: dict[str, Any], end: dict[str, Any]) -> dict[str, Any]:
    """The run record with the run end recorder's `_run_end.json` folded in.

    The execution's own record wins once it says how the run ended: its failure path knows
    the caught error and the failed Batch job. The end record completes a record that still
    says running, or stands in for one that the execution never wrote."""
    status = EXECUTION_STATUS.get(str(end.get("status")))
    if status in (None, "running") or record.get("status") not in (None, "running"):
        return record
    out = dict(record)
    out.update(status=status, runner=STEP_FUNCTIONS, **{ENDED_BY_AWS: True})
    for field in ("finished", "error", "cause"):
        if end.get(field):  # StopExecution's error and cause may be empty
            out[field] = end[field]
    if "params" not in out and end.get("params") is not None:
        out["params"] = end["params"]
    stop = _millis(end.get("stop_date"))
    if stop is not None:  # finer than the event's time
        out["finished"] = stop
    start = _millis(end.get("start_date"))
    if "started" not in out and start is not None:
        out["started"] = start
    return out


def _millis(value: Any) -> float | None:
    """Epoch seconds from the event's epoch milliseconds."""
    return value / 1000 if isinstance(value, int | float) and not isinstance(value, bool) else None


def epoch(value: Any) -> float | None:
    """Seconds since the epoch from a record's time: a number, or ISO 8601 text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def execution_input(record: dict[str, Any]) -> dict[str, Any]:
    value = record.get("params")
    if isinstance(value, str):  # an input given as JSON text
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, dict) else {}


def params(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in execution_input(record).items()
            if k not in (TRIGGER_KEY, RESUME_INPUT_KEY)}


def origin_run(record: dict[str, Any]) -> str | None:
    """The run that this one resumed: a local resume records it, and a resume on Step
    Functions carries it in the execution input (None: not a resume)."""
    origin = record.get("origin_run_id")
    if isinstance(origin, str) and origin:
        return origin
    request = execution_input(record).get(RESUME_INPUT_KEY)
    origin = request.get("origin_run") if isinstance(request, dict) else None
    return origin if isinstance(origin, str) and origin else None


def trigger(record: dict[str, Any]) -> Any:
    """What started the run, as the record or the execution input carries it (None: started
    by hand or on a schedule)."""
    return record.get("trigger") or execution_input(record).get(TRIGGER_KEY)


def batch_failure(cause: Any) -> dict[str, Any]:
    """The failed Batch job that a Catch's cause describes (its DescribeJobs entry as JSON,
    with AWS's PascalCase or the API's camelCase keys): step, task, job id, log stream, reason.
    Empty when the cause is not such a job (a Map's or Parallel's own error)."""
    if not isinstance(cause, str):
        return {}
    try:
        job = json.loads(cause)
    except ValueError:
        return {}
    if not isinstance(job, dict):
        return {}
    job = {k.lower(): v for k, v in job.items()}
    out: dict[str, Any] = {}
    parameters = job.get("parameters")
    if isinstance(parameters, dict):
        for field in ("step", "task", "attempt"):
            if isinstance(parameters.get(field), str):
                out[field] = parameters[field]
    container = job.get("container")
    if isinstance(container, dict):
        container = {k.lower(): v for k, v in container.items()}
        if container.get("logstreamname"):
            out["log_stream"] = str(container["logstreamname"])
    if job.get("jobid"):
        out["job_id"] = str(job["jobid"])
    if job.get("statusreason"):
        out["reason"] = str(job["statusreason"])
    return out
