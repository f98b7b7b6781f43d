"""`sfncompile resume`: a failed run is fixed and resumed; the tasks before the failure are
cloned (never executed again), the failed step and everything after it run in the new run.

Every step appends a line to a side-effect file, so executions are counted, not inferred.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.datastore.storage import open_storage

WIDTH = 8

# `middle` fails while the marker file exists; the foreach before it gives many tasks to clone.
FLOW = """
    import os

    from sfncompile import FlowSpec, Parameter, current, step


    def record(what):
        with open(os.environ["SFN_TEST_SIDE_LOG"], "a") as f:
            f.write(f"{current.run_id} {current.origin_run_id} {what}\\n")


    class ResumeFlow(FlowSpec):
        width = Parameter("width", default=4, type=int)

        @step
        def start(self):
            record("start")
            self.items = list(range(self.width))
            self.next(self.square, foreach="items")

        @step
        def square(self):
            record(f"square {self.index}")
            self.sq = self.input * self.input
            self.next(self.join)

        @step
        def join(self, inputs):
            record("join")
            self.squares = [i.sq for i in inputs]
            self.next(self.middle)

        @step
        def middle(self):
            record("middle")
            if os.path.exists(os.environ["SFN_TEST_FAIL_MARKER"]):
                raise RuntimeError("middle fails while the marker file exists")
            self.total = sum(self.squares)
            self.next(self.end)

        @step
        def end(self):
            record("end")
            self.final = f"{self.width} squares sum to {self.total}"
"""

BEFORE = ["start", *(f"square {i}" for i in range(WIDTH)), "join"]
STEPS = ["start", "square", "join", "middle", "end"]  # graph order: a task id's step number


def tid(step: str, position: str) -> str:
    """The id of `step`'s task at `position` (sfncompile/conventions/task_ids.py)."""
    return f"{STEPS.index(step)}-{position}"
AFTER = ["middle", "end"]
FINAL = f"{WIDTH} squares sum to {sum(i * i for i in range(WIDTH))}"


class Setup:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.root = tmp / "store"
        self.flow = tmp / "flow.py"
        self.flow.write_text(textwrap.dedent(FLOW).lstrip(), encoding="utf-8")
        self.side_log = tmp / "side.log"
        self.marker = tmp / "fail"
        self.env = os.environ | {"SFN_TEST_SIDE_LOG": str(self.side_log),
                                 "SFN_TEST_FAIL_MARKER": str(self.marker)}

    def sfn(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sfncompile", *args,
                               "--datastore-root", str(self.root)],
                              capture_output=True, text=True, env=self.env, timeout=120)

    def executions(self, run: str) -> list[str]:
        """What each step recorded in `run` (a pathspec), in no particular order."""
        run_id = run.split("/")[1]
        lines = self.side_log.read_text().splitlines()
        return [line.split(" ", 2)[2] for line in lines if line.split(" ")[0] == run_id]

    def origins(self, run: str) -> set[str]:
        run_id = run.split("/")[1]
        lines = self.side_log.read_text().splitlines()
        return {line.split(" ")[1] for line in lines if line.split(" ")[0] == run_id}

    def done(self, run: str, step: str, task: str) -> dict[str, Any]:
        paths = sorted((self.root / run / step / task).glob("*/done.json"))
        assert len(paths) == 1, paths
        data: dict[str, Any] = json.loads(paths[0].read_text())
        return data


@pytest.fixture(scope="module")
def failed_and_resumed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[
        tuple[Setup, str, str]]:
    """A run that fails in `middle`, then the same run resumed after the fix."""
    s = Setup(tmp_path_factory.mktemp("resume"))
    s.marker.touch()
    failed = s.sfn("run", str(s.flow), "--max-workers", "2", "--param", f"width={WIDTH}")
    assert failed.returncode == 1, failed.stderr
    original = failed.stdout.strip().splitlines()[-1]
    assert "RuntimeError: middle fails while the marker file exists" in failed.stderr
    s.marker.unlink()  # the fix
    resumed = s.sfn("resume", original, "--max-workers", "2")
    assert resumed.returncode == 0, resumed.stderr
    new = resumed.stdout.strip().splitlines()[-1]
    assert f"Resuming {original} from step 'middle' as {new}" in resumed.stderr
    assert resumed.stderr.count("reused from the original run") == len(BEFORE)
    client.set_datastore_root(str(s.root))
    yield s, original, new
    client.set_datastore_root(None)


def test_failed_run_is_recorded_as_failed(failed_and_resumed: tuple[Setup, str, str]) -> None:
    s, original, _ = failed_and_resumed
    assert sorted(s.executions(original)) == sorted([*BEFORE, "middle"])
    run = client.Run(original)
    assert run.status == "failed" and not run.finished and not run.successful
    assert [(t.successful, t.finished) for t in run["middle"]] == [(False, False)]
    assert "end" not in run


def test_tasks_before_the_failure_are_not_executed_again(
        failed_and_resumed: tuple[Setup, str, str]) -> None:
    s, original, new = failed_and_resumed
    # Counted: the new run executed only the failed step and what follows.
    assert Counter(s.executions(new)) == Counter(AFTER)
    assert s.origins(new) == {original.split("/")[1]}
    # Timed: each cloned task keeps the original's timestamps and says where it came from.
    tasks = [("start", tid("start", "0")),
             *(("square", tid("square", f"0.{i}.0")) for i in range(WIDTH)),
             ("join", tid("join", "0"))]
    for step, task in tasks:
        old, cloned = s.done(original, step, task), s.done(new, step, task)
        assert (cloned["started"], cloned["finished"]) == (old["started"], old["finished"])
        assert cloned["artifacts"] == old["artifacts"]
        assert cloned["cloned_from"] == f"{original}/{step}/{task}/0"
    # The re-run steps started after the original run ended.
    last_original = max(s.done(original, step, task)["finished"] for step, task in tasks)
    for step in AFTER:
        done = s.done(new, step, tid(step, "0"))
        assert "cloned_from" not in done
        assert done["started"] > last_original
        assert done["origin_run_id"] == original.split("/")[1]


def test_resumed_run_has_the_right_results(failed_and_resumed: tuple[Setup, str, str]) -> None:
    _, _, new = failed_and_resumed
    run = client.Run(new)
    assert run.successful and run.finished
    assert run.data is not None
    assert run.data.final == FINAL
    assert run.data.squares == [i * i for i in range(WIDTH)]
    by_index = sorted(run["square"], key=lambda t: t.index or 0)  # listed newest first
    assert [t.data.sq for t in by_index] == [i * i for i in range(WIDTH)]
    assert run.params == {"width": str(WIDTH)}
    assert client.Flow("ResumeFlow").latest_successful_run.pathspec == new  # type: ignore[union-attr]


def test_resume_from_a_step_of_a_successful_run(
        failed_and_resumed: tuple[Setup, str, str]) -> None:
    s, _, succeeded = failed_and_resumed
    proc = s.sfn("resume", succeeded, "--from", "join", "--max-workers", "2")
    assert proc.returncode == 0, proc.stderr
    again = proc.stdout.strip().splitlines()[-1]
    assert f"from step 'join' as {again}" in proc.stderr
    assert Counter(s.executions(again)) == Counter(["join", *AFTER])
    run = client.Run(again)
    assert run.data is not None
    assert run.data.final == FINAL
    for i in range(WIDTH):
        old = s.done(succeeded, "square", tid("square", f"0.{i}.0"))
        assert s.done(again, "square", tid("square", f"0.{i}.0"))["started"] == old["started"]
    assert s.done(again, "join", tid("join", "0"))["started"] > \
        s.done(succeeded, "end", tid("end", "0"))["finished"]


def test_resume_needs_a_failed_step_or_from(failed_and_resumed: tuple[Setup, str, str]) -> None:
    s, _, succeeded = failed_and_resumed
    proc = s.sfn("resume", succeeded)
    assert proc.returncode == 2
    assert "has no failed step; say where to resume with --from STEP" in proc.stderr
    proc = s.sfn("resume", succeeded, "--from", "nosuch")
    assert proc.returncode == 2
    assert "--from 'nosuch': no such step" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_resume_reuses_the_successful_tasks_of_the_failed_step(tmp_path: Path) -> None:
    """Metaflow's resume clones every task that succeeded, the foreach siblings of the one
    that failed too, and runs only the failed and unfinished tasks."""
    flow = Path(__file__).parent / "parity" / "client_flows" / "failing_foreach.py"
    s = Setup(tmp_path)
    s.env["FAIL_ITEM"] = "1"  # item 1 fails; with one worker item 0 succeeded, 2 never ran
    failed = s.sfn("run", str(flow), "--max-workers", "1")
    assert failed.returncode == 1, failed.stderr
    original = failed.stdout.strip().splitlines()[-1]
    del s.env["FAIL_ITEM"]
    resumed = s.sfn("resume", original, "--max-workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    storage = open_storage(str(s.root))
    run = client.Run(resumed.stdout.strip().splitlines()[-1], storage)
    origins = {t.index: t.origin_pathspec for t in run["work"]}
    first = client.Run(original, storage)["work"]
    assert origins == {0: next(t.pathspec for t in first if t.index == 0), 1: None, 2: None}
    reused = next(t for t in run["work"] if t.index == 0)
    assert reused["seen"].origin_pathspec == f"{origins[0]}/seen"  # as Metaflow's artifact
    assert run.origin_pathspec == original
    assert client.Run(original, storage).origin_pathspec == "FailingForeachFlow/None"
    assert run.data is not None and run.data.values == [10, 0, 20]


@pytest.mark.slow
def test_every_clone_is_made_before_any_task_runs(tmp_path: Path) -> None:
    """As Metaflow's resume, every task to reuse is cloned up front: item 2 of the foreach,
    which follows the failed item 1, is cloned before item 1 runs again."""
    flow = Path(__file__).parent / "parity" / "client_flows" / "failing_foreach.py"
    s = Setup(tmp_path)
    s.env["FAIL_ITEM"] = "1"  # item 1 fails; with three workers items 0 and 2 succeed
    failed = s.sfn("run", str(flow), "--max-workers", "3")
    assert failed.returncode == 1, failed.stderr
    del s.env["FAIL_ITEM"]
    resumed = s.sfn("resume", failed.stdout.strip().splitlines()[-1], "--max-workers", "1")
    assert resumed.returncode == 0, resumed.stderr
    run = client.Run(resumed.stdout.strip().splitlines()[-1], open_storage(str(s.root)))
    tasks = [t for step in run for t in step]
    cloned = {(t.parent.id, t.index): t.created_at for t in tasks if t.origin_pathspec}
    again = {(t.parent.id, t.index): t.created_at for t in tasks if not t.origin_pathspec}
    assert sorted(cloned, key=str) == [("start", None), ("work", 0), ("work", 2)]
    assert max(cloned.values()) < min(again.values()), (cloned, again)
    assert [s.id for s in run.steps()] == ["end", "join", "work", "start"]


SPLIT_FLOW = """
    from sfncompile import FlowSpec, step


    class SplitResumeFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.join)

        @step
        def b(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.mark.slow
def test_resume_from_a_branch_reuses_the_other_branch(tmp_path: Path) -> None:
    """--from STEP runs that step and the steps it leads to again and reuses every other
    step, as Metaflow's resume: the other branch of the split too (Metaflow 2.19's `resume a`
    of this flow clones `start` and `b`)."""
    s = Setup(tmp_path)
    s.flow.write_text(textwrap.dedent(SPLIT_FLOW).lstrip(), encoding="utf-8")
    first = s.sfn("run", str(s.flow))
    assert first.returncode == 0, first.stderr
    resumed = s.sfn("resume", first.stdout.strip().splitlines()[-1], "--from", "a")
    assert resumed.returncode == 0, resumed.stderr
    run = client.Run(resumed.stdout.strip().splitlines()[-1], open_storage(str(s.root)))
    reused = {step.id for step in run if step.task and step.task.origin_pathspec}
    assert reused == {"start", "b"}
    assert {s.id for s in run.steps()[-2:]} == reused  # cloned first: the oldest


def test_a_clone_of_a_task_stored_before_the_name_artifact_has_it(tmp_path: Path) -> None:
    """Every task has the flow's name as the artifact `name` (as Metaflow's), a task cloned
    from an origin recorded before sfncompile stored it too."""
    from sfncompile.datastore import layout as ds
    from sfncompile.runtime.reuse import clone_task

    storage = open_storage(str(tmp_path))
    shas = ds.save_artifacts(storage, "OldFlow", {"x": 1})
    ds.TaskStore(storage, "OldFlow", "old", "start", "0-0", 0).commit({"artifacts": shas})
    assert clone_task(storage, "OldFlow", "old", "new", "start", "0-0")
    cloned = ds.read_done(storage, "OldFlow", "new", "start", "0-0")["artifacts"]
    assert sorted(cloned) == ["name", "x"]
    assert ds.load_artifact(storage, "OldFlow", cloned["name"]) == "OldFlow"
