"""Progress of a local run: one status line that updates in place on a terminal, plain lines
(one per event) otherwise."""

from __future__ import annotations

import io

from sfncompile.local.progress import Progress
from sfncompile.local.runner import Outcome


def drive(progress: Progress) -> None:
    progress.begin("F/r1")
    progress.started(("start", "0"), 0)
    progress.finished(Outcome(("start", "0"), 0, 0, "", 0.25))
    progress.started(("a", "0"), 0)
    progress.failed(Outcome(("a", "0"), 0, 1, "Traceback ...\nValueError: no", 0.1))
    progress.end(False)


def test_plain_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    drive(Progress(out, tty=False))
    text = out.getvalue()
    assert "\r" not in text and "\033" not in text
    assert text.splitlines()[:3] == ["Run F/r1 started", "start/0: running",
                                     "start/0: done in 0.25s"]
    assert "a/0: FAILED (attempt 0, exit 1)\nTraceback ...\nValueError: no" in text
    assert text.rstrip().endswith("1 tasks done, 1 failed; the run failed in " +
                                  text.rstrip().split("failed in ")[-1])


def test_one_updating_status_line_on_a_terminal() -> None:
    out = io.StringIO()
    drive(Progress(out, tty=True))
    text = out.getvalue()
    assert "\r\033[Krunning 1, done 0, failed 0" in text
    assert "running 0, done 1, failed 1" in text
    assert "start/0: running" not in text  # no line per event on a terminal
    assert "a/0: FAILED" in text  # failures still get their own lines
