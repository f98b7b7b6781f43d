"""What a task attempt leaves when its process died before it could record its end: killed
by a signal (a segfault, SIGKILL, the runner on @timeout) or gone with os._exit.

As Metaflow's runtime does for such a task, the runner keeps what the task printed as its
stdout and stderr logs, adds a last line to stderr that says how the task ended, and writes
the attempt's metadata: `status` failed, `exit_code`, `signal` (the signal's name, when one
killed it), `timed_out` (when the runner killed it on @timeout) and `error`.
"""

from __future__ import annotations

import glob
import os
import signal
from dataclasses import dataclass
from typing import Any

from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound

LOGS = ("stdout", "stderr")


@dataclass(frozen=True)
class Death:
    error: str  # what the attempt's metadata and the progress display say
    meta: dict[str, Any]

    @property
    def line(self) -> str:
        """The line added to the task's stderr log (Metaflow adds its own there too)."""
        return f"sfncompile: {self.error}\n"


def how_it_died(returncode: int, timeout: int | None) -> Death:
    """The end of a process that exited with `returncode` without recording it; `timeout`
    when the runner killed it on its @timeout."""
    meta: dict[str, Any] = {"exit_code": returncode}
    if timeout is not None:
        meta.update(signal="SIGKILL", timed_out=True)
        return Death(f"killed after its @timeout of {timeout} s", meta)
    if returncode >= 0:
        return Death(f"the task process exited with code {returncode} before it recorded "
                     "its end", meta)
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    meta["signal"] = name
    if -returncode == signal.SIGSEGV:  # Metaflow's words for it
        return Death(f"the task failed with a segmentation fault ({name})", meta)
    return Death(f"the task process was killed by {name}", meta)


def keep_logs(store: ds.TaskStore, death: Death, early_output: str, task_tmp: str) -> str:
    """Store the attempt's logs as complete as they can be, with the death's line at the end
    of stderr; return their text for the progress display. A task on a local datastore wrote
    its logs in place; one on S3 wrote them in a temporary directory under `task_tmp` (its
    own TMPDIR), uploaded only at its end; one that died before either has `early_output`."""
    shown = []
    for name in LOGS:
        data = _stored(store, name)
        if data is None:
            data = _staged(task_tmp, name)
        if data is None:
            data = early_output.encode() if name == "stderr" else b""
        if name == "stderr":
            data += (b"" if not data or data.endswith(b"\n") else b"\n") + death.line.encode()
        store.write_log_bytes(name, data)
        shown.append(data.decode(errors="replace"))
    return "".join(shown)


def _stored(store: ds.TaskStore, name: str) -> bytes | None:
    try:
        return ds.read_log(store.storage, store.flow, store.run, store.step, store.task,
                           store.attempt, name)
    except KeyNotFound:
        return None


def _staged(task_tmp: str, name: str) -> bytes | None:
    """The log the task captured in its temporary directory (runtime/task.py names it
    sfn-logs-*), if it is still there."""
    for directory in sorted(glob.glob(os.path.join(glob.escape(task_tmp), "sfn-logs-*"))):
        try:
            with open(os.path.join(directory, name), "rb") as f:
                return f.read()
        except OSError:
            continue
    return None
