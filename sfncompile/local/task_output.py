"""Live task output: the lines a running task writes, read as they are written.

A task captures its stdout and stderr in its log files (runtime/task.py `captured_output`:
in place on a local datastore) and echoes them into its output file only when it ends. One
thread here polls the log files of every running task and hands each complete new line to a
sink, in order per file; when the task ends, the rest is read, and what its output file holds
besides the echo (what it printed outside the capture) is shown too.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sfncompile.datastore.storage import LocalStorage, Storage
from sfncompile.local.outcome import Key

POLL_SECONDS = 0.1

Sink = Callable[[Key, int, list[str]], None]


@dataclass
class _Source:
    path: str
    offset: int = 0
    partial: bytes = b""

    def whole(self) -> bytes:
        """The whole file, read again at the end rather than kept while the task runs."""
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def read(self, final: bool) -> list[str]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            data = b""
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        if final and self.partial:
            lines, self.partial = [*lines, self.partial], b""
        return [line.decode(errors="replace").rstrip("\r") for line in lines]


@dataclass
class Watch:
    key: Key
    attempt: int
    sources: list[_Source] = field(default_factory=list)


class OutputTailer:
    """Follows the log files of running tasks; `tick` is called after every poll."""

    def __init__(self, sink: Sink, tick: Callable[[], None]) -> None:
        self.sink = sink
        self.tick = tick
        self.watches: list[Watch] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def watch(self, key: Key, attempt: int, paths: list[str]) -> Watch:
        watch = Watch(key, attempt, [_Source(p) for p in paths])
        with self.lock:
            self.watches.append(watch)
        return watch

    def finish(self, watch: Watch, output_file: str) -> None:
        """The task ended: show the rest of its logs and what it printed outside them."""
        with self.lock:
            self.watches.remove(watch)
            self._read(watch, final=True)
            try:
                with open(output_file, "rb") as f:
                    extra = f.read()
            except OSError:
                return
            echo = b"".join(s.whole() for s in watch.sources if s.offset)  # read: not empty
            if echo:
                extra = extra.replace(echo, b"", 1)
            lines = extra.decode(errors="replace").splitlines()
            self.sink(watch.key, watch.attempt, lines)

    def _read(self, watch: Watch, final: bool) -> None:
        for source in watch.sources:
            self.sink(watch.key, watch.attempt, source.read(final))

    def _poll(self) -> None:
        while not self.stopping.wait(POLL_SECONDS):
            with self.lock:
                for watch in self.watches:
                    self._read(watch, final=False)
            self.tick()

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()


def log_paths(storage: Storage, prefix: str) -> list[str]:
    """The files a task on a local datastore captures its stdout and stderr in (on S3 they
    are in a temporary directory, uploaded at the end: its output is shown when it ends)."""
    if not isinstance(storage, LocalStorage):
        return []
    return [os.path.join(storage.root, *prefix.split("/"), "logs", name)
            for name in ("stdout", "stderr")]
