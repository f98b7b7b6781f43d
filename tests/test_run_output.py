"""What `sfncompile run` prints: each line a task writes, prefixed with its task and in order
per task, on stderr; a closing summary that names what @catch handled; a line per step (not
per task) off a terminal, so that a wide run's output stays short; a live per-step display on
a terminal; nothing of the tasks' output with --quiet."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent

# Every task prints a line before and after a pause, so that the tasks of the foreach run at
# once and their lines interleave; @catch handles the failure of the second.
PRINTING = """
    import sys
    import time

    from sfncompile import FlowSpec, catch, step


    class PrintFlow(FlowSpec):
        @step
        def start(self):
            print("hello")
            print("to stderr", file=sys.stderr)
            self.items = [0, 1, 2]
            self.next(self.work, foreach="items")

        @catch(var="oops")
        @step
        def work(self):
            print(f"begin {self.input}")
            time.sleep(0.4)
            print(f"end {self.input}")
            if self.input == 1:
                raise ValueError("boom one")
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            print("bye")


    if __name__ == "__main__":
        PrintFlow()
"""

WIDE = """
    import time

    from sfncompile import FlowSpec, step


    class WideFlow(FlowSpec):
        @step
        def start(self):
            self.items = list(range({width}))
            self.next(self.work, foreach="items")

        @step
        def work(self):
            time.sleep({pause})
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        WideFlow()
"""


def command(flow: Path, root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "sfncompile", "run", str(flow), "--datastore-root",
            str(root), "--max-workers", "3", *extra]


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def piped(tmp: Path, source: str, *extra: str) -> subprocess.CompletedProcess[str]:
    flow = tmp / "flow.py"
    flow.write_text(textwrap.dedent(source), encoding="utf-8")
    proc = subprocess.run(command(flow, tmp / "ds", *extra), capture_output=True, text=True,
                          env=env(), cwd=tmp, timeout=300)
    return proc


@pytest.fixture(scope="module")
def printing(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    proc = piped(tmp_path_factory.mktemp("printing"), PRINTING)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_task_output_is_shown_prefixed_and_in_order(
        printing: subprocess.CompletedProcess[str]) -> None:
    lines = printing.stderr.splitlines()
    assert "[start/0-0] hello" in lines and "[start/0-0] to stderr" in lines
    assert "[end/3-0] bye" in lines
    for i in range(3):
        assert lines.index(f"[work/1-0.{i}.0] begin {i}") < lines.index(f"[work/1-0.{i}.0] end {i}")
    # shown as written: every task began before any ended (they ran at once)
    begins = [n for n, line in enumerate(lines) if re.fullmatch(r"\[work/.*\] begin \d", line)]
    ends = [n for n, line in enumerate(lines) if re.fullmatch(r"\[work/.*\] end \d", line)]
    assert len(begins) == len(ends) == 3 and max(begins) < min(ends)
    # the traceback @catch printed is shown as part of the task's output
    assert "[work/1-0.1.0] >  ValueError: boom one" in lines  # Metaflow's report, on stdout
    assert re.fullmatch(r"PrintFlow/\S+", printing.stdout.strip().splitlines()[-1])
    assert "hello" not in printing.stdout


def test_the_summary_names_what_catch_handled(
        printing: subprocess.CompletedProcess[str]) -> None:
    assert "caught by @catch: work/1-0.1.0: ValueError: boom one" in printing.stderr
    assert printing.stderr.rstrip().splitlines()[-1].startswith("6 tasks done, 0 failed; ")


def test_quiet_hides_task_output(tmp_path: Path) -> None:
    proc = piped(tmp_path, PRINTING, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "hello" not in proc.stderr and "[work/" not in proc.stderr
    assert "caught by @catch: work/1-0.1.0: ValueError: boom one" in proc.stderr
    assert "\033" not in proc.stderr
    pathspec = proc.stdout.strip().splitlines()[-1]
    logs = subprocess.run([sys.executable, "-m", "sfncompile", "logs", f"{pathspec}/start/0-0",
                           "--datastore-root", str(tmp_path / "ds")], capture_output=True,
                          text=True, env=env(), timeout=60)
    assert "hello" in logs.stdout  # still stored for `logs`


def test_a_wide_foreach_prints_a_line_per_step_not_per_task(tmp_path: Path) -> None:
    proc = piped(tmp_path, WIDE.format(width=2000, pause=0), "--quiet")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) < 200, lines[:20]
    assert "work: started" in lines
    assert any(re.fullmatch(r"work: 2000 tasks done in [0-9.]+s", line) for line in lines)


def test_a_terminal_gets_a_live_line_per_step(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(textwrap.dedent(WIDE.format(width=30, pause=0.1)), encoding="utf-8")
    pid, fd = pty.fork()
    if pid == 0:  # the child: the run, with the pseudo-terminal as its stdout and stderr
        os.chdir(tmp_path)
        os.execve(sys.executable, command(flow, tmp_path / "ds"), env())
    text = read_all(fd, pid)
    assert re.search(r"work\s+\d+/30 done, \d+ running, 0 failed", text), text[-2000:]
    assert "\033[" in text
    assert not re.search(r"work/1-0\.\d+\.0: (running|done)", text)  # no line per task
    assert re.search(r"WideFlow/\S+\s*$", text)


def read_all(fd: int, pid: int, timeout: float = 120) -> str:
    chunks, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            data = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    return b"".join(chunks).decode(errors="replace")
