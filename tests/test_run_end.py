"""A run that Step Functions ends itself (StopExecution, the state machine's TimeoutSeconds, an
error no Catch takes) records its end through the run end recorder (emit/run_end.py): its
IAM, and on moto's engine an aborted, a timed-out and an early-failed run as the client and
`sfncompile status` show them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from sfncompile import client
from sfncompile.client.run_record import DEFAULT_REASONS, merge_end
from sfncompile.deploy.run_status import recorded_run
from sfncompile.emit import compile_asl
from sfncompile.emit.asl_checks import validate_asl
from sfncompile.emit.cloudformation import cloudformation_template
from sfncompile.parser import parse_source
from tests.conftest import GOLDEN
from tests.deployment import Deployment

RECORDED_WITHIN = 10.0
TIMEOUT = 4  # the state machine's TimeoutSeconds: the aborted run must be stopped before
SLOW_FLOW = '''
import time
from sfncompile import FlowSpec, step


class EndedFlow(FlowSpec):
    @step
    def start(self):
        time.sleep(10)
        self.next(self.end)

    @step
    def end(self):
        pass
'''
# A definition whose first state fails with States.Runtime, which no Catch takes: the
# execution ends before its failure path, or any task, could run.
BROKEN = {"StartAt": "Broken", "States": {
    "Broken": {"Type": "Pass", "Parameters": {"x.$": "$.no_such_field"}, "End": True}}}


def _policy(resource: dict[str, Any]) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = resource["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"]
    return statements


def test_the_recorder_roles_grant_only_what_recording_an_end_needs() -> None:
    source = (GOLDEN / "linear" / "flow.py").read_text()
    flow = parse_source(source, "flow.py")
    resources = cloudformation_template(flow, compile_asl(flow))["Resources"]
    assert _policy(resources["RunEndRecorderRole"]) == [{
        "Sid": "RecordRunEnds", "Effect": "Allow", "Action": ["s3:PutObject"],
        "Resource": {"Fn::Sub": f"arn:${{AWS::Partition}}:s3:::${{S3Bucket}}/${{S3KeyPrefix}}"
                                f"{flow.name}/*/_run_end.json"}}]
    assert _policy(resources["RunEndRuleRole"]) == [{
        "Sid": "StartRecorder", "Effect": "Allow", "Action": ["states:StartExecution"],
        "Resource": {"Ref": "RunEndRecorder"}}]
    trusted = {name: resources[name]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]
               ["Principal"]["Service"] for name in ("RunEndRecorderRole", "RunEndRuleRole")}
    assert trusted == {"RunEndRecorderRole": "states.amazonaws.com",
                       "RunEndRuleRole": "events.amazonaws.com"}
    recorder = resources["RunEndRecorder"]["Properties"]
    assert recorder["RoleArn"] == {"Fn::GetAtt": ["RunEndRecorderRole", "Arn"]}
    assert validate_asl(recorder["Definition"]) == []  # our JSON Schema and graph checks
    tasks = [s for s in recorder["Definition"]["States"].values() if s["Type"] == "Task"]
    assert [t["Resource"] for t in tasks] == ["arn:aws:states:::aws-sdk:s3:putObject"]
    rule = resources["RunEndRule"]["Properties"]
    assert "EventBusName" not in rule  # Step Functions sends to the default bus only
    assert rule["EventPattern"]["detail"] == {"stateMachineArn": [{"Ref": "StateMachine"}],
                                              "status": ["ABORTED", "FAILED", "TIMED_OUT"]}
    # The flow's own role still cannot write the end record, nor the recorder the run record.
    main = json.dumps(_policy(resources["StateMachineRole"]))
    assert "_run_end.json" not in main and "_run.json" in main


def test_the_executions_own_failure_record_wins_over_the_end_record() -> None:
    failed = {"status": "failed", "runner": "step-functions", "error": "States.TaskFailed",
              "cause": "{...}", "finished": "2026-12-01T10:00:05Z"}
    end = {"status": "FAILED", "error": "sfncompile.RunFailed", "cause": "x",
           "finished": "2026-12-01T10:00:06Z", "start_date": 1764583200000}
    assert merge_end(failed, end) == failed
    running = {"status": "running", "runner": "step-functions", "params": {"a": 1},
               "started": "2026-12-01T10:00:00Z"}
    merged = merge_end(running, {**end, "status": "TIMED_OUT", "error": None, "cause": None})
    assert (merged["status"], merged["finished"], merged["params"], merged["started"]) == (
        "timed out", "2026-12-01T10:00:06Z", {"a": 1}, "2026-12-01T10:00:00Z")
    precise = merge_end(running, {**end, "stop_date": 1764583206500})  # the event's stopDate
    assert precise["finished"] == 1764583206.5
    assert "error" not in merged
    alone = merge_end({}, {**end, "params": '{"a": 2}'})  # the execution wrote no record
    assert (alone["status"], alone["runner"], alone["started"]) == (
        "failed", "step-functions", 1764583200.0)


@dataclass
class Ended:
    aborted: str
    timed_out: str
    broken: str


@pytest.fixture(scope="module")
def ended(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[Ended]:
    """One deployment (TimeoutSeconds 4, each run's start step sleeping longer): a run that
    times out, a run stopped in its first step, then, with the definition broken, a run that
    fails at its first state."""
    d = deployment
    flow = tmp_path_factory.mktemp("ended") / "ended.py"
    flow.write_text(SLOW_FLOW)
    d.deploy(flow, "--workflow-timeout", str(TIMEOUT))
    sfn = d.sfn.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == "EndedFlow")
    execution = machine.replace(":stateMachine:", ":execution:")
    aborted, timed_out, broken = "aborted-run", "timed-out-run", "broken-run"
    # The timed-out run first: its TimeoutSeconds runs while the others start and end.
    sfn.start_execution(stateMachineArn=machine, name=timed_out, input="{}")
    sfn.start_execution(stateMachineArn=machine, name=aborted, input="{}")
    # Stopped while its first Batch job runs (moto ignores a stop before the execution's
    # first state, and may fail the execution instead when the stop lands in a SubmitJob).
    deadline = time.monotonic() + RECORDED_WITHIN
    while not [e for e in sfn.get_execution_history(executionArn=f"{execution}:{aborted}")[
            "events"] if e["type"] == "TaskSubmitted"]:
        assert time.monotonic() < deadline, "the run never submitted its first job"
        time.sleep(0.05)
    # moto's StopExecution drops the error and cause it is given (AWS's event carries them).
    sfn.stop_execution(executionArn=f"{execution}:{aborted}")
    sfn.update_state_machine(stateMachineArn=machine, definition=json.dumps(BROKEN))
    sfn.start_execution(stateMachineArn=machine, name=broken, input="{}")
    client.set_datastore_root(d.root)
    try:
        yield Ended(aborted, timed_out, broken)
    finally:
        client.set_datastore_root(None)


def _recorded(run_id: str, status: str) -> client.Run:
    deadline = time.monotonic() + RECORDED_WITHIN
    while True:
        run = client.Run(f"EndedFlow/{run_id}", _exists=True)
        if run.status == status or time.monotonic() > deadline:
            assert run.status == status, run._meta
            return run
        time.sleep(0.2)


def _status(d: Deployment, run_id: str) -> list[str]:
    proc = d.cli("status", "EndedFlow", run_id, "--s3-root", d.root)
    assert proc.returncode == 1, proc.stderr  # neither succeeded nor running
    return proc.stdout.splitlines()


def _recorded_lines(d: Deployment, run_id: str, execution_status: str) -> list[str]:
    """What `status` prints from the datastore beside Step Functions' answer (the same
    function, without another process: `_status` runs the command once)."""
    return [f"  {line}" for line in recorded_run(d.root, "EndedFlow", run_id, execution_status)]


@pytest.mark.slow
def test_an_aborted_run_records_its_end(deployment: Deployment, ended: Ended,
                                        s3_env: None) -> None:
    run = _recorded(ended.aborted, "aborted")
    assert run.failure == {"reason": DEFAULT_REASONS["aborted"]}
    assert run.ended_at is not None and run.runner == "step-functions"
    lines = _status(deployment, ended.aborted)
    assert lines[0].startswith(f"EndedFlow/{ended.aborted}: ABORTED")
    assert "  ended by Step Functions: aborted" in lines
    assert f"  reason: {DEFAULT_REASONS['aborted']}" in lines
    assert not [line for line in lines if "recorded status" in line], lines


@pytest.mark.slow
def test_a_timed_out_run_records_its_end(deployment: Deployment, ended: Ended,
                                         s3_env: None) -> None:
    run = _recorded(ended.timed_out, "timed out")
    failure = run.failure
    assert failure is not None and "TimeoutSeconds" in failure["reason"], failure
    assert run.ended_at is not None and run.started_at is not None
    assert TIMEOUT - 0.1 < run.ended_at - run.started_at < TIMEOUT + RECORDED_WITHIN
    lines = _recorded_lines(deployment, ended.timed_out, "TIMED_OUT")
    assert "  ended by Step Functions: timed out" in lines
    assert not [line for line in lines if "recorded status" in line], lines


@pytest.mark.slow
def test_a_run_that_fails_before_any_task_records_its_end(deployment: Deployment, ended: Ended,
                                                          s3_env: None) -> None:
    run = _recorded(ended.broken, "failed")
    failure = run.failure
    assert failure is not None and failure["error"] == "States.Runtime", failure
    assert "no_such_field" in failure["reason"]
    assert run.params == {} and run.started_at is not None
    assert ended.broken in [r.id for r in client.Flow("EndedFlow").runs()]
    lines = _recorded_lines(deployment, ended.broken, "FAILED")
    assert "  ended by Step Functions: failed" in lines and "  error: States.Runtime" in lines
    assert not [line for line in lines if "recorded status" in line], lines
