"""Which steps a local run sends to AWS Batch, and when it says it cannot (no AWS involved), and
how the runtime reads a resume request: the fast half of tests/test_hybrid.py and
tests/test_resume_aws.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from sfncompile.conventions.input_keys import RESUME_INPUT_KEY
from sfncompile.local.hybrid import plan_remote_steps, runs_on_batch
from sfncompile.parser.flow_parser import parse_flow
from sfncompile.runtime.reuse import ResumeError, split_input

FLOW = '''
from sfncompile import FlowSpec, batch, resources, step


class PlanFlow(FlowSpec):
    @resources(cpu=2)
    @step
    def start(self):
        self.next(self.heavy)

    @batch
    @step
    def heavy(self):
        self.next(self.gpu)

    @batch(gpu=1, queue="gpu")
    @step
    def gpu(self):
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.fixture
def flow_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("JOB_QUEUE", "IMAGE", "S3_ROOT"):
        monkeypatch.delenv(f"SFNCOMPILE_{name}", raising=False)
    path = tmp_path / "flow.py"
    path.write_text(FLOW, encoding="utf-8")
    return path


def test_only_steps_with_batch_run_on_batch(flow_file: Path) -> None:
    flow = parse_flow(flow_file)
    assert {s.name: runs_on_batch(s) for s in flow.steps} == {
        "start": False, "heavy": True, "gpu": True, "end": False}


def test_batch_steps_stay_local_with_a_local_datastore(flow_file: Path) -> None:
    said: list[str] = []
    flow = parse_flow(flow_file)
    assert plan_remote_steps(flow, flow_file, str(flow_file.parent / "store"), said.append) is None
    assert said == ["note: @batch steps heavy, gpu run locally: the datastore is local (an "
                    "s3:// --datastore-root sends them to AWS Batch)"]
    said.clear()
    assert plan_remote_steps(flow, flow_file, "s3://bucket/runs", said.append) is None
    assert said == ["note: @batch steps heavy, gpu run locally: set job_queue and image "
                    "(deployment settings) to send them to AWS Batch"]
    said.clear()
    (flow_file.parent / "sfncompile.toml").write_text('image = "python:3.12"\n')
    assert plan_remote_steps(flow, flow_file, "s3://bucket/runs", said.append,
                             every_step=True) is None
    assert said == ["note: @batch steps start, heavy, gpu, end run locally: set job_queue "
                    "(deployment settings) to send them to AWS Batch"]


def test_a_flow_without_batch_steps_says_nothing(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text(FLOW.replace("@batch(gpu=1, queue=\"gpu\")", "").replace("@batch", ""))
    said: list[str] = []
    assert plan_remote_steps(parse_flow(path), path, "s3://bucket/runs", said.append) is None
    assert said == []


def test_resume_request_in_the_execution_input() -> None:
    params = {"x": 1, RESUME_INPUT_KEY: {"origin_run": "r1", "steps": ["start"]}}
    assert split_input(params) == ({"x": 1}, {"origin_run": "r1", "steps": ["start"]})
    assert split_input({"x": 1}) == ({"x": 1}, None)
    for bad in ("r1", {"origin_run": 1, "steps": []}, {"origin_run": "r1"}):
        with pytest.raises(ResumeError, match=RESUME_INPUT_KEY):
            split_input({RESUME_INPUT_KEY: bad})
