"""sfncompile.client, `show` and `logs` on a run that is still going, then on the finished run.

The flow's `gate` step waits for a file that the test creates, so the run is held mid-way for
as long as the checks take.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from sfncompile import client
from sfncompile.exception import MetaflowNotFound
from tests.flows import wait_for

FLOW = """
    import os
    import sys
    import time

    from sfncompile import FlowSpec, Parameter, current, step


    class GateFlow(FlowSpec):
        block = Parameter("block", default=True, type=bool)

        @step
        def start(self):
            self.items = ["a", "b", "c"]
            print("start says hi")
            self.next(self.fan, foreach="items")

        @step
        def fan(self):
            self.x = self.input * (self.index + 1)
            print(f"fan {self.index} out")
            print(f"fan {self.index} err", file=sys.stderr)
            self.next(self.join)

        @step
        def join(self, inputs):
            self.xs = [i.x for i in inputs]
            self.next(self.gate)

        @step
        def gate(self):
            gate = os.environ["SFN_TEST_GATE"]
            deadline = time.time() + 60
            while self.block and not os.path.exists(gate) and time.time() < deadline:
                time.sleep(0.05)
            self.opened = os.path.exists(gate)
            self.next(self.end)

        @step
        def end(self):
            self.result = "".join(self.xs)
            print(f"result {self.result} in {current.run_id}")
"""


class Harness:
    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "store"
        self.flow = tmp / "flow.py"
        self.flow.write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")
        self.gate = tmp / "gate"
        self.env = os.environ | {"SFN_TEST_GATE": str(self.gate)}
        self.tmp = tmp

    def sfn(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sfncompile", *args,
                               "--datastore-root", str(self.root)],
                              capture_output=True, text=True, env=self.env, timeout=120)

    def start_run(self, *extra: str) -> subprocess.Popen[str]:
        out = (self.tmp / "run.out").open("w")
        err = (self.tmp / "run.err").open("w")
        with out, err:
            return subprocess.Popen([sys.executable, "-m", "sfncompile", "run", str(self.flow),
                                     "--datastore-root", str(self.root), "--max-workers", "2",
                                     *extra], stdout=out, stderr=err, text=True, env=self.env)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    client.set_datastore_root(str(h.root))
    yield h
    client.set_datastore_root(None)


def test_client_reads_a_run_in_progress_then_finished(harness: Harness) -> None:
    h = harness
    proc = h.start_run()
    try:
        def gate_started() -> client.Run | None:
            try:
                run = client.Flow("GateFlow").latest_run
            except MetaflowNotFound:  # no run yet, as Metaflow's Flow() says
                return None
            return run if run is not None and "gate" in run else None

        run = wait_for(gate_started, 60, "the gate step to start")
        pathspec = run.pathspec
        in_progress_checks(h, run)
        h.gate.touch()
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (h.tmp / "run.err").read_text()
    assert (h.tmp / "run.out").read_text().strip().splitlines()[-1] == pathspec

    # The same Run object, read again: nothing about it is cached from before.
    assert run.finished and run.successful
    assert run.data is not None
    assert run.data.result == "abbccc"
    assert run.data.opened is True
    end = run["end"].task
    assert end.stdout == f"result abbccc in {run.id}\n"
    assert end.stderr == ""
    assert run.end_task is not None and run.end_task.pathspec == end.pathspec

    shown = h.sfn("show", pathspec)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == f"{pathspec}: succeeded"
    assert "not committed" not in shown.stdout
    assert "  gate/3-0: ok (attempt 0)  block, opened, xs" in shown.stdout
    assert "  end/4-0: ok (attempt 0)  block, opened, result, xs" in shown.stdout

    logs = h.sfn("logs", f"{pathspec}/end/4-0", "--stdout")
    assert logs.returncode == 0, logs.stderr
    assert logs.stdout == f"result abbccc in {run.id}\n"

    # A second run is the newest one.
    second = h.sfn("run", str(h.flow), "--param", "block=false", "--max-workers", "2")
    assert second.returncode == 0, second.stderr
    newest = second.stdout.strip().splitlines()[-1]
    flow = client.Flow("GateFlow")
    assert [r.pathspec for r in flow.runs()] == [newest, pathspec]
    assert flow.latest_run is not None and flow.latest_run.pathspec == newest
    assert [r.pathspec for r in flow] == [newest, pathspec]
    assert client.Run(newest).data.block is False  # type: ignore[union-attr]


def in_progress_checks(h: Harness, run: client.Run) -> None:
    """What the client, `show` and `logs` say while `gate` is blocked."""
    pathspec = run.pathspec
    assert not run.finished and not run.successful
    assert run.data is None and run.end_task is None
    assert [r.pathspec for r in client.Flow("GateFlow").runs()] == [pathspec]
    assert run.params == {}
    assert "end" not in run

    # Finished tasks are readable with their data.
    start = run["start"].task
    assert start.data.items == ["a", "b", "c"]
    assert start.stdout == "start says hi\n"
    listed = run["fan"].tasks()  # newest first, as Metaflow lists them
    assert [t.created_at for t in listed] == sorted((t.created_at for t in listed), reverse=True)
    fans = sorted(listed, key=lambda t: t.index or 0)
    assert [(t.id, t.index) for t in fans] == [("1-0.0.0", 0), ("1-0.1.0", 1), ("1-0.2.0", 2)]
    assert [t["x"].data for t in fans] == ["a", "bb", "ccc"]
    assert sorted(t.data.x for t in run["fan"]) == ["a", "bb", "ccc"]
    assert fans[1].stdout == "fan 1 out\n"
    assert fans[1].stderr == "fan 1 err\n"
    assert fans[1].attempt == 0 and fans[1].successful and fans[1].finished
    assert fans[1].finished_at is not None and fans[1].created_at <= fans[1].finished_at
    assert fans[1]["x"].pathspec == f"{pathspec}/fan/1-0.1.0/x"
    join = run["join"].task
    assert join.data.xs == ["a", "bb", "ccc"]
    # a join gets only Parameters (and has the flow's name)
    assert join.artifact_names == ["block", "name", "xs"]
    assert "xs" in join and "x" not in join

    # The running task is listed, neither successful nor finished, with no data yet.
    gate = run["gate"]
    assert [t.id for t in gate.tasks()] == ["3-0"]
    assert gate.started_tasks() == ["3-0"]
    running = gate.task
    assert running is not None and running.id == "3-0"
    assert not running.successful and not running.finished and running.finished_at is None
    assert running.exception is None and running.artifact_names == []
    assert gate.finished_at is None
    assert gate["3-0"].stdout == ""  # logs are saved when the task ends

    shown = h.sfn("show", pathspec)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == f"{pathspec}: running"
    assert "  gate/3-0: not committed (running)" in lines
    assert "  fan/1-0.2.0: ok (attempt 0)  block, items, x" in lines
    assert "  start/0-0: ok (attempt 0)  block, items" in lines

    logs = h.sfn("logs", f"{pathspec}/fan")
    assert logs.returncode == 0, logs.stderr
    for i in range(3):
        assert (f"--- {pathspec}/fan/1-0.{i}.0 stdout\nfan {i} out\n"
                f"--- {pathspec}/fan/1-0.{i}.0 stderr\nfan {i} err\n") in logs.stdout
    only_err = h.sfn("logs", f"{pathspec}/fan/1-0.2.0", "--stderr")
    assert only_err.stdout == "fan 2 err\n"
