"""Event triggers and project branches end to end, on moto's server: `deploy` creates the trigger
rules, the last task of a run publishes `run succeeded`, EventBridge (moto, with the delivery to
Step Functions that sfncompile/devaws's `events` patch adds) starts the downstream state machine
through the rule's input transformer, and `current.trigger` in that run names what started it.

One deployment of two flows on two branches serves every check, with three executions
(deploys and executions are the expensive part of the suite): Upstream and Downstream, both
`@project(name="demo")`, on branches `test.a` and `test.b`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.deployment import Deployment
from tests.flows import end_data, wait_for

FLOWS = Path(__file__).parent / "data" / "flows" / "events"
UPSTREAM = FLOWS / "upstream.py"
DOWNSTREAM = FLOWS / "downstream.py"


def machine(branch: str, flow: str) -> str:
    return f"demo-test-{branch}-{flow}"


def executions(d: Deployment, name: str) -> list[dict[str, Any]]:
    sfn = d.sfn.client("stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == name)
    found: list[dict[str, Any]] = sfn.list_executions(stateMachineArn=arn)["executions"]
    return found


def finished_run(d: Deployment, name: str, count: int) -> list[str]:
    """The run ids of `name`'s executions once there are `count` and none is running."""
    def ready() -> list[str] | None:
        found = executions(d, name)
        if len(found) >= count and all(e["status"] != "RUNNING" for e in found):
            return [e["name"] for e in found]
        return None

    runs: list[str] = wait_for(ready, 120, f"{count} finished execution(s) of {name}")
    for run in runs:
        assert d.wait(name, run)["status"] == "SUCCEEDED", d.sfn.job_logs()[-4000:]
    return runs


def rules_of(d: Deployment, name: str) -> dict[str, dict[str, Any]]:
    events = d.sfn.client("events")
    found = events.list_rules(NamePrefix=f"{name}.t")["Rules"]
    return {r["Name"]: r for r in found}


def test_triggers_chain_flows_within_their_project_branch(deployment: Deployment,
                                                          s3_env: None) -> None:
    d = deployment
    # Downstream's upstream is not deployed on branch c: refused before any change.
    proc = d.cli("deploy", str(DOWNSTREAM), *d.settings(), "--branch", "c")
    assert proc.returncode == 2, proc.stderr
    assert "no state machine demo-test-c-Upstream" in proc.stderr, proc.stderr
    sfn = d.sfn.client("stepfunctions")
    assert machine("c", "Downstream") not in {
        m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert rules_of(d, machine("c", "Downstream")) == {}
    for branch in ("a", "b"):
        d.deploy(UPSTREAM, "--branch", branch)
        d.deploy(DOWNSTREAM, "--branch", branch)
    # Side by side: each branch has its own state machine and its own two trigger rules.
    for branch in ("a", "b"):
        rules = rules_of(d, machine(branch, "Downstream"))
        assert len(rules) == 2, rules
        patterns = [json.loads(r["EventPattern"]) for r in rules.values()]
        finish = next(p for p in patterns if p["source"] == ["sfncompile.run"])
        assert finish["detail"] == {"flow": ["Upstream"], "project": ["demo"],
                                    "branch": [f"test.{branch}"]}

    # A successful Upstream run on branch a starts Downstream on branch a only.
    proc = d.cli("trigger", str(UPSTREAM), "--branch", "a")
    assert proc.returncode == 0, proc.stderr
    up_run = proc.stdout.strip()
    assert d.wait(machine("a", "Upstream"), up_run)["status"] == "SUCCEEDED"
    [down_run] = finished_run(d, machine("a", "Downstream"), 1)
    data = end_data(d.root, f"Downstream/{down_run}")
    assert data["upstream"] == f"Upstream/{up_run}"
    assert data["upstream_branch"] == "test.a"
    assert data["event_name"] == "Upstream run succeeded"
    assert data["branch"] == "test.a"
    assert data["project_flow_name"] == "demo.test.a.Downstream"
    assert data["alpha"] == 1  # not mapped from a finish event: the default
    assert executions(d, machine("b", "Downstream")) == []

    # Deleting branch b removes its machine and rules and leaves branch a alone.
    proc = d.cli("delete", machine("b", "Downstream"), "--yes")
    assert proc.returncode == 0, proc.stderr
    assert rules_of(d, machine("b", "Downstream")) == {}
    assert len(rules_of(d, machine("a", "Downstream"))) == 2
    names = {m["name"] for m in d.sfn.client("stepfunctions").list_state_machines()[
        "stateMachines"]}
    assert machine("a", "Downstream") in names and machine("b", "Downstream") not in names

    # A custom event starts every deployed flow that listens for it (events are global, as in
    # Metaflow), its payload field `value` mapped to the parameter `alpha`.
    proc = d.cli("event", "publish", "data_ready", "--param", "value=7")
    assert proc.returncode == 0, proc.stderr
    runs = finished_run(d, machine("a", "Downstream"), 2)
    [event_run] = [r for r in runs if r != down_run]
    data = end_data(d.root, f"Downstream/{event_run}")
    assert (data["alpha"], data["event_name"], data["payload"], data["upstream"]) == \
        (7, "data_ready", {"value": "7"}, None)
    assert data["branch"] == "test.a"
