"""A flow deployment on the patched moto server, driven through the CLI like a user would."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.moto_sfn import ROLE_ARN, SfnEndpoint

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

    def run(self, flow: Path, name: str) -> tuple[str, dict[str, Any]]:
        """Deploy, trigger and wait: the run id and the finished execution's description."""
        self.deploy(flow)
        run_id = self.trigger(flow, {})
        return run_id, self.wait(name, run_id)

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
