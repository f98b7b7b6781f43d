"""Metaflow's deployer API (Deployer, DeployedFlow, TriggeredRun) on the Step Functions
emulator, written as Metaflow's documentation writes it; and `step-functions create
--only-json` with every option, which makes no AWS call."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sfncompile.flow import metaflow_alias
from sfncompile.flow.current import version_tag
from tests.deployment import Deployment
from tests.moto_sfn import ROLE_ARN

pytestmark = pytest.mark.slow
LOG_GROUP = "arn:aws:logs:us-east-1:123456789012:log-group:/sfn/deployer-x"

FLOW = """
    from sfncompile import Config, FlowSpec, Parameter, step


    class DeployerFlow(FlowSpec):
        alpha = Parameter("alpha", default=1, type=int)
        cfg = Config("cfg", default_value={"scale": 10})

        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.each, foreach="items")

        @step
        def each(self):
            self.y = self.input * self.alpha
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.y for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            self.x = self.alpha * self.cfg.scale


    if __name__ == "__main__":
        DeployerFlow()
"""


def _flow_dir(tmp: Path, d: Deployment | None) -> Path:
    (tmp / "flow.py").write_text(textwrap.dedent(FLOW).lstrip())
    if d is not None:
        (tmp / "sfncompile.toml").write_text(
            f's3_root = "{d.root}"\njob_queue = "{d.queue}"\nimage = "python:3.12"\n'
            f'sfn_role = "{ROLE_ARN}"\n')
    return tmp


def _settle(triggered: Any, timeout: float = 120.0) -> str:
    started = time.monotonic()
    while (status := triggered.status) == "RUNNING":
        assert time.monotonic() - started < timeout, "still running"
        time.sleep(0.2)
    return str(status)


def test_metaflows_deployer_example_runs_on_step_functions(
        deployment: Deployment, s3_env: None, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_flow_dir(tmp_path, deployment))
    with metaflow_alias.resolving():
        from metaflow import DeployedFlow, Deployer

    # The Config's value is fixed when the flow is deployed, as Metaflow's deployer does.
    deployed_flow = Deployer("flow.py", show_output=False,
                             config_value=[("cfg", {"scale": 100})]).step_functions(
        name="deployer-x", log_group=LOG_GROUP).create(
            tags=["nightly"], workflow_timeout=600, log_execution_history=True)
    assert (deployed_flow.name, deployed_flow.flow_name) == ("deployer-x", "DeployerFlow")
    assert deployed_flow.production_token is None
    triggered_run = deployed_flow.trigger(alpha=3)
    other = deployed_flow.trigger()
    # Found by its name alone: the flow and datastore come from the state machine, and the
    # values go as given (the flow's start task parses them).
    found = DeployedFlow.from_deployment("deployer-x")
    assert (found.flow_name, found.metadata) == ("DeployerFlow", f"local@{deployment.root}")
    again = found.trigger(alpha=5)
    assert other.terminate()
    # ABORTED on AWS; moto's engine sometimes ends a stopped execution FAILED instead (when
    # the stop interrupts a Batch task), never SUCCEEDED.
    assert _settle(other) in ("ABORTED", "FAILED")
    assert not other.terminate()  # no longer running

    run = triggered_run.wait_for_run(check_interval=0.2, timeout=60)
    assert run.pathspec == triggered_run.pathspec
    assert _settle(triggered_run) == "SUCCEEDED"
    run = triggered_run.run
    assert run is not None and run.successful
    assert run.data.x == 300 and run["join"].task.data.total == 9
    assert "nightly" in run.user_tags and run.params == {"alpha": 3}
    # The Python that ran the run, as Metaflow tags a step-functions run.
    assert f"python_version:{platform.python_version()}" in run.system_tags
    assert _settle(again) == "SUCCEEDED" and again.run is not None
    assert again.run.data.x == 500

    sfn = deployment.sfn.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == "deployer-x")
    described = sfn.describe_state_machine(stateMachineArn=machine)
    assert json.loads(described["definition"])["TimeoutSeconds"] == 600
    assert described["loggingConfiguration"] == {
        "level": "ALL", "includeExecutionData": True,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": f"{LOG_GROUP}:*"}}]}

    assert {r.pathspec for r in found.list_runs()} == {
        run.pathspec, other.pathspec, again.pathspec}
    stopped = found.list_runs(states=["ABORTED", "FAILED"])
    assert [r.pathspec for r in stopped] == [other.pathspec]
    assert {r.pathspec for r in found.list_runs(states=["SUCCEEDED"])} == {
        again.pathspec, run.pathspec}
    with pytest.raises(ValueError, match="Invalid states"):
        found.list_runs(states=["DONE"])

    assert found.delete()
    assert "deployer-x" not in {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
    assert not found.delete()


def test_deployer_refuses_what_it_cannot_map(tmp_path: Path) -> None:
    from sfncompile import Deployer
    from sfncompile.errors import UsageError

    flow = _flow_dir(tmp_path, None) / "flow.py"
    with pytest.raises(TypeError, match="step_functions\\(\\) does not take queue"):
        Deployer(str(flow)).step_functions(queue="q")
    with pytest.raises(TypeError, match="Deployer\\(\\) does not take colour"):
        Deployer(str(flow), colour="red")
    with pytest.raises(UsageError, match="no production tokens"):
        Deployer(str(flow)).step_functions().create(generate_new_token=True)
    with pytest.raises(UsageError, match="log_group: CloudWatch Logs log group"):
        Deployer(str(flow)).step_functions().create(log_execution_history=True)


def test_only_json_with_every_option_is_byte_stable_and_offline(tmp_path: Path) -> None:
    flow = _flow_dir(tmp_path, None) / "flow.py"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(USER="ada", AWS_ENDPOINT_URL="http://127.0.0.1:9",  # nothing listens there
               PYTHONPATH=os.pathsep.join(filter(None, [str(Path.cwd()),
                                                        env.get("PYTHONPATH")])))
    args = [sys.executable, str(flow), "--with", "retry", "step-functions", "--name", "N",
            "create", "--only-json", "--tag", "b", "--tag", "a", "--namespace", "team:ml",
            "--max-workers", "3", "--workflow-timeout", "600", "--use-distributed-map",
            "--log-execution-history", "--resource-tag", "k=v", "--authorize", "t"]
    outs = [subprocess.run(args, capture_output=True, env=env, cwd=tmp_path, timeout=60)
            for _ in range(2)]
    assert all(p.returncode == 0 for p in outs), outs[0].stderr.decode()
    assert outs[0].stdout == outs[1].stdout
    asl = json.loads(outs[0].stdout)
    assert asl["TimeoutSeconds"] == 600
    records = [s["Parameters"]["Body"] for s in asl["States"].values()
               if s.get("Parameters", {}).get("Body", {}).get("runner") == "step-functions"]
    assert len(records) == 2  # the run's start and its failure
    assert all(r["tags"] == ["a", "b"] and r["system_tags"] == [
        "runtime:step-functions", version_tag(), "team:ml", "user:ada"] for r in records)
    maps = [s for s in asl["States"].values() if s["Type"] == "Map"]
    assert [(m["MaxConcurrency"], m["ItemProcessor"]["ProcessorConfig"]["Mode"])
            for m in maps] == [(3, "DISTRIBUTED")]
    plain = subprocess.run([sys.executable, str(flow), "step-functions", "create",
                            "--only-json"], capture_output=True, env=env, cwd=tmp_path,
                           timeout=60)
    assert plain.returncode == 0 and b"TimeoutSeconds" not in plain.stdout
    assert b'"tags"' not in plain.stdout and b'"DISTRIBUTED"' not in plain.stdout


def test_python_flow_step_functions_commands_on_the_emulator(deployment: Deployment,
                                                             tmp_path: Path) -> None:
    """Metaflow's `python flow.py step-functions create|trigger|list-runs|delete`, for real."""
    d = deployment
    flow = _flow_dir(tmp_path, d) / "flow.py"
    env = d.sfn.subprocess_env()

    def step_functions(*args: str) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([sys.executable, str(flow), "step-functions", "--name",
                               "mf-cli-x", *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)
        assert proc.returncode == 0, f"{args}: {proc.stdout}\n{proc.stderr}"
        return proc

    step_functions("create")
    sfn = d.sfn.client("stepfunctions")
    machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                   if m["name"] == "mf-cli-x")
    step_functions("trigger", "--alpha", "4")
    execution = sfn.list_executions(stateMachineArn=machine)["executions"][0]
    started = time.monotonic()
    while (status := sfn.describe_execution(
            executionArn=execution["executionArn"])["status"]) == "RUNNING":
        assert time.monotonic() - started < 120, "still running"
        time.sleep(0.2)
    assert status == "SUCCEEDED"
    assert execution["name"] in step_functions("list-runs").stdout
    step_functions("delete")
    assert "mf-cli-x" not in {m["name"] for m in sfn.list_state_machines()["stateMachines"]}
