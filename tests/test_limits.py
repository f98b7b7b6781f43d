"""AWS limits are enforced at build time with a clear error, never as bad output."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sfncompile.emit.names import MAX_STATE_NAME


def linear_flow(steps: int, name_length: int = 4, env_size: int = 0) -> str:
    names = ["start"] + [f"s{i:0{name_length - 1}d}" for i in range(1, steps)] + ["end"]
    env = f'@environment(vars={{"BIG": "{"x" * env_size}"}})\n    ' if env_size else ""
    out = ["from sfncompile import FlowSpec, environment, step", "", "",
           "class LimitFlow(FlowSpec):"]
    for here, there in itertools.pairwise(names):
        out += [f"    {env if here == 'start' else ''}@step", f"    def {here}(self):",
                f"        self.next(self.{there})", ""]
    out += ["    @step", "    def end(self):", "        pass", ""]
    return "\n".join(out)


def build(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    flow = tmp_path / "flow.py"
    flow.write_text(source)
    return subprocess.run([sys.executable, "-m", "sfncompile", "build", str(flow)],
                          capture_output=True, text=True)


def test_long_step_names_give_short_unique_state_names(tmp_path: Path) -> None:
    proc = build(tmp_path, linear_flow(3, name_length=100))
    assert proc.returncode == 0, proc.stderr
    names = list(json.loads(proc.stdout)["States"])
    assert all(len(n) <= MAX_STATE_NAME for n in names)
    assert len(set(names)) == len(names) == 8  # 4 steps, Init run and the failure path (3)
    assert any("~" in n for n in names)  # shortened with a hash suffix


def test_batch_job_name_limit(tmp_path: Path) -> None:
    proc = build(tmp_path, linear_flow(3, name_length=130))
    assert proc.returncode == 2
    assert "the Batch job name 'LimitFlow-s" in proc.stderr
    assert "at most 128 characters of letters, digits, - and _" in proc.stderr


def test_container_overrides_limit(tmp_path: Path) -> None:
    proc = build(tmp_path, linear_flow(3, env_size=9000))
    assert proc.returncode == 2
    assert "step 'start': its container overrides (environment and resources) take" in proc.stderr
    assert "AWS Batch allows 8192" in proc.stderr


def test_definition_size_limit(tmp_path: Path) -> None:
    proc = build(tmp_path, linear_flow(1400))
    assert proc.returncode == 2
    assert "the state machine definition is" in proc.stderr
    assert "Step Functions allows 1048576" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_express_machines_are_refused(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(linear_flow(2))
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "deploy", str(flow), "--type",
                           "EXPRESS", "--dry-run"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "the AWS Batch .sync integration that runs every step needs a STANDARD" in proc.stderr


# The largest linear flow (`linear_flow`: start, s001, s002, ..., end) that `build` accepts;
# README ("Limits") states it. It depends on the ASL per task, so it moves with the emitter.
LARGEST_LINEAR_FLOW = 1130
# The longest values AWS allows for the placeholders (partition aws-us-gov, a long region,
# names at their limits), written out here independently of the compiler's own table.
_HEAD = "arn:aws-us-gov:batch:" + "r" * 20 + ":123456789012:"
LONGEST_ARNS = {"JobQueue": _HEAD + "job-queue/" + "q" * 128,
                "JobDefinition": _HEAD + "job-definition/" + "d" * 128 + ":2147483647",
                # where the run records itself: a 63-character bucket, a 1,024-byte key
                "S3Bucket": "b" * 63, "S3KeyPrefix": "p" * 1_023 + "/",
                # the `run failed` event's bus and project: no tighter bound than an ARN's
                "EventBus": "x" * 2_048, "ProjectName": "x" * 2_048,
                "ProjectBranch": "x" * 2_048}


def test_largest_linear_flow_fits_as_deployed_and_one_more_step_is_refused() -> None:
    from sfncompile.emit import compile_asl
    from sfncompile.emit.render import render_compact, resolve
    from sfncompile.errors import FlowErrors
    from sfncompile.parser import parse_source

    definition = compile_asl(parse_source(linear_flow(LARGEST_LINEAR_FLOW - 1), "flow.py"))
    # and Init run, and the failure path's three
    assert len(definition["States"]) == LARGEST_LINEAR_FLOW + 4
    sent = render_compact(resolve(definition, LONGEST_ARNS))
    assert sent.count("${") == 0  # (a count: a diff of 1 MiB of text would take minutes)
    assert 1_048_576 - 2_000 < len(sent.encode()) < 1_048_576  # the largest: one more won't fit
    with pytest.raises(FlowErrors) as info:
        compile_asl(parse_source(linear_flow(LARGEST_LINEAR_FLOW), "flow.py"))
    [error] = info.value.errors
    assert "the state machine definition is" in error.message
    assert "as deploy sends it" in error.message
    assert "Step Functions allows 1048576" in error.message
