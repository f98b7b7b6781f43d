"""Event triggers and projects without AWS: the decorator forms Metaflow accepts, the rules
pinned as goldens beside their flows, AWS name limits, and the trigger record at run time."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sfncompile.client.trigger import trigger_from_record
from sfncompile.conventions import project as projects
from sfncompile.conventions.input_keys import TRIGGER_KEY
from sfncompile.emit.event_rules import MAX_RULE_NAME, trigger_rules
from sfncompile.emit.names import MAX_MACHINE_NAME, deployment_name
from sfncompile.emit.render import render_json
from sfncompile.errors import FlowErrors
from sfncompile.ir import FinishTriggerIR
from sfncompile.parser import parse_flow
from sfncompile.parser.flow_parser import parse_source
from sfncompile.runtime.events import split_input
from tests.conftest import GOLDEN
from tests.test_golden import check_golden

HEAD = "from sfncompile import FlowSpec, Parameter, step, trigger, trigger_on_finish, project\n"
BODY = '''
class F(FlowSpec):
    alpha = Parameter("alpha", default=1)
    beta = Parameter("beta", default=2)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def parse(decorators: str) -> Any:
    return parse_source(HEAD + decorators + BODY, "flow.py")


def rules_document(flow_file: Path, branch: str | None = None) -> str:
    flow = parse_flow(flow_file)
    project = None
    if flow.project is not None:
        project = projects.resolve(
            {"name": flow.project.name, "branch": flow.project.branch,
             "production": flow.project.production}, flow.name, branch=branch)
    name = deployment_name("", flow.name, project)
    return render_json({"StateMachine": name, "Rules": [
        {"Name": r.name, "Description": r.description, "EventPattern": r.pattern,
         "InputTransformer": {"InputPathsMap": r.input_paths,
                              "InputTemplate": r.input_template}}
        for r in trigger_rules(flow, name, project)]})


@pytest.mark.parametrize("case", ["triggered", "project"])
def test_trigger_rules_match_golden(case: str, update_goldens: bool) -> None:
    check_golden(GOLDEN / case / "flow.rules.json", rules_document(GOLDEN / case / "flow.py"),
                 update_goldens)


def test_metaflow_forms_of_trigger() -> None:
    flow = parse('@trigger(event={"name": "e", "parameters": ["alpha", ("beta", "b")]})\n')
    assert [(t.name, t.parameters) for t in flow.triggers] == [
        ("e", (("alpha", "alpha"), ("beta", "b")))]
    flow = parse('@trigger(events=["x", {"name": "y", "parameters": {"alpha": "a"}}])\n')
    assert [(t.name, t.parameters) for t in flow.triggers] == [("x", ()), ("y", (("alpha", "a"),))]


def test_metaflow_forms_of_trigger_on_finish() -> None:
    flow = parse('@trigger_on_finish(flows=["A", "proj.prod.B", "proj.user.bob.C", '
                 '{"name": "D", "project": "p", "project_branch": "test.x"}])\n')
    assert [(t.flow, t.project, t.branch) for t in flow.finish_triggers] == [
        ("A", None, None), ("B", "proj", "prod"), ("C", "proj", "user.bob"),
        ("D", "p", "test.x")]
    assert isinstance(flow.finish_triggers[0], FinishTriggerIR)


@pytest.mark.parametrize(("decorators", "message"), [
    ('@trigger(event="")\n', "non-empty"),
    (f'@trigger(event="{"x" * 129}")\n', "at most 128"),
    ('@trigger(event="a\\nb")\n', "printable"),
    ('@trigger(event={"name": "e", "parameters": {"alpha": "a.b"}})\n', "input path"),
    ('@trigger(event={"name": "e", "parameters": {"gamma": "g"}})\n', "not a Parameter"),
    ('@trigger(event="a", events=["b"])\n', "one of event= or events="),
    ('@trigger(events=["a", "a"])\n', "same event twice"),
    ('@trigger_on_finish(flow="a.B")\n', "'project.branch.Flow'"),
    ('@trigger_on_finish(flow="Bad-Name")\n', "letters, digits and _"),
    ('@project(name="My Project")\n', "lowercase"),
    ('@project(name="p", branch="feat/x")\n', "lowercase letters"),
    ('@project(name="p")\n@project(name="q")\n', "given twice"),
])
def test_bad_trigger_arguments_are_flow_errors(decorators: str, message: str) -> None:
    with pytest.raises(FlowErrors) as info:
        parse(decorators)
    text = "\n".join(str(e) for e in info.value.errors)
    assert message in text and text.startswith("flow.py:"), text


def test_names_stay_within_aws_limits() -> None:
    long = {"name": "p" * 128, "branch_name": "test." + "b" * 128}
    name = deployment_name("prefix-", "F" * 60, long)
    assert len(name) == MAX_MACHINE_NAME and name.startswith("prefix-ppp")
    # a different branch gives another name, even when both are cut
    other = deployment_name("prefix-", "F" * 60, {**long, "branch_name": "test." + "c" * 128})
    assert other != name
    flow = parse('@trigger(events=["a", "b"])\n@trigger_on_finish(flow="U")\n')
    rules = trigger_rules(flow, name, long)
    assert [len(r.name) <= MAX_RULE_NAME for r in rules] == [True] * 3
    assert len({r.name for r in rules}) == 3
    assert deployment_name("", "F", {"name": "demo", "branch_name": "user.bob"}) == \
        "demo-user-bob-F"


def test_branches_as_metaflow_names_them() -> None:
    p = {"name": "demo", "branch": None, "production": False}
    assert projects.resolve(p, "F", user="Alice.Smith")["branch_name"] == "user.alice_smith"
    assert projects.resolve(p, "F", branch="x")["project_flow_name"] == "demo.test.x.F"
    assert projects.resolve(p, "F", branch="x", production=True)["branch_name"] == "prod.x"
    assert projects.resolve(p, "F", production=True)["is_production"] is True
    assert projects.user_name({"USER": "root"}) is None
    assert projects.user_name({"METAFLOW_USER": "m", "USER": "u"}) == "m"
    env = {projects.BRANCH_ENV: "prod", projects.PRODUCTION_ENV: "true"}
    graph = {"flow": "F", "project": p}
    assert projects.current_fields(graph, env)["project_flow_name"] == "demo.prod.F"


def test_trigger_record_leaves_the_parameters() -> None:
    record = {"id": "1", "time": "t", "source": "sfncompile.run", "type": "run succeeded",
              "detail": {"flow": "U", "run": "r", "pathspec": "U/r"}}
    params, found = split_input({"alpha": "7", "beta": None, TRIGGER_KEY: record})
    assert params == {"alpha": "7"} and found == record  # a missing field: the default
    trigger = trigger_from_record(found)
    assert trigger is not None and trigger.event is not None
    assert (trigger.event.name, trigger.event.type, trigger["U"].payload["run"]) == \
        ("U run succeeded", "run", "r")
    assert json.loads(json.dumps(record)) == record


def test_run_failed_state_is_valid_asl_with_deployment_placeholders() -> None:
    from sfncompile.emit.asl import run_failed_event_state
    from sfncompile.emit.asl_checks import validate_asl
    from sfncompile.emit.render import placeholders

    machine = {"StartAt": "Failed", "States": {
        "Failed": run_failed_event_state("F", "Fail run"),
        "Fail run": {"Type": "Fail", "Error": "RunFailed"}}}
    assert validate_asl(machine) == []
    assert sorted(placeholders(machine)) == ["EventBus", "ProjectBranch", "ProjectName"]
    entry = machine["States"]["Failed"]["Parameters"]["Entries"][0]
    assert (entry["Source"], entry["DetailType"]) == ("sfncompile.run", "run failed")
    assert validate_asl({"StartAt": "E", "States": {"E": run_failed_event_state("F")}}) == []


def test_bridge_transforms_input_as_eventbridge_documents() -> None:
    """The moto bridge's InputTransformer (sfncompile/devaws, `events` patch) on AWS's own
    example, and on the templates that deploy writes."""
    from sfncompile.devaws.server import transform_input

    event = {"id": "e1", "detail": {"instance": "i-0123", "state": "RUNNING", "n": 7}}
    paths = {"instance": "$.detail.instance", "state": "$.detail.state", "n": "$.detail.n",
             "gone": "$.detail.missing"}
    template = ('{"instance": <instance>, "state": [9, <state>, true], "n": <n>, '
                '"text": "<instance> is in state \\"<state>\\"", "gone": <gone>}')
    out = json.loads(transform_input({"InputPathsMap": paths, "InputTemplate": template},
                                     event, "rule"))
    assert out == {"instance": "i-0123", "state": [9, "RUNNING", True], "n": 7,
                   "text": 'i-0123 is in state "RUNNING"', "gone": None}
    rule = trigger_rules(parse('@trigger(event={"name": "e", "parameters": ["alpha"]})\n'),
                         "F", None)[0]
    record = {"id": "1", "time": "t", "source": "sfncompile.event", "detail-type": "e",
              "detail": {"name": "e", "payload": {"alpha": 'a "quoted" value'}}}
    given = json.loads(transform_input({"InputPathsMap": rule.input_paths,
                                        "InputTemplate": rule.input_template}, record, "r"))
    assert given["alpha"] == 'a "quoted" value'
    assert given[TRIGGER_KEY]["detail"] == record["detail"]
