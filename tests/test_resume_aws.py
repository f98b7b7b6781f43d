"""Resuming a Step Functions run, on moto's server: the execution fails at step `fragile`; once
the code is fixed it is resumed on the laptop (from its S3 datastore) and, after a deploy of
the fix, on Step Functions (`resume --on-aws`). In both, the steps before `fragile` are cloned,
never executed again (each step appends a line to a side-effect log), and the result equals a
clean run's.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.deployment import Deployment
from tests.flows import end_data, run_local

FLOW = '''
from sfncompile import FlowSpec, current, step

BROKEN = {broken}
SIDE_LOG = {log!r}


def record(what):
    with open(SIDE_LOG, "a") as f:
        f.write(f"{{current.run_id}} {{what}}\\n")


class ResumeAwsFlow(FlowSpec):
    @step
    def start(self):
        record("start")
        self.items = [3, 4]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        record(f"square {{self.index}}")
        self.sq = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        record("join")
        self.squares = [i.sq for i in inputs]
        self.next(self.fragile)

    @step
    def fragile(self):
        record("fragile")
        if BROKEN:
            raise RuntimeError("fragile is broken")
        self.total = sum(self.squares)
        self.origin = current.origin_run_id
        self.next(self.end)

    @step
    def end(self):
        record("end")
'''
NAME = "ResumeAwsFlow"
BEFORE = ["start", "square 0", "square 1", "join"]
AFTER = ["fragile", "end"]


def write_flow(where: Path, log: Path, broken: bool) -> Path:
    flow = where / "flow.py"
    flow.write_text(FLOW.format(broken=broken, log=str(log)), encoding="utf-8")
    return flow


def executed(log: Path, run_id: str) -> Counter[str]:
    lines = log.read_text().splitlines()
    return Counter(line.split(" ", 1)[1] for line in lines if line.split(" ")[0] == run_id)


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def test_failed_execution_resumes_locally_and_on_aws(deployment: Deployment, s3_env: None,
                                                     tmp_path: Path) -> None:
    d = deployment
    log = tmp_path / "side.log"
    source = tmp_path / "flow"
    source.mkdir()
    flow = write_flow(source, log, broken=True)
    run_id, desc = d.run(flow, NAME)
    assert desc["status"] == "FAILED", desc
    assert executed(log, run_id) == Counter([*BEFORE, "fragile"])
    no_source = d.cli("resume", f"{NAME}/{run_id}", "--datastore-root", d.root)
    assert no_source.returncode == 2, no_source.stderr
    assert (f"error: {NAME}/{run_id} records no flow file (it ran on Step Functions): give "
            "the flow's source with --flow-file FLOW.py") in no_source.stderr

    write_flow(source, log, broken=False)  # the fix
    clean = run_local(flow, str(tmp_path / "clean"))
    assert clean.returncode == 0, clean.stderr
    expected = end_data(str(tmp_path / "clean"), last_line(clean.stdout))
    assert expected["total"] == 25

    # On the laptop: the tasks before `fragile` come from the execution's S3 datastore.
    local = d.cli("resume", f"{NAME}/{run_id}", "--flow-file", str(flow),
                  "--datastore-root", d.root, "--max-workers", "2")
    assert local.returncode == 0, local.stderr
    assert f"Resuming {NAME}/{run_id} from step 'fragile'" in local.stderr
    assert local.stderr.count("reused from the original run") == len(BEFORE)
    local_run = last_line(local.stdout)
    assert executed(log, local_run.split("/")[1]) == Counter(AFTER)
    assert end_data(d.root, local_run) == {**expected, "origin": run_id}

    # On Step Functions: deploy the fix, then a new execution reuses the finished tasks.
    d.deploy(flow)
    remote = d.cli("resume", f"{NAME}/{run_id}", "--flow-file", str(flow), "--on-aws",
                   "--datastore-root", d.root)
    assert remote.returncode == 0, remote.stderr
    new_run = last_line(remote.stdout).split("/")[1]
    desc = d.wait(NAME, new_run)
    assert desc["status"] == "SUCCEEDED", (desc, d.sfn.job_logs()[-4000:])
    assert json.loads(desc["input"])["__sfncompile_resume"] == {
        # every step: each task the origin committed is reused (none of fragile's or after)
        "origin_run": run_id, "steps": ["start", "square", "join", "fragile", "end"]}
    assert executed(log, new_run) == Counter(AFTER)
    assert end_data(d.root, f"{NAME}/{new_run}") == {**expected, "origin": run_id}
    from sfncompile import client

    client.set_datastore_root(d.root)
    try:
        run = client.Run(f"{NAME}/{new_run}")
        assert run.params == {}  # the resume request is no parameter
        for step in ("start", "square", "join"):
            for task in run[step].tasks():
                assert (task.origin_pathspec or "").startswith(f"{NAME}/{run_id}/{step}/"), task
    finally:
        client.set_datastore_root(None)


def test_resume_refuses_what_it_cannot_do(deployment: Deployment) -> None:
    d = deployment
    proc = d.cli("resume", f"{NAME}/no-such-run", "--datastore-root", d.root, "--on-aws")
    assert proc.returncode == 2
    assert f"error: no run {NAME}/no-such-run under {d.root}" in proc.stderr
    proc = d.cli("resume", f"{NAME}/r1", "--name", "Other")
    assert proc.returncode == 2
    assert "error: --name: only with --on-aws" in proc.stderr
    proc = d.cli("resume", f"{NAME}/r1", "--on-aws", "--with", "retry", "--datastore-root", d.root)
    assert proc.returncode == 2
    assert "error: --with: not with --on-aws" in proc.stderr
    proc = d.cli("resume", f"{NAME}/r1", "--on-aws")  # a local root and no s3_root setting
    assert proc.returncode == 2
    assert "error: --on-aws: the run's tasks are on S3" in proc.stderr
    assert "Traceback" not in proc.stderr


pytestmark = pytest.mark.slow
