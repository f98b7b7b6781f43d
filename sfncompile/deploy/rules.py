"""Deploying event triggers and projects: the branch a deployment goes to, the upstream flows
its `@trigger_on_finish` names (deployed already?), and its EventBridge trigger rules, which
`deploy` keeps in step with the flow and `delete` removes (only its own: by name prefix and
owner tag)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from sfncompile.deploy.aws import AwsClients, is_not_found
from sfncompile.emit.event_rules import RuleSpec, rule_stem
from sfncompile.emit.names import deployment_name
from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR

TARGET_ID = "sfncompile"


def upstream_machines(flow: FlowIR, prefix: str, project: dict[str, Any] | None
                      ) -> dict[str, str]:
    """State machine name of each `@trigger_on_finish` flow -> where the trigger is written."""
    out = {}
    for t in flow.finish_triggers:
        name = t.project or (project["name"] if project else None)
        branch = t.branch or (project["branch_name"] if project else None)
        upstream = None if name is None else {"name": name, "branch_name": branch}
        out[deployment_name(prefix, t.flow, upstream)] = f"{t.flow!r} ({t.pos})"
    return out


def check_upstreams(clients: AwsClients, own: str, upstreams: dict[str, str]) -> None:
    """Refuse, before any change, a `@trigger_on_finish` on a flow that is not deployed in
    the same project and branch: its rule would wait for events that never come."""
    wanted = {name: where for name, where in upstreams.items() if name != own}
    if not wanted:
        return
    deployed: set[str] = set()
    for page in clients.sfn.get_paginator("list_state_machines").paginate():
        deployed.update(m["name"] for m in page["stateMachines"])
    missing = [f"{where}: no state machine {name}" for name, where in wanted.items()
               if name not in deployed]
    if missing:
        raise UsageError("@trigger_on_finish names a flow that is not deployed in this project "
                         "and branch (deploy it first, with the same --branch/--production):\n  "
                         + "\n  ".join(missing))


def _bus(bus: str) -> dict[str, str]:
    return {} if bus == "default" else {"EventBusName": bus}


def _target(spec: RuleSpec, machine_arn: str, role: str) -> dict[str, Any]:
    return {"Id": TARGET_ID, "Arn": machine_arn, "RoleArn": role,
            "InputTransformer": {"InputPathsMap": spec.input_paths,
                                 "InputTemplate": spec.input_template}}


def own_rules(clients: AwsClients, machine: str, bus: str, owner_tag: str) -> list[str]:
    """The trigger rules that a deployment of `machine` made: by name prefix, then owner tag."""
    found: list[str] = []
    for page in clients.events.get_paginator("list_rules").paginate(
            NamePrefix=rule_stem(machine), **_bus(bus)):
        for rule in page["Rules"]:
            tags = clients.events.list_tags_for_resource(ResourceARN=rule["Arn"])["Tags"]
            if {t["Key"]: t["Value"] for t in tags}.get(owner_tag) == machine:
                found.append(rule["Name"])
    return found


def remove_rule(clients: AwsClients, name: str, bus: str) -> None:
    ids = [t["Id"] for t in clients.events.list_targets_by_rule(
        Rule=name, **_bus(bus)).get("Targets", [])]
    if ids:
        clients.events.remove_targets(Rule=name, Ids=ids, **_bus(bus))
    clients.events.delete_rule(Name=name, **_bus(bus))


def apply_rules(clients: AwsClients, specs: list[RuleSpec], *, machine: str, machine_arn: str,
                role: str, bus: str, tags: dict[str, str], owner_tag: str,
                say: Callable[[str], None], changed: list[str]) -> None:
    """Create or update each wanted rule and its target; remove the deployment's others."""
    tag_list = [{"Key": k, "Value": v} for k, v in sorted({**tags, owner_tag: machine}.items())]
    for spec in specs:
        try:
            current: dict[str, Any] | None = clients.events.describe_rule(
                Name=spec.name, **_bus(bus))
        except ClientError as exc:
            if not is_not_found(exc):
                raise
            current = None
        same = current is not None and current.get("State") == "ENABLED" and \
            json.loads(current.get("EventPattern") or "{}") == spec.pattern
        if not same:
            clients.events.put_rule(Name=spec.name, EventPattern=json.dumps(spec.pattern),
                                    State="ENABLED", Description=spec.description,
                                    Tags=tag_list, **_bus(bus))
            changed.append(f"trigger rule {spec.name}")
        target = _target(spec, machine_arn, role)
        targets = clients.events.list_targets_by_rule(Rule=spec.name, **_bus(bus))["Targets"]
        if [{k: x.get(k) for k in target} for x in targets] != [target]:
            stale = [x["Id"] for x in targets if x["Id"] != TARGET_ID]
            if stale:
                clients.events.remove_targets(Rule=spec.name, Ids=stale, **_bus(bus))
            clients.events.put_targets(Rule=spec.name, Targets=[target], **_bus(bus))
            changed.append(f"trigger target {spec.name}")
            same = False
        say(f"trigger rule    {'unchanged' if same else 'set':<10} {spec.name}")
    wanted = {s.name for s in specs}
    for name in own_rules(clients, machine, bus, owner_tag):
        if name not in wanted:
            remove_rule(clients, name, bus)
            changed.append(f"trigger rule {name} removed")
            say(f"trigger rule    removed    {name}")


def delete_rules(clients: AwsClients, machine: str, bus: str, owner_tag: str) -> list[str]:
    removed = []
    for name in own_rules(clients, machine, bus, owner_tag):
        remove_rule(clients, name, bus)
        removed.append(f"EventBridge trigger rule {name} and its target")
    return removed


def apply_run_end_rule(clients: AwsClients, *, rule_name: str, pattern: dict[str, Any],
                       recorder_arn: str, role: str, tags: dict[str, str],
                       say: Callable[[str], None], changed: list[str]) -> None:
    """The run end recorder's rule, on the default bus (the only one Step Functions sends
    its status changes to), and its one target: the recorder, with the event as its input."""
    try:
        current: dict[str, Any] | None = clients.events.describe_rule(Name=rule_name)
    except ClientError as exc:
        if not is_not_found(exc):
            raise
        current = None
    same = current is not None and current.get("State") == "ENABLED" and \
        json.loads(current.get("EventPattern") or "{}") == pattern
    if not same:
        clients.events.put_rule(
            Name=rule_name, EventPattern=json.dumps(pattern), State="ENABLED",
            Description="Records the end of runs that Step Functions ended (sfncompile)",
            Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())])
        changed.append(f"run end rule {rule_name}")
    target = {"Id": TARGET_ID, "Arn": recorder_arn, "RoleArn": role}
    targets = clients.events.list_targets_by_rule(Rule=rule_name)["Targets"]
    if [{k: x.get(k) for k in target} for x in targets] != [target]:
        stale = [x["Id"] for x in targets if x["Id"] != TARGET_ID]
        if stale:
            clients.events.remove_targets(Rule=rule_name, Ids=stale)
        clients.events.put_targets(Rule=rule_name, Targets=[target])
        changed.append(f"run end target {rule_name}")
        same = False
    say(f"run end rule    {'unchanged' if same else 'set':<10} {rule_name}")
