"""Events at run time: the trigger that started a run, and the events a run publishes.

The event contract (conventions/event_format.py; other teams' flows consume it; README "Events"):
- a custom event (`sfncompile event publish`, `publish_event`): Source `sfncompile.event`,
  DetailType its name, Detail `{"name": NAME, "payload": {...}}`;
- a finished run: Source `sfncompile.run`, DetailType `run succeeded` or `run failed`, Detail
  `{"flow", "run", "pathspec", "project", "branch", "project_flow_name", "datastore_root"}`
  (project and branch null without @project).

A rule's input transformer starts the state machine with the mapped parameters plus
`TRIGGER_KEY`: the triggering event's id, time, source, type and detail. The start task takes
it out of the parameters and keeps it with the run (`_trigger.json`), where `current.trigger`
reads it in every task.

Stdlib and boto3 only (this runs in the Batch container).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from sfncompile.conventions.event_format import (
    BUS_ENV,
    RUN_SOURCE,
)
from sfncompile.conventions.input_keys import TRIGGER_KEY
from sfncompile.conventions.task_env import driven_locally
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, Storage


def split_input(params: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The parameters without the trigger record, and the record. A mapped payload field that
    the event lacks arrives as null: the parameter then keeps its default."""
    if not params:
        return {}, None
    record = params.get(TRIGGER_KEY)
    rest = {k: v for k, v in params.items() if k != TRIGGER_KEY and v is not None}
    return rest, record if isinstance(record, dict) else None


def trigger_key(flow: str, run: str) -> str:
    return f"{ds.run_prefix(flow, run)}/_trigger.json"


def save_trigger(storage: Storage, flow: str, run: str, record: dict[str, Any]) -> None:
    storage.put_bytes(trigger_key(flow, run), json.dumps(record, sort_keys=True).encode())


def load_trigger(storage: Storage, flow: str, run: str) -> dict[str, Any] | None:
    try:
        data = json.loads(storage.get_bytes(trigger_key(flow, run)))
    except (KeyNotFound, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _events_client() -> Any:
    import boto3

    return boto3.client("events")


def put_event(source: str, detail_type: str, detail: dict[str, Any],
              bus: str | None = None) -> str:
    """Put one event on the bus; return its id. Raises on a refused event."""
    entry: dict[str, Any] = {"Source": source, "DetailType": detail_type,
                             "Detail": json.dumps(detail, sort_keys=True)}
    if bus and bus != "default":
        entry["EventBusName"] = bus
    answer = _events_client().put_events(Entries=[entry])
    result = answer["Entries"][0]
    if answer.get("FailedEntryCount") or "EventId" not in result:
        raise RuntimeError(f"EventBridge refused the event: {result.get('ErrorCode')} "
                           f"{result.get('ErrorMessage')}")
    return str(result["EventId"])


def run_event_detail(graph: dict[str, Any], run: str, root: str) -> dict[str, Any]:
    from sfncompile.conventions.project import current_fields

    project = current_fields(graph)
    flow = graph["flow"]
    return {"flow": flow, "run": run, "pathspec": f"{flow}/{run}",
            "project": project.get("project_name"), "branch": project.get("branch_name"),
            "project_flow_name": project.get("project_flow_name"), "datastore_root": root}


def publish_run_event(graph: dict[str, Any], run: str, root: str, status: str) -> None:
    """From the last task of a deployed run (the job definition names the bus): the event
    that `@trigger_on_finish` listens for. A refused event is reported, not fatal: the run's
    results are committed already."""
    bus = os.environ.get(BUS_ENV)
    if not bus or driven_locally():
        return  # a local run (hybrid too) publishes nothing, as Metaflow's local runs
    try:
        put_event(RUN_SOURCE, status, run_event_detail(graph, run, root), bus)
    except Exception as exc:  # any AWS failure: warn, the run has succeeded
        print(f"sfncompile: could not publish the {status!r} event on bus {bus!r}: {exc}",
              file=sys.stderr)


def start_parameters(storage: Storage, flow: str, run: str,
                     params: dict[str, Any] | None) -> dict[str, Any]:
    """For the start task: the parameters proper; the trigger record is kept with the run."""
    values, record = split_input(params)
    if record is not None:
        save_trigger(storage, flow, run, record)
    return values


def bind_current(graph: dict[str, Any], storage: Storage, run: str) -> None:
    """Give `current` the run's project fields and (read when asked) its trigger."""
    from sfncompile.conventions.project import current_fields
    from sfncompile.flow.current import current

    flow = graph["flow"]

    def load() -> Any:
        from sfncompile.client.trigger import trigger_from_record

        return trigger_from_record(load_trigger(storage, flow, run))

    # Not current._set, which would reset what the task has already set (e.g. its tags).
    for key, value in {**current_fields(graph), "_trigger": None, "_load_trigger": load}.items():
        setattr(current, key, value)
