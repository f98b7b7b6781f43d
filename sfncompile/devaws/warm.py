"""A warm `python3` for dev-aws's Batch jobs: started once with boto3 imported, it forks a
child per job that runs the job's `python3 -c CODE ARGS...` as a fresh interpreter would.

Each Batch task's container runs `python3 -c BOOTSTRAP ...` (conventions/bootstrap.py), whose
interpreter start-up and `import boto3` took a quarter of its CPU on the emulator. The server
(`JobRunner` in server.py) sends a job here only when a fresh `python3` would be this very
interpreter with the same PYTHON* variables; otherwise it starts a process as before.

Run as a script (`python3 warm.py`), not as a module of sfncompile: a job's code package
brings its own sfncompile, which an already imported one would shadow. Only the stdlib and
boto3 are imported. The protocol, one JSON object or word line each way:
  in:  {"id": ID, "argv": ["python3", "-c", CODE, ARG...], "env": {...}, "cwd": DIR, "log": PATH}
  out: "started ID PID", then "exited PID CODE" (CODE as subprocess gives it: -N for signal N)
The child is the leader of a session of its own (so its group can be killed), its stdin is
/dev/null, its stdout and stderr go to PATH. The server closing stdin ends this process.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import threading
import types
from typing import Any

# Back to their defaults in the child, as in a fresh interpreter (which, like this one, ignores
# SIGPIPE and SIGXFSZ, and has Python's SIGINT handler, set again in the child).
_DEFAULT_SIGNALS = (signal.SIGTERM, signal.SIGCHLD)


def _exit_code(exc: SystemExit) -> int:
    """What `python3 -c` exits with for this SystemExit (Python's handle_system_exit)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    print(exc.code, file=sys.stderr)
    return 1


def _run_job(request: dict[str, Any], closing: list[int]) -> None:
    """In the forked child: become the job's `python3 -c`, run it, exit as it would."""
    signal.set_wakeup_fd(-1)
    for fd in closing:
        os.close(fd)
    for signum in _DEFAULT_SIGNALS:
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.setsid()
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    os.close(null)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    _, _, code_text, *args = request["argv"]
    sys.argv = ["-c", *args]
    sys.path[0] = ""  # `-c` puts the working directory first
    main = types.ModuleType("__main__")
    sys.modules["__main__"] = main
    code, interrupted = 0, False
    try:
        exec(compile(code_text, "<string>", "exec"), main.__dict__)
    except SystemExit as exc:
        code = _exit_code(exc)
    except BaseException as exc:  # as Python reports it: the job's frames only
        tb = exc.__traceback__.tb_next if exc.__traceback__ else None
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        code, interrupted = 1, isinstance(exc, KeyboardInterrupt)
    try:  # what the interpreter does on the way out: join threads, then atexit
        threading._shutdown()  # type: ignore[attr-defined]
        atexit._run_exitfuncs()
        sys.stdout.flush()
        sys.stderr.flush()
        if interrupted:  # Python then dies of SIGINT, so that its parent knows
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
    finally:
        os._exit(code)


def serve() -> None:
    import boto3  # noqa: F401  (the point of this process: every job finds it imported)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the server's to handle
    sig_r, sig_w = os.pipe()
    os.set_blocking(sig_r, False)
    os.set_blocking(sig_w, False)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    signal.set_wakeup_fd(sig_w)
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    selector.register(sig_r, selectors.EVENT_READ)
    running: set[int] = set()
    pending = b""

    def reply(line: str) -> None:
        os.write(1, (line + "\n").encode())

    # The loop of local/zygote.py's fork server, less its queue: this script may import no
    # module of sfncompile, so the two cannot share it.
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
                    running.discard(pid)
                    reply(f"exited {pid} {os.waitstatus_to_exitcode(status)}")
                continue
            data = os.read(0, 1 << 16)
            if not data:  # the server is gone
                os._exit(0)
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    try:
                        _run_job(request, [sig_r, sig_w, selector.fileno()])
                    except BaseException as exc:  # before the job's code ran: as Popen would
                        print(f"[dev-aws] cannot start the job: {exc}", file=sys.stderr)
                    finally:  # never back into this loop
                        os._exit(127)
                running.add(pid)
                reply(f"started {request['id']} {pid}")


# ------------------------------------------------------------------------------- the server's end
class WarmProcess:
    """A job the warm python started: what JobRunner uses of a Popen."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()

    def wait(self, timeout: float | None = None) -> int:
        if not self._ended.wait(timeout):
            raise subprocess.TimeoutExpired(f"python3 -c (pid {self.pid})", timeout or 0)
        assert self.returncode is not None
        return self.returncode

    def end(self, code: int) -> None:
        self.returncode = code
        self._ended.set()


class WarmPython:
    """The server's end: starts the warm python, hands it the jobs it can run as a fresh
    `python3` would, and gives each job's exit code to whoever waits for it."""

    def __init__(self, env: dict[str, str]) -> None:
        self._python = os.path.realpath(sys.executable)
        self._python_vars = _python_vars(env)
        self._proc = subprocess.Popen([sys.executable, __file__], stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, env=env)
        self._ids = itertools.count()
        self._lock = threading.Lock()  # one request written at a time (they exceed PIPE_BUF)
        self._starting: dict[int, tuple[threading.Event, list[WarmProcess]]] = {}
        self._running: dict[int, WarmProcess] = {}
        self._alive = True
        threading.Thread(target=self._read, name="dev-aws-warm-python", daemon=True).start()

    def can_run(self, argv: list[str], env: dict[str, str]) -> bool:
        """Is `argv` a `python3 -c` that a fresh interpreter would run exactly as this one?"""
        if len(argv) < 3 or argv[1] != "-c" or not self._alive:
            return False
        found = shutil.which(argv[0], path=env.get("PATH", os.defpath))
        return (found is not None and os.path.realpath(found) == self._python
                and _python_vars(env) == self._python_vars)

    def start(self, argv: list[str], env: dict[str, str], cwd: str,
              log: str) -> WarmProcess | None:
        """Start the job; None if the warm python is gone (then start a process instead)."""
        request_id = next(self._ids)
        started: tuple[threading.Event, list[WarmProcess]] = (threading.Event(), [])
        line = json.dumps({"id": request_id, "argv": argv, "env": env, "cwd": cwd,
                           "log": log}) + "\n"
        with self._lock:
            if not self._alive:
                return None
            self._starting[request_id] = started
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(line.encode())
                self._proc.stdin.flush()
            except OSError:
                self._starting.pop(request_id, None)
                return None
        started[0].wait()
        return started[1][0] if started[1] else None

    def stop(self) -> None:
        if self._proc.stdin is not None:
            self._proc.stdin.close()  # it exits when its input ends
        self._proc.wait()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        try:
            for raw in self._proc.stdout:
                word, first, second = raw.decode().split()
                with self._lock:
                    if word == "started":
                        job = self._running[int(second)] = WarmProcess(int(second))
                        event, out = self._starting.pop(int(first))
                        out.append(job)
                        event.set()
                    elif word == "exited" and int(first) in self._running:
                        self._running.pop(int(first)).end(int(second))
        finally:
            self._give_up()

    def _give_up(self) -> None:
        """The warm python died or said what cannot be read: new jobs start processes, and
        the jobs it ran, whose ends cannot be reported now, are killed and ended here."""
        self._proc.kill()
        with self._lock:
            self._alive = False
            for event, _ in self._starting.values():
                event.set()
            self._starting.clear()
            for job in self._running.values():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(job.pid, signal.SIGKILL)
                job.end(-signal.SIGKILL)
            self._running.clear()


def _python_vars(env: dict[str, str]) -> dict[str, str]:
    """The variables an interpreter reads as it starts (PYTHONPATH, PYTHONHASHSEED, ...)."""
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}


if __name__ == "__main__":
    serve()
