"""A fork server for task processes:
`python -m sfncompile.local.zygote --parent PID [--s3] [--flow-file FLOW.py]`.

It imports the runtime once (and boto3 with an S3 client only when the datastore is on S3)
and the flow module (so its module-level imports: pandas, sklearn, ...), then forks one child
per request, so a task pays no import again. Every task is still its own process, with its own
copy of the module, running the runtime entrypoint `main(argv)` as `python -m
sfncompile.runtime` does.

Forking is unsafe once a thread runs (a forked child gets its memory, locks held, but not the
thread): when importing the flow module started one, or SFNCOMPILE_FRESH_INTERPRETER is set,
every task starts in a fresh interpreter instead (`python -m sfncompile.local.zygote --task-of
PID ARGV...`, spawned, never forked), as does a request that asks for one (`"fresh": true`: a
@pypi/@conda step, or a step that opts out).

Protocol, one line each way: requests on stdin are JSON `{"id": n, "argv": [...], "out": path,
"tmp": dir, "graph": path, "flow_file": path, "fresh": bool, "gang": bool}` (graph and
flow_file are read once and reused), `{"slots": n}`, `{"go": true}` and `{"cancel": true}`;
replies on stdout are `environ {"METAFLOW_X": value or null}` (what the flow's module code
changed) and `mode fork` or `mode fresh <why>` once, first, then `started <id> <pid>`,
`exited <id> <code>` and `cancelled <id>`. The server is single-threaded and registers each
child right after starting it, so no exit can go unreported.

Slots: with `{"slots": n}`, at most n tasks run at once and the others wait here, in order; a
task starts the moment another is reaped, with no round trip to the runner (which keeps a few
more requests here than there are slots). A gang's node (`"gang": true`, the nodes of a
@parallel step wait for each other) never waits. A task that exits non-zero holds the queue:
the runner says `{"go": true}` when the run goes on (a retry, a @catch), or `{"cancel": true}`,
which drops every waiting request, when it stops. So no task starts after a failure that ends
the run, as with Metaflow's runtime.

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
import importlib.abc
import importlib.machinery
import io
import json
import os
import pickle
import selectors
import signal
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import IO, Any

from sfncompile.conventions.task_env import FRESH_INTERPRETER_ENV, wants_fresh_interpreter
from sfncompile.local import lifeline

# Signals a fresh task must not inherit as ignored: the server ignores SIGINT (Ctrl-C is the
# runner's), and Python ignores SIGPIPE and SIGXFSZ (subprocess resets them the same way).
_DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE,
                    signal.SIGXFSZ)


def _child(request: dict[str, Any], args: argparse.Namespace | None, closing: list[int],
           devnull: int, server: int) -> None:
    gc.enable()
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


def _preload() -> None:
    from sfncompile.flow import metaflow_alias
    from sfncompile.runtime import __main__ as entry

    entry.quick_parse([])  # argparse's set-up (gettext, terminal size) once, not per task
    metaflow_alias.install()  # every forked task inherits `metaflow` as sfncompile


def _preload_s3() -> None:
    try:
        import boto3

        # One client loads and caches the S3 service model for every forked task.
        boto3.session.Session().client("s3", region_name="us-east-1")
    except Exception:  # pragma: no cover - a task reports its own S3 errors
        pass


def _hello() -> tuple[bool, str | None]:
    """A server started before its run knew its flow (`--later`: sfncompile.__main__ starts
    it first thing) reads it here: the first line on stdin, `{"s3": bool, "flow_file": path
    or null}`, read byte by byte (the requests follow it). End of file: the command ended
    without a run."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            os._exit(0)
        line += byte
    hello = json.loads(line)
    return bool(hello.get("s3")), hello.get("flow_file")


def _preimport(flow_file: str) -> str | None:
    """Import the flow module here, once; return why tasks must start fresh instead, if they
    must. The module's output goes to files (this process's stdout is the protocol) and is
    printed again by each task, as if the task had run the module code itself. With
    FRESH_INTERPRETER_ENV set the module is imported all the same (as Metaflow's process
    that starts a run runs it), for what it sets in the environment; no task inherits it."""
    fresh = f"{FRESH_INTERPRETER_ENV} is set" if wants_fresh_interpreter(dict(os.environ)) \
        else None
    from sfncompile.runtime import task

    watch = _NumpyRandomWatch()
    sys.meta_path.insert(0, watch)
    # On failure nothing is kept: each task imports the module itself and reports the error.
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            _redirected(out.fileno(), err.fileno()), contextlib.suppress(BaseException):
        found = task.preimport_flow(flow_file)
        found.output = (_read(out), _read(err))
    watch.reseed_in_children()
    return fresh or _threads_started()


def _environ_changes(before: dict[str, str]) -> dict[str, str | None]:
    """The METAFLOW_* variables that the flow's module code set, changed (their value) or
    removed (None): the runner tags the run by them (METAFLOW_BRANCH), as the tasks see them."""
    now = os.environ
    keys = {k for k in {*before, *now} if k.startswith("METAFLOW_")}
    return {k: now.get(k) for k in sorted(keys) if now.get(k) != before.get(k)}


@contextlib.contextmanager
def _redirected(out: int, err: int) -> Iterator[None]:
    """fds 1 and 2 to files and 0 from /dev/null (stdin and stdout are the protocol: module
    code must neither read nor write them), restored after."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in (0, 1, 2)]
    null = os.open(os.devnull, os.O_RDONLY)
    for source, fd in ((null, 0), (out, 1), (err, 2)):
        os.dup2(source, fd)
    os.close(null)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in enumerate(saved):
            os.dup2(copy, fd)
            os.close(copy)


def _read(f: IO[bytes]) -> str:
    sys.stdout.flush()
    sys.stderr.flush()
    f.seek(0)
    return f.read().decode(errors="replace")


class _NumpyRandomWatch(importlib.abc.MetaPathFinder):
    """Keeps the state of numpy.random's global generator as its import left it (seeded from
    the OS's entropy). If the flow's module code leaves it so, every forked task reseeds it,
    as its own import of numpy would have: tasks draw different numbers, as in Metaflow. A
    state the module code set (a seed) is inherited as it is."""

    def __init__(self) -> None:
        self.fresh: bytes | None = None

    def find_spec(self, name: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> ModuleSpec | None:
        if name != "numpy.random":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = spec.loader if spec is not None else None
        if isinstance(loader, importlib.machinery.SourceFileLoader):
            run = loader.exec_module

            def exec_module(module: ModuleType) -> None:
                run(module)
                self.fresh = _numpy_state(module)

            loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec

    def reseed_in_children(self) -> None:
        sys.meta_path.remove(self)
        module = sys.modules.get("numpy.random")
        if module is not None and self.fresh is not None and _numpy_state(module) == self.fresh:
            os.register_at_fork(after_in_child=module.seed)


def _numpy_state(module: ModuleType) -> bytes | None:
    try:
        return pickle.dumps(module.get_state())
    except Exception:  # not the numpy this knows: leave it alone
        return None


def _threads_started() -> str | None:
    """Why forking is unsafe now: a Python thread other than this one runs (started by the
    threading module or by _thread)."""
    others = [t.name for t in threading.enumerate() if t is not threading.main_thread()]
    count = max(len(others), len(sys._current_frames()) - 1)
    if not count:
        return None
    names = f": {', '.join(others[:3])}" if others else ""
    return f"importing the flow module started {count} thread{'s' if count > 1 else ''}{names}"


def _spawn(request: dict[str, Any], server: int, env: dict[str, str]) -> int:
    """Start the task in a fresh interpreter (posix_spawn: safe beside threads, unlike fork)."""
    argv = [sys.executable, "-m", "sfncompile.local.zygote", "--task-of", str(server),
            *request["argv"]]
    actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, request["out"],
                os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    env = env | {"PYTHONUNBUFFERED": "x", "TMPDIR": request["tmp"]}
    return os.posix_spawn(sys.executable, argv, env, file_actions=actions, setpgroup=0,
                          setsigdef=_DEFAULT_SIGNALS)


def run_fresh(server: int, argv: list[str]) -> None:
    """A task in its own interpreter, spawned by the server: what `_child` sets up for a
    forked one (the server's output redirection and process group came with the spawn)."""
    lifeline.die_with_parent(server, signal.SIGKILL)
    faulthandler.enable()
    from sfncompile.runtime.__main__ import main as run

    sys.exit(run(argv))


_REMEMBERED: set[tuple[str | None, str | None]] = set()


def _remember(request: dict[str, Any]) -> None:
    """Read the step graph and compile the flow once, for every task forked after."""
    paths = (request.get("graph"), request.get("flow_file"))
    if paths in _REMEMBERED:
        return
    from sfncompile.runtime import task

    if paths[0]:
        task.preload_graph(paths[0])
    if paths[1]:
        task.preload_flow(paths[1])
    _REMEMBERED.add(paths)
    gc.freeze()  # what they made joins the preloaded objects


def _kill_all(running: dict[int, int]) -> None:
    for pid in running:
        lifeline.kill_group(pid)


def serve(parent: int, s3: bool, flow_file: str | None, later: bool = False) -> None:
    running: dict[int, int] = {}  # pid -> request id
    queue: deque[dict[str, Any]] = deque()  # requests waiting for a slot
    slots = 0  # tasks running at once at most (0: no limit), as the runner says
    held = False  # a task failed: none starts until the runner says to go on (or cancels)

    def runner_gone(*_: object) -> None:
        _kill_all(running)
        os._exit(1)

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle
    signal.signal(signal.SIGTERM, runner_gone)
    lifeline.die_with_parent(parent, signal.SIGTERM)
    _preload()
    if later:
        s3, flow_file = _hello()
    if s3:
        _preload_s3()
    from sfncompile.runtime.__main__ import quick_parse

    env = dict(os.environ)  # a fresh task's, before the flow's module code could change it
    fresh = _preimport(flow_file) if flow_file else None
    os.write(1, f"environ {json.dumps(_environ_changes(env))}\n".encode())
    os.write(1, f"mode {'fresh ' + fresh if fresh else 'fork'}\n".encode())
    # Keep the preloaded objects' pages shared with every child: frozen, a collection never
    # touches them; and none runs here between forks (main disabled them; a child enables
    # them), as one would write to every page of the objects it walks, and copy each.
    gc.freeze()
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

    def start(request: dict[str, Any]) -> None:
        if fresh or request.get("fresh"):
            try:
                pid = _spawn(request, server, env)
            except OSError as exc:
                with open(request["out"], "a") as out:
                    print(f"sfncompile: cannot start the task: {exc}", file=out)
                reply(f"exited {request['id']} 1")
                return
        else:
            _remember(request)
            # The server's writes between forks copy each page they touch (a running task
            # still shares it), so it parses the arguments only the quick way; anything
            # else the task parses itself, and reports.
            args = quick_parse(request["argv"])
            pid = os.fork()
            if pid == 0:
                _child(request, args, [sig_r, sig_w], devnull, server)
        running[pid] = request["id"]
        reply(f"started {request['id']} {pid}")

    def drain() -> None:
        while queue and not held and (not slots or len(running) < slots):
            start(queue.popleft())

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
                        code = os.waitstatus_to_exitcode(status)
                        held = held or code != 0
                        reply(f"exited {running.pop(pid)} {code}")
                drain()  # the next task starts here, with no round trip to the runner
                continue
            data = os.read(0, 65536)
            if not data:  # the runner closed the pipe or died: nothing may outlive it
                runner_gone()
            pending += data
            *lines, pending = pending.split(b"\n")
            for line in lines:
                request = json.loads(line)
                if "slots" in request:
                    slots = request["slots"]
                elif "go" in request:
                    held = False
                elif "cancel" in request:
                    for dropped in queue:
                        reply(f"cancelled {dropped['id']}")
                    queue.clear()
                    held = False
                elif request.get("gang"):  # a gang's nodes wait for each other: never queued
                    start(request)
                else:
                    queue.append(request)
                drain()


def main() -> None:
    if sys.argv[1:2] == ["--task-of"]:  # a task the server spawned: the rest is its argv
        run_fresh(int(sys.argv[2]), sys.argv[3:])
    # Python's recipe for forking without exec: no collection while the preloaded objects
    # are made (it would leave holes, so a task's objects land in pages it then copies), then
    # freeze them before forking (serve), and collect again in each child.
    gc.disable()
    p = argparse.ArgumentParser(prog="python -m sfncompile.local.zygote")
    p.add_argument("--parent", type=int, required=True, help="the runner's pid")
    p.add_argument("--s3", action="store_true", help="preload boto3 and an S3 client")
    p.add_argument("--flow-file", help="import this flow module once, before any fork")
    p.add_argument("--later", action="store_true",
                   help="--s3 and --flow-file come as the first line on stdin")
    args = p.parse_args()
    serve(args.parent, args.s3, args.flow_file, args.later)


if __name__ == "__main__":
    main()
