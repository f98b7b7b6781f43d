"""Run task processes through the fork server (sfncompile.local.zygote), from many threads."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
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

    Start it as early as possible (before the flow is parsed): the server's imports (the
    flow module's among them) then overlap with the parsing. It preloads boto3 only for a
    datastore on S3.
    """

    def __init__(self, s3: bool = False, flow_file: Path | None = None) -> None:
        argv = [sys.executable, "-m", "sfncompile.local.zygote", "--parent", str(os.getpid())]
        argv += ["--s3"] if s3 else []
        argv += ["--flow-file", str(flow_file.resolve())] if flow_file is not None else []
        self._proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._mode = "fork"
        self._environ: dict[str, str | None] = {}  # what the flow's module code changed
        self._mode_known = threading.Event()
        if flow_file is None:  # nothing to import first: the server says nothing of it
            self._mode_known.set()
        self._jobs: dict[int, _Job] = {}
        self._ids = itertools.count()
        self._lock = threading.Lock()
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
                job.started.set()
            else:
                job.code = int(value)
                job.exited.set()
        self._mode_known.set()
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
        if not self._mode_known.is_set():  # still importing the flow module: not waited for
            self._proc.terminate()
        self._proc.wait()
