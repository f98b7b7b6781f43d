"""The `sfn_endpoint` fixture: a patched moto server that executes ASL, for the whole session.

It starts `python -m sfncompile dev-aws` (sfncompile/devaws, whose README lists the patches) as
a subprocess on a free port of 127.0.0.1, which turns on the Step Functions engine and the
no-Docker Batch backend and prints the environment to export, and yields an `SfnEndpoint`.
Unlike `moto_endpoint` (tests/moto_server.py) it changes nothing in os.environ: tests pass
`.url` to boto3 or `.subprocess_env()` to child processes, so both servers can run side by side.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/moto-sfn"
READY = "sfncompile dev-aws: ready"  # sfncompile/devaws/server.py, READY
_START_TIMEOUT = 60.0
_PORT_TRIES = 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _clean_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """`base` (default os.environ) without AWS_*/MOTO_* variables, plus test credentials."""
    env = {k: v for k, v in (base or os.environ).items() if not k.startswith(("AWS_", "MOTO_"))}
    env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    return env


@dataclass(frozen=True)
class Execution:
    """A finished (or timed-out) execution, with its whole history."""

    arn: str
    status: str
    output: Any
    error: str | None
    cause: str | None
    events: list[dict[str, Any]]
    seconds: float

    def events_of(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] in types]

    def state_of(self, event: dict[str, Any]) -> str | None:
        """The name of the state an event belongs to (the nearest earlier *StateEntered)."""
        by_id = {e["id"]: e for e in self.events}
        current: dict[str, Any] | None = event
        while current is not None:
            if current["type"].endswith("StateEntered"):
                name: str = current["stateEnteredEventDetails"]["name"]
                return name
            current = by_id.get(current.get("previousEventId", 0))
        return None


@dataclass(frozen=True)
class SfnEndpoint:
    url: str
    port: int
    job_log_dir: Path
    server_log: Path
    exports: dict[str, str] = field(default_factory=dict)  # what dev-aws says to export
    region: str = REGION
    _clients: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def client(self, service: str) -> Any:
        """A boto3 client for this server (explicit endpoint and test credentials)."""
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service, endpoint_url=self.url, region_name=self.region,
                aws_access_key_id="testing", aws_secret_access_key="testing")
        return self._clients[service]

    def subprocess_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """An environment for a child process whose boto3 must reach this server."""
        return {**_clean_env(base), "AWS_ENDPOINT_URL": self.url}

    def create_job_queue(self, name: str | None = None) -> str:
        """A Batch job queue (on an unmanaged compute environment); returns its name."""
        name = name or f"q-{uuid.uuid4().hex[:8]}"
        role = self.client("iam").create_role(
            RoleName=f"batch-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        batch = self.client("batch")
        ce = batch.create_compute_environment(
            computeEnvironmentName=f"ce-{name}", type="UNMANAGED", serviceRole=role
        )["computeEnvironmentArn"]
        batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])
        return name

    def execute(
        self, definition: dict[str, Any], input: Any = None, *, timeout: float = 30.0
    ) -> Execution:
        """Create a state machine, run it once to its end and return the execution."""
        sfn = self.client("stepfunctions")
        name = f"sm-{uuid.uuid4().hex[:10]}"
        machine = sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                           roleArn=ROLE_ARN)["stateMachineArn"]
        started = time.monotonic()
        # Always name it: moto leaves $$.Execution.Name null otherwise (parser/models.py:205).
        arn = sfn.start_execution(stateMachineArn=machine, name=f"run-{uuid.uuid4().hex[:10]}",
                                  input=json.dumps({} if input is None else input))["executionArn"]
        while (desc := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"{arn} still RUNNING after {timeout}s\n{self.job_logs()}")
            time.sleep(0.05)
        seconds = time.monotonic() - started
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {}
        while True:
            page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                break
            kwargs = {"nextToken": page["nextToken"]}
        output = json.loads(desc["output"]) if desc.get("output") else None
        return Execution(arn, desc["status"], output, desc.get("error"), desc.get("cause"),
                         events, seconds)

    def job_log(self, job_id: str) -> str:
        """What one Batch job printed (stdout and stderr, interleaved)."""
        return (self.job_log_dir / f"{job_id}.log").read_text(errors="replace")

    def job_logs(self, job_ids: list[str] | None = None) -> str:
        """Every (or the given) job's metadata and output, for assertion messages."""
        ids = job_ids if job_ids is not None else sorted(
            p.stem for p in self.job_log_dir.glob("*.json"))
        parts = []
        for job_id in ids:
            meta = self.job_log_dir / f"{job_id}.json"
            log = self.job_log_dir / f"{job_id}.log"
            parts.append(f"--- job {job_id}: "
                         f"{meta.read_text() if meta.exists() else '(still running)'}\n"
                         f"{log.read_text(errors='replace') if log.exists() else ''}")
        return "\n".join(parts)


def _start(tmp: Path, *options: str) -> tuple[subprocess.Popen[bytes], SfnEndpoint]:
    job_log_dir = tmp / "jobs"
    server_log = tmp / "server.log"
    env = _clean_env()
    for _ in range(_PORT_TRIES):
        port = _free_port()
        argv = [sys.executable, "-m", "sfncompile", "dev-aws", "--port", str(port),
                "--job-log-dir", str(job_log_dir), *options]
        with open(server_log, "wb") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + _START_TIMEOUT
        while time.monotonic() < deadline and proc.poll() is None:
            text = server_log.read_text(errors="replace")
            if READY in text:
                exports = dict(line.removeprefix("export ").split("=", 1)
                               for line in text.splitlines() if line.startswith("export "))
                return proc, SfnEndpoint(f"http://127.0.0.1:{port}", port, job_log_dir,
                                         server_log, exports)
            time.sleep(0.05)
        _stop(proc)
        text = server_log.read_text(errors="replace")
        if "Address already in use" not in text:
            raise RuntimeError(f"sfncompile dev-aws did not start on port {port}:\n{text}")
    raise RuntimeError(f"sfncompile dev-aws found no free port in {_PORT_TRIES} tries")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()  # dev-aws kills its running Batch job processes on the way out
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def sfn_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SfnEndpoint]:
    proc, endpoint = _start(tmp_path_factory.mktemp("moto_sfn"))
    try:
        yield endpoint
    finally:
        _stop(proc)
