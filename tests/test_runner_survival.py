"""The local runner survives its tasks and itself: a task that exits without committing is a
failed task, nothing outlives a runner killed with SIGKILL, such a run reads as interrupted,
and `resume` finishes it with the right results."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sfncompile import client
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import LocalStorage
from tests.flows import wait_for

EXITS_EARLY = '''
import os
from sfncompile import FlowSpec, step


class ExitsEarlyFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.quits)

    @step
    def quits(self):
        self.x = 2
        os._exit(0)
        self.next(self.end)

    @step
    def end(self):
        pass
'''

# Each `nap` task starts a grandchild (`sleep`) and sleeps while the marker file exists: the
# runner is killed while they run. Nothing in the step knows about the test.
NAPS = '''
import subprocess
import sys
import time
from pathlib import Path
from sfncompile import FlowSpec, step


class NapFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.preloaded_boto3 = "boto3" in sys.modules
        self.next(self.nap, foreach="items")

    @step
    def nap(self):
        if Path(__file__).with_name("asleep").exists():
            subprocess.Popen(["sleep", "120"])
            time.sleep(120)
        self.v = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.v for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def sfn(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                          text=True, timeout=120)


def write(directory: Path, source: str) -> Path:
    path = directory / "flow.py"
    path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")
    return path


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a live process, None once it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, ppid = stat[stat.rindex(")") + 2:].split()[:2]
    return None if state in ("Z", "X") else (state, int(ppid))


def descendants(root: int) -> set[int]:
    """Every live process below `root`."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            parents[int(entry)] = info[1]
    found: set[int] = set()
    frontier = {root}
    while frontier:
        frontier = {pid for pid, ppid in parents.items() if ppid in frontier} - found
        found |= frontier
    return found


def test_a_task_that_exits_0_without_committing_is_a_failed_task(tmp_path: Path) -> None:
    root = tmp_path / "store"
    proc = sfn("run", str(write(tmp_path, EXITS_EARLY)), "--datastore-root", str(root))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert ("quits/1-0: FAILED (attempt 0, the task exited with code 0 but never committed "
            "its result") in proc.stderr
    pathspec = proc.stdout.strip().splitlines()[-1]
    flow, run = pathspec.split("/")
    storage = LocalStorage(root)
    assert ds.read_run_meta(storage, flow, run)["status"] == "failed"
    meta = ds.read_meta(storage, flow, run, "quits", "1-0", 0)
    assert meta["status"] == "failed" and "never committed" in meta["error"]
    assert not ds.list_tasks(storage, flow, run, "quits")


def test_kill_9_of_the_runner(tmp_path: Path) -> None:
    if not sys.platform.startswith("linux"):
        import pytest

        pytest.skip("reads the process tree from /proc")
    flow = write(tmp_path, NAPS)
    (tmp_path / "asleep").touch()
    root = tmp_path / "store"
    storage = LocalStorage(root)
    runner = subprocess.Popen([sys.executable, "-m", "sfncompile", "run", str(flow),
                               "--datastore-root", str(root), "--max-workers", "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def all_napping() -> set[int] | None:
        # the server, 3 tasks and their 3 `sleep`s, once the tasks are past their start
        tree = descendants(runner.pid)
        runs = ds.list_runs(storage, "NapFlow") if root.exists() else []
        started = runs and len(ds.list_tasks(storage, "NapFlow", runs[0], "nap",
                                             committed_only=False)) == 3
        return tree if started and len(tree) >= 7 else None

    tree = wait_for(all_napping, 60, what="three nap tasks with their sleeps")
    runner.kill()
    killed = time.monotonic()
    runner.communicate()
    while time.monotonic() - killed < 5 and any(_stat(pid) for pid in tree):
        time.sleep(0.02)
    survivors = {pid: _stat(pid) for pid in tree if _stat(pid)}
    assert not survivors
    assert time.monotonic() - killed < 1.0

    run = ds.list_runs(storage, "NapFlow")[0]
    pathspec = f"NapFlow/{run}"
    assert ds.read_run_meta(storage, "NapFlow", run)["status"] == "running"  # as it was left
    shown = sfn("show", pathspec, "--datastore-root", str(root))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[0] == (
        f"{pathspec}: interrupted (continue with `sfncompile resume {pathspec}`)")
    assert "  nap/1-0.1.0: not committed (interrupted)" in shown.stdout
    assert "start/0-0: ok" in shown.stdout
    # The records agree now: the run failed (interrupted), its running tasks failed.
    meta = ds.read_run_meta(storage, "NapFlow", run)
    assert meta["status"] == "failed" and meta["interrupted"] is True
    for task in ds.list_tasks(storage, "NapFlow", run, "nap", committed_only=False):
        assert ds.read_meta(storage, "NapFlow", run, "nap", task, 0)["status"] == "failed"
    client.set_datastore_root(str(root))
    try:
        run_ = client.Run(pathspec)
        assert run_.status == "interrupted" and not run_.finished and not run_.successful
    finally:
        client.set_datastore_root(None)

    (tmp_path / "asleep").unlink()
    resumed = sfn("resume", pathspec, "--datastore-root", str(root))
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming {pathspec} from step 'nap'" in resumed.stderr
    assert "start/0-0: reused from the original run" in resumed.stderr
    new = resumed.stdout.strip().splitlines()[-1]
    done = json.loads((root / new / "_run.json").read_text())
    assert done["status"] == "succeeded" and done["origin_run_id"] == run
    client.set_datastore_root(str(root))
    try:
        data = client.Run(new).data
        assert data is not None and data.total == 60
        # a local datastore needs no boto3 in the tasks
        assert client.Run(new)["start"].task.data.preloaded_boto3 is False
    finally:
        client.set_datastore_root(None)


def test_resume_of_a_run_killed_between_steps_starts_where_it_stopped(tmp_path: Path) -> None:
    """A runner can die when no task is running: resume starts at the first step the run did
    not reach, reusing the rest."""
    flow = write(tmp_path, NAPS)
    root = tmp_path / "store"
    first = sfn("run", str(flow), "--datastore-root", str(root))
    assert first.returncode == 0, first.stderr
    pathspec = first.stdout.strip().splitlines()[-1]
    flow_name, run = pathspec.split("/")
    # What a runner killed right after the nap tasks committed leaves behind.
    for step in ("join", "end"):
        shutil.rmtree(root / pathspec / step)
    meta = json.loads((root / pathspec / "_run.json").read_text())
    meta.update(status="running", runner_process={"host": socket.gethostname(),
                                                  "pid": 2 ** 22 + 1, "pid_start": "1"})
    ds.write_run_meta(LocalStorage(root), flow_name, run, meta)
    resumed = sfn("resume", pathspec, "--datastore-root", str(root))
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming {pathspec} from step 'join'" in resumed.stderr
    assert resumed.stderr.count("reused from the original run") == 4  # start and 3 naps
    client.set_datastore_root(str(root))
    try:
        data = client.Run(resumed.stdout.strip().splitlines()[-1]).data
        assert data is not None and data.total == 60
    finally:
        client.set_datastore_root(None)
