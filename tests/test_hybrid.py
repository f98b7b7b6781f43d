"""Hybrid runs on moto's server: a local run with an S3 datastore sends its `@batch` step to
AWS Batch (moto's Batch runs the job's command as a process, see tests/moto_sfn) and runs the
other steps locally; its artifacts equal a fully local run's.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deployment import Deployment
from tests.flows import end_data, run_local

FLOW = '''
import os

from sfncompile import FlowSpec, Parameter, batch, step

SIDE_LOG = {log!r}


def record(what):
    with open(SIDE_LOG, "a") as f:
        f.write(f"{{what}} {{os.environ.get('AWS_BATCH_JOB_ID', 'local')}}\\n")


class HybridFlow(FlowSpec):
    n = Parameter("n", default=3, type=int)

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
        self.squares = [i * i for i in self.items]
        self.next(self.end)

    @step
    def end(self):
        record("end")
        self.total = sum(self.squares)
'''


def test_batch_step_runs_as_a_batch_job_and_the_rest_locally(
        deployment: Deployment, s3_env: None, tmp_path: Path) -> None:
    d = deployment
    log = tmp_path / "side.log"
    source = tmp_path / "flow"
    source.mkdir()
    flow = source / "flow.py"
    flow.write_text(FLOW.format(log=str(log)), encoding="utf-8")
    (source / "sfncompile.toml").write_text(f'job_queue = "{d.queue}"\nimage = "python:3.12"\n',
                                            encoding="utf-8")

    hybrid = d.cli("run", str(flow), "--datastore-root", d.root, "--param", "n=4")
    assert hybrid.returncode == 0, hybrid.stderr + d.sfn.job_logs()[-3000:]
    pathspec = hybrid.stdout.strip().splitlines()[-1]
    where = dict(line.split(" ") for line in log.read_text().splitlines())
    assert where["start"] == where["end"] == "local"
    job_id = where["heavy"]
    assert f"heavy/0: AWS Batch job {job_id} SUCCEEDED" in hybrid.stderr
    assert "start/0: AWS Batch job" not in hybrid.stderr

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


pytestmark = pytest.mark.slow
