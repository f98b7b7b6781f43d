"""A fork server for task processes: `python -m sfncompile.local.zygote`.

It imports the runtime and boto3 once, then forks one child per request, so a task pays
neither import again (boto3 alone takes about half a second). Every task is still its own
process, running the runtime entrypoint `main(argv)` exactly as `python -m sfncompile.runtime`.

Protocol, one line each way: requests on stdin are JSON `{"id": n, "argv": [...], "out": path}`;
replies on stdout are `started <id> <pid>` and `exited <id> <code>`. The server is single-
threaded and registers each child right after forking it, so no exit can go unreported.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import sys
import tempfile
from typing import Any


def _child(request: dict[str, Any], closing: list[int]) -> None:
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for fd in closing:
        os.close(fd)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(null)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115 - the process ends with os._exit
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    # Temporary files (artifacts being staged, captured logs, the step's own) go beside the
    # output file, in the run's directory that the runner removes at the end: a task killed
    # in the middle of a write leaves nothing behind in /tmp.
    tmp = request["out"] + ".tmp"
    os.makedirs(tmp, exist_ok=True)
    os.environ["TMPDIR"] = tempfile.tempdir = tmp
    code = 1
    try:
        from sfncompile.runtime.__main__ import main

        code = main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    import sfncompile.local.worker_preload  # noqa: F401 - the point of the server

    sig_r, sig_w = os.pipe()
    os.set_blocking(sig_r, False)
    os.set_blocking(sig_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(sig_w)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(sig_r, selectors.EVENT_READ)
    running: dict[int, int] = {}
    pending = b""
    accepting = True

    def reply(line: str) -> None:
        os.write(1, (line + "\n").encode())

    while accepting or running:
        for key, _ in selector.select():
            if key.fd == sig_r:
                try:
                    while os.read(sig_r, 4096):
                        pass
                except BlockingIOError:
                    pass
                while running:
                    pid, status = os.waitpid(-1, os.WNOHANG)
                    if pid == 0:
                        break
                    if pid in running:
                        reply(f"exited {running.pop(pid)} {os.waitstatus_to_exitcode(status)}")
                continue
            data = os.read(0, 65536)
            if not data:
                accepting = False
                selector.unregister(0)
                continue
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    _child(request, [sig_r, sig_w])
                running[pid] = request["id"]
                reply(f"started {request['id']} {pid}")


if __name__ == "__main__":
    serve()
