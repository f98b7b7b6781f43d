"""The fork server imports the flow module once and forks every task from it: each task still
gets its own copy of the module's state, @environment reaches the task, and a task starts in
a fresh interpreter where forking is unsafe or not wanted (a thread started by the import,
a @pypi step, a step that opts out with SFNCOMPILE_FRESH_INTERPRETER); numpy's global
generator, left unseeded by the module code, draws differently in each task."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client

pytestmark = pytest.mark.slow

STATE_FLOW = '''
import os

import numpy.random  # imported by the module, as scikit-learn does
from metaflow import FlowSpec, environment, pypi, step

IMPORTED_IN = os.getpid()  # the process that ran the module code
STATE = []
print("the module code ran")


class StateFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        STATE.append("start")
        self.next(self.body, foreach="items")

    @environment(vars={"FROM_DECORATOR": "yes"})
    @step
    def body(self):
        STATE.append(self.input)
        self.seen = list(STATE)
        self.env = os.environ.get("FROM_DECORATOR")
        self.forked = IMPORTED_IN != os.getpid()
        self.draw = float(numpy.random.rand())
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = sorted(i.seen for i in inputs)
        self.env = [i.env for i in inputs]
        self.forked = [i.forked for i in inputs]
        self.draws = len({i.draw for i in inputs})
        self.next(self.own_env)

    @pypi(packages={"click": ""})
    @step
    def own_env(self):
        self.own_env_forked = IMPORTED_IN != os.getpid()
        self.next(self.opted_out)

    @environment(vars={"SFNCOMPILE_FRESH_INTERPRETER": "1"})
    @step
    def opted_out(self):
        self.opted_out_forked = IMPORTED_IN != os.getpid()
        self.next(self.end)

    @step
    def end(self):
        pass
'''

THREAD_FLOW = '''
import os
import threading
import time
from metaflow import FlowSpec, step

threading.Thread(target=time.sleep, args=(60,), daemon=True, name="importer").start()
IMPORTED_IN = os.getpid()


class ThreadFlow(FlowSpec):
    @step
    def start(self):
        self.forked = IMPORTED_IN != os.getpid()
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def _run(tmp: Path, source: str) -> tuple[subprocess.CompletedProcess[str], Any]:
    flow = tmp / "flow.py"
    flow.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    root = tmp / "root"
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "run", str(flow),
                           "--datastore-root", str(root), "--verbose", "--max-workers", "2"],
                          capture_output=True, text=True, timeout=120, cwd=tmp)
    assert proc.returncode == 0, proc.stderr
    client.set_datastore_root(str(root))
    try:
        return proc, client.Run(proc.stdout.strip().splitlines()[-1])
    finally:
        client.set_datastore_root(None)


@pytest.fixture(scope="module")
def state_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[
        subprocess.CompletedProcess[str], Any]:
    return _run(tmp_path_factory.mktemp("state"), STATE_FLOW)


def test_tasks_are_forked_from_the_imported_module(state_run: Any) -> None:
    proc, run = state_run
    assert run["join"].task.data.forked == [True, True, True]
    assert "tasks: forked from a server that imported the flow module once" in proc.stderr


def test_module_state_a_task_changes_is_its_own(state_run: Any) -> None:
    _, run = state_run
    assert run["join"].task.data.seen == [[1], [2], [3]]


def test_numpy_global_generator_is_reseeded_in_each_forked_task(state_run: Any) -> None:
    _, run = state_run
    assert run["join"].task.data.draws == 3


def test_environment_decorator_reaches_the_forked_task(state_run: Any) -> None:
    _, run = state_run
    assert run["join"].task.data.env == ["yes", "yes", "yes"]


def test_what_the_module_code_prints_is_in_every_task_log(state_run: Any) -> None:
    proc, _ = state_run
    for task in ("start/0-0", "body/1-0.0.0", "body/1-0.2.0", "end/5-0"):
        assert f"[{task}] the module code ran" in proc.stderr


def test_pypi_and_opted_out_steps_start_a_fresh_interpreter(state_run: Any) -> None:
    proc, run = state_run
    assert run["own_env"].task.data.own_env_forked is False
    assert run["opted_out"].task.data.opted_out_forked is False
    assert ("in a fresh interpreter: opted_out (@environment SFNCOMPILE_FRESH_INTERPRETER), "
            "own_env (@pypi)") in proc.stderr


def test_a_thread_started_by_the_import_makes_every_task_fresh(tmp_path: Path) -> None:
    proc, run = _run(tmp_path, THREAD_FLOW)
    assert ("tasks: each in a fresh interpreter (importing the flow module started 1 thread: "
            "importer)") in proc.stderr
    assert run["start"].task.data.forked is False
    assert run.successful


@pytest.mark.parametrize("argv", [
    ["--step", "body", "--run", "r1", "--task", "1-0.3.0", "--attempt", "2", "--root", "/ds",
     "--graph", "/tmp/graph.json", "--flow-file", "/f/flow.py"],
    ["--step", "start", "--run", "r", "--task", "0-0", "--params", '{"alpha": 3}'],
    ["--step", "end", "--run", "r", "--task", "3-0", "--caught", '{"Error": "E"}',
     "--origin-run", "r0"],
])
def test_the_fork_servers_quick_parse_is_argparses(argv: list[str]) -> None:
    """The server parses what the runner writes without argparse (whose memory writes would
    cost a forked task page copies), to the same Namespace."""
    from sfncompile.runtime.__main__ import parse_args, quick_parse

    assert quick_parse(argv) == parse_args(argv)


@pytest.mark.parametrize("argv", [
    ["--step", "a", "--run", "r", "--task", "t", "--attempt", "x"],  # not an int
    ["--step", "a", "--run", "r"],  # --task is required
    ["--step", "a", "--run", "r", "--task", "t", "--bogus", "1"],
    ["--step", "a", "--run", "r", "--task"],
    ["--step=a", "--run", "r", "--task", "t"],
])
def test_what_the_quick_parse_does_not_know_is_left_to_argparse(argv: list[str]) -> None:
    from sfncompile.runtime.__main__ import quick_parse

    assert quick_parse(argv) is None
