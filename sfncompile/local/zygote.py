"""A fork server for task processes: `python -m sfncompile.local.zygote --parent PID [--s3]`.

It imports the runtime once (and boto3 with an S3 client only when the datastore is on S3),
then forks one child per request, so a task pays no import again. Every task is still its own
process, running the runtime entrypoint `main(argv)` exactly as `python -m sfncompile.runtime`.

Protocol, one line each way: requests on stdin are JSON `{"id": n, "argv": [...], "out": path,
"tmp": dir, "graph": path, "flow_file": path}` (the last two are read once and reused); replies
on stdout are `started <id> <pid>` and `exited <id> <code>`. The server is single-threaded and
registers each child right after forking it, so no exit can go unreported.

Lifetime: the server and its tasks never outlive the runner. End of file on stdin means the
runner is gone (or done): the server kills every task's process group and exits. On Linux the
kernel also signals the server when the runner dies and each task when the server dies
(PR_SET_PDEATHSIG), which covers a server or task stuck outside the select loop. Each task leads
its own process group, so the processes a step starts die with it.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import gc
import io
import json
import os
import selectors
import signal
import sys
from typing import Any

from sfncompile.local import lifeline


def _child(request: dict[str, Any], args: argparse.Namespace | None, closing: list[int],
           devnull: int, server: int) -> None:
    signal.set_wakeup_fd(-1)
    for signum in (signal.SIGCHLD, signal.SIGTERM):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setpgid(0, 0)
    lifeline.die_with_parent(server, signal.SIGKILL)
    for fd in closing:
        os.close(fd)
    out = os.open(request["out"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(devnull, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(out)
    os.close(devnull)
    # Unbuffered, as Metaflow runs its tasks (PYTHONUNBUFFERED): what a step printed is in
    # its log even when the process dies by a signal (a segfault, a kill) a moment later.
    sys.stdout = _unbuffered(1)
    sys.stderr = _unbuffered(2)
    os.environ["PYTHONUNBUFFERED"] = "x"  # and in the Python processes the step starts
    faulthandler.enable()  # a crash in C code leaves the Python stack in the stderr log
    # Temporary files (artifacts being staged, the step's own) go to the run's directory that
    # the runner removes at the end: a task killed in the middle of a write leaves nothing
    # behind in /tmp.
    import tempfile

    os.environ["TMPDIR"] = tempfile.tempdir = request["tmp"]
    code = 1
    try:
        from sfncompile.runtime.__main__ import main, run_task

        code = run_task(args) if args is not None else main(request["argv"])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _unbuffered(fd: int) -> io.TextIOWrapper:
    """A text stream on `fd` that writes through at once (the process ends with os._exit)."""
    return io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), write_through=True)


def _preload(s3: bool) -> None:
    from sfncompile.flow import metaflow_alias
    from sfncompile.runtime import __main__ as entry

    entry.parser()  # argparse's set-up (gettext, terminal size) once, not per task
    metaflow_alias.install()  # every forked task inherits `metaflow` as sfncompile
    if s3:
        try:
            import boto3

            # One client loads and caches the S3 service model for every forked task.
            boto3.session.Session().client("s3", region_name="us-east-1")
        except Exception:  # pragma: no cover - a task reports its own S3 errors
            pass


def _remember(request: dict[str, Any]) -> None:
    """Read the step graph and compile the flow once, for every task forked after."""
    from sfncompile.runtime import task

    if request.get("graph"):
        task.preload_graph(request["graph"])
    if request.get("flow_file"):
        task.preload_flow(request["flow_file"])


def _parsed(argv: list[str]) -> argparse.Namespace | None:
    """The task's arguments, parsed here before the fork; None if they do not parse (the
    task then parses them itself and reports the error in its own output)."""
    from sfncompile.runtime import __main__ as entry

    try:
        with contextlib.redirect_stderr(io.StringIO()):
            return entry.parse_args(argv)
    except SystemExit:
        return None


def _kill_all(running: dict[int, int]) -> None:
    for pid in running:
        lifeline.kill_group(pid)


def serve(parent: int, s3: bool) -> None:
    running: dict[int, int] = {}  # pid -> request id

    def runner_gone(*_: object) -> None:
        _kill_all(running)
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    signal.signal(signal.SIGTERM, runner_gone)
    lifeline.die_with_parent(parent, signal.SIGTERM)
    _preload(s3)
    gc.freeze()  # keep the preloaded objects' pages shared with every child
    devnull = os.open(os.devnull, os.O_RDONLY)
    sig_r, sig_w = os.pipe()
    os.set_blocking(sig_r, False)
    os.set_blocking(sig_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(sig_w)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(sig_r, selectors.EVENT_READ)
    pending = b""
    server = os.getpid()

    def reply(line: str) -> None:
        os.write(1, (line + "\n").encode())

    while True:
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
            if not data:  # the runner closed the pipe or died: nothing may outlive it
                runner_gone()
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                _remember(request)
                args = _parsed(request["argv"])
                pid = os.fork()
                if pid == 0:
                    _child(request, args, [sig_r, sig_w], devnull, server)
                running[pid] = request["id"]
                reply(f"started {request['id']} {pid}")


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m sfncompile.local.zygote")
    p.add_argument("--parent", type=int, required=True, help="the runner's pid")
    p.add_argument("--s3", action="store_true", help="preload boto3 and an S3 client")
    args = p.parse_args()
    serve(args.parent, args.s3)


if __name__ == "__main__":
    main()
