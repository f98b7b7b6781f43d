"""Progress of a local run: plain lines off a terminal (a line per step, not per task), a live
block of per-step lines on a terminal, the closing summary."""

from __future__ import annotations

import io

from sfncompile.local.progress import Progress
from sfncompile.local.runner import Outcome

GRAPH = {"steps": {"start": {"targets": ["a"]}, "a": {"targets": []}}}


def drive(progress: Progress) -> None:
    progress.begin("F/r1")
    progress.queued(("start", "0"))
    progress.started(("start", "0"), 0)
    progress.output(("start", "0"), 0, ["hello"])
    progress.queued(("a", "0"))
    progress.finished(Outcome(("start", "0"), 0, 0, "", 0.25))
    progress.started(("a", "0"), 0)
    progress.failed(Outcome(("a", "0"), 0, 1, "Traceback ...\nValueError: no", 0.1))
    progress.end(False)


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    drive(Progress(out, tty=False, graph=GRAPH))
    text = out.getvalue()
    assert "\r" not in text and "\033" not in text
    lines = text.splitlines()
    assert lines[:4] == ["Run F/r1 started", "start: started", "[start/0] hello",
                         "start: 1 task done in " + lines[3].split(" in ")[-1]]
    assert "start/0: running" not in text and "done in 0.25s" not in text
    assert "a/0: FAILED (attempt 0, exit 1)" in text
    assert "failed: a/0 (attempt 0, exit 1); its logs: sfncompile logs F/r1/a/0" in text
    assert text.rstrip().endswith("1 tasks done, 1 failed; the run failed in " +
                                  text.rstrip().split("failed in ")[-1])


def test_verbose_keeps_the_per_task_lines() -> None:
    out = io.StringIO()
    drive(Progress(out, tty=False, graph=GRAPH, verbose=True))
    assert "start/0: running\n" in out.getvalue()
    assert "start/0: done in 0.25s\n" in out.getvalue()


def test_quiet_hides_task_output() -> None:
    out = io.StringIO()
    drive(Progress(out, tty=False, graph=GRAPH, show_output=False))
    assert "hello" not in out.getvalue()
    assert "a/0: FAILED (attempt 0, exit 1)\nTraceback ...\nValueError: no" in out.getvalue()


def test_a_live_block_on_a_terminal() -> None:
    out = io.StringIO()
    drive(Progress(out, tty=True, graph=GRAPH))
    text = out.getvalue()
    assert "start  0/1 done, 1 running, 0 failed" in text
    assert "\033[" in text and "F\033[J" in text  # the block is redrawn in place
    assert "start/0: running" not in text  # no line per task
    assert "a/0: FAILED" in text  # failures still get their own lines
