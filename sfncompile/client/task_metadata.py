"""A task's metadata in Metaflow's shape, from what sfncompile records about each attempt.

Metaflow's client gives a task's metadata as `Metadata(name, value, created_at, type, task)`
events (`created_at` in epoch milliseconds, values as text), and `metadata_dict` the newest
value of each name. sfncompile keeps no metadata service: these events are read from the
attempt's meta.json (written by the runtime as the attempt starts and ends) and the run's
record. The names are Metaflow's: `attempt`, `origin-run-id`, `origin-task-id` (a task that a
resume reused), `ds-type`, `ds-root`, `runtime`, `user`, `script-name`, `python_version`,
`attempt_ok` and `attempt-done` (when the attempt ended by itself), and a Batch job's
`aws-batch-*` fields and `code-package` (the package a deployed flow's task ran from).
"""

from __future__ import annotations

import json
from collections import namedtuple
from typing import Any

from sfncompile.exception import MetaflowExceptionWrapper

Metadata = namedtuple("Metadata", ["name", "value", "created_at", "type", "task"])

# meta.json's `batch` fields (runtime/where.py) under the names Metaflow's @batch records.
_BATCH_FIELDS = {"job_id": "aws-batch-job-id", "job_attempt": "aws-batch-job-attempt",
                 "job_queue": "aws-batch-jq-name", "compute_environment": "aws-batch-ce-name",
                 "log_group": "aws-batch-awslogs-group",
                 "log_stream": "aws-batch-awslogs-stream"}
# The metadata type of a name, where it is not the name itself.
_TYPES = {"attempt_ok": "internal_attempt_status"}


def epoch_ms(seconds: float | None) -> int:
    return int((seconds or 0.0) * 1000)


def ended_by_itself(meta: dict[str, Any]) -> bool:
    """Whether the attempt recorded its own end: succeeded, or failed and said why. An
    attempt killed from outside is recorded failed by the local runner (with its exit code)
    or by whoever finds its runner gone (`interrupted`); as in Metaflow, such an attempt has
    no `attempt_ok` and no finish time."""
    status = meta.get("status")
    return status == "succeeded" or (status == "failed" and "exit_code" not in meta
                                     and not meta.get("interrupted"))


def attempt_events(attempt: int, meta: dict[str, Any], run_facts: dict[str, str],
                   origin: tuple[str, str] | None) -> list[tuple[str, str, int]]:
    """(name, value, created_at) of one attempt. `run_facts` are the names every attempt of
    the run shares; `origin` is (run, task) of the task a resume reused, if it is one."""
    started = epoch_ms(_number(meta.get("started")))
    events = [("attempt", str(attempt), started)]
    facts = dict(run_facts)
    if origin is not None:
        facts["origin-run-id"], facts["origin-task-id"] = origin
    if isinstance(meta.get("python_version"), str):
        facts["python_version"] = meta["python_version"]
    batch = meta.get("batch")
    if isinstance(batch, dict):
        facts.update({name: str(batch[field]) for field, name in _BATCH_FIELDS.items()
                      if batch.get(field)})
    package = meta.get("code_package")
    if isinstance(package, dict) and package.get("location"):  # as Metaflow's JSON names it
        facts["code-package"] = json.dumps({"ds_type": "s3", "sha": package.get("sha"),
                                            "location": package["location"]})
    events += [(name, value, started) for name, value in facts.items()]
    if ended_by_itself(meta):
        finished = epoch_ms(_number(meta.get("finished")) or _number(meta.get("started")))
        ok = meta.get("status") == "succeeded"
        events += [("attempt_ok", str(ok), finished), ("attempt-done", str(attempt), finished)]
    return events


def to_metadata(events: list[tuple[str, str, int]], task: Any) -> list[Metadata]:
    return [Metadata(name=name, value=value, created_at=created, type=_TYPES.get(name, name),
                     task=task) for name, value, created in events]


def newest_values(metadata: list[Metadata]) -> dict[str, Any]:
    """Metaflow's `metadata_dict`: each name's newest value."""
    return {m.name: m.value for m in sorted(metadata, key=lambda m: m.created_at)}


def recorded_exception(meta: dict[str, Any]) -> MetaflowExceptionWrapper | None:
    """The exception a failed attempt recorded, as Metaflow's client gives it: the
    `MetaflowExceptionWrapper` (`.type`, `.exception`, `.stacktrace`) of the task's error."""
    record = meta.get("exception")
    if not isinstance(record, dict):
        return None
    wrapper = MetaflowExceptionWrapper()
    wrapper.__setstate__({k: record.get(k) for k in ("exception", "type", "stacktrace")})
    return wrapper


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
