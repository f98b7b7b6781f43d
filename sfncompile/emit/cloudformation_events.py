"""The event parts of a flow's CloudFormation stack: the trigger rules (the same RuleSpecs that
`deploy` puts), the role EventBridge assumes to start the state machine, and what the Batch
jobs need to publish the run's events and to read the upstream runs that triggered them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sfncompile.emit.event_rules import RuleSpec
from sfncompile.ir import FlowIR

Statement = Callable[..., dict[str, Any]]


def event_bus_arn(arn: Callable[..., dict[str, str]]) -> dict[str, str]:
    return arn("events", "event-bus/${EventBusName}")


def job_statements(flow: FlowIR, statement: Statement, arn: Callable[..., dict[str, str]],
                   sub: Callable[[str], dict[str, str]]) -> list[dict[str, Any]]:
    """The job role's statements about events."""
    out = [
        # The last task puts `run succeeded`; a step may publish_event(); this bus only.
        statement("PublishEvents", ["events:PutEvents"], event_bus_arn(arn)),
    ]
    upstreams = sorted({t.flow for t in flow.finish_triggers})
    if upstreams:
        # current.trigger.run reads the upstream run that started this one (read only).
        out.append(statement(
            "ReadUpstreamRuns", ["s3:GetObject"],
            [arn("s3", f"${{S3Bucket}}/${{S3KeyPrefix}}{u}/*", regional=False)
             for u in upstreams]))
        out.append(statement(
            "ListUpstreamRuns", ["s3:ListBucket"], arn("s3", "${S3Bucket}", regional=False),
            {"StringLike": {"s3:prefix": [sub(f"${{S3KeyPrefix}}{u}/*") for u in upstreams]}}))
    return out


def trigger_resources(specs: list[RuleSpec], name: str, role: Callable[..., dict[str, Any]],
                      statement: Statement, tags: list[dict[str, str]]) -> dict[str, Any]:
    """TriggerRole plus one AWS::Events::Rule per spec, on the EventBusName parameter's bus."""
    if not specs:
        return {}
    out: dict[str, Any] = {"TriggerRole": role(
        "events.amazonaws.com", f"Starts executions of {name} on its trigger events",
        [statement("StartFlow", ["states:StartExecution"], {"Ref": "StateMachine"})], tags)}
    for i, spec in enumerate(specs):
        props: dict[str, Any] = {
            "Name": spec.name,
            "Description": spec.description,
            "EventBusName": {"Ref": "EventBusName"},
            "EventPattern": spec.pattern,
            "State": "ENABLED",
            "Targets": [{
                "Id": "StateMachine",
                "Arn": {"Ref": "StateMachine"},
                "RoleArn": {"Fn::GetAtt": ["TriggerRole", "Arn"]},
                "InputTransformer": {"InputPathsMap": spec.input_paths,
                                     "InputTemplate": spec.input_template},
            }],
        }
        if tags:
            props["Tags"] = tags
        out[f"TriggerRule{i}"] = {"Type": "AWS::Events::Rule", "Properties": props}
    return out


EVENT_BUS_PARAMETER: dict[str, Any] = {
    "Type": "String",
    "Description": "EventBridge bus of the trigger rules and of the events the runs publish "
                   "(default: the account's default bus)",
    "AllowedPattern": "^[A-Za-z0-9._/-]{1,256}$",
    "Default": "default",
}
