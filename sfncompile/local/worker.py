"""Run task processes through the fork server (sfncompile.local.zygote), from many threads."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from sfncompile.local import lifeline

_EARLY: subprocess.Popen[bytes] | None = None  # start_early's server, until a launcher takes it


def start_early() -> None:
    """Start this process's run's fork server now, before the command line has loaded, so
    that the interpreter's start-up and the runtime's imports there overlap that; the run
    tells it its flow later (TaskLauncher). A server no run takes ends with this process."""
    global _EARLY
    _EARLY = _start_server("--later")


def _start_server(*options: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "sfncompile.local.zygote", "--parent", str(os.getpid()),
            *options]
    return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def _early_server(s3: bool, flow_file: str | None) -> subprocess.Popen[bytes] | None:
    """start_early's server, told the run's datastore and flow; None if there is none (or it
    died: a new one starts)."""
    global _EARLY
    proc, _EARLY = _EARLY, None
    if proc is None or proc.stdin is None:
        return None
    try:
        proc.stdin.write(json.dumps({"s3": s3, "flow_file": flow_file}).encode() + b"\n")
        proc.stdin.flush()
    except (BrokenPipeError, ValueError):
        proc.wait()
        return None
    return proc


@dataclass
class _Job:
    started: threading.Event = field(default_factory=threading.Event)  # or never will
    exited: threading.Event = field(default_factory=threading.Event)
    pid: int = 0
    code: int = -1
    cancelled: bool = False  # it waited for a slot when the run stopped: it never ran


class TaskLauncher:
    """One fork server per run; `submit` and `wait` are safe to call from several threads.

    Start it as early as possible (before the flow is parsed): the server's imports (the
    flow module's among them) then overlap with the parsing. It preloads boto3 only for a
    datastore on S3.
    """

    def __init__(self, s3: bool = False, flow_file: Path | None = None) -> None:
        flow = str(flow_file.resolve()) if flow_file is not None else None
        self._proc = _early_server(s3, flow) or _start_server(
            *(["--s3"] if s3 else []), *(["--flow-file", flow] if flow is not None else []))
        self._mode = "fork"
        self._environ: dict[str, str | None] = {}  # what the flow's module code changed
        self._mode_known = threading.Event()
        if flow_file is None:  # nothing to import first: the server says nothing of it
            self._mode_known.set()
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._stopping = False  # kill_all was called: a task that starts now is killed
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def for_root(cls, root: str, flow_file: Path | None = None) -> TaskLauncher:
        return cls(s3=root.startswith("s3://"), flow_file=flow_file)

    def mode(self) -> str:
        """`fork`, or `fresh <why>` when every task starts in a fresh interpreter; known once
        the server has imported the flow module."""
        self._mode_known.wait()
        return self._mode

    def module_environ(self) -> dict[str, str]:
        """This process's environment as the flow's module code left the tasks' (its
        METAFLOW_* variables: METAFLOW_BRANCH names the run's @project branch); known once
        the server has imported the flow module."""
        self._mode_known.wait()
        environ = dict(os.environ)
        for key, value in self._environ.items():
            if value is None:
                environ.pop(key, None)
            else:
                environ[key] = value
        return environ

    def __enter__(self) -> TaskLauncher:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            kind, _, rest = raw.decode().rstrip("\n").partition(" ")
            if kind == "environ":
                self._environ = json.loads(rest)
                continue
            if kind == "mode":
                self._mode = rest
                self._mode_known.set()
                continue
            ident, _, value = rest.partition(" ")
            job = self._jobs[int(ident)]
            if kind == "started":
                job.pid = int(value)
                if self._stopping:  # it left the server's queue as the run stopped
                    lifeline.kill_group(job.pid)
                job.started.set()
            elif kind == "cancelled":
                job.cancelled = True
                job.started.set()
                job.exited.set()
            else:
                job.code = int(value)
                job.exited.set()
        self._mode_known.set()
        for job in list(self._jobs.values()):  # the server died: nothing more will come
            job.started.set()
            job.exited.set()

    def set_slots(self, slots: int) -> None:
        """At most `slots` tasks run at once; the server keeps the others waiting, in order,
        and starts each the moment a slot frees."""
        self._send({"slots": slots})

    def go_on(self) -> None:
        """The run goes on after a failed task (it is retried, or @catch recorded it): the
        tasks that wait for a slot may start again."""
        self._send({"go": True})

    def cancel_waiting(self) -> None:
        """Drop the tasks that wait for a slot: `wait` returns None for each."""
        self._send({"cancel": True})

    def _send(self, request: dict[str, Any]) -> bool:
        with self._lock:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps(request).encode() + b"\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError):  # the server is gone (or closed)
                return False
        return True

    def submit(self, argv: list[str], output_path: str, **shared: Any) -> _Job:
        """Ask for a task (it starts when a slot is free, in the order asked); `wait` for it.
        `shared` holds what the server reads once for all tasks (see
        sfncompile.local.zygote)."""
        job = _Job()
        with self._lock:
            ident = next(self._ids)
            self._jobs[ident] = job
        if not self._send({"id": ident, "argv": argv, "out": output_path, **shared}):
            job.code = -1
            job.started.set()
            job.exited.set()
        return job

    def wait(self, job: _Job, timeout: float | None,
             on_start: Callable[[], None] | None = None) -> int | None:
        """The task's exit code (-9 when it was killed on timeout), or None when it never
        started (cancelled while it waited for a slot). `on_start` is called when it starts;
        the timeout counts from then."""
        job.started.wait()
        if job.cancelled:
            return None
        if on_start is not None:
            on_start()
        if not job.exited.wait(timeout):
            job.started.wait()
            if job.pid:
                lifeline.kill_group(job.pid)
            job.exited.wait()
            return -9
        return job.code

    def kill_all(self) -> None:
        """Kill every task still running (on Ctrl-C), and drop those that wait for a slot:
        their attempts stay uncommitted."""
        self._stopping = True
        self.cancel_waiting()
        for job in list(self._jobs.values()):
            if job.pid and not job.exited.is_set():
                lifeline.kill_group(job.pid)

    def close(self) -> None:
        """End the server (it kills any task still running) and wait for it."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        if not self._mode_known.is_set():  # still importing the flow module: not waited for
            self._proc.terminate()
        self._proc.wait()
