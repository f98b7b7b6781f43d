"""`deploy` and friends against moto: idempotency, schedules, delete, dry run, and how failures,
@retry and @catch behave on the Step Functions engine."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from sfncompile import client
from sfncompile.emit.run_end import recorder_name
from sfncompile.emit.run_end import rule_name as run_end_rule
from tests.conftest import GOLDEN
from tests.deployment import Deployment
from tests.flows import end_data

FLOWS = Path(__file__).parent / "data" / "flows"
SCHEDULED = FLOWS / "scheduled.py"  # has @schedule(cron="0 6 * * ? *")


def rule(d: Deployment, name: str) -> dict[str, object] | None:
    try:
        return dict(d.sfn.client("events").describe_rule(Name=name))
    except ClientError:
        return None


def test_second_deploy_writes_nothing(deployment: Deployment) -> None:
    flow = GOLDEN / "foreach" / "flow.py"
    first = deployment.cli("deploy", str(flow), *deployment.settings(), "--verbose")
    assert first.returncode == 0, first.stderr
    second = deployment.cli("deploy", str(flow), *deployment.settings(), "--verbose")
    assert second.returncode == 0, second.stderr
    assert "No changes: ForeachFlow is up to date" in second.stdout
    calls = second.stderr.split("AWS calls (")[1]
    assert " 0 writes)" in calls.splitlines()[0], calls
    assert "s3:HeadObject" in calls and "batch:DescribeJobDefinitions" in calls


def test_concurrent_deploys_of_two_flows_keep_their_own_packages(deployment: Deployment) -> None:
    """Each deploy writes its code package in a directory of its own (tempfile), never a
    shared path: two at once on one machine both succeed, each with its own flow's package."""
    d = deployment
    flows = {"LinearFlow": GOLDEN / "linear" / "flow.py", "SplitFlow": GOLDEN / "split" / "flow.py"}
    procs = {name: subprocess.Popen(
        [sys.executable, "-m", "sfncompile", "deploy", str(flow), *d.settings(),
         "--name", f"Concurrent{name}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=d.sfn.subprocess_env(), cwd=d.tmp) for name, flow in flows.items()}
    outputs = {name: proc.communicate(timeout=120) for name, proc in procs.items()}
    s3 = d.sfn.client("s3")
    urls = set()
    for name, (_, err) in outputs.items():
        assert procs[name].returncode == 0, err
        url = err.split("code package    uploaded   ")[1].split()[0]
        urls.add(url)
        key = url.removeprefix(f"s3://{d.bucket}/")
        assert key.startswith(f"runs/{name}/code/")
        body = s3.get_object(Bucket=d.bucket, Key=key)["Body"].read()
        assert f"{hashlib.sha256(body).hexdigest()}.tar.gz" == key.rpartition("/")[2]
        with tarfile.open(fileobj=io.BytesIO(body)) as tar:
            packed = tar.extractfile("flow.py")
            graph = tar.extractfile("_sfncompile/graph.json")
            assert packed is not None and graph is not None
            assert packed.read() == flows[name].read_bytes()
            assert json.load(graph)["flow"] == name
    assert len(urls) == 2


def test_schedule_is_created_changed_disabled_and_removed(deployment: Deployment) -> None:
    d = deployment
    d.deploy(SCHEDULED)  # @schedule's expression is the default
    created = rule(d, "ScheduledFlow")
    assert created and created["ScheduleExpression"] == "cron(0 6 * * ? *)"
    targets = d.sfn.client("events").list_targets_by_rule(Rule="ScheduledFlow")["Targets"]
    assert len(targets) == 1 and targets[0]["Arn"].endswith(":stateMachine:ScheduledFlow")
    assert '"config": {"lr": 0.1}' in targets[0]["Input"]

    d.deploy(SCHEDULED, "--schedule", "rate(2 hours)")
    changed = rule(d, "ScheduledFlow")
    assert changed and changed["ScheduleExpression"] == "rate(2 hours)"

    d.deploy(SCHEDULED, "--schedule", "disable")
    disabled = rule(d, "ScheduledFlow")
    assert disabled and disabled["State"] == "DISABLED"

    d.deploy(SCHEDULED, "--schedule", "none")
    assert rule(d, "ScheduledFlow") is None


def test_bad_schedule_is_rejected_before_any_call(deployment: Deployment) -> None:
    proc = deployment.cli("deploy", str(SCHEDULED), *deployment.settings(),
                          "--schedule", "cron(0 6 * * * *)")
    assert proc.returncode == 2
    assert "exactly one of day-of-month ('*') and day-of-week ('*') must be '?'" in proc.stderr


def test_timezone_uses_eventbridge_scheduler(deployment: Deployment) -> None:
    d = deployment
    d.deploy(SCHEDULED, "--name", "TzFlow", "--timezone", "Europe/Paris")
    schedule = d.sfn.client("scheduler").get_schedule(Name="TzFlow")
    assert schedule["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert schedule["ScheduleExpression"] == "cron(0 6 * * ? *)"
    assert rule(d, "TzFlow") is None
    d.deploy(SCHEDULED, "--name", "TzFlow", "--schedule", "none")
    with pytest.raises(ClientError):
        d.sfn.client("scheduler").get_schedule(Name="TzFlow")


def test_delete_leaves_nothing_in_step_functions_or_eventbridge(deployment: Deployment) -> None:
    d = deployment
    d.deploy(SCHEDULED, "--name", "DoomedFlow")
    assert rule(d, "DoomedFlow") is not None
    assert rule(d, run_end_rule("DoomedFlow")) is not None  # the run end recorder's
    proc = d.cli("delete", "DoomedFlow", "--yes")
    assert proc.returncode == 0, proc.stderr
    assert "Left alone: the code packages and run artifacts in S3" in proc.stdout
    machines = d.sfn.client("stepfunctions").list_state_machines()["stateMachines"]
    assert not {"DoomedFlow", recorder_name("DoomedFlow")} & {m["name"] for m in machines}
    assert rule(d, "DoomedFlow") is None and rule(d, run_end_rule("DoomedFlow")) is None
    batch = d.sfn.client("batch")
    active = batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]
    assert not [j for j in active if j["jobDefinitionName"].startswith("DoomedFlow")]


def test_dry_run_makes_no_aws_call(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL="http://127.0.0.1:9", AWS_ACCESS_KEY_ID="x",
               AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1",
               AWS_MAX_ATTEMPTS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "sfncompile", "deploy", str(SCHEDULED), "--dry-run",
         "--s3-root", "s3://bkt/p", "--job-queue", "q", "--image", "img",
         "--sfn-role", "arn:aws:iam::1:role/r", "--events-role", "arn:aws:iam::1:role/e"],
        capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "dry run: no AWS call is made" in proc.stdout
    assert "events:PutRule ScheduledFlow cron(0 6 * * ? *) ENABLED" in proc.stdout
    assert "${" not in proc.stdout.split("Resolved ASL:")[1]
    listing = proc.stdout.split("Code package: ")[1].split("Resolved ASL:")[0]
    size = SCHEDULED.stat().st_size
    assert f"  {size:>10,}  scheduled.py\n" in listing
    assert "sfncompile runtime and step graph" in listing and " KiB compressed)" in listing


def test_dry_run_shows_step_overrides(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sfncompile", "deploy", str(GOLDEN / "decorators" / "flow.py"),
         "--dry-run", "--schedule", "none", "--s3-root", "s3://bkt/p", "--job-queue", "q",
         "--image", "img", "--sfn-role", "arn:aws:iam::1:role/r"],
        capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert '"JobQueue": "gpu-queue"' in proc.stdout  # @batch(queue=...) wins
    assert "batch:RegisterJobDefinition DecoratedFlow-train" in proc.stdout  # its own image


def test_missing_settings_are_listed_together(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SFNCOMPILE_"))}
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "deploy", str(SCHEDULED)],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2
    for name in ("s3_root", "job_queue", "image", "sfn_role", "events_role"):
        assert f"  {name}:" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_failed_execution_is_a_failed_run(deployment: Deployment, s3_env: None) -> None:
    """The execution records its start and its failure itself: the client, `show` and
    `status` read a failed run, its failing step, error, parameters and times from S3."""
    d = deployment
    d.deploy(FLOWS / "fails.py")
    before = time.time()
    run_id = d.trigger(FLOWS / "fails.py", {"size": "7"})
    desc = d.wait("FailingFlow", run_id)
    assert desc["status"] == "FAILED"
    assert desc.get("error") == "sfncompile.RunFailed"  # the failure path's Fail state

    run = _run(d, f"FailingFlow/{run_id}")
    assert run in [r.id for r in client.Flow("FailingFlow").runs()]
    run_ = client.Run(f"FailingFlow/{run_id}")
    assert (run_.status, run_.finished, run_.successful) == ("failed", False, False)
    assert run_.runner == "step-functions" and run_.params == {"size": 7}
    assert run_.started_at is not None and run_.ended_at is not None
    assert before - 5 < run_.started_at <= run_.ended_at < time.time() + 5
    # The failed task is listed, with the exception it recorded (Metaflow's wrapper).
    boom = run_["boom"].task
    assert boom is not None and not boom.successful and not boom.finished
    assert boom.exception is not None and boom.exception.type == "builtins.ValueError"
    failure = run_.failure
    assert failure is not None
    assert (failure["step"], failure["task"]) == ("boom", "1-0"), failure
    assert failure["error"] == "ValueError: the step failed on purpose", failure
    assert failure["job_id"] and run_.deployed_by

    shown = d.cli("show", f"FailingFlow/{run_id}", "--datastore-root", d.root)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"FailingFlow/{run_id}: failed"
    assert '  parameters: {"size": 7}' in lines and "  failed step: boom/1-0" in lines
    assert "  error: ValueError: the step failed on purpose" in lines
    assert any(line.startswith("  finished: 20") for line in lines), lines
    boom = next(line for line in lines if line.startswith("  boom/1-0: "))
    assert "not committed (failed, attempt 0: ValueError" in boom and "[batch job " in boom
    assert any(line.startswith("  start/0-0: ok (attempt 0)") and "[batch job " in line
               for line in lines)

    logs = d.cli("logs", f"FailingFlow/{run_id}/boom", "--datastore-root", d.root)
    assert logs.returncode == 0, logs.stderr
    assert "ValueError: the step failed on purpose" in logs.stdout
    assert f"FailingFlow/{run_id}/boom/1-0  [batch job " in logs.stderr

    proc = d.cli("status", "FailingFlow", run_id, "--s3-root", d.root)
    assert proc.returncode == 1
    assert f"FailingFlow/{run_id}: FAILED" in proc.stdout
    assert "failed step: boom" in proc.stdout
    assert "  failed step: boom/1-0" in proc.stdout and '  parameters: {"size": 7}' in proc.stdout
    # The Batch job's reason, not its whole DescribeJobs JSON; the exception, the end of the
    # task's log and the command that prints the rest.
    assert "JobArn" not in proc.stdout and "Environment" not in proc.stdout
    lines = proc.stdout.splitlines()
    assert "reason: Essential container in task exited (1) (task boom/1-0, attempt 0)" in lines
    assert any(line.startswith("batch job: ") for line in lines), lines
    assert "  error: ValueError: the step failed on purpose" in lines
    assert "    | ValueError: the step failed on purpose" in lines
    assert (f"  the whole log: sfncompile logs FailingFlow/{run_id}/boom/1-0 --stderr "
            f"--datastore-root {d.root}") in lines
    raw = d.cli("status", "FailingFlow", run_id, "--s3-root", d.root, "--json")
    assert raw.returncode == 1
    record = json.loads(raw.stdout)
    assert '"JobArn"' in record["execution"]["cause"]  # as AWS gives it
    assert record["record"]["params"] == {"size": 7} and record["execution"]["status"] == "FAILED"
    listing = d.cli("status", "FailingFlow")
    assert run_id in listing.stdout and "FAILED" in listing.stdout


def _run(d: Deployment, pathspec: str) -> str:
    client.set_datastore_root(d.root)
    return pathspec.split("/")[1]


def test_retry_and_catch_on_step_functions(deployment: Deployment, s3_env: None) -> None:
    d = deployment
    run_id, desc = d.run(FLOWS / "policies.py", "PoliciesFlow")
    assert desc["status"] == "SUCCEEDED", d.sfn.job_logs()[-3000:]
    data = end_data(d.root, f"PoliciesFlow/{run_id}")
    assert data["attempts"] == 2  # the ASL Retry ran attempts 0, 1, 2; the runtime saw each
    assert data["failure_type"] == "builtins.KeyError"
    # A succeeded execution is a succeeded run, with its times, parameters and deployer.
    client.set_datastore_root(d.root)
    run_ = client.Run(f"PoliciesFlow/{run_id}")
    assert (run_.status, run_.runner, run_.params, run_.failure) == (
        "succeeded", "step-functions", {}, None)
    assert client.Flow("PoliciesFlow").latest_successful_run.id == run_id  # type: ignore[union-attr]
    assert run_.started_at is not None and run_.ended_at is not None
    assert run_.finished_at is not None  # a datetime, the end task's finish, as Metaflow's
    assert run_.started_at <= run_.ended_at
    shown = d.cli("show", f"PoliciesFlow/{run_id}", "--datastore-root", d.root)
    assert shown.stdout.splitlines()[0] == f"PoliciesFlow/{run_id}: succeeded", shown.stderr
    assert "  parameters: {}" in shown.stdout and "  finished: 20" in shown.stdout
    status = d.cli("status", "PoliciesFlow", run_id, "--s3-root", d.root)
    assert status.returncode == 0, status.stderr
    assert f"PoliciesFlow/{run_id}: SUCCEEDED" in status.stdout
    assert "  runner: step-functions" in status.stdout and "recorded status" not in status.stdout
    # A retried attempt and a failure @catch handled are notes: the run succeeded.
    assert "failed step" not in status.stdout and "JobArn" not in status.stdout
    assert "note: step flaky had a failed attempt (Essential container" in status.stdout
    assert ("  note: risky/2-0 raised KeyError('caught and recorded'); @catch handled it and the "
            "run went on") in status.stdout.splitlines()


def test_redrive_asks_step_functions_and_reports_its_answer(deployment: Deployment) -> None:
    """moto 5.2.5 has no RedriveExecution, so this checks the call and the error path only."""
    d = deployment
    run_id, desc = d.run(FLOWS / "fails.py", "FailingFlow")
    assert desc["status"] == "FAILED"
    proc = d.cli("redrive", f"FailingFlow/{run_id}")
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:  # an engine that implements it
        assert f"Redriving FailingFlow/{run_id}" in proc.stdout
    else:
        assert proc.returncode == 2
        assert f"cannot redrive FailingFlow/{run_id}" in proc.stderr
    missing = d.cli("redrive", "NoSuchFlow/run")
    assert missing.returncode == 2 and "no state machine named 'NoSuchFlow'" in missing.stderr


def test_fargate_job_definitions(deployment: Deployment) -> None:
    d = deployment
    flow = GOLDEN / "foreach" / "flow.py"
    fargate = ["--name", "FargateFlow", "--platform", "FARGATE", "--execution-role",
               "arn:aws:iam::123456789012:role/exec"]
    d.deploy(flow, *fargate)
    found = d.sfn.client("batch").describe_job_definitions(
        jobDefinitionName="FargateFlow", status="ACTIVE")["jobDefinitions"]
    assert found[-1]["platformCapabilities"] == ["FARGATE"]
    assert found[-1]["containerProperties"]["executionRoleArn"].endswith(":role/exec")
    again = d.cli("deploy", str(flow), *d.settings(), *fargate)
    assert "No changes: FargateFlow is up to date" in again.stdout, again.stderr
    gpu = d.cli("deploy", str(GOLDEN / "decorators" / "flow.py"), *d.settings(), *fargate,
                "--schedule", "none")
    assert gpu.returncode == 2
    assert "step 'train' asks for 1 GPU(s)" in gpu.stderr
    no_role = d.cli("deploy", str(flow), *d.settings(), "--platform", "fargate")
    assert no_role.returncode == 2 and "  execution_role:" in no_role.stderr


def test_max_workers_sets_the_concurrency_of_foreach_steps_without_their_own(
        tmp_path: Path) -> None:
    def dry_run(flow: Path) -> str:
        proc = subprocess.run(
            [sys.executable, "-m", "sfncompile", "deploy", str(flow), "--dry-run",
             "--max-workers", "7", "--s3-root", "s3://bkt/p", "--job-queue", "q", "--image", "i",
             "--sfn-role", "arn:aws:iam::1:role/r"],
            capture_output=True, text=True, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert dry_run(GOLDEN / "foreach_nested" / "flow.py").count('"MaxConcurrency": 7') == 3
    # @foreach_options(max_concurrency=20) wins over --max-workers.
    assert '"MaxConcurrency": 20' in dry_run(GOLDEN / "foreach" / "flow.py")


def test_catch_survives_a_task_that_dies(deployment: Deployment, s3_env: None) -> None:
    """The container dies (os._exit) where the step's own @catch cannot act: the state
    machine's Catch records the failure as the artifact and the run goes on."""
    d = deployment
    run_id, desc = d.run(FLOWS / "dies.py", "DiesFlow")
    assert desc["status"] == "SUCCEEDED", d.sfn.job_logs()[-3000:]
    data = end_data(d.root, f"DiesFlow/{run_id}")
    assert data["kind"] == "MetaflowExceptionWrapper" and data["before"] == 1
    assert data["type"] == "metaflow.plugins.catch_decorator.FailureHandledByCatch"
    assert data["message"].startswith("Task execution kept failing over 1 attempts.")


def _active_job_definitions(d: Deployment) -> set[str]:
    paginator = d.sfn.client("batch").get_paginator("describe_job_definitions")
    return {j["jobDefinitionName"] for page in paginator.paginate(status="ACTIVE")
            for j in page["jobDefinitions"]}


def _machines(d: Deployment) -> set[str]:
    return {m["name"] for m in d.sfn.client("stepfunctions").list_state_machines()["stateMachines"]}


TEAM_FLOW = '''
from sfncompile import FlowSpec, batch, schedule, step


@schedule(cron="0 6 * * ? *")
class TeamFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.train)

    @batch(image="python:3.12-slim")  # a job definition of its own: <name>-train
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_delete_touches_only_its_own_resources(deployment: Deployment) -> None:
    """`delete Team` once deregistered Team-Flow's job definitions too (a name prefix)."""
    d = deployment
    flow = d.tmp / "team" / "flow.py"
    flow.parent.mkdir()
    flow.write_text(TEAM_FLOW)
    d.deploy(flow, "--name", "Team")
    d.deploy(flow, "--name", "Team-Flow")
    assert {"Team", "Team-train", "Team-Flow", "Team-Flow-train"} <= _active_job_definitions(d)
    proc = d.cli("delete", "Team", "--yes")
    assert proc.returncode == 0, proc.stderr
    left = _active_job_definitions(d)
    assert not {"Team", "Team-train"} & left
    assert {"Team-Flow", "Team-Flow-train"} <= left
    assert "Team" not in _machines(d) and "Team-Flow" in _machines(d)
    assert rule(d, "Team") is None and rule(d, "Team-Flow") is not None
    again = d.cli("delete", "Team", "--yes")
    assert again.returncode == 2 and "error: nothing named Team is deployed" in again.stderr
    assert d.cli("delete", "Team-Flow", "--yes").returncode == 0


def test_a_job_definition_name_owned_by_another_machine_is_refused(
        deployment: Deployment) -> None:
    """`Pair` has a step `train` (job definition `Pair-train`); a machine named `Pair-train`
    would take that name for its own default job definition."""
    d = deployment
    flow = d.tmp / "pair" / "flow.py"
    flow.parent.mkdir()
    flow.write_text(TEAM_FLOW)
    d.deploy(flow, "--name", "Pair")
    proc = d.cli("deploy", str(flow), *d.settings(), "--name", "Pair-train")
    assert proc.returncode == 2, proc.stderr
    assert "error: the job definition Pair-train belongs to the state machine Pair" in proc.stderr
    assert "Pair-train" not in _machines(d)
    assert d.cli("delete", "Pair", "--yes").returncode == 0


def test_long_names_get_their_own_schedule_rule(deployment: Deployment) -> None:
    d = deployment
    head = "L" * 64
    for name in (f"{head}-first", f"{head}-second"):
        d.deploy(SCHEDULED, "--name", name)
    rules = [r for r in d.sfn.client("events").list_rules(NamePrefix=head[:55])["Rules"]]
    assert len(rules) == 2 and all(len(r["Name"]) <= 64 for r in rules)
    for r in rules:
        targets = d.sfn.client("events").list_targets_by_rule(Rule=r["Name"])["Targets"]
        assert len(targets) == 1
    arns = {d.sfn.client("events").list_targets_by_rule(Rule=r["Name"])["Targets"][0]["Arn"]
            for r in rules}
    assert {a.rsplit(":", 1)[1] for a in arns} == {f"{head}-first", f"{head}-second"}
    assert d.cli("delete", f"{head}-first", "--yes").returncode == 0
    left = d.sfn.client("events").list_rules(NamePrefix=head[:55])["Rules"]
    assert len(left) == 1 and f"{head}-second" in _machines(d)


ENV_FLOW = '''
import os

from sfncompile import FlowSpec, environment, step


class DollarEnvFlow(FlowSpec):
    @environment(vars={"X": "${JobQueue}", "Y": "${!S3Bucket}"})
    @step
    def start(self):
        self.x, self.y = os.environ["X"], os.environ["Y"]
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_dollar_text_reaches_the_job_verbatim(deployment: Deployment, s3_env: None) -> None:
    d = deployment
    flow = d.tmp / "dollar_env" / "flow.py"
    flow.parent.mkdir()
    flow.write_text(ENV_FLOW)
    run_id, desc = d.run(flow, "DollarEnvFlow")
    assert desc["status"] == "SUCCEEDED", d.sfn.job_logs()[-3000:]
    # the flow's name too: a Batch task stores it as a local one does (as Metaflow's)
    assert end_data(d.root, f"DollarEnvFlow/{run_id}") == {
        "name": "DollarEnvFlow", "x": "${JobQueue}", "y": "${!S3Bucket}"}


CAPACITY_FLOW = """
from sfncompile import FlowSpec, resources, step


class HungryFlow(FlowSpec):
    @resources(cpu=8)
    @step
    def start(self):
        self.next(self.render)

    @resources(gpu=1)
    @step
    def render(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _managed_queue(d: Deployment, name: str, max_vcpus: int, instance_types: list[str]) -> str:
    ec2, iam, batch = (d.sfn.client(s) for s in ("ec2", "iam", "batch"))
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName=f"svc-{name}", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    profile = iam.create_instance_profile(InstanceProfileName=f"ip-{name}")["InstanceProfile"]
    env = batch.create_compute_environment(
        computeEnvironmentName=f"ce-{name}", type="MANAGED", serviceRole=role,
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": max_vcpus,
                          "instanceTypes": instance_types, "subnets": [subnet],
                          "securityGroupIds": [group], "instanceRole": profile["Arn"]})
    batch.create_job_queue(jobQueueName=name, state="ENABLED", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": env["computeEnvironmentArn"]}])
    return name


def test_deploy_refuses_steps_that_the_queue_cannot_run(deployment: Deployment) -> None:
    d = deployment
    flow = d.tmp / "hungry" / "flow.py"
    flow.parent.mkdir()
    flow.write_text(CAPACITY_FLOW)
    small = _managed_queue(d, "small-cpu", 4, ["c5.large"])
    settings = [*d.settings(), "--job-queue", small, "--name", "Hungry"]
    proc = d.cli("deploy", str(flow), *settings)
    assert proc.returncode == 2, proc.stderr
    assert "error: the job queues cannot run every step:" in proc.stderr
    assert "step 'start' asks for 8 vCPU(s); the compute environments of job queue small-cpu " \
           "offer at most 4 (maxvCpus)" in proc.stderr
    assert "step 'render' asks for 1 GPU(s); no compute environment of job queue small-cpu " \
           "has GPU instance types" in proc.stderr
    assert "Hungry" not in _machines(d)
    big = _managed_queue(d, "big-gpu", 16, ["g4dn.xlarge", "c5.large"])
    ok = d.cli("deploy", str(flow), *d.settings(), "--job-queue", big, "--name", "Hungry")
    assert ok.returncode == 0, ok.stderr
    assert d.cli("delete", "Hungry", "--yes").returncode == 0
