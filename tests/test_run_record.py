"""A Step Functions run records itself (emit/asl.py), and the client reads that record the same
way as a local run's (sfncompile/run_record.py). On moto's engine: tests/test_deploy.py."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.client import run_record
from sfncompile.conventions.bootstrap import CODE_PACKAGE_ENV, CODE_SHA_ENV
from sfncompile.conventions.input_keys import TRIGGER_KEY
from sfncompile.emit import compile_asl
from sfncompile.emit.asl import ON_ERROR_HOOKS, RUN_FAILED_ERROR
from sfncompile.emit.names import INIT, PUBLISH_FAILURE, RECORD_FAILURE, RUN_FAILED
from sfncompile.parser import parse_source
from sfncompile.runtime import where
from tests.asl_sim import ExecutionFailed, Explorer, Simulator, TaskFailure
from tests.conftest import golden_dirs
from tests.test_state_size import golden

CAN_FAIL = ("Task", "Parallel", "Map")


# The failure path's states go on to its next one whatever happens (each is best effort).
FAILURE_PATH = (RECORD_FAILURE, ON_ERROR_HOOKS, PUBLISH_FAILURE)


def test_every_top_level_state_that_can_fail_leads_to_the_failure_path() -> None:
    for path in golden_dirs():
        states = golden(path.name).asl["States"]
        assert next(iter(states)) == INIT
        for name, state in states.items():
            if state["Type"] not in CAN_FAIL or name in FAILURE_PATH:
                continue
            takes_all = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
            assert takes_all, (path.name, name)
            # Its own @catch stand-in, or the failure path.
            assert takes_all[0]["Next"] in (RECORD_FAILURE, f"{name} caught"), (path.name, name)
        assert states[RUN_FAILED] == {"Type": "Fail", "Error": RUN_FAILED_ERROR,
                                      "CausePath": "$.Cause"}


def _run(name: str, fail_step: str | None) -> tuple[Simulator, ExecutionFailed | None]:
    case = golden(name)

    def on_task(step: str, run: str, task_id: str, params: dict[str, Any]) -> None:
        if step == fail_step:
            raise TaskFailure()

    sim = Simulator(case.asl, on_task=on_task, control=Explorer(case.asl),
                    execution_name="r1", flow_name=case.flow.name)
    try:
        sim.run({"alpha": 2})
    except ExecutionFailed as exc:
        return sim, exc
    return sim, None


@pytest.mark.parametrize(("name", "fail_step"), [
    ("linear", "add"),  # a top-level step
    ("foreach_nested", "level2"),  # deep inside Maps: the outer Map's Catch takes it
    ("split", "square"),  # inside a Parallel
])
def test_a_failure_anywhere_is_recorded_then_fails_the_run(name: str, fail_step: str) -> None:
    sim, failed = _run(name, fail_step)
    assert failed is not None and failed.error == RUN_FAILED_ERROR
    key = f"sfn/{golden(name).flow.name}/r1/_run.json"
    record = sim.record.run_records[key]
    assert record == {"status": "failed", "runner": "step-functions", "params": {"alpha": 2},
                      "started": record["started"], "finished": record["finished"],
                      "error": "States.TaskFailed", "cause": record["cause"]}
    assert record["cause"] in ("simulated", f"state {fail_step!r} failed after 0 retries")
    assert sim.record.failed == (RUN_FAILED_ERROR, record["cause"])


def test_a_successful_run_records_only_its_start() -> None:
    sim, failed = _run("linear", None)
    assert failed is None
    [record] = sim.record.run_records.values()
    assert record["status"] == "running" and record["params"] == {"alpha": 2}
    assert RECORD_FAILURE not in sim.record.inputs
    # The first state's result is the initial state: run, scope and loop counter only.
    assert sim.record.inputs["start"] == [len('{"run":"r1","scope":"","n":0}')]


TIMEOUT_FLOW = """
from sfncompile import FlowSpec, step, timeout


class TimedFlow(FlowSpec):
    @timeout(seconds=10)
    @step
    def start(self):
        self.next(self.end)

    @timeout(hours=2)
    @step
    def end(self):
        pass
"""


def test_timeout_limits_the_batch_attempt_not_the_state() -> None:
    """@timeout counts running time only: the runtime's deadline stops the step, and the
    Batch attempt (which starts when the job runs, not when it is queued) is the backstop;
    the state has no TimeoutSeconds, which would count the queue too."""
    states = compile_asl(parse_source(TIMEOUT_FLOW, "timed.py"))["States"]
    assert "TimeoutSeconds" not in json.dumps(states)
    # Batch's minimum attempt is 60 s: a 10 s @timeout is the runtime's deadline alone.
    assert states["start"]["Parameters"]["Timeout"] == {"AttemptDurationSeconds": 70}
    assert states["end"]["Parameters"]["Timeout"] == {"AttemptDurationSeconds": 7260}


def test_record_times_and_inputs_read_alike() -> None:
    assert run_record.epoch(1_700_000_000.5) == 1_700_000_000.5
    assert run_record.epoch("2023-11-14T22:13:20.500Z") == 1_700_000_000.5
    assert run_record.epoch("2023-11-14T22:13:20.500000+00:00") == 1_700_000_000.5
    assert run_record.epoch("yesterday") is None and run_record.epoch(True) is None
    record = {"params": {"a": 1, TRIGGER_KEY: {"event": "go"}}}
    assert run_record.params(record) == {"a": 1}
    assert run_record.trigger(record) == {"event": "go"}
    assert run_record.params({"params": '{"a": 1}'}) == {"a": 1}  # input as JSON text
    assert run_record.trigger({"params": {"a": 1}}) is None


@pytest.mark.parametrize("pascal", [True, False])
def test_batch_failure_from_a_catch_cause(pascal: bool) -> None:
    job = {"JobId": "j-1", "StatusReason": "Essential container in task exited (1)",
           "Parameters": {"step": "boom", "task": "0.1.0", "attempt": "2"},
           "Container": {"LogStreamName": "Flow/default/abc"}}
    if not pascal:
        job = {k[0].lower() + k[1:]: v for k, v in job.items()}
        job["container"] = {"logStreamName": "Flow/default/abc"}
    assert run_record.batch_failure(json.dumps(job)) == {
        "step": "boom", "task": "0.1.0", "attempt": "2", "job_id": "j-1",
        "reason": "Essential container in task exited (1)", "log_stream": "Flow/default/abc"}
    assert run_record.batch_failure("An error occurred in a Map iteration") == {}
    assert run_record.batch_failure(None) == {}


@pytest.fixture
def ecs_metadata() -> Iterator[str]:
    """ECS's container metadata endpoint, as a Batch container sees it."""
    body = json.dumps({"LogDriver": "awslogs", "LogOptions": {
        "awslogs-group": "/aws/batch/job", "awslogs-stream": "Flow/default/abc"}}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v4/container"
    finally:
        server.shutdown()
        server.server_close()


def test_a_batch_task_records_its_job_and_log_stream(monkeypatch: pytest.MonkeyPatch,
                                                     ecs_metadata: str) -> None:
    for var in ("AWS_BATCH_JOB_ID", "AWS_BATCH_JOB_ATTEMPT", "AWS_BATCH_JQ_NAME",
                "AWS_BATCH_CE_NAME", "ECS_CONTAINER_METADATA_URI_V4",
                where.DEPLOYED_BY_ENV, where.DEPLOY_TAGS_ENV, CODE_PACKAGE_ENV, CODE_SHA_ENV):
        monkeypatch.delenv(var, raising=False)
    assert where.task_environment() == {}  # a local task records nothing of the kind
    monkeypatch.setenv("AWS_BATCH_JOB_ID", "j-1")
    monkeypatch.setenv("AWS_BATCH_JQ_NAME", "q")
    monkeypatch.setenv(where.DEPLOYED_BY_ENV, "ana")
    monkeypatch.setenv(where.DEPLOY_TAGS_ENV, '{"team":"ml"}')
    monkeypatch.setenv(CODE_PACKAGE_ENV, "s3://b/F/code/abc.tar.gz")
    monkeypatch.setenv(CODE_SHA_ENV, "abc")
    assert where.task_environment() == {"deployed_by": "ana", "deploy_tags": {"team": "ml"},
                                        "code_package": {"location": "s3://b/F/code/abc.tar.gz",
                                                         "sha": "abc"},
                                        "batch": {"job_id": "j-1", "job_queue": "q"}}
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", ecs_metadata)
    assert where.batch_job() == {"job_id": "j-1", "job_queue": "q", "log_group": "/aws/batch/job",
                                 "log_stream": "Flow/default/abc"}
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", "http://127.0.0.1:9/nothing")
    assert where.batch_job() == {"job_id": "j-1", "job_queue": "q"}  # no answer: no stream


def test_a_recorded_execution_reads_without_step_functions(tmp_path: Path) -> None:
    """What the state machine wrote, read from the datastore alone: an execution still
    running (or aborted: the record cannot tell), then failed in a Map iteration."""
    record = tmp_path / "Flow" / "r1" / "_run.json"
    record.parent.mkdir(parents=True)
    started = {"status": "running", "runner": "step-functions", "params": {"n": 2},
               "started": "2026-11-29T12:00:00.000Z"}
    record.write_text(json.dumps(started))

    def show() -> list[str]:
        proc = subprocess.run([sys.executable, "-m", "sfncompile", "show", "Flow/r1",
                               "--datastore-root", str(tmp_path)], capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.splitlines()

    lines = show()
    assert lines[0] == "Flow/r1: running"
    assert "  started: 2026-11-29 12:00:00 UTC" in lines and "  finished: -" in lines
    assert any("reads as running until the run end recorder" in x for x in lines)

    cause = {"JobId": "j-9", "Parameters": {"step": "work", "task": "0.3.0"},
             "StatusReason": "OutOfMemoryError: Container killed due to memory usage"}
    record.write_text(json.dumps({**started, "status": "failed",
                                  "finished": "2026-11-29T12:05:00.000Z",
                                  "error": "States.TaskFailed", "cause": json.dumps(cause)}))
    client.set_datastore_root(str(tmp_path))
    try:
        run = client.Run("Flow/r1")
        assert (run.status, run.finished, run.params) == ("failed", False, {"n": 2})
        assert run.ended_at is not None and run.started_at is not None
        assert run.ended_at - run.started_at == 300
        assert run.finished_at is None  # Metaflow's: the end task's, which never ran
        assert run.failure == {"step": "work", "task": "0.3.0", "job_id": "j-9",
                               "error": "States.TaskFailed", "cause": json.dumps(cause),
                               "reason": cause["StatusReason"]}
        assert [r.id for r in client.Flow("Flow").runs()] == ["r1"]
    finally:
        client.set_datastore_root(None)
    lines = show()
    assert lines[0] == "Flow/r1: failed"
    assert "  failed step: work/0.3.0" in lines and "  error: States.TaskFailed" in lines
    assert f"  reason: {cause['StatusReason']}" in lines and "  batch: job_id j-9" in lines
