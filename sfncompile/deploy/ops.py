"""Operate a deployed flow: trigger, status, redrive, delete."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from sfncompile.deploy.aws import AwsClients, find_state_machine, is_not_found
from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR


def machine_arn(clients: AwsClients, name: str) -> str:
    arn = find_state_machine(clients, name)
    if arn is None:
        raise UsageError(f"no state machine named {name!r} (deploy it first with "
                         "`sfncompile deploy FLOW.py`)")
    return arn


def execution_arn(machine: str, run_id: str) -> str:
    return machine.replace(":stateMachine:", ":execution:") + f":{run_id}"


def execution_input(flow: FlowIR | None, given: dict[str, Any], flow_dir: Path | None,
                    root: str | None = None) -> dict[str, Any]:
    """The execution input of a run given these parameter values (text, as on a command
    line): each checked and parsed as the flow's Parameter says, IncludeFiles stored in the
    datastore at `root` (the runs' s3_root) and passed by reference, the size checked.
    Without the flow (a deployment named by its state machine), the values as given.
    Raises UsageError."""
    if flow is None:
        return given
    return graph_input(flow.graph_json(), given, flow_dir, lambda: root)


def graph_input(graph: dict[str, Any], given: dict[str, Any], flow_dir: Path | None,
                root: Callable[[], str | None]) -> dict[str, Any]:
    """`execution_input` for the flow of this step graph; `root` is asked for the runs'
    datastore only when a file is to be stored there."""
    from sfncompile.datastore.storage import Storage, open_storage
    from sfncompile.runtime.params import ParameterError, resolve_parameters
    from sfncompile.runtime.run_inputs import check_execution_input, store_include_files

    try:
        spec = graph["parameters"]
        values = resolve_parameters(spec, given)
        out = {p["name"]: values[p["attr"]] for p in spec if p["name"] in given}
        def storage() -> Storage | None:
            where = root()
            return open_storage(where.rstrip("/")) if where else None

        # A default not given is the deployed one, which the start task reads.
        out = store_include_files(spec, out, flow_dir, storage, graph["flow"], defaults=False)
        check_execution_input(spec, out)
    except ParameterError as exc:
        raise UsageError(str(exc)) from None
    return out


def deployed_graph(clients: AwsClients, name: str) -> tuple[dict[str, Any], str | None]:
    """The step graph a deployed state machine runs (from its code package) and its runs'
    datastore root: what `trigger NAME` needs to check parameters and store IncludeFiles.
    Raises UsageError when the deployment is not sfncompile's."""
    import io
    import tarfile

    machine = clients.sfn.describe_state_machine(stateMachineArn=machine_arn(clients, name))
    found = _job_definition(json.loads(machine["definition"]))
    definitions = (clients.batch.describe_job_definitions(jobDefinitions=[found])
                   ["jobDefinitions"] if found else [])
    env = {e["name"]: e["value"] for d in definitions[:1]
           for e in d.get("containerProperties", {}).get("environment", [])}
    package = env.get("SFNCOMPILE_CODE_PACKAGE", "")
    if not package.startswith("s3://"):
        raise UsageError(f"{name}: no sfncompile code package found in its job definition; "
                         "name the flow's file (FLOW.py) instead")
    bucket, _, key = package[len("s3://"):].partition("/")
    body = clients.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        member = tar.extractfile("_sfncompile/graph.json")
        graph: dict[str, Any] = json.loads(member.read() if member else b"{}")
    return graph, env.get("SFNCOMPILE_DATASTORE_ROOT")


def _job_definition(node: Any) -> str | None:
    """The first JobDefinition a state of the definition submits (every step's job runs the
    same code package)."""
    if isinstance(node, dict):
        value = node.get("JobDefinition")
        if isinstance(value, str):
            return value
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            if (found := _job_definition(item)) is not None:
                return found
    return None


def new_run_id() -> str:
    """A run id (the execution's name) as the local runner makes one: time, then random."""
    import secrets
    from datetime import datetime, timezone

    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


def trigger(clients: AwsClients, name: str, run_id: str, params: dict[str, Any]) -> str:
    arn = machine_arn(clients, name)
    clients.sfn.start_execution(stateMachineArn=arn, name=run_id, input=json.dumps(params))
    return run_id


@dataclass
class ExecutionInfo:
    run_id: str
    status: str
    started: str
    stopped: str


def list_executions(clients: AwsClients, name: str, limit: int = 20) -> list[ExecutionInfo]:
    arn = machine_arn(clients, name)
    found = clients.sfn.list_executions(stateMachineArn=arn, maxResults=limit)["executions"]
    return [ExecutionInfo(e["name"], e["status"], _time(e.get("startDate")),
                          _time(e.get("stopDate"))) for e in found]


def _time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else "-"


def describe_run(clients: AwsClients, name: str, run_id: str) -> dict[str, Any]:
    """Status of one run, and the states (steps) that failed, from its history."""
    arn = execution_arn(machine_arn(clients, name), run_id)
    try:
        execution = clients.sfn.describe_execution(executionArn=arn)
    except ClientError as exc:
        if is_not_found(exc):
            raise UsageError(f"{name} has no run {run_id!r}") from None
        raise
    entered: dict[int, str] = {}
    failed: list[str] = []
    cause = None
    paginator = clients.sfn.get_paginator("get_execution_history")
    for page in paginator.paginate(executionArn=arn):
        for event in page["events"]:
            if event["type"] == "ExecutionRedriven":  # what failed before belongs to the
                failed, cause = [], None  # attempt that the redrive took over
            details = event.get("stateEnteredEventDetails")
            if details:
                entered[event["id"]] = details["name"]
            if event["type"] in ("TaskFailed", "TaskTimedOut"):
                state = _state_of(event, entered, page["events"])
                if state and state not in failed:
                    failed.append(state)
                info = event.get("taskFailedEventDetails") or event.get(
                    "taskTimedOutEventDetails") or {}
                cause = info.get("cause") or info.get("error") or cause
    return {"status": execution["status"], "failed_steps": failed, "cause": cause,
            "error": execution.get("error"), "started": _time(execution.get("startDate")),
            "stopped": _time(execution.get("stopDate"))}


def _state_of(event: dict[str, Any], entered: dict[int, str],
              events: list[dict[str, Any]]) -> str | None:
    """Follow previousEventId back to the state that this event happened in."""
    by_id = {e["id"]: e for e in events}
    current: dict[str, Any] | None = event
    while current is not None:
        if current["id"] in entered:
            return entered[current["id"]]
        current = by_id.get(current.get("previousEventId", 0))
    return None


def redrive(clients: AwsClients, name: str, run_id: str) -> None:
    arn = execution_arn(machine_arn(clients, name), run_id)
    try:
        clients.sfn.redrive_execution(executionArn=arn)
    except ClientError as exc:
        raise UsageError(f"cannot redrive {name}/{run_id}: {exc}") from None


def delete(clients: AwsClients, name: str, rule_name: str) -> list[str]:
    """Remove the schedule, the run end recorder and its rule, the state machine and the job
    definitions; return what went.

    Everything is found by its exact name, and a job definition also by the owner tag that
    deploy writes: never by a name prefix, so deleting `Team` leaves `Team-Flow` alone."""
    from sfncompile.deploy.deployer import OWNER_TAG
    from sfncompile.deploy.rules import remove_rule
    from sfncompile.emit.run_end import recorder_name
    from sfncompile.emit.run_end import rule_name as run_end_rule

    removed = []
    # The rule first: no recorder starts for the state machine's last executions' ends.
    try:
        remove_rule(clients, run_end_rule(name), "default")
        removed.append(f"EventBridge rule {run_end_rule(name)} (run end) and its target")
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    recorder = find_state_machine(clients, recorder_name(name))
    if recorder is not None:
        clients.sfn.delete_state_machine(stateMachineArn=recorder)
        removed.append(f"state machine {recorder_name(name)} (run end recorder)")
    try:
        clients.events.describe_rule(Name=rule_name)
        ids = [t["Id"] for t in clients.events.list_targets_by_rule(Rule=rule_name)["Targets"]]
        if ids:
            clients.events.remove_targets(Rule=rule_name, Ids=ids)
        clients.events.delete_rule(Name=rule_name)
        removed.append(f"EventBridge rule {rule_name} and its targets")
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    try:
        clients.scheduler.delete_schedule(Name=rule_name)
        removed.append(f"EventBridge Scheduler schedule {rule_name}")
    except ClientError as exc:
        if not is_not_found(exc):
            raise
    arn = find_state_machine(clients, name)
    if arn is not None:
        clients.sfn.delete_state_machine(stateMachineArn=arn)
        removed.append(f"state machine {name}")
    paginator = clients.batch.get_paginator("describe_job_definitions")
    for page in paginator.paginate(status="ACTIVE"):
        for d in page["jobDefinitions"]:
            jd = d["jobDefinitionName"]
            owner = (d.get("tags") or {}).get(OWNER_TAG)
            if owner == name or (owner is None and jd == name):
                clients.batch.deregister_job_definition(jobDefinition=d["jobDefinitionArn"])
                removed.append(f"job definition {jd}:{d['revision']}")
    return removed
