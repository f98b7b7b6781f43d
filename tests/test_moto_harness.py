"""Smoke tests of the patched moto server (`sfncompile dev-aws`, sfncompile/devaws): real boto3
clients over HTTP, ASL run by moto's Step Functions engine, each Batch job a real local
process."""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.moto_sfn import Execution, SfnEndpoint
from tests.moto_sfn.fixture import _start, _stop

BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
S3_GET_OBJECT_SDK = "arn:aws:states:::aws-sdk:s3:getObject"
ATTEMPT = "States.Format('{}', $$.State.RetryCount)"

# Runs inside the Batch job: its boto3 must find the server through AWS_ENDPOINT_URL alone.
WRITER = r"""
import json, os, sys
import boto3
bucket, key = sys.argv[1:3]
boto3.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps({
    "argv": sys.argv[1:],
    "env": {k: os.environ.get(k) for k in ("GREETING", "COLOR", "AWS_ENDPOINT_URL",
                                           "AWS_BATCH_JOB_ID", "AWS_BATCH_JQ_NAME")},
    "cwd": os.getcwd(),
    "files": os.listdir("."),
}))
print("wrote", key)
"""


@pytest.fixture(scope="module")
def queue(sfn_endpoint: SfnEndpoint) -> str:
    return sfn_endpoint.create_job_queue()


@pytest.fixture(scope="module")
def bucket(sfn_endpoint: SfnEndpoint) -> str:
    name = f"moto-sfn-{uuid.uuid4().hex[:12]}"
    sfn_endpoint.client("s3").create_bucket(Bucket=name)
    return name


def job_definition(sfn: SfnEndpoint, command: list[str], **extra: Any) -> str:
    name = f"jd-{uuid.uuid4().hex[:10]}"
    container = {"image": "not-used-locally", "command": command,
                 "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                          {"type": "MEMORY", "value": "512"}]}
    container.update(extra.pop("container", {}))
    sfn.client("batch").register_job_definition(
        jobDefinitionName=name, type="container", containerProperties=container, **extra)
    return name


def batch_task(queue: str, jobdef: str, parameters: dict[str, Any], **state: Any) -> dict[str, Any]:
    return {
        "Type": "Task",
        "Resource": BATCH_SYNC,
        "Parameters": {"JobName": "job", "JobQueue": queue, "JobDefinition": jobdef,
                       "Parameters": parameters, **state.pop("extra_parameters", {})},
        **state,
    }


def job_ids(ex: Execution) -> list[str]:
    return [json.loads(e["taskSubmittedEventDetails"]["output"])["JobId"]
            for e in ex.events_of("TaskSubmitted")]


def explain(sfn: SfnEndpoint, ex: Execution) -> str:
    return f"{ex.status} {ex.error}: {ex.cause}\n{sfn.job_logs(job_ids(ex))}"


def test_fixture_leaves_os_environ_alone(sfn_endpoint: SfnEndpoint) -> None:
    assert not any(sfn_endpoint.url in value for value in os.environ.values())
    assert os.environ.get("MOTO_PORT") != str(sfn_endpoint.port)


def test_batch_job_writes_to_s3_with_ref_parameters_and_env(
    sfn_endpoint: SfnEndpoint, queue: str, bucket: str
) -> None:
    jobdef = job_definition(
        sfn_endpoint,
        ["python3", "-c", WRITER, "Ref::bucket", "Ref::key", "Ref::greeting", "Ref::unset"],
        parameters={"greeting": "jobdef-default"},
        container={"environment": [{"name": "GREETING", "value": "from-jobdef"},
                                   {"name": "COLOR", "value": "blue"}]},
    )
    task = batch_task(
        queue, jobdef,
        {"bucket": bucket, "key.$": "States.Format('out/{}.json', $$.Execution.Name)"},
        extra_parameters={"ContainerOverrides": {
            "Environment": [{"Name": "GREETING", "Value.$": "$.greeting"}]}},
        ResultSelector={"JobId.$": "$.JobId", "Status.$": "$.Status"},
        ResultPath="$.job",
        End=True,
    )
    ex = sfn_endpoint.execute({"StartAt": "write", "States": {"write": task}},
                              {"greeting": "from-input"})
    assert ex.status == "SUCCEEDED", explain(sfn_endpoint, ex)
    [job_id] = job_ids(ex)
    assert ex.output["job"] == {"JobId": job_id, "Status": "SUCCEEDED"}

    key = f"out/{ex.arn.rsplit(':', 1)[1]}.json"
    body = sfn_endpoint.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    seen = json.loads(body)
    # Ref:: from Parameters.Parameters, the job definition's default, and an unset one kept.
    assert seen["argv"] == [bucket, key, "jobdef-default", "Ref::unset"]
    assert seen["env"] == {
        "GREETING": "from-input",  # ContainerOverrides beat the job definition
        "COLOR": "blue",
        "AWS_ENDPOINT_URL": sfn_endpoint.url,
        "AWS_BATCH_JOB_ID": job_id,
        "AWS_BATCH_JQ_NAME": queue,
    }
    assert seen["files"] == []  # a fresh, empty working directory...
    assert not Path(seen["cwd"]).exists()  # ...removed when the job ends
    assert sfn_endpoint.job_log(job_id) == f"wrote {key}\n"


def test_retry_on_task_failed_reruns_the_job_with_next_attempt(
    sfn_endpoint: SfnEndpoint, queue: str
) -> None:
    script = "import sys; a = sys.argv[1]; print('attempt', a); sys.exit(0 if a == '1' else 3)"
    jobdef = job_definition(sfn_endpoint, ["python3", "-c", script, "Ref::attempt"])
    task = batch_task(queue, jobdef, {"attempt.$": ATTEMPT}, ResultPath=None, End=True, Retry=[
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 60, "MaxAttempts": 2,
         "BackoffRate": 1.0},
    ])
    ex = sfn_endpoint.execute({"StartAt": "flaky", "States": {"flaky": task}})
    assert ex.status == "SUCCEEDED", explain(sfn_endpoint, ex)
    assert [e["type"] for e in ex.events_of("TaskFailed", "TaskSucceeded")] == [
        "TaskFailed", "TaskSucceeded"]
    first, second = job_ids(ex)
    assert sfn_endpoint.job_log(first) == "attempt 0\n"
    assert sfn_endpoint.job_log(second) == "attempt 1\n"
    assert ex.seconds < 10  # IntervalSeconds 60 is scaled by dev-aws's retry scale 0.01


def test_failing_job_fails_the_execution_at_its_state(
    sfn_endpoint: SfnEndpoint, queue: str
) -> None:
    script = "import sys; print('about to fail', file=sys.stderr); sys.exit(7)"
    jobdef = job_definition(sfn_endpoint, ["python3", "-c", script])
    ex = sfn_endpoint.execute({"StartAt": "ok", "States": {
        "ok": {"Type": "Pass", "Next": "boom"},
        "boom": batch_task(queue, jobdef, {}, End=True),
    }})
    assert ex.status == "FAILED", explain(sfn_endpoint, ex)
    assert ex.error == "States.TaskFailed"
    [failed] = ex.events_of("TaskFailed")
    assert ex.state_of(failed) == "boom"
    assert [e["type"] for e in ex.events[-2:]] == ["TaskFailed", "ExecutionFailed"]
    cause = json.loads(failed["taskFailedEventDetails"]["cause"])
    assert cause["Status"] == "FAILED"
    assert cause["StatusReason"] == "Essential container in task exited (7)"
    [job_id] = job_ids(ex)
    assert sfn_endpoint.job_log(job_id) == "about to fail\n"


def test_a_job_longer_than_the_wait_backstop_is_seen_to_end(
    sfn_endpoint: SfnEndpoint, queue: str
) -> None:
    """The `batchwait` patch: a `.sync` task waits for its job's end, at most
    BATCH_WAIT_BACKSTOP_SECONDS per DescribeJobs; a job that outlasts a wait is described
    again when it ends. (Failed jobs: test_failing_job_fails_the_execution_at_its_state.)"""
    from sfncompile.devaws.server import BATCH_WAIT_BACKSTOP_SECONDS

    script = f"import time; time.sleep({BATCH_WAIT_BACKSTOP_SECONDS + 0.3}); print('done')"
    jobdef = job_definition(sfn_endpoint, ["python3", "-c", script])
    ex = sfn_endpoint.execute({"StartAt": "slow", "States": {
        "slow": batch_task(queue, jobdef, {}, End=True)}})
    assert ex.status == "SUCCEEDED", explain(sfn_endpoint, ex)
    [succeeded] = ex.events_of("TaskSucceeded")
    assert json.loads(succeeded["taskSucceededEventDetails"]["output"])["Status"] == "SUCCEEDED"
    [job_id] = job_ids(ex)
    assert sfn_endpoint.job_log(job_id) == "done\n"


# A job that says how it was started and exits as its argument asks.
INTERPRETER = r"""
import atexit, json, os, sys, threading, time
print(json.dumps({"warm": "boto3" in sys.modules, "argv": sys.argv, "path0": sys.path[0],
                  "name": __name__, "cwd": os.path.basename(os.getcwd())[:15],
                  "color": os.environ.get("COLOR"), "stdin": sys.stdin.read(),
                  "fds": sorted(os.listdir("/proc/self/fd"))}))
atexit.register(lambda: print("atexit ran"))
threading.Thread(target=lambda: (time.sleep(0.2), print("thread joined"))).start()
how = sys.argv[1]
if how == "message":
    sys.exit("goodbye")
if how == "raise":
    raise ValueError("boom")
if how == "interrupt":
    raise KeyboardInterrupt
sys.exit(int(how))
"""


def _interpreter_job(sfn: SfnEndpoint, queue: str, how: str,
                     env: dict[str, str]) -> tuple[Execution, str]:
    variables = [{"name": k, "value": v} for k, v in {"COLOR": "teal", **env}.items()]
    jobdef = job_definition(sfn, ["python3", "-c", INTERPRETER, "Ref::how"],
                            container={"environment": variables})
    ex = sfn.execute({"StartAt": "job", "States": {
        "job": batch_task(queue, jobdef, {"how": how}, End=True)}})
    [job_id] = job_ids(ex)
    return ex, sfn.job_log(job_id)


@pytest.mark.parametrize(("how", "code"), [("0", 0), ("3", 3), ("message", 1), ("raise", 1),
                                          ("interrupt", 130)])
def test_python_jobs_start_warm_and_behave_as_a_fresh_interpreter(
    sfn_endpoint: SfnEndpoint, queue: str, how: str, code: int,
) -> None:
    """The warm python (sfncompile/devaws/warm.py) runs a `python3 -c` job with boto3 already
    imported, and otherwise as a fresh interpreter does: the same log (argv, sys.path,
    __main__, working directory, environment, stdin, open files, the exit message or
    traceback, threads joined and atexit run, in that order) and the same exit code (130
    after a KeyboardInterrupt: Python dies of SIGINT). A job with PYTHON*
    variables of its own gets a fresh interpreter."""
    warm, warm_log = _interpreter_job(sfn_endpoint, queue, how, {})
    fresh, fresh_log = _interpreter_job(sfn_endpoint, queue, how, {"PYTHONNOUSERSITE": "1"})
    for ex in (warm, fresh):
        assert ex.status == ("SUCCEEDED" if code == 0 else "FAILED"), explain(sfn_endpoint, ex)
        if code:
            [failed] = ex.events_of("TaskFailed")
            cause = json.loads(failed["taskFailedEventDetails"]["cause"])
            assert cause["StatusReason"] == f"Essential container in task exited ({code})"
    assert '"warm": true' in warm_log and '"warm": false' in fresh_log
    assert warm_log.replace('"warm": true', '"warm": false') == fresh_log
    assert '"argv": ["-c", "' + how + '"], "path0": "", "name": "__main__"' in fresh_log
    assert '"cwd": "moto-batch-job-"' in fresh_log and '"color": "teal", "stdin": ""' in fresh_log
    assert fresh_log.endswith("thread joined\natexit ran\n"), fresh_log


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`: their command lines."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().decode()
    return found


def test_jobs_start_fresh_once_the_warm_python_is_gone(tmp_path: Path) -> None:
    """If the warm python dies, the server starts each job as a process of its own."""
    proc, sfn = _start(tmp_path)
    try:
        queue = sfn.create_job_queue()
        before, before_log = _interpreter_job(sfn, queue, "0", {})
        [warm] = [pid for pid, argv in _children(proc.pid).items() if "warm.py" in argv]
        os.kill(warm, 9)
        after, after_log = _interpreter_job(sfn, queue, "0", {})
    finally:
        _stop(proc)
    assert (before.status, after.status) == ("SUCCEEDED", "SUCCEEDED")
    assert '"warm": true' in before_log and '"warm": false' in after_log


def test_moto_parses_a_path_once_and_lists_its_modules_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The `jsonpath` and `routes` patches, in this process (undone after): the same answers,
    with a parsed JSONPath reused and moto's directory read once."""
    from moto import backends
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    from sfncompile.devaws.server import patch_jsonpath, patch_routes

    for module, name in ((json_path, "parse"), (result_path, "parse"),
                         (backends, "list_of_moto_modules")):
        monkeypatch.setattr(module, name, getattr(module, name))
    listed = list(backends.list_of_moto_modules())
    patch_jsonpath()
    patch_routes()
    assert json_path.parse("$.a.b") is json_path.parse("$.a.b")
    assert result_path.parse("$.r") is result_path.parse("$.r")
    assert json_path.extract_json("$.a.b", {"a": {"b": [1]}}) == [1]
    assert json_path.extract_json("$.a.b", {"a": {"b": 2}}) == 2  # one parse, many inputs
    monkeypatch.setattr(os, "listdir", lambda path: pytest.fail(f"listed {path} again"))
    assert list(backends.list_of_moto_modules()) == listed and "stepfunctions" in listed


def test_the_server_logs_requests_only_when_asked(sfn_endpoint: SfnEndpoint,
                                                  tmp_path: Path) -> None:
    """werkzeug's line per request is off by default (`--access-log` turns it on)."""
    sfn_endpoint.client("s3").list_buckets()
    assert "HTTP/1.1" not in sfn_endpoint.server_log.read_text(errors="replace")
    proc, logged = _start(tmp_path, "--access-log")
    try:
        logged.client("s3").list_buckets()
    finally:
        _stop(proc)
    assert '"GET / HTTP/1.1" 200' in logged.server_log.read_text(errors="replace")


@pytest.mark.parametrize(
    ("key", "body", "result"),
    [("go", {"verdict": "go"}, "went"), ("stop", {"verdict": "stop"}, "stopped"),
     ("absent", None, "missing")],
)
def test_s3_get_object_string_to_json_then_choice(
    sfn_endpoint: SfnEndpoint, bucket: str, key: str, body: Any, result: str
) -> None:
    key = f"ctl/{uuid.uuid4().hex}/{key}.json"
    if body is not None:
        sfn_endpoint.client("s3").put_object(Bucket=bucket, Key=key, Body=json.dumps(body))

    def done(value: str) -> dict[str, Any]:
        return {"Type": "Pass", "Result": value, "ResultPath": "$.result", "End": True}

    ex = sfn_endpoint.execute({"StartAt": "read", "States": {
        "read": {
            "Type": "Task",
            "Resource": S3_GET_OBJECT_SDK,
            "Parameters": {"Bucket": bucket, "Key.$": "$.key"},
            "ResultSelector": {"v.$": "States.StringToJson($.Body)"},
            "ResultPath": "$.ctl",
            "Next": "decide",
            "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.error",
                       "Next": "missing"}],
        },
        "decide": {"Type": "Choice", "Default": "stopped",
                   "Choices": [{"Variable": "$.ctl.v.verdict", "StringEquals": "go",
                                "Next": "went"}]},
        "went": done("went"),
        "stopped": done("stopped"),
        "missing": done("missing"),
    }}, {"key": key})
    assert ex.status == "SUCCEEDED", explain(sfn_endpoint, ex)
    assert ex.output["result"] == result
    if body is not None:
        assert ex.output["ctl"] == {"v": body}
    else:
        assert ex.output["error"]["Error"] == "S3.NoSuchKeyException"


@pytest.mark.parametrize(("tolerance", "status"), [({}, "FAILED"),
                                                    ({"ToleratedFailureCount": 1}, "SUCCEEDED")])
def test_distributed_map_fails_when_children_exceed_tolerance(
    sfn_endpoint: SfnEndpoint, queue: str, tolerance: dict[str, Any], status: str
) -> None:
    exit_with = ["python3", "-c", "import sys; sys.exit(int(sys.argv[1]))", "Ref::code"]
    jobdef = job_definition(sfn_endpoint, exit_with)
    ex = sfn_endpoint.execute({"StartAt": "fan", "States": {"fan": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "leaf",
            "States": {"leaf": batch_task(queue, jobdef, {"code.$": "$.code"}, End=True)},
        },
        **tolerance,
        "End": True,
    }}}, {"items": [{"code": "0"}, {"code": "1"}, {"code": "0"}]})
    assert ex.status == status, explain(sfn_endpoint, ex)
    if status == "FAILED":
        assert ex.error == "States.ExceedToleratedFailureThreshold"
        assert ex.events_of("MapRunFailed")


def test_concurrent_sync_polls_keep_job_environment_stable(
    sfn_endpoint: SfnEndpoint, queue: str
) -> None:
    jobdef = job_definition(sfn_endpoint, ["python3", "-c", "import time; time.sleep(0.5)"],
                            container={"environment": [{"name": "COLOR", "value": "blue"}]})
    task = batch_task(queue, jobdef, {}, End=True,
                      extra_parameters={"ContainerOverrides": {
                          "Environment": [{"Name": "X", "Value.$": "$.x"}]}},
                      ResultSelector={"env.$": "$.Container.Environment"})
    ex = sfn_endpoint.execute({"StartAt": "fan", "States": {"fan": {
        "Type": "Map", "ItemsPath": "$.xs", "ItemSelector": {"x.$": "$$.Map.Item.Value"},
        "ItemProcessor": {"StartAt": "wait", "States": {"wait": task}},
        "End": True,
    }}}, {"xs": ["a", "b", "c", "d"]})
    assert ex.status == "SUCCEEDED", explain(sfn_endpoint, ex)
    for x, out in zip(["a", "b", "c", "d"], ex.output, strict=True):
        env = {e["Name"]: e["Value"] for e in out["env"]}
        assert len(env) == len(out["env"]), out["env"]  # no entry added per poll
        assert env.pop("AWS_BATCH_JOB_ID")
        # MANAGED_BY_AWS: added by moto's engine to ContainerOverrides, as AWS does.
        assert env == {"COLOR": "blue", "X": x, "MANAGED_BY_AWS": "STARTED_BY_STEP_FUNCTIONS"}


# Prints what AWS Batch tells a node of a multi-node job; node 2 fails when asked to.
NODE = r"""
import os, sys
names = ("AWS_BATCH_JOB_NODE_INDEX", "AWS_BATCH_JOB_NUM_NODES", "AWS_BATCH_JOB_MAIN_NODE_INDEX",
         "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS")
print(*[os.environ.get(n) for n in names], os.environ.get("ROLE"), sys.argv[1])
sys.exit(5 if sys.argv[1] == "fail" and os.environ["AWS_BATCH_JOB_NODE_INDEX"] == "2" else 0)
"""


def test_multinode_job_runs_every_node_and_fails_with_one(sfn_endpoint: SfnEndpoint,
                                                          queue: str) -> None:
    name = f"jd-{uuid.uuid4().hex[:10]}"

    def container(role: str) -> dict[str, Any]:
        return {"image": "not-used-locally", "command": ["python3", "-c", NODE, "Ref::mode"],
                "environment": [{"name": "ROLE", "value": role}],
                "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                         {"type": "MEMORY", "value": "512"}]}

    batch = sfn_endpoint.client("batch")
    batch.register_job_definition(jobDefinitionName=name, type="multinode", nodeProperties={
        "numNodes": 3, "mainNode": 0, "nodeRangeProperties": [
            {"targetNodes": "0:0", "container": container("main")},
            {"targetNodes": "1:", "container": container("worker")}]})
    [described] = batch.describe_job_definitions(jobDefinitionName=name)["jobDefinitions"]
    assert described["nodeProperties"]["numNodes"] == 3
    ok, bad = (sfn_endpoint.execute({"StartAt": "gang", "States": {
        "gang": batch_task(queue, name, {"mode": mode}, End=True)}}) for mode in ("ok", "fail"))
    assert ok.status == "SUCCEEDED", explain(sfn_endpoint, ok)
    [job_id] = job_ids(ok)
    assert [sfn_endpoint.job_log(f"{job_id}#{i}") for i in range(3)] == [
        "0 3 0 None main ok\n", "1 3 0 127.0.0.1 worker ok\n", "2 3 0 127.0.0.1 worker ok\n"]
    assert bad.status == "FAILED" and bad.error == "States.TaskFailed", explain(sfn_endpoint, bad)
    cause = json.loads(bad.events_of("TaskFailed")[0]["taskFailedEventDetails"]["cause"])
    assert cause["StatusReason"] == "Essential container in task exited (5)"



def _race(s3: Any, bucket: str, key: str, etag: str, writers: int, round_: int) -> list[str]:
    """`writers` threads replace `etag` at once; the ETags of those that succeeded.

    Every body is new to the key: a writer that rewrote the current content would leave the
    ETag as it was, and a second writer would then match it rightly, as on S3."""
    import threading

    start, wins = threading.Barrier(writers), []

    def writer(n: int) -> None:
        start.wait()
        with contextlib.suppress(s3.exceptions.ClientError):
            wins.append(s3.put_object(Bucket=bucket, Key=key, Body=f"{round_}.{n}".encode(),
                                      IfMatch=etag)["ETag"])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return wins


def test_conditional_puts_are_atomic(sfn_endpoint: SfnEndpoint, bucket: str) -> None:
    """Writers that all read the same ETag race to replace it: exactly one wins, each round
    (the `s3conditional` patch: without it two won now and then, under load, and a run tag
    changed at the same time was lost)."""
    s3 = sfn_endpoint.client("s3")
    key = f"cas-{uuid.uuid4().hex[:8]}"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"0")["ETag"]
    for round_ in range(8):
        wins = _race(s3, bucket, key, etag, 12, round_)
        assert len(wins) == 1, f"round {round_}: {len(wins)} writers replaced the same ETag"
        etag = wins[0]


@pytest.mark.parametrize("patched", [False, True], ids=["moto-as-is", "s3conditional"])
def test_the_conditional_put_lock_closes_the_window(monkeypatch: pytest.MonkeyPatch,
                                                    patched: bool) -> None:
    """The patch itself, on a moto server in this process whose ETag check is made slow: as
    moto ships, every writer passes the check before any writes; with the patch, one wins.
    (The test above races the real server, where the window is too narrow to fail often.)"""
    import time

    import boto3
    from moto.s3.models import S3Backend
    from moto.s3.responses import S3Response
    from moto.server import ThreadedMotoServer

    from sfncompile.devaws.server import patch_s3_conditional

    monkeypatch.setattr(S3Response, "put_object", S3Response.put_object)  # undone after
    if patched:
        patch_s3_conditional()
    get_object = S3Backend.get_object

    def slow_get_object(self: Any, *args: Any, **kwargs: Any) -> Any:
        found = get_object(self, *args, **kwargs)
        time.sleep(0.2)  # what was read is stale by the time it is used, as under load
        return found

    monkeypatch.setattr(S3Backend, "get_object", slow_get_object)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        s3 = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
        s3.create_bucket(Bucket="cas")
        etag = s3.put_object(Bucket="cas", Key="k", Body=b"0")["ETag"]
        wins = _race(s3, "cas", "k", etag, 4, 1)
    finally:
        server.stop()
    assert len(wins) == (1 if patched else 4), wins
