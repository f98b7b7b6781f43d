"""Tasks whose process dies (a segfault, SIGKILL, the runner's kill on @timeout) leave a
record as Metaflow's do: what they printed before dying is their stdout and stderr log, with
a last line on stderr that says how they ended, and the attempt's metadata says it too.
Under @catch the variable holds Metaflow's FailureHandledByCatch (compared with a Metaflow
2.19 run of the same file); Metaflow's own tests detect_segfault.py and tag_catch.py check
the same."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import open_storage
from tests.parity.harness import MetaflowJob, MetaflowRun, run_sfncompile, sfncompile_tasks
from tests.parity.metaflow_env import user_env

pytestmark = pytest.mark.slow

SEGFAULT_FLOW = '''
import ctypes
import sys

from metaflow import FlowSpec, step


class SegfaultFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print("Crash and burn!")
        print("on stderr before the crash", file=sys.stderr)
        ctypes.string_at(0)


if __name__ == "__main__":
    SegfaultFlow()
'''
KILLED_FLOW = '''
import os
import signal
import sys

from metaflow import FlowSpec, catch, retry, step


class KilledFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.killed)

    @catch(var="ex", print_exception=False)
    @retry(times=1, minutes_between_retries=0)
    @step
    def killed(self):
        print("about to die")
        print("dying on stderr", file=sys.stderr)
        os.kill(os.getpid(), signal.SIGKILL)
        self.next(self.end)

    @step
    def end(self):
        self.ex_type = self.ex.type
        self.ex_message = self.ex.exception


if __name__ == "__main__":
    KilledFlow()
'''
TIMEOUT_FLOW = '''
import signal
import sys
import time

from metaflow import FlowSpec, step, timeout


class StubbornFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.slow)

    @timeout(seconds=1)
    @step
    def slow(self):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the runner has to kill it
        print("started the long wait")
        print("still waiting", file=sys.stderr)
        time.sleep(60)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StubbornFlow()
'''

TIMED_CATCH_FLOW = '''
import time

from metaflow import FlowSpec, catch, step, timeout


class TimedCatchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.sleepy)

    @catch(var="ex", print_exception=False)
    @timeout(seconds=1)
    @step
    def sleepy(self):
        print("going to sleep")
        time.sleep(10)
        self.next(self.end)

    @step
    def end(self):
        self.ex_type = self.ex.type


if __name__ == "__main__":
    TimedCatchFlow()
'''


@dataclass
class Attempt:
    stdout: str
    stderr: str
    meta: dict[str, Any]


def attempt(root: Path, pathspec: str, step: str, number: int) -> Attempt:
    flow, run = pathspec.split("/")
    storage = open_storage(str(root))
    [task] = ds.list_tasks(storage, flow, run, step, committed_only=False)  # a top-level step
    logs = [ds.read_log(storage, flow, run, step, task, number, name).decode()
            for name in ("stdout", "stderr")]
    return Attempt(*logs, ds.read_meta(storage, flow, run, step, task, number))


def pathspec_of(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("deaths")
    for name, text in (("segfault", SEGFAULT_FLOW), ("killed", KILLED_FLOW),
                       ("stubborn", TIMEOUT_FLOW), ("timed_catch", TIMED_CATCH_FLOW)):
        (d / f"{name}.py").write_text(text)
    return d


@pytest.fixture(scope="module")
def stubborn(flows: Path) -> Iterator[subprocess.Popen[str]]:
    """The @timeout run takes its timeout and the runner's grace (6 s): started first, it
    runs while the other tests do."""
    proc = subprocess.Popen([sys.executable, "-m", "sfncompile", "run", "stubborn.py",
                             "--datastore-root", str(flows / "stubborn-ds")], cwd=flows,
                            env=user_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    yield proc
    proc.kill()
    proc.communicate()


@pytest.fixture(scope="module")
def metaflow(flows: Path, tmp_path_factory: pytest.TempPathFactory,
             stubborn: subprocess.Popen[str]) -> Iterator[MetaflowJob]:
    job = MetaflowJob([MetaflowRun("killed", flows / "killed.py"),
                       MetaflowRun("timed_catch", flows / "timed_catch.py")],
                      tmp_path_factory.mktemp("metaflow"))
    yield job
    job.results()


def test_a_segfault_keeps_the_logs_and_says_so(flows: Path, tmp_path: Path,
                                               metaflow: MetaflowJob) -> None:
    proc = run_sfncompile(flows / "segfault.py", tmp_path)
    assert proc.returncode == 1, proc.stderr
    end = attempt(tmp_path, pathspec_of(proc), "end", 0)
    assert end.stdout == "Crash and burn!\n"
    assert end.stderr.startswith("on stderr before the crash\n")
    assert "segmentation fault" in end.stderr  # as Metaflow's detect_segfault test wants
    assert end.stderr.endswith("sfncompile: the task failed with a segmentation fault "
                               "(SIGSEGV)\n")
    assert 'segfault.py", line 17 in end' in end.stderr  # where it crashed
    assert (end.meta["status"], end.meta["exit_code"], end.meta["signal"]) == (
        "failed", -11, "SIGSEGV")
    assert "Crash and burn!" in proc.stderr  # the progress display shows it too


def test_a_killed_task_under_catch_records_failure_handled_by_catch(
        flows: Path, tmp_path: Path, metaflow: MetaflowJob) -> None:
    proc = run_sfncompile(flows / "killed.py", tmp_path)
    ours = sfncompile_tasks(proc, tmp_path)
    theirs = metaflow.tasks("killed")
    # Two attempts died (one retry); Metaflow's fallback records them as this exception.
    expected = ("metaflow.plugins.catch_decorator.FailureHandledByCatch",
                "Task execution kept failing over 2 attempts. Your code did not raise an "
                "exception. Something in the execution environment caused the failure.")
    for tasks in (ours, theirs):
        assert (tasks["end"][0]["ex_type"], tasks["end"][0]["ex_message"]) == expected
        assert tasks["killed"][0]["ex"]["object"] == "MetaflowExceptionWrapper"
    pathspec = pathspec_of(proc)
    for number in (0, 1):
        died = attempt(tmp_path, pathspec, "killed", number)
        assert (died.stdout, died.stderr) == (
            "about to die\n", "dying on stderr\nsfncompile: the task process was killed by "
            "SIGKILL\n")
        assert (died.meta["status"], died.meta["signal"], died.meta["exit_code"]) == (
            "failed", "SIGKILL", -9)
    assert attempt(tmp_path, pathspec, "killed", 2).meta["status"] == "succeeded"


def test_a_task_killed_on_timeout_keeps_its_logs(flows: Path,
                                                 stubborn: subprocess.Popen[str]) -> None:
    out, err = stubborn.communicate(timeout=120)
    assert stubborn.returncode == 1, err
    slow = attempt(flows / "stubborn-ds", out.strip().splitlines()[-1], "slow", 0)
    assert slow.stdout == "started the long wait\n"
    assert slow.stderr == "still waiting\nsfncompile: killed after its @timeout of 1 s\n"
    assert (slow.meta["status"], slow.meta["timed_out"], slow.meta["signal"]) == (
        "failed", True, "SIGKILL")
    assert slow.meta["error"] == "killed after its @timeout of 1 s"


def test_a_timeout_under_catch_is_metaflows_timeout_exception(
        flows: Path, tmp_path: Path, metaflow: MetaflowJob) -> None:
    proc = run_sfncompile(flows / "timed_catch.py", tmp_path)
    ours = sfncompile_tasks(proc, tmp_path)
    for tasks in (ours, metaflow.tasks("timed_catch")):
        assert tasks["end"][0]["ex_type"] == "metaflow.plugins.timeout_decorator.TimeoutException"
    sleepy = attempt(tmp_path, pathspec_of(proc), "sleepy", 0)
    assert sleepy.stdout == "going to sleep\n" and sleepy.meta["status"] == "succeeded"
