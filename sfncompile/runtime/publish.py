"""Events from Python: `publish_event` (like Metaflow's `ArgoEvent(name).publish(payload)`),
from a task or a script. `Trigger` and `Event` (client/trigger.py) are here too, as they were
in `sfncompile.events`.

Stdlib and boto3 only, imported only when used (`import sfncompile` stays light).
"""

from __future__ import annotations

import json
import os
from typing import Any

from sfncompile.client.trigger import Event, Trigger, trigger_from_record
from sfncompile.conventions.event_format import BUS_ENV, EVENT_SOURCE, event_name_problem
from sfncompile.runtime.events import put_event

__all__ = ["Event", "EventError", "Trigger", "publish_event", "trigger_from_record"]


class EventError(ValueError):
    """An event that EventBridge would refuse (its name or payload)."""


def publish_event(name: str, payload: dict[str, Any] | None = None, *,
                  bus: str | None = None) -> str:
    """Put a custom event on the bus (default: $SFNCOMPILE_EVENT_BUS, which deploy sets for
    tasks, else the account's default bus); return its EventBridge id. Every deployed flow
    with `@trigger(event=name)` starts, its mapped parameters read from `payload`."""
    problem = event_name_problem(name)
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
    bus = bus or os.environ.get(BUS_ENV) or "default"
    return put_event(EVENT_SOURCE, name, {"name": name, "payload": payload}, bus)


# PutEvents takes 256 KiB per entry; leave room for the envelope (source, type, bus).
MAX_DETAIL_BYTES = 256 * 1024 - 1024
