"""Progress of a local run: one updating status line on a terminal, plain lines otherwise."""

from __future__ import annotations

import sys
import time
from typing import IO

from sfncompile.local.outcome import Key, Outcome

FAILURE_TAIL_LINES = 40


class Progress:
    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.running = self.done = self.failures = self.cloned_count = 0
        self.began = time.monotonic()

    def _line(self, text: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self._status()

    def _status(self) -> None:
        if self.tty:
            elapsed = time.monotonic() - self.began
            self.stream.write(f"running {self.running}, done {self.done}, failed {self.failures}"
                              f"  [{elapsed:.1f}s]")
        self.stream.flush()

    def begin(self, pathspec: str) -> None:
        self._line(f"Run {pathspec} started")

    def started(self, key: Key, attempt: int) -> None:
        self.running += 1
        if self.tty:
            self._status_only()
        else:
            retry = f" (attempt {attempt})" if attempt else ""
            self._line(f"{key[0]}/{key[1]}: running{retry}")

    def _status_only(self) -> None:
        self.stream.write("\r\033[K")
        self._status()

    def finished(self, outcome: Outcome) -> None:
        self.running -= 1
        self.done += 1
        if self.tty:
            self._status_only()
        else:
            self._line(f"{outcome.key[0]}/{outcome.key[1]}: done in {outcome.seconds:.2f}s")

    def cloned(self, key: Key) -> None:
        self.done += 1
        self.cloned_count += 1
        self._line(f"{key[0]}/{key[1]}: reused from the original run")

    def batch_job(self, key: Key, job_id: str, state: str) -> None:
        """A task running as an AWS Batch job changed state (SUBMITTED, RUNNABLE, RUNNING...)."""
        self._line(f"{key[0]}/{key[1]}: AWS Batch job {job_id} {state}")

    def retrying(self, outcome: Outcome) -> None:
        self.running -= 1
        self._line(f"{outcome.key[0]}/{outcome.key[1]}: attempt {outcome.attempt} failed "
                   f"({_why(outcome)}); retrying")

    def failed(self, outcome: Outcome) -> None:
        self.running -= 1
        self.failures += 1
        tail = "\n".join(outcome.output.rstrip().splitlines()[-FAILURE_TAIL_LINES:])
        self._line(f"{outcome.key[0]}/{outcome.key[1]}: FAILED (attempt {outcome.attempt}, "
                   f"{_why(outcome)})\n{tail}")

    def interrupted(self, pathspec: str) -> None:
        self._line(f"Interrupted: running tasks were stopped. Continue with "
                   f"`sfncompile resume {pathspec}`")

    def end(self, succeeded: bool) -> None:
        if self.tty:
            self.stream.write("\r\033[K")
        word = "succeeded" if succeeded else "failed"
        self.stream.write(f"{self.done} tasks done, {self.failures} failed; the run {word} "
                          f"in {time.monotonic() - self.began:.1f}s\n")
        self.stream.flush()


def _why(outcome: Outcome) -> str:
    return outcome.error or f"exit {outcome.returncode}"
