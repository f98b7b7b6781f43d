"""Faults, for real: tasks killed mid-write, retries, @catch, @timeout, a transition that
differs from the compiled graph, unpicklable artifacts and bad parameters.

Every flow runs through `sfncompile run` in real processes, with the datastore in tmp_path.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.exception import MetaflowExceptionWrapper
from tests.flows import wait_for


def sfn(*args: str, env: dict[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh process, with extra environment variables."""
    return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                          text=True, env=os.environ | (env or {}), cwd=cwd, timeout=120)


def run_flow(flow_file: Path, root: Path, *extra: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return sfn("run", str(flow_file), "--datastore-root", str(root), "--max-workers", "2",
               *extra, env=env)


def write_flow(directory: Path, source: str, name: str = "flow.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return path


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout.strip().splitlines()[-1]


def attempt_dir(root: Path, pathspec: str, step: str, task: str, attempt: int) -> Path:
    return root / pathspec / step / task / str(attempt)


def read_json(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def private_tmp(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A TMPDIR for the run, to check that killed tasks leave no temporary files behind."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return tmp, {"TMPDIR": str(tmp)}


@pytest.fixture
def client_root() -> Iterator[Callable[[str | None], None]]:
    """Point sfncompile.client at a datastore for the test, and back afterwards."""
    yield client.set_datastore_root
    client.set_datastore_root(None)


# -------------------------------------------------------------------- killed tasks

# Pickling `bomb` SIGKILLs the task on the first run, after `big` has gone to the blob store:
# the process dies in the middle of saving its artifacts, before it could commit.
KILL_FLOW = """
    import os
    import random
    import signal

    from sfncompile import FlowSpec, step


    class KillOnPickle:
        def __reduce__(self):
            marker = os.environ["SFN_TEST_KILL_MARKER"]
            if not os.path.exists(marker):
                with open(marker, "w") as f:
                    f.write(str(os.getpid()))
                os.kill(os.getpid(), signal.SIGKILL)
            return (str, ("saved",))


    class KillFlow(FlowSpec):
        @step
        def start(self):
            self.seed = 7
            self.next(self.write)

        @step
        def write(self):
            self.big = random.Random(self.seed).randbytes(4 << 20)
            self.bomb = KillOnPickle()
            self.answer = 42
            self.next(self.end)

        @step
        def end(self):
            self.size = len(self.big)
"""


def test_sigkill_mid_write_leaves_no_visible_task_and_resume_completes(
        tmp_path: Path, client_root: Callable[[str | None], None]) -> None:
    root = tmp_path / "store"
    marker = tmp_path / "killed"
    tmp, env = private_tmp(tmp_path)
    env["SFN_TEST_KILL_MARKER"] = str(marker)
    flow = write_flow(tmp_path, KILL_FLOW)

    proc = run_flow(flow, root, env=env)
    assert proc.returncode == 1, proc.stderr
    assert list(tmp.iterdir()) == []  # not even the half-staged artifact
    pathspec = last_line(proc)
    assert pathspec.startswith("KillFlow/")
    assert "write/1-0: FAILED (attempt 0, exit -9)" in proc.stderr

    # The attempt started (meta.json names the killed process) but never committed.
    attempt = attempt_dir(root, pathspec, "write", "1-0", 0)
    meta = read_json(attempt / "meta.json")
    assert meta["pid"] == int(marker.read_text())
    # The task could not mark itself; the runner, which saw it die, did.
    assert meta["status"] == "failed" and meta["exit_code"] == -9
    assert not (attempt / "done.json").exists()
    # It died mid-write: `big` (4 MiB of random bytes, stored uncompressed) reached the blob
    # store before the kill, yet nothing points to it.
    blobs = [p for p in (root / "KillFlow" / "data").rglob("*") if p.is_file()]
    assert any(p.stat().st_size >= 4 << 20 for p in blobs)

    client_root(str(root))
    run = client.Run(pathspec)
    assert run.status == "failed" and not run.successful and not run.finished
    step = run["write"]
    assert step.started_tasks() == ["1-0"]
    task = step["1-0"]
    assert [t.pathspec for t in step.tasks()] == [task.pathspec]  # listed, though killed
    assert step.task is not None and step.task.pathspec == task.pathspec
    assert task.attempt is None and not task.successful and not task.finished
    # Killed before it could say why: no exception, no finish time, no artifacts (Metaflow's
    # client reads such a task the same way).
    assert task.exception is None and task.finished_at is None
    assert task.artifact_names == []
    with pytest.raises(KeyError):
        task["big"]

    shown = sfn("show", pathspec, "--datastore-root", str(root))
    assert shown.returncode == 0, shown.stderr
    assert f"{pathspec}: failed" in shown.stdout
    assert "write/1-0: not committed" in shown.stdout
    assert "start/0-0: ok" in shown.stdout

    resumed = sfn("resume", pathspec, "--datastore-root", str(root), "--max-workers", "2",
                  env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert "from step 'write'" in resumed.stderr
    assert list(tmp.iterdir()) == []
    new = last_line(resumed)
    assert new != pathspec
    end = client.Run(new)["end"].task
    assert end.data.size == 4 << 20
    assert end.data.big == random.Random(7).randbytes(4 << 20)
    assert end.data.bomb == "saved"
    assert end.data.answer == 42
    start = client.Run(new)["start"].task
    assert start is not None and start.origin_pathspec == f"{pathspec}/start/0-0"


HANG_FLOW = """
    import time

    from sfncompile import FlowSpec, current, retry, step


    class HangFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.hang)

        @retry(times=1)
        @step
        def hang(self):
            self.big = bytes(8 << 20)
            if current.retry_count == 0:
                deadline = time.time() + 60  # the test kills it long before
                while time.time() < deadline:
                    time.sleep(0.05)
                raise RuntimeError("nobody killed this attempt")
            self.seen_attempt = current.retry_count
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_task_killed_from_outside_is_retried(
        tmp_path: Path, client_root: Callable[[str | None], None]) -> None:
    """SIGKILL to the pid that meta.json records, as an OOM killer would send it."""
    root = tmp_path / "store"
    flow = write_flow(tmp_path, HANG_FLOW)
    tmp, env = private_tmp(tmp_path)
    log = (tmp_path / "run.err").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "sfncompile", "run", str(flow),
                             "--datastore-root", str(root), "--max-workers", "2"],
                            stdout=subprocess.PIPE, stderr=log, text=True,
                            env=os.environ | env)
    try:
        def running_meta() -> dict[str, Any] | None:
            for meta in root.glob("HangFlow/*/hang/1-0/0/meta.json"):
                data = read_json(meta)
                if data.get("status") == "running":
                    return data
            return None

        meta = wait_for(running_meta, 30, "the hang task to start")
        os.kill(meta["pid"], signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    err = (tmp_path / "run.err").read_text()
    assert proc.returncode == 0, err
    assert "hang/1-0: attempt 0 failed (exit -9); retrying" in err
    assert list(tmp.iterdir()) == []
    pathspec = out.strip().splitlines()[-1]

    first = attempt_dir(root, pathspec, "hang", "1-0", 0)
    assert (first / "meta.json").exists() and not (first / "done.json").exists()
    assert (attempt_dir(root, pathspec, "hang", "1-0", 1) / "done.json").exists()
    client_root(str(root))
    task = client.Run(pathspec)["hang"].task
    assert task.attempt == 1
    assert task.data.seen_attempt == 1
    assert task["big"].data == bytes(8 << 20)


# -------------------------------------------------------------------- @retry, @catch, @environment

POLICY_FLOW = """
    import os

    from sfncompile import FlowSpec, catch, current, environment, retry, step


    class PolicyFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.flaky)

        @retry(times=2)
        @step
        def flaky(self):
            print(f"flaky attempt {current.retry_count}")
            if current.retry_count < 2:
                raise RuntimeError(f"transient failure on attempt {current.retry_count}")
            self.retry_count = current.retry_count
            self.next(self.risky)

        @catch(var="err")
        @step
        def risky(self):
            if self.retry_count == 2:
                raise ValueError("bad value in risky")
            self.next(self.configured)

        @environment(vars={"SFN_TEST_MODE": "train", "SFN_TEST_LEVEL": 3})
        @step
        def configured(self):
            self.mode = os.environ.get("SFN_TEST_MODE")
            self.level = os.environ.get("SFN_TEST_LEVEL")
            self.next(self.end)

        @step
        def end(self):
            self.err_in_end = repr(self.err)
            self.mode_in_end = os.environ.get("SFN_TEST_MODE")
"""


@pytest.fixture(scope="module")
def policy_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One run of POLICY_FLOW shared by the policy tests: (root, pathspec, runner stderr)."""
    tmp = tmp_path_factory.mktemp("policy")
    root = tmp / "store"
    proc = run_flow(write_flow(tmp, POLICY_FLOW), root)
    assert proc.returncode == 0, proc.stderr
    return root, last_line(proc), proc.stderr


def test_retry_succeeds_on_the_third_attempt(
        policy_run: tuple[Path, str, str], client_root: Callable[[str | None], None]) -> None:
    root, pathspec, err = policy_run
    assert "flaky/1-0: attempt 0 failed (exit 1); retrying" in err
    assert "flaky/1-0: attempt 1 failed (exit 1); retrying" in err
    for attempt in (0, 1):
        path = attempt_dir(root, pathspec, "flaky", "1-0", attempt)
        assert read_json(path / "meta.json")["status"] == "failed"
        assert not (path / "done.json").exists()
        stderr = (path / "logs" / "stderr").read_text()
        assert f"RuntimeError: transient failure on attempt {attempt}" in stderr
        assert (path / "logs" / "stdout").read_text() == f"flaky attempt {attempt}\n"
    last = attempt_dir(root, pathspec, "flaky", "1-0", 2)
    assert read_json(last / "meta.json")["status"] == "succeeded"
    assert read_json(last / "done.json")["attempt"] == 2

    client_root(str(root))
    task = client.Run(pathspec)["flaky"].task
    assert task.attempt == 2
    assert task["retry_count"].data == 2
    assert task.stdout == "flaky attempt 2\n"
    assert "transient failure" not in task.stderr


def test_catch_stores_the_exception_and_the_flow_finishes(
        policy_run: tuple[Path, str, str], client_root: Callable[[str | None], None]) -> None:
    root, pathspec, _ = policy_run
    client_root(str(root))
    run = client.Run(pathspec)
    assert run.successful and run.finished
    risky = run["risky"].task
    assert risky.attempt == 0
    # print_exception defaults to on: Metaflow's report, on stdout, each trace line after `>  `
    report = risky.stdout.splitlines()
    assert report[0] == "@catch caught an exception from <flow PolicyFlow step risky>"
    assert report[1] == ">  Traceback (most recent call last):"
    assert report[-1] == ">  ValueError: bad value in risky"
    assert "bad value in risky" not in risky.stderr
    err = run["end"].task.data.err  # Metaflow's wrapper, not the exception itself
    assert isinstance(err, MetaflowExceptionWrapper)
    assert (err.exception, err.type) == ("bad value in risky", "builtins.ValueError")
    assert err.stacktrace is not None and "ValueError: bad value in risky" in err.stacktrace
    assert run.data is not None
    assert run.data.err_in_end == err.stacktrace  # repr() is the trace, as in Metaflow


def test_every_task_stores_the_flow_name(
        policy_run: tuple[Path, str, str], client_root: Callable[[str | None], None]) -> None:
    """As Metaflow's `self.name`: an artifact `name` in every task, a task that set nothing
    and one whose failure @catch handled among them."""
    root, pathspec, _ = policy_run
    client_root(str(root))
    run = client.Run(pathspec)
    tasks = [task for step in run for task in step]
    assert {task["name"].data for task in tasks} == {"PolicyFlow"}
    assert [a.id for a in run["start"].task] == ["name"]
    assert "name" in run["risky"].task.data and run.data is not None
    assert run.data.name == "PolicyFlow"

def test_environment_vars_are_visible_in_their_step_only(
        policy_run: tuple[Path, str, str], client_root: Callable[[str | None], None]) -> None:
    root, pathspec, _ = policy_run
    client_root(str(root))
    run = client.Run(pathspec)
    data = run["configured"].task.data
    assert data.mode == "train"
    assert data.level == "3"  # environment values are strings
    assert run["end"].task.data.mode_in_end is None


# -------------------------------------------------------------------- errors in the step

# `start` rewrites the transition of `a`, as an edit made while the run is under way would:
# the task of `a` loads the new file but the run follows the graph compiled at its start.
EDITED_FLOW = """
    from pathlib import Path

    from sfncompile import FlowSpec, step


    class EditedFlow(FlowSpec):
        @step
        def start(self):
            source = Path(__file__)
            text = source.read_text()
            source.write_text(text.replace("self.next(self.b)  # edited", "self.next(self.end)"))
            self.next(self.a)

        @step
        def a(self):
            self.next(self.b)  # edited

        @step
        def b(self):
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def test_transition_other_than_the_compiled_one_fails_clearly(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = run_flow(write_flow(tmp_path, EDITED_FLOW), root)
    assert proc.returncode == 1
    pathspec = last_line(proc)
    assert pathspec.startswith("EditedFlow/") and pathspec.count("/") == 1
    assert ("sfncompile: a/1-0: step 'a' called self.next(self.end), but the compiled flow goes "
            "to self.next(self.b); the flow file changed since it was compiled") in proc.stderr
    assert "a/1-0: FAILED (attempt 0, exit 1)" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "sfncompile/runtime" not in proc.stderr
    assert not (root / pathspec / "b").exists()
    assert not (attempt_dir(root, pathspec, "a", "1-0", 0) / "done.json").exists()


UNPICKLABLE_FLOW = """
    import threading

    from sfncompile import FlowSpec, Parameter, step


    class UnpicklableFlow(FlowSpec):
        kind = Parameter("kind", default="lock")

        @step
        def start(self):
            self.fine = [1, 2, 3]
            if self.kind == "lock":
                self.guard = threading.Lock()
            else:  # (a function is not an artifact at all, as in Metaflow)
                self.transform = (x + 1 for x in range(3))
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.mark.parametrize(("kind", "name", "reason"), [
    ("lock", "guard", "cannot pickle '_thread.lock' object"),
    ("generator", "transform", "cannot pickle 'generator' object"),
])
def test_unpicklable_artifact_is_named(tmp_path: Path, kind: str, name: str,
                                       reason: str) -> None:
    root = tmp_path / "store"
    proc = run_flow(write_flow(tmp_path, UNPICKLABLE_FLOW), root, "--param", f"kind={kind}")
    assert proc.returncode == 1
    pathspec = last_line(proc)
    message = next(line for line in proc.stderr.splitlines() if "cannot be pickled" in line)
    # the task's own line, shown with its task's prefix as it printed it
    assert message.startswith(f"[start/0-0] sfncompile: start/0-0: artifact {name!r} cannot be "
                              "pickled: ")
    assert reason in message
    assert "Traceback" not in proc.stderr
    assert not (attempt_dir(root, pathspec, "start", "0-0", 0) / "done.json").exists()


PARAM_FLOW = """
    from sfncompile import FlowSpec, Parameter, step


    class ParamFlow(FlowSpec):
        count = Parameter("count", default=1, type=int)
        label = Parameter("label", required=True, help="A label for the run.")

        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.mark.parametrize(("params", "message"), [
    (["count=abc", "label=x"], "error: parameter 'count' (int): "),
    (["label=x", "colour=red"], "error: unknown parameter 'colour' (parameters: count, label)"),
    (["count=3"], "error: parameter 'label' is required"),
], ids=["wrong-type", "unknown", "missing-required"])
def test_bad_params_fail_before_any_task(tmp_path: Path, params: list[str],
                                         message: str) -> None:
    root = tmp_path / "store"
    args = [arg for p in params for arg in ("--param", p)]
    proc = run_flow(write_flow(tmp_path, PARAM_FLOW), root, *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""
    assert not (root / "ParamFlow").exists()


TIMEOUT_FLOW = """
    import signal
    import time

    from sfncompile import FlowSpec, Parameter, step, timeout


    class TimeoutFlow(FlowSpec):
        stubborn = Parameter("stubborn", default=False, type=bool)

        @step
        def start(self):
            self.next(self.slow)

        @timeout(seconds=1)
        @step
        def slow(self):
            if self.stubborn:  # ignores the runtime's alarm: the runner must kill it
                signal.signal(signal.SIGALRM, signal.SIG_IGN)
            time.sleep(30)
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.mark.parametrize(("stubborn", "message", "limit"), [
    # Generous limits for a loaded machine: without the timeout the step would take 30 s.
    ("false", "the step ran longer than its @timeout of 1 s", 15),
    ("true", "sfncompile: killed after its @timeout of 1 s", 20),
], ids=["alarm", "killed"])
def test_timeout_stops_a_sleeping_step(tmp_path: Path, stubborn: str, message: str,
                                       limit: float) -> None:
    root = tmp_path / "store"
    tmp, env = private_tmp(tmp_path)
    began = time.monotonic()
    proc = run_flow(write_flow(tmp_path, TIMEOUT_FLOW), root, "--param", f"stubborn={stubborn}",
                    env=env)
    elapsed = time.monotonic() - began
    assert proc.returncode == 1, proc.stderr
    assert list(tmp.iterdir()) == []
    assert elapsed < limit
    assert message in proc.stderr
    assert "slow/1-0: FAILED (attempt 0" in proc.stderr
    pathspec = last_line(proc)
    assert not (attempt_dir(root, pathspec, "slow", "1-0", 0) / "done.json").exists()


def test_catch_records_a_task_that_died(tmp_path: Path) -> None:
    """A task process that dies (os._exit) cannot catch anything itself; under @catch the
    runner records the death in a stand-in attempt, as the state machine's Catch does."""
    from tests.flows import end_data, run_local

    root = str(tmp_path / "store")
    proc = run_local(Path(__file__).parent / "data" / "flows" / "dies.py", root)
    assert proc.returncode == 0, proc.stderr
    data = end_data(root, proc.stdout.strip().splitlines()[-1])
    # Metaflow's record of it: FailureHandledByCatch, after the one failed attempt.
    assert data["kind"] == "MetaflowExceptionWrapper" and data["before"] == 1
    assert data["type"] == "metaflow.plugins.catch_decorator.FailureHandledByCatch"
    assert data["message"].startswith("Task execution kept failing over 1 attempts.")
