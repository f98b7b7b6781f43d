"""Run task processes through the fork server (sfncompile.local.zygote), from many threads."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field


@dataclass
class _Job:
    started: threading.Event = field(default_factory=threading.Event)
    exited: threading.Event = field(default_factory=threading.Event)
    pid: int = 0
    code: int = -1


class TaskLauncher:
    """One fork server per run; `run_task` is safe to call from several threads."""

    def __init__(self) -> None:
        self._proc = subprocess.Popen([sys.executable, "-m", "sfncompile.local.zygote"],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

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

    def run_task(self, argv: list[str], output_path: str, timeout: float | None) -> int:
        """Run one task; return its exit code (-9 when it was killed on timeout)."""
        job = _Job()
        with self._lock:
            ident = next(self._ids)
            self._jobs[ident] = job
            assert self._proc.stdin is not None
            line = json.dumps({"id": ident, "argv": argv, "out": output_path}) + "\n"
            self._proc.stdin.write(line.encode())
            self._proc.stdin.flush()
        if not job.exited.wait(timeout):
            job.started.wait()
            if job.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(job.pid, signal.SIGKILL)
            job.exited.wait()
            return -9
        return job.code

    def kill_all(self) -> None:
        """Kill every task still running (on Ctrl-C): their attempts stay uncommitted."""
        for job in list(self._jobs.values()):
            if job.pid and not job.exited.is_set():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(job.pid, signal.SIGKILL)

    def close(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()
        self._proc.wait()
