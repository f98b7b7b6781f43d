"""FlowIR -> the EventBridge rules that start a flow: one per `@trigger` event and one per
`@trigger_on_finish` flow. Used by `deploy` and by `build --format cloudformation`.

A rule's pattern matches the event contract of sfncompile.runtime.events; its target's input
transformer builds the execution input: each mapped parameter from its payload field, plus the
trigger record (the event's id, time, source, type and detail) under TRIGGER_KEY, which the
start task keeps with the run for `current.trigger`.

Every placeholder of the template stands outside quotes except the event's id, time, source
and type (strings by EventBridge's contract): EventBridge writes a value outside quotes as
JSON, so a payload field keeps its JSON type and the parameter's type converts it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sfncompile.conventions.event_format import EVENT_SOURCE, RUN_SOURCE, RUN_SUCCEEDED
from sfncompile.conventions.input_keys import TRIGGER_KEY
from sfncompile.emit.names import aws_name
from sfncompile.ir import EventTriggerIR, FinishTriggerIR, FlowIR

MAX_RULE_NAME = 64
RULE_SUFFIX = ".t"  # rule names are `<stem>.t<i>`: `.` is in no state machine name
RULE_STEM = MAX_RULE_NAME - len(RULE_SUFFIX) - 2
_RECORD_PATHS = {"ev_id": "$.id", "ev_time": "$.time", "ev_source": "$.source",
                 "ev_type": "$.detail-type", "ev_detail": "$.detail"}


@dataclass(frozen=True)
class RuleSpec:
    name: str  # the rule's name
    description: str
    pattern: dict[str, Any]
    input_paths: dict[str, str]
    input_template: str


def rule_stem(machine_name: str) -> str:
    """The common head of a deployment's trigger rule names (ListRules NamePrefix)."""
    return aws_name(machine_name, RULE_STEM) + RULE_SUFFIX


def _record_template() -> str:
    return ('{"id": "<ev_id>", "time": "<ev_time>", "source": "<ev_source>", '
            '"type": "<ev_type>", "detail": <ev_detail>}')


def _event_rule(t: EventTriggerIR) -> tuple[dict[str, Any], dict[str, str], str, str]:
    pattern = {"source": [EVENT_SOURCE], "detail-type": [t.name]}
    paths = {f"p_{param}": f"$.detail.payload.{field}" for param, field in t.parameters}
    body = [f"{json.dumps(param)}: <p_{param}>" for param, _ in t.parameters]
    body.append(f"{json.dumps(TRIGGER_KEY)}: {_record_template()}")
    return pattern, paths, "{" + ", ".join(body) + "}", f"event {t.name!r}"


def _finish_rule(t: FinishTriggerIR, project: str | None, branch: str | None
                 ) -> tuple[dict[str, Any], dict[str, str], str, str]:
    # Only runs of the same project and branch (or the ones the trigger names) connect;
    # without @project, only runs without one.
    pattern = {"source": [RUN_SOURCE], "detail-type": [RUN_SUCCEEDED],
               "detail": {"flow": [t.flow], "project": [t.project or project],
                          "branch": [t.branch or branch]}}
    where = f" in {t.project or project}.{t.branch or branch}" if (t.project or project) else ""
    return pattern, {}, f"{{{json.dumps(TRIGGER_KEY)}: {_record_template()}}}", \
        f"a successful run of {t.flow}{where}"


def trigger_rules(flow: FlowIR, machine_name: str, project: dict[str, Any] | None
                  ) -> list[RuleSpec]:
    """The rules of one deployment; `project` is the resolved @project (runtime.project)."""
    name = project["name"] if project else None
    branch = project["branch_name"] if project else None
    specs = [_event_rule(t) for t in flow.triggers]
    specs += [_finish_rule(t, name, branch) for t in flow.finish_triggers]
    stem = rule_stem(machine_name)
    out = []
    for i, (pattern, paths, template, what) in enumerate(specs):
        out.append(RuleSpec(
            name=f"{stem}{i}", description=f"Starts {machine_name} on {what} (sfncompile)",
            pattern=pattern, input_paths={**paths, **_RECORD_PATHS}, input_template=template))
    return out
