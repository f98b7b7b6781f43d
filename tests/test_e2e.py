"""End to end on moto's Step Functions engine: `sfncompile deploy` and `trigger` through the CLI,
every Batch job running our runtime (from the code package) as a real process against moto's
S3 over HTTP, and the results read back with sfncompile.client. Each shape is also run locally
with the same parameters, and both runs must produce the same artifacts (parity).

moto's gaps are bridged by tests/moto_sfn (see its README).
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.flows import CASES, Case, end_data, run_local
from tests.moto_sfn import ROLE_ARN, SfnEndpoint

E2E_SHAPES = ["linear", "split", "foreach", "foreach_nested", "switch", "loop",
              "switch_in_foreach", "foreach_in_split"]
E2E_CASES = [c for c in CASES if c.shape in E2E_SHAPES and (c.shape != "foreach" or not c.params)]
E2E_CASES.append(Case("foreach", {"width": "100"}, {"squares": [i * i for i in range(100)]}))
TIMEOUT = 300.0


class Deployment:
    def __init__(self, sfn: SfnEndpoint, tmp: Path) -> None:
        self.sfn = sfn
        self.bucket = f"e2e-{uuid.uuid4().hex[:10]}"
        sfn.client("s3").create_bucket(Bucket=self.bucket)
        self.root = f"s3://{self.bucket}/runs"
        self.queue = sfn.create_job_queue()
        self.tmp = tmp

    def settings(self) -> list[str]:
        return ["--s3-root", self.root, "--job-queue", self.queue, "--image", "python:3.12",
                "--sfn-role", ROLE_ARN, "--events-role", ROLE_ARN]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                              text=True, env=self.sfn.subprocess_env(), cwd=self.tmp)

    def deploy(self, flow: Path, *extra: str) -> subprocess.CompletedProcess[str]:
        proc = self.cli("deploy", str(flow), *self.settings(), *extra)
        assert proc.returncode == 0, proc.stderr
        return proc

    def trigger(self, flow: Path, params: dict[str, str]) -> str:
        args = [f"--param={k}={v}" for k, v in params.items()]
        proc = self.cli("trigger", str(flow), *args)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.strip()

    def wait(self, name: str, run_id: str) -> dict[str, Any]:
        sfn = self.sfn.client("stepfunctions")
        machine = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                       if m["name"] == name)
        arn = machine.replace(":stateMachine:", ":execution:") + f":{run_id}"
        started = time.monotonic()
        while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() - started < TIMEOUT, f"{arn} still running"
            time.sleep(0.2)
        return dict(desc)


@pytest.fixture(scope="module")
def deployment(sfn_endpoint: SfnEndpoint, tmp_path_factory: pytest.TempPathFactory) -> Deployment:
    return Deployment(sfn_endpoint, tmp_path_factory.mktemp("e2e"))


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch, deployment: Deployment) -> None:
    """Point this process's boto3 (the client reading results) at the Step Functions server."""
    for key, value in deployment.sfn.subprocess_env().items():
        if key.startswith("AWS_"):
            monkeypatch.setenv(key, value)


@pytest.mark.parametrize("case", E2E_CASES, ids=lambda c: c.id)
def test_deployed_flow_matches_local_run(case: Case, deployment: Deployment, s3_env: None,
                                         tmp_path: Path) -> None:
    deployment.deploy(case.flow_file)
    run_id = deployment.trigger(case.flow_file, case.params)
    flow_name = run_id and end_flow_name(case)
    desc = deployment.wait(flow_name, run_id)
    assert desc["status"] == "SUCCEEDED", (desc, deployment.sfn.job_logs()[-4000:])
    remote = end_data(deployment.root, f"{flow_name}/{run_id}")
    for name, value in case.expect.items():
        assert remote[name] == value, name
    local = run_local(case.flow_file, str(tmp_path / "local"), case.params)
    assert local.returncode == 0, local.stderr
    local_data = end_data(str(tmp_path / "local"), local.stdout.strip().splitlines()[-1])
    assert remote == local_data


def end_flow_name(case: Case) -> str:
    from sfncompile.parser import parse_flow

    return parse_flow(case.flow_file).name
