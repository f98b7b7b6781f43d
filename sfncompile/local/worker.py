"""Run task processes through the fork server (sfncompile.local.zygote), from many threads."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sfncompile.local import lifeline


@dataclass
class _Job:
    started: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)
    pid: int = 0
    code: int = -1


class TaskLauncher:
    """One fork server per run; `run_task` is safe to call from several threads.

    Start it as early as possible (before the flow is parsed): the server's imports then
    overlap with the parsing. It preloads boto3 only for a datastore on S3.
    """

    def __init__(self, s3: bool = False) -> None:
        argv = [sys.executable, "-m", "sfncompile.local.zygote", "--parent", str(os.getpid())]
        self._proc = subprocess.Popen(argv + (["--s3"] if s3 else []),
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @classmethod
    def for_root(cls, root: str) -> TaskLauncher:
        return cls(s3=root.startswith("s3://"))

    def __enter__(self) -> TaskLauncher:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for raw in self._proc.stdout:
            kind, ident, value = raw.decode().split()
            job = self._jobs[int(ident)]
            if kind == "started":
                job.pid = int(value)
                job.started.set()
            else:
                job.code = int(value)
                job.exited.set()
        for job in list(self._jobs.values()):  # the server died: nothing more will come
            job.started.set()
            job.exited.set()

    def run_task(self, argv: list[str], output_path: str, timeout: float | None,
                 **shared: Any) -> int:
        """Run one task; return its exit code (-9 when it was killed on timeout). `shared`
        holds what the server reads once for all tasks (see sfncompile.local.zygote)."""
        job = _Job()
        with self._lock:
            ident = next(self._ids)
            self._jobs[ident] = job
            assert self._proc.stdin is not None
            line = json.dumps({"id": ident, "argv": argv, "out": output_path, **shared}) + "\n"
            try:
                self._proc.stdin.write(line.encode())
                self._proc.stdin.flush()
            except (BrokenPipeError, ValueError):  # the server is gone (or closed)
                return -1
        if not job.exited.wait(timeout):
            job.started.wait()
            if job.pid:
                lifeline.kill_group(job.pid)
            job.exited.wait()
            return -9
        return job.code

    def kill_all(self) -> None:
        """Kill every task still running (on Ctrl-C): their attempts stay uncommitted."""
        for job in list(self._jobs.values()):
            if job.pid and not job.exited.is_set():
                lifeline.kill_group(job.pid)

    def close(self) -> None:
        """End the server (it kills any task still running) and wait for it."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        self._proc.wait()
