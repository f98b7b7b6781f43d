"""Reuse (clone) a committed task of an earlier run instead of running it again: how a resumed
run continues where its origin stopped.

The local runner clones a task before it would start it. A Step Functions run started by
`sfncompile resume --on-aws` has the same state machine as any run, so the decision is the
runtime's: the execution input carries the origin run and the steps to reuse under
RESUME_INPUT_KEY; the `start` task records them as `<Flow>/<run>/_resume.json`, and every task
of the run (start included) clones its origin's committed task, when its step is one of them,
and commits that clone instead of running the step.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any, Protocol

from sfncompile.conventions.artifact_names import FLOW_NAME_ARTIFACT
from sfncompile.conventions.input_keys import RESUME_INPUT_KEY
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, LocalStorage, Storage
from sfncompile.runtime import where


class TaskSpec(Protocol):
    """What this module reads and sets of sfncompile.runtime.task.TaskSpec."""

    graph: dict[str, Any]
    run: str
    step: str
    task: str
    attempt: int
    params: dict[str, Any] | None
    origin_run: str | None

RESUME_RECORD = "_resume.json"


class ResumeError(ValueError):
    """A resume request or record that cannot be followed."""


def clone_task(storage: Storage, flow: str, origin: str, run: str, step: str, task: str,
               attempt: int = 0, origin_task: str | None = None) -> bool:
    """Commit `origin`'s committed task (`origin_task`, by default the same id) as this run's
    attempt `attempt` of `task`; False when the origin has no committed task there (then it
    has to run)."""
    mine, task = task, origin_task or task
    source = ds.committed_attempt(storage, flow, origin, step, task)
    if source is None:
        return False
    done: dict[str, Any] = ds.read_done(storage, flow, origin, step, task, source)
    done["cloned_from"] = f"{flow}/{origin}/{step}/{task}/{source}"
    artifacts = done.setdefault("artifacts", {})
    if FLOW_NAME_ARTIFACT not in artifacts:  # an origin from before every task stored it
        artifacts[FLOW_NAME_ARTIFACT] = ds.save_artifact(storage, flow, flow, FLOW_NAME_ARTIFACT)
        done["artifacts"] = dict(sorted(artifacts.items()))
    try:
        control = ds.read_control(storage, flow, origin, step, task)
    except KeyNotFound:
        control = None
    store = ds.TaskStore(storage, flow, run, step, mine, attempt)
    if control is not None:  # a foreach's items or a switch's arm, read by the state machine
        store.write_control(control)
    now = time.time()  # when it was reused: the client orders tasks by it
    meta = {"status": "succeeded", "attempt": attempt, "started": now, "finished": now,
            "cloned_from": done["cloned_from"]}
    package = where.code_package()  # in a resumed execution: where the client finds the graph
    if package:
        meta["code_package"] = package
    store.write_meta(meta)
    store.commit(done)
    return True


def resume_request(origin: str, steps: list[str]) -> dict[str, Any]:
    """What the execution input carries under RESUME_INPUT_KEY."""
    return {"origin_run": origin, "steps": list(steps)}


def split_input(params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The parameters without the resume request, and the request (None if there is none)."""
    if RESUME_INPUT_KEY not in params:
        return params, None
    rest = {k: v for k, v in params.items() if k != RESUME_INPUT_KEY}
    request = params[RESUME_INPUT_KEY]
    if not (isinstance(request, dict) and isinstance(request.get("origin_run"), str)
            and isinstance(request.get("steps"), list)):
        raise ResumeError(f"{RESUME_INPUT_KEY} must be {{\"origin_run\": RUN, \"steps\": [...]}}")
    return rest, request


def record_key(flow: str, run: str) -> str:
    return f"{ds.run_prefix(flow, run)}/{RESUME_RECORD}"


def write_record(storage: Storage, flow: str, run: str, request: dict[str, Any]) -> None:
    storage.put_bytes(record_key(flow, run), json.dumps(request, sort_keys=True).encode())


def read_record(storage: Storage, flow: str, run: str) -> dict[str, Any] | None:
    """The run's resume request; None for a run that is not a resume. Only a run on S3 can
    have been resumed on Step Functions, so a local datastore is not even asked."""
    if isinstance(storage, LocalStorage):
        return None
    key = record_key(flow, run)
    try:
        record = json.loads(storage.get_bytes(key))
    except KeyNotFound:
        return None
    except ValueError:
        raise ResumeError(f"{storage.url(key)} is damaged: not JSON") from None
    if not isinstance(record, dict) or not isinstance(record.get("origin_run"), str):
        raise ResumeError(f"{storage.url(key)} is damaged: no origin_run")
    return record


def reuse_task(spec: TaskSpec, storage: Storage) -> bool:
    """For a task of a run resumed on Step Functions: clone the origin's task when its step is
    to be reused (True: committed, nothing to run); otherwise note the origin run on `spec`.
    `start` takes the request out of its parameters and records it for the later tasks."""
    flow = spec.graph["flow"]
    if spec.params is not None:
        spec.params, request = split_input(spec.params)
        if request is not None:
            write_record(storage, flow, spec.run, request)
    else:
        request = read_record(storage, flow, spec.run)
    if request is None:
        return False
    origin = request["origin_run"]
    spec.origin_run = origin
    if spec.step not in request.get("steps", ()):
        return False
    key = (storage, flow, spec.run, spec.step, spec.task)
    attempt = spec.attempt
    if attempt in ds.list_attempts(*key):  # a retry: never overwrite an earlier attempt
        attempt = ds.next_attempt(*key)
    if not clone_task(storage, flow, origin, spec.run, spec.step, spec.task, attempt):
        return False
    print(f"sfncompile: {spec.step}/{spec.task}: reused from {flow}/{origin}", file=sys.stderr)
    return True
