"""Events from Python: `publish_event` (like Metaflow's `ArgoEvent(name).publish(payload)`),
and `Trigger`, what `current.trigger` gives in a run that an event started.

Stdlib and boto3 only, imported only when used (`import sfncompile` stays light).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from sfncompile.runtime import events as _events


class EventError(ValueError):
    """An event that EventBridge would refuse (its name or payload)."""


def publish_event(name: str, payload: dict[str, Any] | None = None, *,
                  bus: str | None = None) -> str:
    """Put a custom event on the bus (default: $SFNCOMPILE_EVENT_BUS, which deploy sets for
    tasks, else the account's default bus); return its EventBridge id. Every deployed flow
    with `@trigger(event=name)` starts, its mapped parameters read from `payload`."""
    problem = _events.event_name_problem(name)
    if problem:
        raise EventError(problem)
    payload = dict(payload or {})
    try:
        text = json.dumps({"name": name, "payload": payload}, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EventError(f"the payload must be JSON: {exc}") from None
    if len(text.encode()) > MAX_DETAIL_BYTES:
        raise EventError(f"the payload takes {len(text.encode()):,} bytes; an EventBridge "
                         f"event holds at most {MAX_DETAIL_BYTES:,}")
    bus = bus or os.environ.get(_events.BUS_ENV) or "default"
    return _events.put_event(_events.EVENT_SOURCE, name, {"name": name, "payload": payload},
                             bus)


# PutEvents takes 256 KiB per entry; leave room for the envelope (source, type, bus).
MAX_DETAIL_BYTES = 256 * 1024 - 1024


@dataclass(frozen=True)
class Event:
    """One event that started the run: Metaflow's MetaflowEvent fields."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    timestamp: str | None = None
    type: str = "event"  # "event", or "run" for @trigger_on_finish

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Event:
        detail = record.get("detail") or {}
        if record.get("source") == _events.RUN_SOURCE:
            return cls(name=f"{detail.get('flow')} {record.get('type')}", payload=dict(detail),
                       id=record.get("id"), timestamp=record.get("time"), type="run")
        return cls(name=str(detail.get("name") or record.get("type")),
                   payload=dict(detail.get("payload") or {}), id=record.get("id"),
                   timestamp=record.get("time"))


class Trigger:
    """What started a triggered run: `.event`, `.events`, and for `@trigger_on_finish` the
    upstream `.run` (a `sfncompile.client.Run`) and `.runs`."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    @property
    def event(self) -> Event | None:
        return self.events[0] if self.events else None

    @property
    def runs(self) -> list[Any]:
        from sfncompile import client

        return [client.Run(e.payload["pathspec"]) for e in self.events
                if e.type == "run" and e.payload.get("pathspec")]

    @property
    def run(self) -> Any:
        runs = self.runs
        return runs[0] if runs else None

    def __getitem__(self, name: str) -> Event:
        for e in self.events:
            if e.name == name or (e.type == "run" and e.payload.get("flow") == name):
                return e
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"Trigger({', '.join(e.name for e in self.events)})"


def trigger_from_record(record: dict[str, Any] | None) -> Trigger | None:
    return None if record is None else Trigger([Event.from_record(record)])
