"""Hybrid runs on moto's server: a local run with an S3 datastore sends its `@batch` step to
AWS Batch (moto's Batch runs the job's command as a process, see sfncompile/devaws) and runs the
other steps locally; its artifacts equal a fully local run's.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deployment import Deployment
from tests.flows import default_sigint, end_data, run_local, wait_for

FLOW = '''
import os
import time

from sfncompile import FlowSpec, Parameter, batch, step

SIDE_LOG = {log!r}


def record(what):
    with open(SIDE_LOG, "a") as f:
        f.write(f"{{what}} {{os.environ.get('AWS_BATCH_JOB_ID', 'local')}}\\n")


class HybridFlow(FlowSpec):
    n = Parameter("n", default=3, type=int)
    nap = Parameter("nap", default=0, type=int)

    @step
    def start(self):
        record("start")
        self.items = list(range(self.n))
        self.next(self.heavy)

    @batch(cpu=1, memory=512)
    @step
    def heavy(self):
        record("heavy")
        print("heavy is running")
        time.sleep(self.nap)
        self.squares = [i * i for i in self.items]
        self.next(self.end)

    @step
    def end(self):
        record("end")
        self.total = sum(self.squares)
'''


def write_flow(d: Deployment, where: Path, log: Path, batch: str = "cpu=1, memory=512") -> Path:
    source = where / "flow"
    source.mkdir()
    flow = source / "flow.py"
    flow.write_text(FLOW.format(log=str(log)).replace("cpu=1, memory=512", batch),
                    encoding="utf-8")
    (source / "sfncompile.toml").write_text(f'job_queue = "{d.queue}"\nimage = "python:3.12"\n',
                                            encoding="utf-8")
    return flow


def test_batch_step_runs_as_a_batch_job_and_the_rest_locally(
        deployment: Deployment, s3_env: None, tmp_path: Path) -> None:
    d = deployment
    log = tmp_path / "side.log"
    flow = write_flow(d, tmp_path, log)

    hybrid = d.cli("run", str(flow), "--datastore-root", d.root, "--param", "n=4")
    assert hybrid.returncode == 0, hybrid.stderr + d.sfn.job_logs()[-3000:]
    pathspec = hybrid.stdout.strip().splitlines()[-1]
    where = dict(line.split(" ") for line in log.read_text().splitlines())
    assert where["start"] == where["end"] == "local"
    job_id = where["heavy"]
    assert f"heavy/1-0: AWS Batch job {job_id} SUCCEEDED" in hybrid.stderr
    assert "start/0-0: AWS Batch job" not in hybrid.stderr

    batch = d.sfn.client("batch")
    listed = batch.list_jobs(jobQueue=d.queue, jobStatus="SUCCEEDED")["jobSummaryList"]
    assert job_id in {j["jobId"] for j in listed}
    job = batch.describe_jobs(jobs=[job_id])["jobs"][0]
    assert job["jobName"] == "HybridFlow-heavy"
    assert job["parameters"]["step"] == "heavy"
    assert job["parameters"]["run"] == pathspec.split("/")[1]
    # The job definition is deploy's, found by the same name.
    assert ":job-definition/HybridFlow:" in job["jobDefinition"]

    logs = d.cli("logs", f"{pathspec}/heavy", "--datastore-root", d.root)
    assert logs.returncode == 0, logs.stderr
    assert "heavy is running" in logs.stdout

    local_root = str(tmp_path / "local")
    local = run_local(flow, local_root, {"n": "4"})
    assert local.returncode == 0, local.stderr
    assert "note: @batch step heavy runs locally: the datastore is local" in local.stderr
    expected = end_data(local_root, local.stdout.strip().splitlines()[-1])
    assert expected["total"] == 14
    assert end_data(d.root, pathspec) == expected



def test_a_batch_end_step_leaves_the_run_end_to_the_local_runner(
        deployment: Deployment, s3_env: None, tmp_path: Path) -> None:
    """With `end` in AWS Batch, the local runner still drives the run: the on_success hooks
    run once (by the runner), and no finish event is published, as for any local run."""
    d = deployment
    log = tmp_path / "side.log"
    flow = write_flow(d, tmp_path, log)
    source = flow.read_text(encoding="utf-8")
    source = source.replace("from sfncompile import FlowSpec, Parameter, batch, step",
                            "from sfncompile import FlowSpec, Parameter, batch, exit_hook, step")
    source = source.replace("class HybridFlow(FlowSpec):",
                            "def finished():\n    record('hook')\n\n\n"
                            "@exit_hook(on_success=[finished])\nclass HybridFlow(FlowSpec):")
    source = source.replace("    @step\n    def end(self):", "    @batch(cpu=1, memory=512)\n"
                            "    @step\n    def end(self):")
    flow.write_text(source, encoding="utf-8")
    sqs, events = d.sfn.client("sqs"), d.sfn.client("events")
    inbox = sqs.create_queue(QueueName=f"finish-{tmp_path.name[-20:]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])
    events.put_rule(Name=f"finish-{tmp_path.name[-20:]}",
                    EventPattern='{"source": ["sfncompile.run"]}')
    events.put_targets(Rule=f"finish-{tmp_path.name[-20:]}", Targets=[
        {"Id": "inbox", "Arn": arn["Attributes"]["QueueArn"]}])

    hybrid = d.cli("run", str(flow), "--datastore-root", d.root)
    assert hybrid.returncode == 0, hybrid.stderr + d.sfn.job_logs()[-3000:]
    where = [line.split(" ") for line in log.read_text().splitlines()]
    assert [w for w, _ in where].count("hook") == 1, where
    assert dict(where)["hook"] == "local" and dict(where)["end"] != "local"
    assert not sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=0).get("Messages")


def test_interrupting_a_hybrid_run_terminates_its_batch_jobs(deployment: Deployment,
                                                             tmp_path: Path) -> None:
    d = deployment
    flow = write_flow(d, tmp_path, tmp_path / "side.log")
    err = tmp_path / "stderr"
    with open(err, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "sfncompile", "run", str(flow),
                                 "--datastore-root", d.root, "--param", "nap=120"],
                                stdout=subprocess.PIPE, stderr=sink, text=True,
                                env=d.sfn.subprocess_env(), cwd=d.tmp,
                                preexec_fn=default_sigint)
    try:
        line = wait_for(lambda: next((x for x in err.read_text().splitlines()
                                      if x.startswith("heavy/1-0: AWS Batch job")
                                      and x.endswith(" RUNNING")), None), 60, "the job to run")
        job_id = line.split()[4]
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    finally:
        proc.kill()
    text = err.read_text()
    assert proc.returncode != 0 and "Traceback" not in text, text
    assert "Interrupted: running tasks were stopped" in text
    assert f"heavy/1-0: AWS Batch job {job_id} terminated" in text
    batch = d.sfn.client("batch")
    # The job's process is killed at TerminateJob; moto records the end as it exits.
    job = wait_for(lambda: next((j for j in batch.describe_jobs(jobs=[job_id])["jobs"]
                                 if j["status"] == "FAILED"), None), 30, "the job to stop")
    assert job["statusReason"] == "sfncompile: the local run was interrupted"



def test_a_job_that_batch_refuses_fails_its_task(deployment: Deployment, tmp_path: Path) -> None:
    d = deployment
    flow = write_flow(d, tmp_path, tmp_path / "side.log", batch='queue="no-such-queue"')
    proc = d.cli("run", str(flow), "--datastore-root", d.root)
    assert proc.returncode == 1, proc.stderr
    assert "heavy/1-0: FAILED (attempt 0, AWS Batch refused the job: " in proc.stderr
    assert "Traceback" not in proc.stderr


pytestmark = pytest.mark.slow
