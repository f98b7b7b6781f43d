"""The events sfncompile publishes and matches: their sources, detail types and names.

The compiler writes EventBridge rules that match them (emit/event_rules.py), the runtime
publishes them (runtime/events.py) and the client reads the trigger record they leave
(client/trigger.py). Stdlib only.
"""

from __future__ import annotations

RUN_SOURCE = "sfncompile.run"  # the Source of a finished run's event
EVENT_SOURCE = "sfncompile.event"
RUN_SUCCEEDED = "run succeeded"
RUN_FAILED = "run failed"
# Set by deploy in the job definitions: the bus a run's events go to ("default" or a name/ARN).
BUS_ENV = "SFNCOMPILE_EVENT_BUS"


# PutEvents: "DetailType: free-form string, with a maximum of 128 characters".
MAX_EVENT_NAME = 128


def event_name_problem(name: object) -> str | None:
    """Why EventBridge would refuse `name` as an event's name (its DetailType), or None."""
    if not isinstance(name, str) or not name:
        return "an event name must be a non-empty string"
    if len(name) > MAX_EVENT_NAME:
        return (f"event name {name[:40]!r}... has {len(name)} characters; EventBridge takes "
                f"at most {MAX_EVENT_NAME} (an event's DetailType)")
    if not name.isprintable() or name != name.strip():
        return (f"event name {name!r} must be printable, without control characters or "
                "leading/trailing spaces (EventBridge matches it exactly)")
    return None
