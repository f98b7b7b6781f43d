"""What `current.trigger` gives in a run that an event started: Metaflow's `Trigger`
(`.event`, `.events`, `.run`, `.runs`, `[name]`) and `MetaflowEvent` fields.

The runtime binds it to `current.trigger` from the run's trigger record; the code package
carries it with the client, which `Trigger.run` returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sfncompile.conventions.event_format import RUN_SOURCE


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
        if record.get("source") == RUN_SOURCE:
            return cls(name=f"{detail.get('flow')} {record.get('type')}", payload=dict(detail),
                       id=record.get("id"), timestamp=record.get("time"), type="run")
        return cls(name=str(detail.get("name") or record.get("type")),
                   payload=dict(detail.get("payload") or {}), id=record.get("id"),
                   timestamp=record.get("time"))


class Trigger:
    """What started a triggered run: `.event`, `.events`, and for `@trigger_on_finish` the
    upstream `.run` (a `sfncompile.client.core.Run`) and `.runs`."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    @property
    def event(self) -> Event | None:
        return self.events[0] if self.events else None

    @property
    def runs(self) -> list[Any]:
        # The package, not client.core: core imports this module (for Run.trigger).
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
