"""Run one task of a flow: restore its inputs, run the step, check it, save and commit.

The same code runs under the local runner and inside every Batch container. It imports only
the stdlib, boto3 (through the S3 storage) and its own package.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import signal
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import Any

from sfncompile.conventions.artifact_names import FLOW_NAME_ARTIFACT
from sfncompile.conventions.event_format import RUN_SUCCEEDED
from sfncompile.conventions.steps import START
from sfncompile.conventions.task_ids import at_step
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import (
    DatastoreError,
    KeyNotFound,
    LocalStorage,
    Storage,
    open_storage,
)
from sfncompile.exception import (
    FAILURE_HANDLED_BY_CATCH,
    TIMEOUT_EXCEPTION,
    FailureHandledByCatch,
    MetaflowExceptionWrapper,
    TimeoutException,
)
from sfncompile.flow import metaflow_alias
from sfncompile.flow.current import current
from sfncompile.flow.flowspec import (
    Binding,
    FlowSpec,
    Frame,
    Inputs,
    Transition,
    flow_constants,
)
from sfncompile.flow.graph import bind_graph, flow_graph, graph_info
from sfncompile.runtime import events as run_events
from sfncompile.runtime import lineage, services, where
from sfncompile.runtime.params import ParameterError, resolve_parameters, run_env_values
from sfncompile.runtime.run_inputs import finish_values
from sfncompile.runtime.switch import switch_arm

EXIT_FAILED = 1
MAX_EXCEPTION_TEXT = 20_000  # a failed attempt's message and trace, in its meta.json


class StepTimeout(TimeoutException):
    pass


class TaskError(Exception):
    """The task cannot complete for a reason that is not an exception in user code."""


@dataclass
class TaskSpec:
    flow_file: Path
    graph: dict[str, Any]
    root: str
    run: str
    step: str
    task: str
    attempt: int
    params: dict[str, Any] | None = None  # the raw parameters, for `start`
    origin_run: str | None = None
    caught: dict[str, Any] | None = None  # a failure to record under @catch, not a run


# What a long-lived process that forks tasks (the local runner's fork server) read once, by
# the path it was given: every forked task reuses it instead of reading and compiling again.
_GRAPHS: dict[str, dict[str, Any]] = {}
# flow file -> (its directory, (mtime, size) when compiled, its code)
_FLOW_CODE: dict[str, tuple[str, tuple[int, int], CodeType]] = {}


def preload_graph(path: str) -> None:
    if path not in _GRAPHS:
        with contextlib.suppress(TaskError):
            _GRAPHS[path] = load_graph(Path(path))


def preload_flow(flow_file: str) -> None:
    """Compile the flow module once; a task that cannot read it reports that itself."""
    if flow_file not in _FLOW_CODE:
        with contextlib.suppress(OSError, SyntaxError, ValueError):
            resolved = Path(flow_file).resolve()
            stamp = _stamp(resolved)
            code = compile(resolved.read_bytes(), str(resolved), "exec", dont_inherit=True)
            _FLOW_CODE[flow_file] = (str(resolved.parent), stamp, code)


def _stamp(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _precompiled(flow_file: Path) -> tuple[str, CodeType] | None:
    """The preloaded code of the flow file, unless the file changed since."""
    cached = _FLOW_CODE.get(str(flow_file))
    if cached is None:
        return None
    directory, stamp, code = cached
    try:
        return (directory, code) if _stamp(flow_file) == stamp else None
    except OSError:
        return None


@dataclass
class Preimported:
    """A flow module that a fork server imported once, for every task forked after."""
    module: ModuleType
    stamp: tuple[int, int]
    output: tuple[str, str] = ("", "")  # what its module code printed: each task prints it


_PREIMPORTED: dict[str, Preimported] = {}


def preimport_flow(flow_file: str) -> Preimported:
    """Import the flow module once, as `load_flow_class` would (a fork server calls this and
    records what the module printed in `output`). On failure nothing is kept: each task
    imports the module itself and reports the error as it always did."""
    resolved = Path(flow_file).resolve()
    try:
        stamp = _stamp(resolved)
        module = _import_flow_module(Path(flow_file))
    except BaseException:
        sys.modules.pop(Path(flow_file).stem, None)
        raise
    found = _PREIMPORTED[flow_file] = Preimported(module, stamp)
    return found


def _preimported(flow_file: Path) -> Preimported | None:
    """The module the fork server imported, unless the file changed since."""
    found = _PREIMPORTED.get(str(flow_file))
    if found is None:
        return None
    try:
        return found if _stamp(flow_file.resolve()) == found.stamp else None
    except OSError:
        return None


def _import_flow_module(flow_file: Path) -> ModuleType:
    metaflow_alias.install()
    directory, code = _precompiled(flow_file) or (str(flow_file.resolve().parent), None)
    if directory not in sys.path:
        sys.path.insert(0, directory)
    module_name = flow_file.stem
    spec = importlib.util.spec_from_file_location(module_name, flow_file)
    if spec is None or spec.loader is None:
        raise TaskError(f"cannot load the flow file {flow_file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    if code is not None:
        exec(code, module.__dict__)  # what exec_module does, minus reading and compiling
    else:
        spec.loader.exec_module(module)
    return module


def load_flow_class(flow_file: Path, name: str) -> type[FlowSpec]:
    found = _preimported(flow_file)
    if found is not None:  # forked after the import: this process's own copy of the module
        module = found.module
        sys.modules[flow_file.stem] = module
        out, err = found.output
        sys.stdout.write(out)  # the module code's output, as if it had run in this task
        sys.stderr.write(err)
    else:
        module = _import_flow_module(flow_file)
    cls = getattr(module, name, None)
    if not (isinstance(cls, type) and issubclass(cls, FlowSpec)):
        raise TaskError(f"{flow_file} has no sfncompile FlowSpec named {name!r}")
    return cls


@contextlib.contextmanager
def captured_output(directory: str) -> Iterator[tuple[str, str]]:
    """Send fds 1 and 2 (so child processes too) to files, then echo them to the originals."""
    paths = (os.path.join(directory, "stdout"), os.path.join(directory, "stderr"))
    saved = []
    for fd, path in zip((1, 2), paths, strict=True):
        sys.stdout.flush()
        sys.stderr.flush()
        saved.append(os.dup(fd))
        target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(target, fd)
        os.close(target)
    try:
        yield paths
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy, path in zip((1, 2), saved, paths, strict=True):
            os.dup2(copy, fd)
            os.close(copy)
            with open(path, "rb") as f:
                data = f.read()
            if data:
                os.write(fd, data)


@contextlib.contextmanager
def time_limit(seconds: int | None) -> Iterator[None]:
    if not seconds or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum: int, frame: FrameType | None) -> None:
        raise StepTimeout(f"the step ran longer than its @timeout of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class TaskRunner:
    def __init__(self, spec: TaskSpec, storage: Storage | None = None) -> None:
        self.spec = spec
        self.graph = spec.graph
        self.flow_name: str = spec.graph["flow"]
        self.info: dict[str, Any] = spec.graph["steps"][spec.step]
        self.storage = storage or open_storage(spec.root)
        # Step Functions counts attempts from 0 again after a redrive: write under a number
        # no earlier attempt used, so a redrive never overwrites an earlier attempt's logs.
        key = (self.storage, self.flow_name, spec.run, spec.step, spec.task)
        attempt = spec.attempt
        if attempt in ds.list_attempts(*key):
            attempt = ds.next_attempt(*key)
        self.store = ds.TaskStore(*key, attempt)
        self.pending_control: Any = None  # written just before the commit
        self.flow: FlowSpec | None = None  # the step's flow object, once bound

    def load(self, sha: str, name: str, where: str | None) -> Any:
        return ds.load_artifact(self.storage, self.flow_name, sha, name, where)

    # -- inputs -------------------------------------------------------------------------------

    def bind(self, cls: type[FlowSpec]) -> tuple[FlowSpec, Inputs | None, list[str]]:
        """The flow instance for this task, its join inputs, and the parent pathspecs."""
        spec, info = self.spec, self.info
        params = [p["attr"] for p in self.graph["parameters"]]
        if spec.step == self.graph.get("start_step", START):
            try:
                given = run_events.start_parameters(self.storage, self.flow_name, spec.run,
                                                    spec.params)
                # METAFLOW_RUN_<NAME> for a parameter the run was not given: the command line
                # read the shell's; this also sees what the flow's module sets on import.
                given = run_env_values(self.graph["parameters"], given, kinds=("parameter",))
                values = resolve_parameters(self.graph["parameters"], given)
                values = finish_values(cls, self.graph["parameters"], given, values,
                                       self.flow_name, spec.flow_file.resolve().parent,
                                       self.storage)
            except ParameterError as exc:
                raise TaskError(str(exc)) from None
            # Class-level constants become artifacts of the run, as in Metaflow.
            values = {**flow_constants(cls), **values}
            flow = cls._bound(Binding({}, self.load, step=spec.step), values)
            return flow, None, []
        if info["closes"] is not None:
            gathered = lineage.join_inputs(self.storage, self.graph, spec.run, spec.step,
                                           spec.task)
            views = [self.view(cls, s, t, done) for s, t, done in gathered]
            first = gathered[0][2]["artifacts"] if gathered else {}
            opener = info["closes"]
            if self.graph["steps"][opener]["kind"] == "foreach":
                opener_task = at_step(self.graph, opener, spec.task)
                frames = ds.read_done(self.storage, self.flow_name, spec.run, opener,
                                      opener_task)["frames"]
            else:
                frames = gathered[0][2]["frames"] if gathered else []
            origin = f"task {gathered[0][0]}/{gathered[0][1]}" if gathered else None
            # A join gets the Parameters and constants; the rest only through merge_artifacts.
            passed = [*params, *flow_constants(cls), FLOW_NAME_ARTIFACT]
            binding = Binding({p: first[p] for p in passed if p in first}, self.load,
                              frames=[Frame(**f) for f in frames], step=spec.step,
                              origin=origin, join=True)
            flow = cls._bound(binding)
            flow._load_now(params)
            return flow, Inputs(views), [f"{s}/{t}" for s, t, _ in gathered]
        parent, ptask, done = lineage.find_parent(self.storage, self.graph, spec.run, spec.step,
                                                  spec.task)
        frames = [Frame(**f) for f in done["frames"]]
        pinfo = self.graph["steps"][parent]
        if pinfo["kind"] == "foreach":  # the first step of a foreach body: one more frame
            index = lineage.foreach_index(spec.task)
            frames.append(Frame(parent, pinfo["foreach_var"] or lineage.PARALLEL_VAR, index,
                                done["width"],
                                done["foreach_items"][index]))
        flow = cls._bound(Binding(dict(done["artifacts"]), self.load, frames=frames,
                                  step=spec.step, origin=f"task {parent}/{ptask}"))
        flow._load_now(params)
        return flow, None, [f"{parent}/{ptask}"]

    def view(self, cls: type[FlowSpec], step: str, task: str, done: dict[str, Any]
             ) -> FlowSpec:
        shas = dict(done["artifacts"])
        return cls._bound(Binding(dict(shas), self.load, [Frame(**f) for f in done["frames"]],
                                  step=step, read_only=True, all_shas=shas,
                                  origin=f"task {step}/{task}"))

    # -- the step -----------------------------------------------------------------------------

    def execute(self, flow: FlowSpec, inputs: Inputs | None) -> BaseException | None:
        """Run the user's step; return the exception that @catch recorded, if any."""
        spec, info = self.spec, self.info
        for key, value in info["environment"].items():
            os.environ[key] = value
        try:  # @secrets, current.card, the client's datastore
            services.before_step(info, spec.root)
        except services.ServiceError as exc:
            raise TaskError(str(exc)) from None
        method = getattr(flow, spec.step)
        last_attempt = spec.attempt >= info["retry_times"]
        try:
            with time_limit(info["timeout_seconds"]):
                if inputs is None:
                    method()
                else:
                    method(inputs)
        except Exception as exc:
            # A damaged datastore is not the step's failure: @catch must not turn it into a value.
            if not (info["catch"] and last_attempt) or isinstance(exc, DatastoreError):
                raise
            if info["print_exception"]:
                print_catch_report(flow, exc)
            if info["catch_var"]:  # Metaflow's wrapper: .exception, .type, .stacktrace
                wrapper = MetaflowExceptionWrapper(exc)
                if isinstance(exc, StepTimeout):
                    wrapper.type = TIMEOUT_EXCEPTION
                setattr(flow, info["catch_var"], wrapper)
            if flow._sfn.transition is None and info["kind"] in ("linear", "split"):
                flow._sfn.transition = Transition(tuple(info["targets"]))
            return exc
        if info["catch"] and info["catch_var"]:  # as Metaflow: None when the step succeeded
            setattr(flow, info["catch_var"], None)
        if flow._sfn.transition is None and flow._sfn.default_next and info["kind"] != "end":
            flow._sfn.transition = Transition(tuple(info["targets"]), info["foreach_var"],
                                              info["condition"], dict(info["cases"]),
                                              num_parallel=info.get("num_parallel"))
        return None

    def set_current(self, cls: type[FlowSpec]) -> None:
        """What `current` says in this task, before `start` evaluates Parameter defaults
        (which may read the project's fields, as in Metaflow)."""
        spec = self.spec
        bind_graph(cls, self.graph)
        if self.info.get("parallel"):  # a node of a @parallel step: Metaflow's fields
            os.environ.update(lineage.parallel_environment(self.graph, spec.step, spec.task,
                                                           os.environ))
            current._set(is_parallel=True)  # as Metaflow: no such attribute in other steps
        current._set(flow_name=self.flow_name, run_id=spec.run, step_name=spec.step,
                     task_id=spec.task, retry_count=spec.attempt, origin_run_id=spec.origin_run,
                     parameter_names=sorted(p["attr"] for p in self.graph["parameters"]),
                     read_tags=self.run_tags, make_task=self.client_task,
                     make_run=self.client_run,
                     load_graph=lambda: graph_info(flow_graph(cls), self.graph, cls,
                                                   flow_constants(cls)))
        try:
            run_events.bind_current(self.graph, self.storage, spec.run)
        except ValueError as exc:  # METAFLOW_PRODUCTION that is not a boolean
            raise TaskError(str(exc)) from None

    def client_run(self) -> Any:
        """`current.run`: the client's Run of this run, on a storage of its own (so the object
        pickles as an artifact), with no namespace check (as Metaflow's)."""
        from sfncompile.client.core import Run

        return Run(f"{self.flow_name}/{self.spec.run}", storage=open_storage(self.spec.root))

    def client_task(self) -> Any:
        """`current.task`: the client's Task of this task."""
        from sfncompile.client.core import Step, Task

        return Task(Step(self.client_run(), self.spec.step), self.spec.task)

    def run_tags(self) -> list[str]:
        """The run's tags from its record (`current.tags` reads them on first use)."""
        try:
            tags = ds.read_run_meta(self.storage, self.flow_name, self.spec.run).get("tags")
        except (KeyNotFound, DatastoreError, ValueError):
            return []
        return [str(t) for t in tags] if isinstance(tags, list) else []

    def record_caught(self, flow: FlowSpec, caught: dict[str, Any]) -> BaseException:
        """Stand in for a task that died where its own @catch could not see it."""
        info, spec = self.info, self.spec
        if not info["catch"]:
            raise TaskError(f"step {spec.step!r} has no @catch to record a failure with")
        damage = self.earlier_damage()
        if damage:
            raise TaskError(f"step {spec.step!r}: @catch does not cover a damaged datastore: "
                            f"{damage}")
        error = str(caught.get("Error") or "the task failed")
        print(f"@catch: step {spec.step!r} died and continues: {error}\n"
              f"{str(caught.get('Cause') or '')[-4000:]}", file=sys.stderr)
        try:  # Metaflow's fallback raises it, so that the wrapper has its trace
            raise FailureHandledByCatch(self.store.attempt)
        except FailureHandledByCatch as exc:
            died = MetaflowExceptionWrapper(exc)
            if info["print_exception"]:
                print_catch_report(flow, exc)
        died.type = FAILURE_HANDLED_BY_CATCH
        if info["catch_var"]:
            setattr(flow, info["catch_var"], died)
        if info["kind"] in ("linear", "split"):
            flow._sfn.transition = Transition(tuple(info["targets"]))
        return died

    def earlier_damage(self) -> str | None:
        """What an earlier attempt of this task found damaged in the datastore, if anything."""
        store = self.store
        key = (store.flow, store.run, store.step, store.task)
        for attempt in ds.list_attempts(self.storage, *key):
            if attempt >= store.attempt:
                break
            try:
                damage = ds.read_meta(self.storage, *key, attempt).get("damaged")
            except (KeyNotFound, ds.DamagedRecord):
                continue
            if damage:
                return str(damage)
        return None

    def check_transition(self, flow: FlowSpec) -> None:
        info, step = self.info, self.spec.step
        got = flow._sfn.transition
        if info["kind"] == "end":
            if got is not None:
                raise TaskError(f"step {step!r} called self.next{got.targets}; the last step "
                                "has no next")
            return
        want = _describe(info)
        if got is None:
            raise TaskError(f"step {step!r} finished without calling self.next; the compiled "
                            f"flow expects {want}")
        same = (got.targets == tuple(info["targets"]) and got.foreach == info["foreach_var"]
                and got.condition == info["condition"] and got.cases == info["cases"]
                and got.num_parallel == info.get("num_parallel"))
        if info["kind"] == "switch":
            same = same or (got.condition == info["condition"] and got.cases == info["cases"])
        if not same:
            raise TaskError(
                f"step {step!r} called {_describe_transition(got)}, but the compiled flow "
                f"goes to {want}; the flow file changed since it was compiled: rebuild "
                "(sfncompile build/deploy) or restore the transition"
            )

    def foreach_items(self, flow: FlowSpec) -> tuple[str, list[Any]]:
        """The variable and the items of a foreach step (of `num_parallel`: the nodes)."""
        info = self.info
        if info.get("num_parallel") is not None:
            return lineage.PARALLEL_VAR, list(range(info["num_parallel"]))
        var = info["foreach_var"]
        try:
            items = list(getattr(flow, var))
        except TypeError:
            raise TaskError(f"foreach over {var!r}: the artifact is not iterable") from None
        if not items:
            raise TaskError(f"foreach over {var!r}: the list is empty; a foreach needs at "
                            "least one item")
        cap = info["max_width"]
        if cap is not None and len(items) > cap:
            raise TaskError(
                f"foreach over {var!r} has {len(items)} items; an Inline Map of this flow "
                f"holds at most {cap} within Step Functions' 25,000-event history. Use "
                "@foreach_options(mode='distributed') on this step"
            )
        return var, items

    def decide(self, flow: FlowSpec) -> tuple[dict[str, Any], Any]:
        """Extra done.json fields and the control object of a foreach or switch step."""
        info = self.info
        if info["kind"] == "foreach":
            var, items = self.foreach_items(flow)
            # Each item is its own artifact, so a body task loads only its own; saving them
            # in parallel hides the round trips to S3. On local disk threads would only
            # contend for the interpreter's lock.
            def save(i: int) -> str:
                return ds.save_artifact(self.storage, self.flow_name, items[i], f"{var}[{i}]")

            if isinstance(self.storage, LocalStorage):
                shas = [save(i) for i in range(len(items))]
            else:
                from concurrent.futures import ThreadPoolExecutor  # only on S3: see above

                with ThreadPoolExecutor(max_workers=8) as pool:
                    shas = list(pool.map(save, range(len(items))))
            return {"width": len(items), "foreach_items": shas}, list(range(len(items)))
        if info["kind"] == "switch":
            value = getattr(flow, info["condition"])
            arm = switch_arm(value, flow._sfn.transition, info["cases"])
            if arm is None:
                raise TaskError(f"switch on {info['condition']!r}: its value {value!r} matches "
                                f"no arm (arms: {', '.join(info['cases'])})")
            return {"arm": arm}, arm
        return {}, None

    def artifacts(self, flow: FlowSpec) -> dict[str, str]:
        values, shas = flow._artifacts_to_save()
        try:
            shas.update(self.store.save_artifacts(values))
        except ds.ArtifactPickleError as exc:
            raise TaskError(str(exc)) from None
        return dict(sorted(shas.items()))

    # -- the whole task -----------------------------------------------------------------------

    def run(self) -> int:
        spec = self.spec
        started, cpu = time.time(), time.process_time()
        meta = {"status": "running", "attempt": self.store.attempt, "started": started,
                "host": socket.gethostname(), "pid": os.getpid(),
                "python_version": sys.version.split()[0], **where.task_environment()}
        self.store.write_meta(meta)
        status = "failed"
        direct = self.local_log_dir()
        with contextlib.ExitStack() as stack:
            logs = direct or stack.enter_context(tempfile.TemporaryDirectory(prefix="sfn-logs-"))
            with captured_output(logs):
                try:
                    done = self.run_step()
                    done.update(attempt=self.store.attempt, started=started,
                                finished=time.time(), retry_count=spec.attempt,
                                origin_run_id=spec.origin_run,
                                cpu_seconds=round(time.process_time() - cpu, 6))
                    status = "succeeded"
                except (ds.ArtifactError, ds.DamagedRecord) as exc:
                    print(f"sfncompile: {spec.step}/{spec.task}: {exc}", file=sys.stderr)
                    meta["damaged"] = str(exc)  # no @catch stand-in may turn it into a result
                    meta["error"] = str(exc)
                    meta.update(self.failure_record(exc, None, save=False))
                except TaskError as exc:
                    print(f"sfncompile: {spec.step}/{spec.task}: {exc}", file=sys.stderr)
                    meta["error"] = str(exc)
                    meta.update(self.failure_record(exc, None))
                except BaseException as exc:  # the user's exception, reported with its trace
                    trace = user_traceback(exc)
                    sys.stderr.write(trace)
                    meta["error"] = f"{type(exc).__name__}: {exc}"[:1000]
                    if isinstance(exc, KeyboardInterrupt):
                        raise
                    meta.update(self.failure_record(exc, trace))
            if direct is None:
                for name in ("stdout", "stderr"):
                    self.store.write_log(name, os.path.join(logs, name))
        if status != "succeeded":
            self.store.write_meta(meta | {"status": "failed", "finished": time.time()})
            return EXIT_FAILED
        if self.pending_control is not None:
            self.store.write_control(self.pending_control)
        self.store.write_meta(meta | {"status": "succeeded", "finished": done["finished"]})
        self.store.commit(done)  # last: the task becomes visible
        if self.info["kind"] == "end":
            run_events.publish_run_event(self.graph, spec.run, spec.root,
                                         RUN_SUCCEEDED)
        return 0

    def failure_record(self, exc: BaseException, trace: str | None,
                       save: bool = True) -> dict[str, Any]:
        """What a failed attempt records for the client besides its error: the exception as
        Metaflow's client gives it (Task.exception), and (`save`) the artifacts the step held
        when it failed (Metaflow saves a failed task's too), when they can be saved."""
        record: dict[str, Any] = {"exception": {
            "type": f"{type(exc).__module__}.{type(exc).__name__}",
            "exception": str(exc)[:MAX_EXCEPTION_TEXT],
            "stacktrace": trace[-MAX_EXCEPTION_TEXT:] if trace else None}}
        if save and self.flow is not None:
            try:
                record["artifacts"] = self.artifacts(self.flow)
            except Exception as err:  # the failure is the step's; this is only what it left
                print(f"sfncompile: the failed task's artifacts were not saved: {err}",
                      file=sys.stderr)
        return record

    def local_log_dir(self) -> str | None:
        """On a local datastore the logs are captured in place, not copied there at the end."""
        if not isinstance(self.storage, LocalStorage):
            return None
        path = os.path.join(self.storage.root, *self.store.prefix.split("/"), "logs")
        os.makedirs(path, exist_ok=True)
        return path

    def run_step(self) -> dict[str, Any]:
        cls = load_flow_class(self.spec.flow_file, self.flow_name)
        self.set_current(cls)
        flow, inputs, parents = self.bind(cls)
        keep_flow_name(flow)
        self.flow = flow
        if self.spec.caught is not None:
            caught: BaseException | None = self.record_caught(flow, self.spec.caught)
        else:
            caught = self.execute(flow, inputs)
        self.check_transition(flow)
        extra, control = self.decide(flow)
        self.pending_control = control
        done: dict[str, Any] = {
            "artifacts": self.artifacts(flow),
            "frames": [vars(f) for f in flow._sfn.frames],
            "parents": parents,
            **extra,
        }
        if caught is not None:
            done["caught"] = repr(caught)
        done.update(services.after_step(self, flow, done))  # @card
        return done


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def keep_flow_name(flow: FlowSpec) -> None:
    """The flow's `name` artifact (every task has it, as in Metaflow) is recorded by the sha
    its parent stored when that holds the same name: nothing is saved again."""
    binding, name = flow._sfn, getattr(flow, FLOW_NAME_ARTIFACT)
    sha = binding.shas.get(FLOW_NAME_ARTIFACT)
    if sha is not None and sha == ds.artifact_sha(name, FLOW_NAME_ARTIFACT):
        binding.loaded[FLOW_NAME_ARTIFACT] = (name, sha)


def user_traceback(exc: BaseException) -> str:
    """The traceback from the user's code on: sfncompile's own frames above it are noise."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb or exc.__traceback__))


def print_catch_report(flow: FlowSpec, exc: BaseException) -> None:
    """@catch's report of the exception it caught, on the task's stdout as Metaflow's
    (plugins/catch_decorator.py): a line naming the task, then the traceback, each of its
    lines after `>  `."""
    lines = [f"@catch caught an exception from {flow}"]
    lines += [f">  {line}" for line in user_traceback(exc).splitlines()]
    sys.stdout.write("\n".join(lines) + "\n")


def _describe(info: dict[str, Any]) -> str:
    targets = ", ".join(f"self.{t}" for t in info["targets"])
    if info.get("num_parallel") is not None:
        return f"self.next({targets}, num_parallel={info['num_parallel']})"
    if info["kind"] == "foreach":
        return f"self.next({targets}, foreach={info['foreach_var']!r})"
    if info["kind"] == "switch":
        arms = ", ".join(f"{k!r}: self.{v}" for k, v in info["cases"].items())
        return f"self.next({{{arms}}}, condition={info['condition']!r})"
    return f"self.next({targets})"


def _describe_transition(t: Transition) -> str:
    if t.cases:
        arms = ", ".join(f"{k!r}: self.{v}" for k, v in t.cases.items())
        return f"self.next({{{arms}}}, condition={t.condition!r})"
    targets = ", ".join(f"self.{x}" for x in t.targets)
    if t.num_parallel is not None:
        return f"self.next({targets}, num_parallel={t.num_parallel})"
    return f"self.next({targets}, foreach={t.foreach!r})" if t.foreach else f"self.next({targets})"


def load_graph(path: Path) -> dict[str, Any]:
    if str(path) in _GRAPHS:
        return _GRAPHS[str(path)]
    try:
        graph: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TaskError(f"cannot read the step graph {path}: {exc.strerror}") from None
    return graph
