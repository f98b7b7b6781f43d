"""Tie processes to the runner's life, and tell afterwards whether a runner is still alive."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from typing import Any

_PR_SET_PDEATHSIG = 1
_libc: Any = None


def die_with_parent(parent: int, signum: int) -> None:
    """Have the kernel send `signum` to this process when its parent dies (Linux), and exit
    now if the parent is already gone. Elsewhere the pipe to the parent is the only link."""
    global _libc
    if sys.platform.startswith("linux"):
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0)
    if os.getppid() != parent:  # it died before the prctl took effect
        os._exit(1)


def kill_group(pid: int) -> None:
    """SIGKILL a task and every process it started (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _stat(pid: int) -> list[bytes] | None:
    """Fields 3 onwards of /proc/PID/stat (Linux), None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: count from its end.
    return stat[stat.rindex(b")") + 2:].split()


def start_token(pid: int) -> str | None:
    """What tells this process apart from a later one with the same pid: its start time in
    clock ticks since boot (Linux); None where that cannot be read."""
    fields = _stat(pid)
    return fields[19].decode() if fields else None


def identity() -> dict[str, Any]:
    """This process, as the run record names its runner."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "pid_start": start_token(
        os.getpid())}


def is_alive(owner: dict[str, Any]) -> bool | None:
    """Whether the process an `identity()` describes still runs; None when this machine
    cannot tell (another host, or no pid recorded)."""
    pid = owner.get("pid")
    if not isinstance(pid, int) or owner.get("host") != socket.gethostname():
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    fields = _stat(pid)
    if fields is None:
        return True
    if fields[0] in (b"Z", b"X"):  # dead, not yet reaped by its parent
        return False
    recorded = owner.get("pid_start")
    return recorded is None or fields[19].decode() == recorded
