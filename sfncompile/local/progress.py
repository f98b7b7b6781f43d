"""What a local run prints on stderr while it runs: the tasks' output (each line prefixed with
its task), a line per step when it starts and ends, and a closing summary.

Off a terminal (a pipe, a file) a status line comes at most every STATUS_EVERY seconds; on a
terminal a live block at the bottom shows one line per active step, redrawn with ANSI escapes.
`verbose` adds the per-task lines (`step/task: running`, `step/task: done in 0.02s`).
"""

from __future__ import annotations

import ast
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import IO, Any

from sfncompile.local.outcome import Key, Outcome

FAILURE_TAIL_LINES = 40
STATUS_EVERY = 10.0  # seconds between status lines off a terminal
REDRAW_EVERY = 0.1  # seconds between redraws of the live block on a terminal
CLONE_LINES = 10  # per step, reused tasks named one by one before they are only counted
BLOCK_STEPS = 12  # steps shown in the live block at most


@dataclass
class StepCount:
    queued: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    cloned: int = 0
    began: float | None = None
    ended: bool = False

    @property
    def idle(self) -> bool:
        return self.queued == 0 and self.running == 0

    @property
    def total(self) -> int:
        return self.queued + self.running + self.done + self.failed


@dataclass
class Tally:
    """What the closing summary names besides the counts."""
    caught: list[tuple[Key, str, str]] = field(default_factory=list)  # key, type, message
    retries: dict[Key, list[str]] = field(default_factory=dict)  # key: why each attempt failed
    failed: list[Outcome] = field(default_factory=list)


def task_label(key: Key, attempt: int) -> str:
    """The prefix of a task's output lines: `[step/task]`, `[step/task retry N]`."""
    retry = f" retry {attempt}" if attempt else ""
    return f"[{key[0]}/{key[1]}{retry}]"


class Progress:
    def __init__(self, stream: IO[str] | None = None, tty: bool | None = None,
                 graph: dict[str, Any] | None = None, verbose: bool = False,
                 show_output: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.verbose = verbose
        self.show_output = show_output
        self.running = self.done = self.failures = self.cloned_count = 0
        self.began = time.monotonic()
        self.steps: dict[str, StepCount] = {}
        self.ancestors = _ancestors(graph) if graph else {}
        self.tally = Tally()
        self.pathspec = ""
        self.block = 0  # lines of the live block now on screen
        self.last_status = self.last_draw = self.began
        self.lock = threading.RLock()

    # -- writing ------------------------------------------------------------------------------

    def _line(self, text: str) -> None:
        with self.lock:
            self._clear()
            self.stream.write(text + "\n")
            self._refresh(force=True)

    def _clear(self) -> None:
        if self.block:
            self.stream.write(f"\033[{self.block}F\033[J")
            self.block = 0

    def _refresh(self, force: bool = False) -> None:
        """The live block on a terminal; a status line now and then off one."""
        now = time.monotonic()
        if self.tty:
            if force or now - self.last_draw >= REDRAW_EVERY:
                self._clear()
                lines = self._block_lines(now)
                self.stream.write("".join(f"{line}\n" for line in lines))
                self.block = len(lines)
                self.last_draw = now
        elif now - self.last_status >= STATUS_EVERY:
            self.last_status = now
            self.stream.write(f"[{now - self.began:.0f}s] {self._counts()}\n")
        self.stream.flush()

    def _counts(self) -> str:
        total = sum(s.total for s in self.steps.values())
        return (f"{self.done}/{total} tasks done, {self.running} running, "
                f"{self.failures} failed")

    def _block_lines(self, now: float) -> list[str]:
        active = [(name, s) for name, s in self.steps.items() if s.began and not s.ended]
        width = max((len(name) for name, _ in active), default=0)
        lines = [f"{name:<{width}}  {_step_status(s, now)}" for name, s in active[:BLOCK_STEPS]]
        if len(active) > BLOCK_STEPS:
            lines.append(f"... and {len(active) - BLOCK_STEPS} more steps")
        lines.append(f"{self._counts()}  [{now - self.began:.1f}s]")
        return lines

    def tick(self) -> None:
        """Called now and then (by the output tailer): keeps the display's clock moving."""
        with self.lock:
            self._refresh()

    # -- task output --------------------------------------------------------------------------

    def output(self, key: Key, attempt: int, lines: list[str]) -> None:
        """Lines a task wrote (stdout or stderr), shown prefixed with its task."""
        if not self.show_output or not lines:
            return
        label = task_label(key, attempt)
        with self.lock:
            self._clear()
            self.stream.write("".join(f"{label} {line}\n" for line in lines))
            self._refresh()

    # -- events -------------------------------------------------------------------------------

    def _step(self, key: Key) -> StepCount:
        return self.steps.setdefault(key[0], StepCount())

    def begin(self, pathspec: str) -> None:
        self.pathspec = pathspec
        self._line(f"Run {pathspec} started")

    def note(self, text: str) -> None:
        self._line(text)

    def queued(self, key: Key) -> None:
        with self.lock:
            self._step(key).queued += 1

    def started(self, key: Key, attempt: int) -> None:
        with self.lock:
            step = self._step(key)
            step.queued = max(0, step.queued - 1)
            step.running += 1
            self.running += 1
            if step.began is None:
                step.began = time.monotonic()
                self._line(f"{key[0]}: started")
            if self.verbose:
                retry = f" (attempt {attempt})" if attempt else ""
                self._line(f"{key[0]}/{key[1]}: running{retry}")
            else:
                self._refresh()

    def finished(self, outcome: Outcome) -> None:
        with self.lock:
            self._ended_task(outcome.key, failed=False)
            self.done += 1
            if outcome.caught is not None or (outcome.done or {}).get("caught"):
                self.tally.caught.append((outcome.key, *_caught(outcome)))
            if self.verbose:
                self._line(f"{outcome.key[0]}/{outcome.key[1]}: done in "
                           f"{outcome.seconds:.2f}s")
            self._steps_ended()

    def _ended_task(self, key: Key, failed: bool) -> None:
        step = self._step(key)
        step.running = max(0, step.running - 1)
        self.running -= 1
        if failed:
            step.failed += 1
        else:
            step.done += 1

    def cloned(self, key: Key) -> None:
        with self.lock:
            step = self._step(key)
            step.queued = max(0, step.queued - 1)
            step.cloned += 1
            step.done += 1
            self.done += 1
            self.cloned_count += 1
            if step.cloned <= CLONE_LINES:
                self._line(f"{key[0]}/{key[1]}: reused from the original run")
            self._steps_ended()

    def batch_job(self, key: Key, job_id: str, state: str) -> None:
        """A task running as an AWS Batch job changed state (SUBMITTED, RUNNABLE, RUNNING...)."""
        self._line(f"{key[0]}/{key[1]}: AWS Batch job {job_id} {state}")

    def retrying(self, outcome: Outcome, wait: float = 0.0) -> None:
        with self.lock:
            step = self._step(outcome.key)
            step.running = max(0, step.running - 1)
            step.queued += 1  # its next attempt
            self.running -= 1
            self.tally.retries.setdefault(outcome.key, []).append(_why(outcome))
            when = "" if not wait else f" in {wait:,.0f}s" if wait >= 10 else f" in {wait:.2g}s"
            self._line(f"{outcome.key[0]}/{outcome.key[1]}: attempt {outcome.attempt} failed "
                       f"({_why(outcome)}); retrying{when}")

    def failed(self, outcome: Outcome) -> None:
        with self.lock:
            self._ended_task(outcome.key, failed=True)
            self.failures += 1
            self.tally.failed.append(outcome)
            head = (f"{outcome.key[0]}/{outcome.key[1]}: FAILED (attempt {outcome.attempt}, "
                    f"{_why(outcome)})")
            # Its output was shown as it came, unless it was hidden or never streamed.
            self._line(head if self.show_output and not outcome.ended
                       else f"{head}\n{_tail(outcome.output)}")
            self._steps_ended()

    def _steps_ended(self) -> None:
        """A step ends when neither it nor a step before it has a task queued or running."""
        for name, step in self.steps.items():
            if step.began is None or step.ended or not step.idle:
                continue
            if any(not self.steps[a].idle for a in self.ancestors.get(name, ())
                   if a in self.steps):
                continue
            step.ended = True
            self._line(f"{name}: {_step_end(step)}")

    def interrupted(self, pathspec: str) -> None:
        self._line(f"Interrupted: running tasks were stopped. Continue with "
                   f"`sfncompile resume {pathspec}`")

    def end(self, succeeded: bool) -> None:
        with self.lock:
            self._clear()
            for line in self.summary():
                self.stream.write(line + "\n")
            word = "succeeded" if succeeded else "failed"
            self.stream.write(f"{self.done} tasks done, {self.failures} failed; the run {word} "
                              f"in {time.monotonic() - self.began:.1f}s\n")
            self.stream.flush()

    def summary(self) -> list[str]:
        """The closing summary: caught exceptions, retries, reused tasks, failures."""
        lines = []
        for (step, task), kind, message in self.tally.caught:
            lines.append(f"caught by @catch: {step}/{task}: {kind}: {message}")
        for (step, task), whys in self.tally.retries.items():
            lines.append(f"retried: {step}/{task}: {len(whys)} failed attempt"
                         f"{'s' if len(whys) > 1 else ''} ({'; '.join(whys)})")
        reused = {name: s.cloned for name, s in self.steps.items() if s.cloned}
        if reused:
            lines.append(f"cloned by resume, not run again: {sum(reused.values())} tasks ("
                         + ", ".join(f"{n} {c}" for n, c in reused.items()) + ")")
        for outcome in self.tally.failed:
            step, task = outcome.key
            lines.append(f"failed: {step}/{task} (attempt {outcome.attempt}, {_why(outcome)}); "
                         f"its logs: sfncompile logs {self.pathspec}/{step}/{task}")
            trace = _traceback(outcome.output)
            if trace:
                lines.append(trace)
        return lines


def _step_status(step: StepCount, now: float) -> str:
    finished = step.done + step.failed
    text = f"{finished}/{step.total} done, {step.running} running, {step.failed} failed"
    worked = step.done - step.cloned
    if step.began is not None and worked > 0:
        left = (step.total - finished) * (now - step.began) / worked
        text += f", ETA {int(left // 60)}:{int(left % 60):02d}"
    return text


def _step_end(step: StepCount) -> str:
    took = time.monotonic() - (step.began or time.monotonic())
    failed = f", {step.failed} failed" if step.failed else ""
    reused = f" ({step.cloned} reused)" if step.cloned else ""
    return f"{step.done} task{'s' if step.done != 1 else ''} done{reused}{failed} in {took:.1f}s"


def _ancestors(graph: dict[str, Any]) -> dict[str, set[str]]:
    """Every step from which each step can be reached (through loops too)."""
    steps: dict[str, Any] = graph.get("steps", {})
    parents: dict[str, set[str]] = {name: set() for name in steps}
    for name, info in steps.items():
        for target in [*info.get("targets", ()), *dict(info.get("cases") or {}).values()]:
            parents.setdefault(target, set()).add(name)
    found: dict[str, set[str]] = {}
    for name in steps:
        seen: set[str] = set()
        todo = list(parents.get(name, ()))
        while todo:
            step = todo.pop()
            if step not in seen:
                seen.add(step)
                todo.extend(parents.get(step, ()))
        seen.discard(name)
        found[name] = seen
    return found


def _caught(outcome: Outcome) -> tuple[str, str]:
    """The type and message of the exception @catch recorded for a task."""
    if outcome.caught is not None:  # the runner's stand-in for a task that died
        return "the task died", str(outcome.caught.get("Error") or "")
    text = str((outcome.done or {}).get("caught") or "")
    match = re.fullmatch(r"([\w.]+)\((.*)\)", text, re.S)
    if not match:
        return "exception", text
    try:
        args: tuple[Any, ...] = ast.literal_eval(f"({match.group(2)},)") \
            if match.group(2) else ()
        message = ", ".join(map(str, args))
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        message = match.group(2)  # not literals: shown as the repr has them
    return match.group(1), message


def _tail(output: str) -> str:
    return "\n".join(output.rstrip().splitlines()[-FAILURE_TAIL_LINES:])


def _traceback(output: str) -> str:
    """The task's last traceback, whole; else the end of its output."""
    at = output.rfind("Traceback (most recent call last):")
    return output[at:].rstrip() if at >= 0 else _tail(output)


def _why(outcome: Outcome) -> str:
    return outcome.error or f"exit {outcome.returncode}"
