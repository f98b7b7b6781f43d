"""The local runner: walks the step graph, running each task as a separate process through the
same runtime entrypoint that Batch containers use (`python -m sfncompile.runtime`).

Task ids follow the same scheme as the state machine (see sfncompile.runtime.lineage), so a
local run and a Step Functions run of the same flow produce the same datastore layout.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import math
import os
import secrets
import signal
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import FrameType
from typing import Any

from sfncompile.conventions.steps import START
from sfncompile.conventions.task_env import FRESH_INTERPRETER_ENV, wants_fresh_interpreter
from sfncompile.conventions.task_ids import at_step, position, split_task_id, task_id
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, LocalStorage, Storage, open_storage
from sfncompile.errors import UsageError
from sfncompile.local import lifeline
from sfncompile.local.hybrid import RemoteSteps
from sfncompile.local.outcome import Key, Outcome
from sfncompile.local.progress import Progress
from sfncompile.local.task_death import how_it_died, keep_logs
from sfncompile.local.task_output import OutputTailer, log_paths
from sfncompile.local.worker import TaskLauncher
from sfncompile.runtime.lineage import body_task_id

__all__ = ["Key", "LocalRunner", "Outcome", "RunResult", "new_run_id"]

# A task's process gets this long beyond its @timeout to stop by itself before it is killed.
TIMEOUT_GRACE_SECONDS = 5

# Multiplies @retry's waits (minutes_between_retries): 0 retries at once, as Metaflow's local
# runtime does (tests, a quick try of a flaky step).
RETRY_WAIT_SCALE_ENV = "SFNCOMPILE_RETRY_WAIT_SCALE"


def retry_wait_scale() -> float:
    text = os.environ.get(RETRY_WAIT_SCALE_ENV, "").strip()
    if not text:
        return 1.0
    try:
        scale = float(text)
    except ValueError:
        scale = math.nan
    if not (math.isfinite(scale) and scale >= 0):
        raise UsageError(f"{RETRY_WAIT_SCALE_ENV}={text!r}: expected a number >= 0 (1 waits "
                         "@retry's minutes_between_retries, 0 retries at once)")
    return scale


def new_run_id() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{secrets.token_hex(3)}"


# A task to start: its key, its attempt, and a failure to record under @catch instead.
Launch = tuple[Key, int, "dict[str, Any] | None"]
# A retry waiting for its time: when it may start (time.monotonic()), a tie-breaker, the launch.
Waiting = tuple[float, int, Launch]


@dataclass
class RunResult:
    flow: str
    run_id: str
    succeeded: bool
    failed: list[Outcome] = field(default_factory=list)

    @property
    def pathspec(self) -> str:
        return f"{self.flow}/{self.run_id}"


class LocalRunner:
    def __init__(
        self,
        graph: dict[str, Any],
        flow_file: Path,
        root: str,
        params: dict[str, Any],
        max_workers: int,
        progress: Progress,
        run_id: str | None = None,
        origin_run: str | None = None,
        clone: Callable[[Key], bool] | None = None,
        launcher: TaskLauncher | None = None,
        remote: RemoteSteps | None = None,
        tags: tuple[str, ...] = (),
        max_num_splits: int | None = None,
        fresh_steps: dict[str, str] | None = None,
    ) -> None:
        self.graph = graph
        self.flow = graph["flow"]
        self.flow_file = flow_file.resolve()
        self.root = root
        self.storage: Storage = open_storage(root)
        self.params = params
        self.max_workers = max(1, max_workers)
        self.progress = progress
        self.run_id = run_id or new_run_id()
        self.origin_run = origin_run
        self.clone = clone
        self.launcher = launcher
        self.remote = remote  # the steps whose tasks run as AWS Batch jobs (a hybrid run)
        # Local tasks asked for beyond --max-workers: they wait in the fork server, which
        # starts each the moment a slot frees (a Batch job's slot is AWS's: none wait there).
        self.lookahead = 0 if remote is not None else self.max_workers
        self.tags = sorted(set(tags))
        self.max_num_splits = max_num_splits  # --max-num-splits: the widest foreach allowed
        self.steps: dict[str, Any] = graph["steps"]
        self.back_edges = {(p, s) for s, info in self.steps.items() for p in info["back_parents"]}
        self.retry_wait_scale = retry_wait_scale()
        self.arrivals: dict[Key, int] = {}
        self.widths: dict[Key, int] = {}
        self.tailer: OutputTailer | None = None  # during run(): shows the tasks' output
        # The steps whose tasks start in a fresh interpreter, not forked, and why.
        self.fresh_steps = {**(fresh_steps or {}), **opted_out(self.steps)}

    # -- graph walking ------------------------------------------------------------------------

    def successors(self, key: Key, done: dict[str, Any]) -> list[Key]:
        step, task = key
        info = self.steps[step]
        if info["kind"] == "end":
            return []
        if info["kind"] == "foreach":
            self.widths[key] = done["width"]
            body = info["targets"][0]
            return [(body, body_task_id(self.graph, body, task, i))
                    for i in range(done["width"])]
        targets = [info["cases"][done["arm"]]] if info["kind"] == "switch" else info["targets"]
        ready = []
        for target in targets:
            if (step, target) in self.back_edges:
                scope, n = split_task_id(task)
                ready.append((target, task_id(self.graph, target, f"{scope}{n + 1}")))
            elif self.steps[target]["closes"] is not None:
                join = self.arrive(target, task)
                if join is not None:
                    ready.append(join)
            else:
                ready.append((target, at_step(self.graph, target, task)))
        return ready

    def arrive(self, join: str, task: str) -> Key | None:
        """Count a branch reaching `join`; return the join task once every branch has."""
        opener = self.steps[join]["closes"]
        if self.steps[opener]["kind"] == "split":
            key, expected = (join, at_step(self.graph, join, task)), \
                len(self.steps[opener]["targets"])
        else:
            outer = ".".join(position(task).split(".")[:-2])
            key = (join, task_id(self.graph, join, outer))
            expected = self.widths[(opener, task_id(self.graph, opener, outer))]
        self.arrivals[key] = self.arrivals.get(key, 0) + 1
        return key if self.arrivals[key] == expected else None

    # -- processes ----------------------------------------------------------------------------

    def command(self, key: Key, attempt: int, graph_file: str,
                caught: dict[str, Any] | None = None) -> list[str]:
        """The runtime's arguments (after `python -m sfncompile.runtime`)."""
        step, task = key
        cmd = ["--step", step, "--run", self.run_id,
               "--task", task, "--attempt", str(attempt), "--root", self.root,
               "--graph", graph_file, "--flow-file", str(self.flow_file)]
        if step == self.graph.get("start_step", START):
            cmd += ["--params", json.dumps(self.params)]
        if self.origin_run:
            cmd += ["--origin-run", self.origin_run]
        if caught is not None:
            cmd += ["--caught", json.dumps(caught)]
        return cmd

    def launch(self, key: Key, attempt: int, tmp: str,
               caught: dict[str, Any] | None = None) -> Callable[[], Outcome]:
        """Ask for the attempt now, in the order the run reaches it; the callable waits for
        its outcome (in a worker thread)."""
        if self.remote is not None and self.remote.handles(key[0]):
            return lambda: self.execute_remote(key, attempt, caught)
        graph_file = os.path.join(tmp, "graph.json")
        out = os.path.join(tmp, f"{key[0]}.{key[1]}.{attempt}.out")
        task_tmp = self.task_tmp(tmp, key, attempt)
        assert self.launcher is not None
        watch = None
        if self.tailer is not None and self.progress.show_output:
            prefix = ds.attempt_prefix(self.flow, self.run_id, *key, attempt)
            watch = self.tailer.watch(key, attempt, log_paths(self.storage, prefix))
        job = self.launcher.submit(self.command(key, attempt, graph_file, caught), out,
                                   tmp=task_tmp, graph=graph_file, flow_file=str(self.flow_file),
                                   fresh=key[0] in self.fresh_steps,
                                   gang=bool(self.steps[key[0]].get("parallel")))
        timeout = self.steps[key[0]]["timeout_seconds"]
        limit = timeout + TIMEOUT_GRACE_SECONDS if timeout else None
        began = time.monotonic()

        def on_start() -> None:  # it may have waited for a slot in the fork server first
            nonlocal began
            began = time.monotonic()
            self.progress.started(key, attempt)

        def finish() -> Outcome:
            assert self.launcher is not None
            code = self.launcher.wait(job, limit, on_start)
            if watch is not None and self.tailer is not None:
                self.tailer.finish(watch, out)
            if code is None:  # it waited for a slot when the run stopped: it never ran
                return Outcome(key, attempt, -1, "", 0.0, caught, cancelled=True)
            return self.outcome(key, attempt, code, time.monotonic() - began, caught, limit,
                                out, task_tmp)

        return finish

    def execute_remote(self, key: Key, attempt: int,
                       caught: dict[str, Any] | None) -> Outcome:
        assert self.remote is not None
        self.progress.started(key, attempt)
        outcome = self.remote.execute(self, key, attempt, caught)
        if not outcome.succeeded:
            self.record_failure(outcome, None)
        return outcome

    def outcome(self, key: Key, attempt: int, code: int, seconds: float,
                caught: dict[str, Any] | None, limit: float | None, out: str,
                task_tmp: str) -> Outcome:
        """What a local attempt that exited with `code` came to."""
        outcome = Outcome(key, attempt, code, "", seconds, caught)
        if code == 0:
            outcome.done = self.committed(key, attempt)
            if outcome.done is None:
                outcome.error = "the task exited with code 0 but never committed its result " \
                                "(did the step call os._exit or sys.exit?)"
        if not outcome.succeeded:
            outcome.output = Path(out).read_text(errors="replace") if os.path.exists(out) else ""
            outcome.timed_out = code == -9 and limit is not None and outcome.seconds >= limit
            if outcome.error:
                outcome.output += f"\nsfncompile: {outcome.error}\n"
            self.record_failure(outcome, task_tmp)
        elif not isinstance(self.storage, LocalStorage):
            with contextlib.suppress(OSError):  # empty once the task is done: not kept
                os.rmdir(task_tmp)
        return outcome

    def task_tmp(self, tmp: str, key: Key, attempt: int) -> str:
        """The attempt's temporary directory (its TMPDIR), in the run's, which the runner
        removes at the end. A task on S3 keeps its logs there until it uploads them, and the
        runner looks there when it dies first: its own. Tasks on a local datastore write
        their logs in place and share the run's."""
        shared = os.path.join(tmp, "tmp")
        if isinstance(self.storage, LocalStorage):
            return shared
        path = os.path.join(shared, f"{key[0]}-{key[1]}-{attempt}")
        os.makedirs(path, exist_ok=True)
        return path

    def committed(self, key: Key, attempt: int) -> dict[str, Any] | None:
        """done.json of the task: of the attempt launched, which is where a local task writes
        unless an earlier run used that number, else of whichever attempt committed."""
        try:
            return ds.read_done(self.storage, self.flow, self.run_id, *key, attempt)
        except KeyNotFound:
            pass
        try:
            return ds.read_done(self.storage, self.flow, self.run_id, *key)
        except KeyNotFound:
            return None

    # -- the run ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.time()
        if self.launcher is None:
            self.launcher = TaskLauncher.for_root(self.root, self.flow_file)
        # Tagged as the flow's module code left the environment (its METAFLOW_BRANCH), which
        # the tasks see: the fork server imported the module.
        try:
            tags = system_tags(self.graph, self.launcher.module_environ())
        except ValueError as exc:  # a METAFLOW_PRODUCTION, set by the module, not a boolean
            raise UsageError(str(exc)) from None
        meta = {"flow": self.flow, "run": self.run_id, "flow_file": str(self.flow_file),
                "params": self.params, "status": "running", "started": started,
                "origin_run_id": self.origin_run, "graph": self.graph, "runner": "local",
                "tags": self.tags, "system_tags": tags,
                "runner_process": lifeline.identity()}
        ds.write_run_meta(self.storage, self.flow, self.run_id, meta)
        result = RunResult(self.flow, self.run_id, succeeded=False)
        self.progress.begin(f"{self.flow}/{self.run_id}")
        if self.progress.verbose:
            self.progress.note(self.process_mode())
        tailer = self.tailer = OutputTailer(self.progress.output, self.progress.tick)
        with tempfile.TemporaryDirectory(prefix="sfn-run-") as tmp, _sigterm_interrupts():
            Path(tmp, "graph.json").write_text(json.dumps(self.graph), encoding="utf-8")
            os.mkdir(os.path.join(tmp, "tmp"))
            try:
                self.walk(tmp, result)
            except KeyboardInterrupt:
                meta.update(status="failed", interrupted=True, finished=time.time())
                ds.write_run_meta(self.storage, self.flow, self.run_id, meta)
                self.progress.interrupted(f"{self.flow}/{self.run_id}")
                raise
            except BaseException as exc:
                meta.update(status="failed", finished=time.time(),
                            error=f"the runner failed: {exc!r}")
                ds.write_run_meta(self.storage, self.flow, self.run_id, meta)
                raise
            finally:
                self.launcher.close()
                tailer.close()
        result.succeeded = not result.failed
        meta.update(status="succeeded" if result.succeeded else "failed", finished=time.time())
        ds.write_run_meta(self.storage, self.flow, self.run_id, meta)
        self.progress.end(result.succeeded)
        return result

    def walk(self, tmp: str, result: RunResult) -> None:
        start = self.graph.get("start_step", START)
        first = (start, task_id(self.graph, start, "0"))
        self.progress.queued(first)
        ready: deque[Launch] = deque([(first, 0, None)])
        running: dict[Future[Outcome], Key] = {}
        # The nodes of a @parallel step start together, beside --max-workers: a gang whose
        # nodes wait for each other (torch.distributed, MPI) would wait forever in a queue.
        gang = max((info.get("num_parallel") or 1 for info in self.steps.values()), default=1)
        assert self.launcher is not None
        self.launcher.set_slots(self.max_workers)
        with ThreadPoolExecutor(self.max_workers + self.lookahead + gang) as pool:
            try:
                self._walk(pool, ready, running, tmp, result)
            except BaseException:
                # Before the pool's exit waits for them: stop the running tasks now.
                assert self.launcher is not None
                self.launcher.kill_all()
                if self.remote is not None:
                    for key, job_id in self.remote.terminate_all():
                        self.progress.batch_job(key, job_id, "terminated")
                raise

    def _walk(self, pool: ThreadPoolExecutor, ready: deque[Launch],
              running: dict[Future[Outcome], Key], tmp: str, result: RunResult) -> None:
        waiting: list[Waiting] = []  # retries in their wait, as a heap: others run meanwhile
        order = itertools.count()
        while ready or running or waiting:
            while waiting and waiting[0][0] <= time.monotonic():
                ready.appendleft(heapq.heappop(waiting)[2])
            while ready and not result.failed and (
                    len(running) < self.max_workers + self.lookahead
                    or self.steps[ready[0][0][0]].get("parallel")):
                key, attempt, caught = ready.popleft()
                if attempt == 0 and self.clone is not None and self.clone(key):
                    self.progress.cloned(key)
                    self.enqueue(ready, self.successors(key, self.done(key)))
                    continue
                running[pool.submit(self.launch(key, attempt, tmp, caught))] = key
            due = waiting[0][0] - time.monotonic() if waiting else None
            if not running:
                if due is None or result.failed:
                    break
                time.sleep(max(0.0, due))  # only retries in their wait: nothing else to do
                continue
            finished, _ = wait(running, timeout=None if due is None else max(0.0, due),
                               return_when=FIRST_COMPLETED)
            for future in finished:
                del running[future]
                outcome = future.result()
                if outcome.cancelled:
                    continue
                info = self.steps[outcome.key[0]]
                too_wide = self.too_wide(outcome)
                if too_wide:  # the task is committed; the run stops here, as Metaflow's
                    outcome.error, outcome.output = too_wide, ""
                    self.fail(result, outcome)
                elif outcome.succeeded:
                    assert outcome.done is not None
                    self.progress.finished(outcome)
                    self.enqueue(ready, self.successors(outcome.key, outcome.done))
                elif outcome.caught is None and outcome.attempt < info["retry_times"]:
                    # As the ASL Retry's IntervalSeconds (Metaflow's local runtime does not wait)
                    delay = info["retry_seconds"] * self.retry_wait_scale
                    self.progress.retrying(outcome, delay)
                    self.go_on()
                    retry = (outcome.key, outcome.attempt + 1, None)
                    if delay:
                        heapq.heappush(waiting, (time.monotonic() + delay, next(order), retry))
                    else:
                        ready.appendleft(retry)
                elif outcome.caught is None and info["catch"]:
                    # The task died before its own @catch could act (killed, out of memory):
                    # record the failure in a stand-in attempt and go on, as the ASL Catch does.
                    self.progress.retrying(outcome)
                    self.go_on()
                    died = {"Error": outcome.error or outcome.ended or
                            f"the task process exited with {outcome.returncode}",
                            "Cause": "\n".join(outcome.output.splitlines()[-20:])}
                    ready.appendleft((outcome.key, outcome.attempt + 1, died))
                else:
                    self.fail(result, outcome)

    def go_on(self) -> None:
        """After a failed attempt that the run survives (a retry, a @catch stand-in): the
        tasks waiting in the fork server may start again."""
        assert self.launcher is not None
        self.launcher.go_on()

    def fail(self, result: RunResult, outcome: Outcome) -> None:
        """The run stops: what runs ends, nothing more starts (as Metaflow's runtime)."""
        self.progress.failed(outcome)
        result.failed.append(outcome)
        assert self.launcher is not None
        self.launcher.cancel_waiting()

    def enqueue(self, ready: deque[Launch], keys: list[Key]) -> None:
        for key in keys:
            self.progress.queued(key)
            ready.append((key, 0, None))

    def too_wide(self, outcome: Outcome) -> str | None:
        """Metaflow's --max-num-splits error for a foreach task with more items, else None."""
        done, cap = outcome.done, self.max_num_splits
        if cap is None or done is None or not outcome.succeeded:
            return None
        width = done.get("width")
        if self.steps[outcome.key[0]]["kind"] != "foreach" or not isinstance(width, int) \
                or width <= cap:
            return None
        return (f"Foreach in step *{outcome.key[0]}* yielded {width} child steps which is more "
                f"than the current maximum of {cap} children. You can raise the maximum with "
                "the --max-num-splits option.")

    def record_failure(self, outcome: Outcome, task_tmp: str | None) -> None:
        """A task that died before it could say so itself (killed, a segfault, os._exit)
        still reads as failed, not running, with how it ended and, when it ran here (in
        `task_tmp`), its logs (task_death)."""
        step, task = outcome.key
        try:
            meta = ds.read_meta(self.storage, self.flow, self.run_id, step, task, outcome.attempt)
        except KeyNotFound:
            meta = {"attempt": outcome.attempt}
        if meta.get("status") not in (None, "running"):
            return
        store = ds.TaskStore(self.storage, self.flow, self.run_id, step, task, outcome.attempt)
        meta.update(status="failed", finished=time.time())
        if outcome.error or task_tmp is None:  # it exited 0 without committing, or in Batch
            meta["exit_code"] = outcome.returncode
            if outcome.error:
                meta["error"] = outcome.error
        else:
            death = how_it_died(outcome.returncode, self.steps[step]["timeout_seconds"]
                                if outcome.timed_out else None)
            meta.update(death.meta, error=death.error)
            logs = keep_logs(store, death, outcome.output, task_tmp)
            outcome.output = logs  # what it printed: it never echoed it, having died
            outcome.ended = death.error
        store.write_meta(meta)

    def process_mode(self) -> str:
        """How the tasks start (for --verbose)."""
        assert self.launcher is not None
        mode = self.launcher.mode()
        if mode != "fork":
            return f"tasks: each in a fresh interpreter ({mode.removeprefix('fresh ')})"
        line = "tasks: forked from a server that imported the flow module once"
        if self.fresh_steps:
            line += "; in a fresh interpreter: " + ", ".join(
                f"{step} ({why})" for step, why in sorted(self.fresh_steps.items()))
        return line

    def done(self, key: Key) -> dict[str, Any]:
        return ds.read_done(self.storage, self.flow, self.run_id, *key)



@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """`kill` of the runner stops the run as Ctrl-C does: its tasks are killed and the run is
    recorded as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def opted_out(steps: dict[str, Any]) -> dict[str, str]:
    """The steps that set SFNCOMPILE_FRESH_INTERPRETER with @environment."""
    return {name: f"@environment {FRESH_INTERPRETER_ENV}" for name, info in steps.items()
            if wants_fresh_interpreter(info["environment"])}


def system_tags(graph: dict[str, Any], environ: dict[str, str] | None = None) -> list[str]:
    """The system tags Metaflow gives a local run: who ran it (`user:<name>`, the client's
    default namespace, or `production:<token>`), `runtime:`, `python_version:`,
    `metaflow_version:` (conventions/tool_version.py) and, for a @project flow, `project:` and
    `project_branch:`, the branch from `environ` (the environment as the flow's module code
    left it, which the tasks see: TaskLauncher.module_environ)."""
    import platform

    from sfncompile.conventions.project import current_fields
    from sfncompile.conventions.tool_version import version_tag
    from sfncompile.flow.current import resolve_identity

    identity = resolve_identity()
    tags = [identity] if identity else []
    tags += [f"runtime:{os.environ.get('METAFLOW_RUNTIME_NAME') or 'dev'}",
             f"python_version:{platform.python_version()}", version_tag()]
    project = current_fields(graph, environ)  # the branch the tasks report as current.branch_name
    if project:
        tags += [f"project:{project['project_name']}",
                 f"project_branch:{project['branch_name']}"]
    return sorted(tags)
