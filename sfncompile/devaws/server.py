"""moto's HTTP server (moto[server]==5.2.5), patched so that its Step Functions engine runs
sfncompile's ASL with each Batch job as a local process: `sfncompile dev-aws`.

    sfncompile dev-aws [--port N] [--job-log-dir DIR] [--access-log]

`serve` starts the server on 127.0.0.1, turns on moto's Step Functions engine and its
no-Docker Batch backend (before any state machine exists: the backend is chosen per request),
creates what `sfncompile deploy` needs (a bucket and a job queue), prints the environment to
export, and serves until Ctrl-C or SIGTERM, which also kill the running jobs.

The gaps are in moto's Python code, so they can only be bridged inside the server process: each
`patch_*` function below replaces one moto function (or constant) and says which gap it bridges,
with file:line in moto 5.2.5 (paths relative to site-packages/moto/; SFN_TASK is
stepfunctions/parser/asl/component/state/exec/state_task/service/). The patches target exact
source, so the server refuses any other moto version. sfncompile/devaws/README.md has the table.

Only the stdlib is imported at the top: moto and boto3 when the server starts.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any, TypeAlias

from sfncompile.devaws.warm import WarmProcess, WarmPython

MOTO_VERSION = "5.2.5"
HOST = "127.0.0.1"
DEFAULT_PORT = 4599
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/sfncompile-dev"
DEV_NAME = "sfncompile-dev"  # the bucket and the job queue
READY = "sfncompile dev-aws: ready"
ENGINE_CONFIG = {"stepfunctions": {"execute_state_machine": True},
                 "batch": {"use_docker": False}}
DEFAULT_SYNC_POLL_SECONDS = 0.25
BATCH_WAIT_BACKSTOP_SECONDS = 3.0  # the `batchwait` patch's longest wait between DescribeJobs
DEFAULT_RETRY_SCALE = 0.01


# ------------------------------------------------------------------------------------------- sdk
def _timestamps_to_str(value: Any) -> None:
    """In place: every datetime inside dicts/lists becomes an ISO-8601 string."""
    if isinstance(value, dict):
        items: Any = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return
    for key, item in items:
        if isinstance(item, datetime):
            value[key] = item.isoformat().replace("+00:00", "Z")
        else:
            _timestamps_to_str(item)


def patch_sdk() -> None:
    """Fill moto's empty request/response normalisation for Batch and aws-sdk tasks.

    Gap: SFN_TASK/state_task_service.py:208-222, `_normalise_parameters` and
    `_normalise_response` are `pass`.
    - The engine's boto client skips validation (stepfunctions/parser/asl/utils/boto_client.py:27)
      so `submit_job(**{"JobName": ...})` gets ASL's PascalCase keys and botocore's serializer
      raises KeyError 'JobName' -> TaskFailed States.Runtime, for every batch:submitJob task.
    - The .sync resolver reads `submission_output["JobId"]` (state_task_service_batch.py:153)
      but moto answers `jobId`.
    - aws-sdk:s3:getObject leaves `Body` a StreamingBody: `States.StringToJson($.Body)` fails
      ("'StreamingChecksumBody' object has no attribute 'strip'"), and once read, `LastModified`
      (a datetime) makes DescribeExecution answer HTTP 500.
    Fix: fill both stubs, for StateTaskServiceBatch and StateTaskServiceAwsSdk only, with the
    shape-driven converters moto already ships (`_to_boto_request`, `_from_boto_response`, which
    reads a StreamingBody into str), then turn datetimes into ISO strings. Also name aws-sdk S3
    errors "S3.<Code>Exception" as AWS does; moto only knows dynamodb/sfn and says
    "s3.NoSuchKeyException" (state_task_service_aws_sdk.py:34, 49-62).
    """
    import botocore.session
    from botocore import xform_name
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk as aws_sdk_mod,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as batch_mod,
    )

    session = botocore.session.get_session()
    cache: dict[tuple[str, str], Any] = {}

    def operation_model(self: Any, service_name: str | None, action_name: str | None) -> Any:
        service = self._get_boto_service_name(service_name)
        action = self._get_boto_service_action(action_name)  # snake_case
        if (service, action) not in cache:
            model = session.get_service_model(service)
            by_snake = {xform_name(op): op for op in model.operation_names}
            cache[service, action] = model.operation_model(by_snake[action])
        return cache[service, action]

    def _normalise_parameters(
        self: Any,
        parameters: dict[str, Any],
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        shape = operation_model(self, boto_service_name, service_action_name).input_shape
        if shape is not None:
            self._to_boto_request(parameters, shape)  # JobName -> jobName, nested too

    def _normalise_response(
        self: Any,
        response: Any,
        boto_service_name: str | None = None,
        service_action_name: str | None = None,
    ) -> None:
        shape = operation_model(self, boto_service_name, service_action_name).output_shape
        if shape is not None:
            self._from_boto_response(response, shape)  # jobId -> JobId, StreamingBody -> str
        _timestamps_to_str(response)

    aws_sdk_mod._SERVICE_ERROR_NAMES.setdefault("s3", "S3")
    for cls in (batch_mod.StateTaskServiceBatch, aws_sdk_mod.StateTaskServiceAwsSdk):
        cls._normalise_parameters = _normalise_parameters
        cls._normalise_response = _normalise_response


# ----------------------------------------------------------------------------------------- batch
_REF = re.compile(r"Ref::([A-Za-z0-9_-]+)")


def substitute_refs(command: list[str], parameters: dict[str, str]) -> list[str]:
    """Replace each `Ref::name` in the command with the job's parameter `name`.

    A placeholder with no value stays literal, as in AWS Batch. (moto's own
    Job._add_parameters_to_command, batch/models.py:761, does plain str.replace per parameter,
    so `Ref::a` would also rewrite the start of `Ref::ab`.)
    """
    return [_REF.sub(lambda m: str(parameters.get(m.group(1), m.group(0))), p) for p in command]


Process: TypeAlias = "subprocess.Popen[bytes] | WarmProcess"  # a running job


class JobRunner:
    """Runs Batch jobs as local processes; keeps one log file per job id in `log_dir`.

    `<job id>.log` holds the process's stdout and stderr (interleaved, written as they come) and
    `<job id>.json` what was run: name, queue, argv, exit code, reason, seconds.
    """

    def __init__(self, endpoint: str, log_dir: Path) -> None:
        self.endpoint = endpoint
        self.log_dir = log_dir
        self._live: dict[Process, str] = {}  # process -> its working dir
        self._by_job: dict[str, Process] = {}  # job id -> its live process
        self._lock = threading.Lock()
        self._warm = WarmPython(self.base_environment())  # forks `python3 -c` jobs

    def environment(self, job: Any, props: dict[str, Any] | None = None) -> dict[str, str]:
        """The job process's environment, each layer overriding the one before.

        1. the server's environment without AWS_* and MOTO_* variables (so no profile, token,
           per-service endpoint or other server leaks in);
        2. AWS_ENDPOINT_URL (this server), test credentials, AWS_REGION/AWS_DEFAULT_REGION;
        3. the job definition's environment;
        4. ContainerOverrides.Environment;
        5. AWS_BATCH_JOB_ID, AWS_BATCH_JOB_ATTEMPT (always 1: moto has no Batch-level retry),
           AWS_BATCH_JQ_NAME and, for array children, AWS_BATCH_JOB_ARRAY_INDEX.
        """
        env = self.base_environment()
        region = job.job_definition._region
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_REGION=region,
            AWS_DEFAULT_REGION=region,
        )
        if props is None:
            props = job.job_definition.container_properties or {}
        for item in props.get("environment", []):
            env[item["name"]] = item["value"]
        for item in job.container_overrides.get("environment", []):
            env[item["name"]] = item["value"]
        env["AWS_BATCH_JOB_ID"] = job.job_id
        env["AWS_BATCH_JOB_ATTEMPT"] = "1"
        env["AWS_BATCH_JQ_NAME"] = job.job_queue.name
        if "index" in job.array_properties:
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.array_properties["index"])
        return env

    @staticmethod
    def base_environment() -> dict[str, str]:
        """The server's environment without AWS_* and MOTO_* variables (layer 1 below)."""
        return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "MOTO_"))}

    def start(self, job: Any) -> None:
        name = f"job-{job.job_id}"
        threading.Thread(target=self.run, args=(job,), name=name, daemon=True).start()

    def run(self, job: Any) -> None:
        """Run the job's command in a fresh temp dir, then mark it SUCCEEDED or FAILED."""
        started = time.monotonic()
        argv: list[str] = []
        code: int = 1
        reason: str | None = "dev-aws error"
        log_path = self.log_dir / f"{job.job_id}.log"
        try:
            if job.job_definition.type == "multinode":
                argv, code, reason = run_nodes(self, job)
            else:
                props = job.job_definition.container_properties or {}
                command = job.container_overrides.get("command") or props.get("command") or []
                argv = substitute_refs(list(command), job.parameters)
                code, reason = self._execute(argv, self.environment(job), log_path,
                                             job._get_attempt_duration(), job.job_id)
            if job.stop and job.job_stopped_reason:  # TerminateJob killed it: keep its reason
                reason = job.job_stopped_reason
        except Exception as ex:  # never leave a job RUNNING: the execution would hang
            reason = f"dev-aws error: {ex!r}"
            with open(log_path, "a", encoding="utf-8") as log:
                log.write(f"\n[dev-aws] {reason}\n")
        finally:
            meta = {"jobId": job.job_id, "jobName": job.job_name, "jobQueue": job.job_queue.name,
                    "argv": argv, "exitCode": code, "reason": reason,
                    "seconds": round(time.monotonic() - started, 3)}
            (self.log_dir / f"{job.job_id}.json").write_text(json.dumps(meta, indent=1))
            job.exit_code = code
            job.job_stopped_reason = reason
            job._mark_stopped(success=code == 0)

    def _execute(
        self, argv: list[str], env: dict[str, str], log_path: Path, timeout: int | None,
        job_id: str = "",
    ) -> tuple[int, str | None]:
        if not argv:
            log_path.write_text("[dev-aws] the job has no command\n")
            return 1, "CannotStartContainerError: no command"
        workdir = tempfile.mkdtemp(prefix="moto-batch-job-")
        try:
            try:
                proc = self._start(argv, env, workdir, log_path)
            except OSError as ex:
                with open(log_path, "a", encoding="utf-8") as log:
                    log.write(f"[dev-aws] cannot start {argv[0]!r}: {ex}\n")
                return 127, f"CannotStartContainerError: {ex}"
            with self._lock:
                self._live[proc] = workdir
                self._by_job[job_id] = proc
            try:
                code = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                proc.wait()
                return 137, "Job attempt duration exceeded timeout"
            finally:
                with self._lock:
                    self._live.pop(proc, None)
                    self._by_job.pop(job_id, None)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        if code < 0:  # killed by a signal: report it as a container would (128 + signal)
            code = 128 - code
        return code, None if code == 0 else f"Essential container in task exited ({code})"

    def _start(self, argv: list[str], env: dict[str, str], workdir: str,
               log_path: Path) -> Process:
        """The job's process: forked by the warm python when it can run the command, else a
        new one."""
        if self._warm.can_run(argv, env):
            proc = self._warm.start(argv, env, workdir, str(log_path))
            if proc is not None:
                return proc
        with open(log_path, "wb") as log:
            return subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)

    def kill_job(self, job_id: str) -> None:
        """Kill one job's process (and its children), if it is running."""
        with self._lock:  # a multi-node job's nodes are `<job id>#<node index>`, as on AWS
            procs = [p for j, p in self._by_job.items() if j.partition("#")[0] == job_id]
        for proc in procs:
            _kill_group(proc)

    def kill_all(self) -> None:
        """Kill every running job (and its children) and remove its working directory."""
        with self._lock:
            live = list(self._live.items())
        for proc, workdir in live:
            _kill_group(proc)
            shutil.rmtree(workdir, ignore_errors=True)
        self._warm.stop()


# ------------------------------------------------------------------------------------- multinode
def node_containers(props: dict[str, Any]) -> list[dict[str, Any]]:
    """Each node's container, from a multi-node definition's node ranges (`a:b`, `a:`, `:b`,
    `a`), the later range winning where two overlap."""
    nodes = int(props["numNodes"])
    out: list[dict[str, Any]] = [{} for _ in range(nodes)]
    for node_range in props.get("nodeRangeProperties", []):
        first, sep, last = str(node_range["targetNodes"]).partition(":")
        low = int(first or 0)
        high = (int(last) if last else nodes - 1) if sep else low
        for i in range(low, min(high, nodes - 1) + 1):
            out[i] = node_range.get("container") or {}
    return out


def run_nodes(runner: JobRunner, job: Any) -> tuple[list[str], int, str | None]:
    """A multi-node job: each node's command as its own process, all at once, with the
    variables AWS Batch sets on a node (the main node's address is 127.0.0.1, and the main
    node is not given it, as on AWS). Logs go to `<job id>#<node>.log`. The job succeeds
    when every node does; else the first failed node's exit code and reason are the job's.

    Gap: batch_simple (batch_simple/models.py:116-138) runs nothing, and a multi-node
    definition has no containerProperties for the `batch` patch to read.
    """
    props = job.job_definition.node_properties or {}
    main = int(props.get("mainNode", 0))
    containers = node_containers(props)
    results: list[tuple[int, str | None]] = [(1, "not started")] * len(containers)
    argvs: list[list[str]] = []
    threads = []
    for i, container in enumerate(containers):
        argv = substitute_refs(list(container.get("command") or []), job.parameters)
        argvs.append(argv)
        env = runner.environment(job, container)
        env.update(AWS_BATCH_JOB_NODE_INDEX=str(i), AWS_BATCH_JOB_NUM_NODES=str(len(containers)),
                   AWS_BATCH_JOB_MAIN_NODE_INDEX=str(main))
        if i != main:
            env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] = "127.0.0.1"
        node_id = f"{job.job_id}#{i}"

        def run(i: int = i, argv: list[str] = argv, env: dict[str, str] = env,
                node_id: str = node_id) -> None:
            results[i] = runner._execute(argv, env, runner.log_dir / f"{node_id}.log",
                                         job._get_attempt_duration(), node_id)

        threads.append(threading.Thread(target=run, name=f"job-{node_id}", daemon=True))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with open(runner.log_dir / f"{job.job_id}.log", "w", encoding="utf-8") as log:
        for i in range(len(containers)):  # the job's log: every node's, in node order
            node_log = runner.log_dir / f"{job.job_id}#{i}.log"
            text = node_log.read_text(errors="replace") if node_log.exists() else ""
            log.write(f"[moto_sfn] node {i}\n{text}")
    failed = [(code, reason) for code, reason in results if code != 0]
    code, reason = failed[0] if failed else (0, None)
    return argvs[main] if argvs else [], code, reason


def patch_s3_conditional() -> None:
    """A conditional PutObject (If-Match, If-None-Match) is atomic, as on S3.

    Gap: S3Response.put_object (s3/responses.py:2271-2296) checks the object's ETag, then
    writes it, and the server runs requests in threads: two writers that both matched the
    same ETag both succeed, and one's change is lost (run tags are changed by compare-and-swap).
    Fix: conditional puts take turns under one lock.
    """
    import threading

    from moto.s3.responses import S3Response

    original = S3Response.put_object
    turn = threading.Lock()

    def put_object(self: Any) -> Any:
        if "If-Match" in self.headers or "If-None-Match" in self.headers:
            with turn:
                return original(self)
        return original(self)

    S3Response.put_object = put_object


def patch_multinode() -> None:
    """DescribeJobDefinitions shows a multi-node definition's nodeProperties.

    Gap: JobDefinition.describe (batch/models.py:445-465) returns containerProperties and
    eksProperties only, so a multi-node definition reads as having no containers.
    Fix: add nodeProperties, as AWS returns them.
    """
    from moto.batch.models import JobDefinition

    original = JobDefinition.describe

    def describe(self: Any) -> dict[str, Any]:
        result: dict[str, Any] = original(self)
        if self.node_properties is not None:
            result["nodeProperties"] = self.node_properties
        return result

    JobDefinition.describe = describe


def _kill_group(proc: Process) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _await_children(job: Any) -> None:
    """An array parent ends when its children do (FAILED if any child failed)."""
    while job._child_jobs is None:  # submit_job assigns it after _mark_job_as_finished returns
        time.sleep(0.05)
    while not all(child.job_stopped for child in job._child_jobs):
        time.sleep(0.1)
    job._mark_stopped(success=all(child.exit_code == 0 for child in job._child_jobs))


def patch_batch(runner: JobRunner) -> None:
    """Run each submitted Batch job's command as a local process.

    Gap: with {"batch": {"use_docker": false}}, BatchResponse uses BatchSimpleBackend
    (batch/responses.py:16-21), whose `_mark_job_as_finished` (batch_simple/models.py:116-138)
    marks every job SUCCEEDED inside SubmitJob without running anything; the only knob,
    MOTO_SIMPLE_BATCH_FAIL_AFTER, fails every job. With use_docker=true moto needs a Docker
    daemon (batch/models.py:780-1066).
    Fix: replace that one method. The job goes RUNNING and a thread runs its command
    (ContainerOverrides.Command, else the job definition's) with `Ref::` placeholders filled from
    the job's parameters (moto already merged SubmitJob's Parameters over the job definition's
    defaults, batch/models.py:558), in a fresh temp dir, with the environment described in
    JobRunner.environment; Timeout.AttemptDurationSeconds kills it. Exit 0 -> SUCCEEDED, else
    FAILED, which the engine turns into States.TaskFailed (state_task_service_batch.py:170-186),
    so ASL Retry and Catch apply.
    """
    from moto.batch.utils import JobStatus
    from moto.batch_simple.models import BatchSimpleBackend

    def _mark_job_as_finished(self: Any, include_start_attempt: bool, job: Any) -> None:
        self.backend._jobs[job.job_id] = job
        job.job_started_at = datetime.now()
        job.log_stream_name = job._stream_name
        job.status = JobStatus.RUNNING
        if not include_start_attempt:  # the parent of an array job runs nothing itself
            threading.Thread(target=_await_children, args=(job,), daemon=True).start()
            return
        job._start_attempt()
        runner.start(job)

    BatchSimpleBackend._mark_job_as_finished = _mark_job_as_finished


def patch_terminate(runner: JobRunner) -> None:
    """TerminateJob stops the job's process.

    Gap: Job.terminate (batch/models.py:1099) only sets `stop` and the reason, which the Docker
    backend's loop reads; the `batch` patch's process runs on, and the job stays RUNNING.
    Fix: after it, kill the job's process group; the job then ends FAILED with the reason
    TerminateJob gave.
    """
    from moto.batch.models import Job

    original = Job.terminate

    def terminate(self: Any, reason: str) -> None:
        original(self, reason)
        runner.kill_job(self.job_id)

    Job.terminate = terminate


# -------------------------------------------------------------------------------------- batchfix
def patch_batchfix() -> None:
    """Two moto Batch bugs that `.sync` polling hits.

    Gap 1: BatchBackend.describe_jobs iterates the live `self._jobs` dict (batch/models.py:1978)
    while a concurrent SubmitJob inserts into it: "dictionary changed size during iteration" ->
    HTTP 500 -> the engine's error path reads a missing RequestId
    (state_task_service_batch.py:114) -> KeyError -> States.Runtime, which no Batch.* or
    States.TaskFailed retrier catches. Seen in a 20-wide Map.
    Gap 2: Job._get_container_property("environment") appends the job definition's variables and
    AWS_BATCH_JOB_ID to the ContainerOverrides list *in place* on every describe
    (batch/models.py:674-688), so a .sync task's output grows by entries on every poll.
    Fix: iterate a snapshot; build the merged environment without mutating the override list.
    """
    from moto.batch.models import BatchBackend, Job

    def describe_jobs(self: Any, jobs: list[str] | None) -> list[dict[str, Any]]:
        wanted = set(jobs or [])
        return [job.describe() for key, job in list(self._jobs.items())
                if not wanted or key in wanted or job.arn in wanted]

    original = Job._get_container_property

    def _get_container_property(self: Any, p: str, default: Any) -> Any:
        if p != "environment":
            return original(self, p, default)
        props = self.job_definition.container_properties or {}
        merged = {e["name"]: e["value"] for e in props.get("environment", [])}
        merged.update({e["name"]: e["value"] for e in self.container_overrides.get(p, [])})
        merged["AWS_BATCH_JOB_ID"] = self.job_id
        return [{"name": k, "value": v} for k, v in merged.items()]

    BatchBackend.describe_jobs = describe_jobs
    Job._get_container_property = _get_container_property


# ------------------------------------------------------------------------------------------ sync
def patch_sync() -> None:
    """Let a `.sync` task wait for its job only, not also for the state's task token.

    Gap: for services that also support .waitForTaskToken (batch, ecs, glue, sfn, ...) the
    .sync loop also waits on the state's callback endpoint
    (SFN_TASK/state_task_service_callback.py:118-135) and `interrupt_all()`s it when the attempt
    ends (line 224). That endpoint is created once per state entry (_eval_body, lines 315-325)
    and reused by the Retry, so attempt 2's wait returns at once -> CallbackOutcomeTimedOut ->
    States.Timeout (lines 103-104, 227-228): every retried .sync task fails ~30 ms into its
    second attempt.
    Fix: pass no callback endpoint to `_eval_sync`. AWS never mixes .sync with task tokens;
    TimeoutSeconds is still enforced by ExecuteState._evaluate_with_timeout.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as cb,
    )

    original = cb.StateTaskServiceCallback._eval_sync

    def _eval_sync(self: Any, env: Any, sync_resolver: Any, timeout_seconds: Any,
                   callback_endpoint: Any, heartbeat_endpoint: Any) -> Any:
        return original(self, env=env, sync_resolver=sync_resolver,
                        timeout_seconds=timeout_seconds, callback_endpoint=None,
                        heartbeat_endpoint=heartbeat_endpoint)

    cb.StateTaskServiceCallback._eval_sync = _eval_sync


# ------------------------------------------------------------------------------------- batchwait
def patch_batchwait(backstop: float) -> None:
    """A `.sync` Batch task sees its job end when it ends, not at a later poll.

    Gap: SFN_TASK/state_task_service_callback.py:142-147 calls the Batch sync resolver
    (state_task_service_batch.py:155), one DescribeJobs over HTTP to this very server, every
    0.5 s (the `poll` patch: 0.25 s) for as long as the job runs: 100 jobs of a Map running
    together make 400 requests a second, and the server's CPU goes to them, not to the jobs.
    Fix: every Job._mark_stopped (batch/models.py:1068, which each end of a job goes through)
    sets an event of the job's; the resolver waits for it, for at most `backstop` seconds (so
    a stopped execution, which the loop checks between calls, is still seen), then describes
    the job as before: its answer, and the history, stay moto's.
    """
    from moto.batch.models import Job
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_batch as batch_service,
    )

    ended: dict[str, threading.Event] = {}
    lock = threading.Lock()

    def end_of(job_id: str) -> threading.Event:
        with lock:
            return ended.setdefault(job_id, threading.Event())

    mark_stopped = Job._mark_stopped

    def _mark_stopped(self: Any, success: bool = True) -> None:
        mark_stopped(self, success=success)
        end_of(self.job_id).set()

    Job._mark_stopped = _mark_stopped
    service = batch_service.StateTaskServiceBatch
    build = service._build_sync_resolver

    def _build_sync_resolver(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
        job_id = env.stack[-1]["JobId"]  # from the SubmitJob output that `build` pops
        job_end = end_of(job_id)
        resolve = build(self, env, *args, **kwargs)

        def wait_then_resolve() -> Any:
            job_end.wait(backstop)
            try:
                return resolve()
            finally:
                if job_end.is_set():  # resolved or raised: nobody waits for it again
                    with lock:
                        ended.pop(job_id, None)

        return wait_then_resolve

    service._build_sync_resolver = _build_sync_resolver


# ---------------------------------------------------------------------------------------- routes
def patch_routes() -> None:
    """Route a request without listing moto's package directory.

    Gap: moto_server/werkzeug_app.py:127 calls backends.list_of_moto_modules()
    (backends.py:189-195), which lists moto's directory and stats each of its ~150 entries, for
    every request, under the dispatcher's one lock (werkzeug_app.py:295): a tenth of the
    server's CPU in a 100-wide foreach.
    Fix: list it once; the installed package does not change while the server runs.
    """
    from moto import backends

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules


# -------------------------------------------------------------------------------------- jsonpath
def patch_jsonpath() -> None:
    """Parse each JSONPath once, not at every evaluation.

    Gap: asl/utils/json_path.py:48 (`extract_json`, behind every `$.x` of Parameters,
    ItemSelector, intrinsic arguments and Choice variables) and
    asl/component/common/path/result_path.py:29 call jsonpath_ng's `parse`, which builds a new
    yacc parser, tables included, at each call: 29 ms and 7 ms of CPU. In a 100-wide foreach on
    the emulator this was a third of the server's CPU.
    Fix: memoise both `parse` names by path text. A parsed path is an immutable tree whose
    `find` and `update_or_create` leave it as it is, so one can serve every thread.
    """
    import functools

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    for module in (json_path, result_path):
        module.parse = functools.lru_cache(maxsize=4096)(module.parse)


# ------------------------------------------------------------------------------------------ poll
def patch_poll(seconds: float) -> None:
    """Poll a `.sync` job every `seconds` (0.1) instead of 0.5 s.

    Gap: SFN_TASK/state_task_service_callback.py:49, `_DELAY_SECONDS_SYNC_CONDITION_CHECK = 0.5`
    (read as a module global at each poll, line 146) adds up to 0.5 s to every Batch task.
    Each poll is one DescribeJobs HTTP call, so do not go much lower with wide Maps.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as cb,
    )

    cb._DELAY_SECONDS_SYNC_CONDITION_CHECK = seconds


# ----------------------------------------------------------------------------------------- retry
def patch_retry(scale: float) -> None:
    """Multiply every ASL Retry wait by `scale`: with 0.01, `IntervalSeconds: 60` takes 0.6 s.

    Gap: stepfunctions/parser/asl/component/common/retry/retrier_decl.py:107 really sleeps the
    computed wait (IntervalSeconds * BackoffRate^n, capped by MaxDelaySeconds, jittered), so a
    retrier with IntervalSeconds 60 costs a test a minute. Only that module's `time` is swapped;
    the order and number of attempts, the history and the jitter are unchanged, only shorter.
    """
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    real_sleep = time.sleep
    retrier_decl.time = types.SimpleNamespace(sleep=lambda seconds: real_sleep(seconds * scale))


# ------------------------------------------------------------------------------------------ dmap
def patch_dmap() -> None:
    """Fail a Distributed Map whose failed children exceed its tolerated failures.

    Gap: stepfunctions/parser/asl/component/state/exec/state_map/iteration/itemprocessor/
    distributed_item_processor_worker.py:84-87, 109-123 counts failed children but nothing
    compares the count with ToleratedFailureCount/Percentage, so the Map SUCCEEDS with `null`
    results, even with ToleratedFailurePercentage 0.0.
    Fix: after DistributedIterationComponent._map_run (distributed_iteration_component.py:101),
    raise States.ExceedToleratedFailureThreshold as AWS does; _eval_body (line 154) already turns
    that into MapRunFailed and a failed Map state. moto stores an absent tolerance as 0, so 0
    means "not set": with neither set, any failure fails the Map; with one or both set,
    exceeding either fails it.
    """
    from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, HistoryEventType
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
        FailureEvent,
        FailureEventException,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
        StatesErrorName,
    )
    from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
        StatesErrorNameType,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
        distributed_iteration_component as dic,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    original = dic.DistributedIterationComponent._map_run

    def _map_run(self: Any, env: Any, eval_input: Any) -> None:
        original(self, env, eval_input)
        record = eval_input.map_run_record
        failed = record.item_counter.failed.get() + record.item_counter.timed_out.get()
        total = max(record.item_counter.total.get(), 1)
        count, pct = record.tolerated_failure_count, record.tolerated_failure_percentage
        over_count = bool(count) and failed > count
        over_pct = bool(pct) and 100.0 * failed / total > pct
        if failed and (over_count or over_pct or not (count or pct)):
            typ = StatesErrorNameType.StatesExceedToleratedFailureThreshold
            details = ExecutionFailedEventDetails(
                error=typ.to_name(), cause="The specified tolerated failure threshold was exceeded"
            )
            raise FailureEventException(FailureEvent(
                env=env,
                error_name=StatesErrorName(typ=typ),
                event_type=HistoryEventType.ExecutionFailed,
                event_details=EventDetails(executionFailedEventDetails=details),
            ))

    dic.DistributedIterationComponent._map_run = _map_run


# ---------------------------------------------------------------------------------------- events
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_.-]+)>")


def _event_path(event: Any, path: str) -> Any:
    """An input path in dot notation (all that EventBridge's input paths use); None if absent."""
    node = event
    for part in path.removeprefix("$").split(".")[1:]:
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def transform_input(transformer: dict[str, Any], event: dict[str, Any], rule: str) -> str:
    """EventBridge's InputTransformer as AWS documents it: a placeholder outside quotes
    becomes the value as JSON (a string gets its quotes); inside a quoted string, the value
    itself. moto's own EventTemplateParser (events/utils.py:96-124) inserts every string raw,
    so `{"a": <a>}` with a string value is not JSON there."""
    values = {key: _event_path(event, path)
              for key, path in (transformer.get("InputPathsMap") or {}).items()}
    values.update({"aws.events.event.json": event, "aws.events.rule-name": rule})
    template = transformer["InputTemplate"]
    out, in_string, i = [], False, 0
    while i < len(template):
        char = template[i]
        match = _PLACEHOLDER.match(template, i)
        if match and match.group(1) in values:
            value = values[match.group(1)]
            if in_string:
                text = value if isinstance(value, str) else json.dumps(value)
                out.append(json.dumps(text)[1:-1])
            else:
                out.append(json.dumps(value))
            i = match.end()
            continue
        if char == "\\" and in_string:
            out.append(template[i:i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    return "".join(out)


def patch_events() -> None:
    """Deliver EventBridge events to Step Functions targets.

    Gap: events/models.py:140-202, `Rule.send_to_targets` knows log groups, archives, SQS,
    event buses and API destinations, and raises NotImplementedError for any other target, so
    a PutEvents that matches a rule whose target is a state machine answers HTTP 500, and no
    execution starts.
    Fix: for a `states` target of an enabled rule with a pattern that matches (moto's own
    matcher; a schedule's rule, without one, matches no event as on AWS),
    start an execution of the state machine, named with a fresh uuid as EventBridge does, with
    the target's Input, or its InputTransformer applied with AWS's quoting rules
    (`transform_input`), or else the event itself. Other targets go to moto's code as before.
    """
    import uuid

    from moto.events import models
    from moto.stepfunctions.responses import get_backend
    from moto.utilities.arns import parse_arn

    original = models.Rule.send_to_targets

    def send_to_targets(self: Any, original_event: Any, transform_input_: bool = True) -> None:
        machines = [t for t in self.targets if parse_arn(t["Arn"]).service == "states"]
        others = [t for t in self.targets if t not in machines]
        # A schedule's rule has no pattern, which moto's matcher takes as "match anything":
        # on AWS it matches no event.
        matching = bool(self.event_pattern.get_pattern()) and self.event_pattern.matches_event(
            original_event)
        if machines and self.state == "ENABLED" and matching:
            event = dict(original_event)
            if isinstance(event.get("time"), int | float):  # AWS sends ISO-8601 text
                event["time"] = datetime.utcfromtimestamp(event["time"]).strftime(
                    "%Y-%m-%dT%H:%M:%SZ")
            for target in machines:
                if "Input" in target:
                    text = target["Input"]
                elif "InputTransformer" in target:
                    text = transform_input(target["InputTransformer"], event, self.name)
                else:
                    text = json.dumps(event)
                arn = parse_arn(target["Arn"])
                get_backend(arn.account, arn.region).start_execution(
                    target["Arn"], name=str(uuid.uuid4()), execution_input=text)
        if others:
            kept = self.targets
            self.targets = others
            try:
                original(self, original_event, transform_input_)
            finally:
                self.targets = kept

    models.Rule.send_to_targets = send_to_targets


# ---------------------------------------------------------------------------------- statusevents
STATUS_CHANGE = "Step Functions Execution Status Change"


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def status_change_detail(execution: Any, program_state: Any) -> dict[str, Any]:
    """The event's detail as AWS documents it (epoch-millisecond dates, input and output as
    JSON text; error and cause of a failure, or those given to StopExecution)."""
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    error, cause = execution.error, execution.cause
    if status == "ABORTED":
        error, cause = getattr(program_state, "error", None), getattr(program_state, "cause", None)
    return {
        "executionArn": execution.exec_arn, "stateMachineArn": execution.state_machine.arn,
        "name": execution.name, "status": status,
        "startDate": _millis(execution.start_date), "stopDate": _millis(execution.stop_date),
        "input": json.dumps(execution.input_data), "inputDetails": {"included": True},
        "output": None if status != "SUCCEEDED" else json.dumps(execution.output),
        "outputDetails": {"included": True} if status == "SUCCEEDED" else None,
        "error": error, "cause": cause,
    }


def patch_statusevents() -> None:
    """Send Step Functions' "Execution Status Change" event when an execution ends.

    Gap: stepfunctions/parser/backend/execution.py:90-91, `terminated()` only copies the end
    into the execution: nothing reaches EventBridge, so a rule on `aws.states` never fires.
    Fix: after it, for a STANDARD execution (AWS sends none for Express ones), put the event on
    the default bus of the execution's account and region, as AWS does; moto's put_events
    matches the rules and the `events` patch starts the state machines they target. A failure
    to send is printed, never raised into the execution's thread.
    """
    from moto.events.models import events_backends
    from moto.stepfunctions.parser.backend import execution as ex

    original = ex.BaseExecutionWorkerCommunication.terminated

    def terminated(self: Any) -> None:
        original(self)
        execution = self.execution
        if str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
            return
        try:
            detail = status_change_detail(execution, execution.exec_worker.env.program_state())
            stopped = execution.stop_date.timestamp() if execution.stop_date else time.time()
            events_backends[execution.account_id][execution.region_name].put_events([{
                "Source": "aws.states", "DetailType": STATUS_CHANGE, "Detail": json.dumps(detail),
                "Resources": [execution.exec_arn], "Time": stopped}])
        except Exception as exc:  # the execution has ended either way
            print(f"[moto_sfn] status change event of {execution.exec_arn}: {exc!r}",
                  file=sys.stderr, flush=True)

    ex.BaseExecutionWorkerCommunication.terminated = terminated


# ------------------------------------------------------------------------------------------ main
def moto_problem() -> str | None:
    """Why the server cannot start here (moto missing or another version), or None."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        found = version("moto")
    except PackageNotFoundError:
        return f"moto[server]=={MOTO_VERSION} is not installed"
    if found != MOTO_VERSION:
        return (f"dev-aws patches moto {MOTO_VERSION} source, found moto {found}: re-check "
                "every patch against the new source before changing the pin")
    try:
        import flask  # noqa: F401  (moto[server]'s extra: without it there is no server)
    except ImportError:
        return "moto is installed without its [server] extra (flask is missing)"
    return None


def apply_patches(port: int, job_log_dir: Path, sync_poll: float, retry_scale: float) -> JobRunner:
    from sfncompile.devaws.redrive import patch_redrive

    runner = JobRunner(f"http://{HOST}:{port}", job_log_dir)
    patch_sdk()
    patch_batch(runner)
    patch_multinode()
    patch_s3_conditional()
    patch_batchfix()
    patch_terminate(runner)
    patch_sync()
    patch_poll(sync_poll)
    patch_batchwait(BATCH_WAIT_BACKSTOP_SECONDS)
    patch_jsonpath()
    patch_routes()
    patch_retry(retry_scale)
    patch_dmap()
    patch_events()
    patch_redrive()
    patch_statusevents()
    return runner


def deploy_environment(url: str) -> dict[str, str]:
    """What to export so that boto3 and `sfncompile deploy` use this server."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "SFNCOMPILE_S3_ROOT": f"s3://{DEV_NAME}/runs",
        "SFNCOMPILE_JOB_QUEUE": DEV_NAME,
        "SFNCOMPILE_IMAGE": "python:3.12",  # jobs run this machine's python3 instead
        "SFNCOMPILE_SFN_ROLE": ROLE_ARN,
        "SFNCOMPILE_EVENTS_ROLE": ROLE_ARN,
    }


def _post_config(url: str) -> None:
    body = json.dumps(ENGINE_CONFIG).encode()
    request = urllib.request.Request(f"{url}/moto-api/config", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10):
        pass


def _wait_for(url: str, server: threading.Thread) -> bool:
    while server.is_alive():
        try:
            with urllib.request.urlopen(f"{url}/moto-api/config", timeout=2):
                return True
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    return False


def _create_resources(url: str) -> None:
    """The bucket of SFNCOMPILE_S3_ROOT and the job queue of SFNCOMPILE_JOB_QUEUE."""
    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                            region_name=REGION)
    session.client("s3", endpoint_url=url).create_bucket(Bucket=DEV_NAME)
    role = session.client("iam", endpoint_url=url).create_role(RoleName=f"batch-{DEV_NAME}",
                                     AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    batch = session.client("batch", endpoint_url=url)
    ce = batch.create_compute_environment(computeEnvironmentName=DEV_NAME, type="UNMANAGED",
                                          serviceRole=role)["computeEnvironmentArn"]
    batch.create_job_queue(jobQueueName=DEV_NAME, state="ENABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])


def _set_up(url: str, server: threading.Thread) -> None:
    """Configure the running server, create the resources, print the environment."""
    if not _wait_for(url, server):
        return
    _post_config(url)
    _create_resources(url)
    lines = [f"export {k}={v}" for k, v in deploy_environment(url).items()]
    print("\n".join(lines), flush=True)
    print(f"{READY} on {url}: export the lines above in another shell; Ctrl-C stops it",
          file=sys.stderr, flush=True)


def serve(port: int = DEFAULT_PORT, job_log_dir: Path | None = None,
          sync_poll: float = DEFAULT_SYNC_POLL_SECONDS,
          retry_scale: float = DEFAULT_RETRY_SCALE, access_log: bool = False) -> None:
    """Run the patched server until Ctrl-C or SIGTERM; never returns."""
    problem = moto_problem()
    if problem:
        raise RuntimeError(problem)
    log_dir = job_log_dir or Path(tempfile.mkdtemp(prefix="sfncompile-dev-aws-jobs-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    # The engine calls S3 and Batch back at http://localhost:$MOTO_PORT
    # (stepfunctions/parser/asl/utils/boto_client.py:20, settings.py:120; default 5000), and
    # moto.server.main only sets it when unset (server.py:61-62): always set it here.
    os.environ["MOTO_PORT"] = str(port)
    # A job runs `python3 ...`: let that be this interpreter, which has boto3.
    os.environ["PATH"] = os.pathsep.join([str(Path(sys.executable).parent),
                                          os.environ.get("PATH", "")])
    runner = apply_patches(port, log_dir, sync_poll, retry_scale)

    import moto
    from moto.server import main as moto_main

    # werkzeug logs each request at INFO: thousands of lines in a wide foreach, and a tenth of
    # the server's CPU.
    logging.getLogger("werkzeug").setLevel(logging.INFO if access_log else logging.WARNING)
    url = f"http://{HOST}:{port}"
    print(f"sfncompile dev-aws: moto {moto.__version__} on {url}, Batch job logs in {log_dir}",
          file=sys.stderr, flush=True)
    threading.Thread(target=_set_up, args=(url, threading.current_thread()), daemon=True,
                     name="dev-aws-setup").start()
    code = 1
    try:
        moto_main(["-H", HOST, "-p", str(port)])
    except SystemExit as exc:
        # 0: moto's SIGTERM/SIGINT handler (server.py:20-21); 1: werkzeug found the port taken
        # and said so.
        code = exc.code if isinstance(exc.code, int) else 1
        if code:
            print(f"error: cannot serve on {url}; choose another port with --port",
                  file=sys.stderr)
    finally:
        runner.kill_all()
        sys.stdout.flush()
        sys.stderr.flush()
    # All state is in memory: skip the interpreter's teardown (1-2 s of garbage collection
    # over moto's modules) so that stopping stays quick.
    os._exit(code)
