"""Read runs, steps, tasks and artifacts, from a local or an S3 datastore, in Metaflow's shape.

    from sfncompile.client import Flow, Run
    run = Flow("HelloFlow").latest_run
    run["end"].task.data.result

Metaflow 2.19's client (metaflow/client/core.py) is the reference: the same objects (Metaflow,
Flow, Run, Step, Task, DataArtifact, Metadata), names, types and errors. Children are listed
newest first, as Metaflow sorts them by creation time. Every task that started is listed, so
a failed, killed or running task is seen with `successful`/`finished` False, its logs and,
for a failure, its `exception`; a run can be read while it runs.

The objects (Metaflow, Flow, Run, Step, Task, DataArtifact, the data view, Trigger) name one
another in their types and build one another, so they live together here, where Metaflow's
are (`metaflow.client.core`) and where pickles of them (`current.run` as an artifact) name
them. What they share and the process-wide settings have modules of their own, imported back
here so that every name of the client is still `sfncompile.client.core.<name>`:
metaflow_object.py (the base class, listing order, times) and scope.py (the datastore root,
Metaflow's metadata and namespace functions).
"""

from __future__ import annotations

import os
import warnings
from collections import namedtuple
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from sfncompile import exception
from sfncompile.client import code_package, run_record, task_graph
from sfncompile.client import tags as run_tags
from sfncompile.client.code_package import CodePackageError, MetaflowCode
from sfncompile.client.metaflow_object import (
    MetaflowObject,
    _each,
    _local_time,
    _newest_first,
    _number,
    _utc_time,
)
from sfncompile.client.scope import (
    DEFAULT_ROOT,
    _storage,
    bind_task_root,
    datastore_root,
    default_metadata,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
    set_datastore_root,
)
from sfncompile.client.task_graph import Key
from sfncompile.client.task_metadata import (
    Metadata,
    attempt_events,
    ended_by_itself,
    newest_values,
    recorded_exception,
    to_metadata,
)
from sfncompile.conventions.event_format import RUN_SOURCE
from sfncompile.conventions.steps import END, START
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, LocalStorage, Storage, open_storage
from sfncompile.exception import (
    MetaflowExceptionWrapper,
    MetaflowInvalidPathspec,
    MetaflowNotFound,
)
from sfncompile.flow import metaflow_alias

# The client's names, those of scope.py and metaflow_object.py too (`metaflow.client.core.X`).
__all__ = [
    "DEFAULT_ROOT",
    "ArtifactView",
    "CodePackageError",
    "DamagedRunWarning",
    "DataArtifact",
    "Event",
    "Flow",
    "Metadata",
    "Metaflow",
    "MetaflowCode",
    "MetaflowData",
    "MetaflowNamespaceMismatch",
    "MetaflowObject",
    "Run",
    "Step",
    "Task",
    "Trigger",
    "bind_task_root",
    "datastore_root",
    "default_metadata",
    "default_namespace",
    "get_metadata",
    "get_namespace",
    "metadata",
    "namespace",
    "set_datastore_root",
    "trigger_from_record",
]

_NOT_READ = object()  # a run's package graph before it was looked for


class DamagedRunWarning(UserWarning):
    """A run was left out of a listing because one of its records is damaged."""


class MetaflowNamespaceMismatch(exception.MetaflowNamespaceMismatch):
    """The run is not in the current namespace (namespace(None) shows every run); a flow
    catches it as `metaflow.exception.MetaflowNamespaceMismatch`."""

    def __init__(self, message: str) -> None:
        exception.MetaflowException.__init__(self, message)


def _in_namespace(run: Run) -> bool:
    """A run is in namespace `ns` when one of its recorded system tags (`user:<name>`, ...)
    or its user tags (as changed since) is `ns`. A run that records no system tags is in
    every one."""
    ns = get_namespace()
    if ns is None or not isinstance(run._meta.get("system_tags"), list):
        return True
    return run._tag_set.has_all([ns], deployed=False)


class Metaflow:
    """Every flow of the datastore: `.flows`, iteration, `Metaflow()[name]`."""

    def __init__(self, _current_metadata: str | None = None) -> None:
        root = datastore_root()
        if _current_metadata:
            _, at, rest = _current_metadata.partition("@")
            root = rest if at else _current_metadata
        self._storage = open_storage(root)

    @property
    def flows(self) -> list[Flow]:
        return list(self)

    def __iter__(self) -> Iterator[Flow]:
        """The flows with a run (a run in the current namespace, when there is one)."""
        for name in self._storage.list_dirs(""):
            if not name.isidentifier():
                continue
            flow = Flow(name, self._storage, _exists=True)
            if get_namespace() is None or flow.runs():
                yield flow

    def __getitem__(self, name: str) -> Flow:
        return Flow(name, self._storage)

    def __repr__(self) -> str:
        return "Metaflow()"

    def __str__(self) -> str:
        return repr(self)


class Flow(MetaflowObject):
    def __init__(self, name: str, storage: Storage | None = None, *,
                 _exists: bool = False) -> None:
        if not name or "/" in name:
            raise MetaflowInvalidPathspec(f"Expects Flow('FlowName'), not {name!r}")
        self.name = self.id = self.pathspec = name
        self._storage = storage or _storage()
        if not _exists and not self._run_ids():
            raise MetaflowNotFound(f"Flow('{name}') does not exist")
        if storage is None and get_namespace() is not None and \
                not any(self._wanted(r, ()) for r in self._all_runs()):
            # Metaflow's rule: a flow is in a namespace when one of its runs is
            raise MetaflowNamespaceMismatch(
                f"flow {name} has no run in namespace {get_namespace()!r} (namespace(None) "
                "reads every run)")

    def _run_ids(self) -> list[str]:
        try:
            return ds.list_runs(self._storage, self.name)
        except ValueError:  # not a name a flow can have
            return []

    def _all_runs(self) -> list[Run]:
        """Every run whose record reads; a damaged one is left out with a warning."""
        runs = []
        for run_id in self._run_ids():
            run = Run(f"{self.name}/{run_id}", self._storage, _exists=True)
            try:
                run.created  # noqa: B018 - reads _run.json (or the start task's record)
            except ds.DamagedRecord as exc:
                warnings.warn(f"skipping run {run.pathspec}: {exc}", DamagedRunWarning,
                              stacklevel=3)
                continue
            runs.append(run)
        return runs

    def runs(self, *tags: str) -> list[Run]:
        """Every run (in the namespace, with all of `tags`), newest first. A run whose records
        are damaged is left out, with a warning that names the file; the others are listed."""
        runs = [r for r in self._all_runs() if self._wanted(r, tags)]
        return _newest_first(runs, lambda r: r.created, lambda r: r.id)

    @staticmethod
    def _wanted(run: Run, tags: Sequence[str]) -> bool:
        """In the namespace and carrying `tags`; a damaged tags file leaves the run out, with
        a warning that names it."""
        try:
            return _in_namespace(run) and run._tag_set.has_all(tags)
        except ds.DamagedRecord as exc:
            warnings.warn(f"skipping run {run.pathspec}: {exc}", DamagedRunWarning, stacklevel=4)
            return False

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        if run_id not in self:
            raise KeyError(run_id)  # as Metaflow's: the id alone
        return Run(f"{self.name}/{run_id}", self._storage, _exists=True)

    def __contains__(self, run_id: str) -> bool:
        if not run_id or "/" in run_id:
            return False
        return Run(f"{self.name}/{run_id}", self._storage, _exists=True)._exists()

    @property
    def created_at(self) -> datetime | None:
        """When its first run started."""
        return _local_time(min((r.created for r in self._all_runs()), default=None))

    @property
    def latest_run(self) -> Run | None:
        runs = self.runs()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)


def _topological(steps: dict[str, Any]) -> list[str]:
    """A recorded graph's steps from the start along its transitions (the record's keys are
    sorted by name); a loop's way back is not a transition here."""
    back = {n: set(s.get("back_parents") or ()) for n, s in steps.items()}
    waiting = {n: len(set(s.get("parents") or ()) - back[n]) for n, s in steps.items()}
    ready = [n for n, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        name = ready.pop(0)
        order.append(name)
        for target in dict.fromkeys(steps[name].get("targets") or ()):
            if target in waiting and name not in back[target]:
                waiting[target] -= 1
                if waiting[target] == 0:
                    ready.append(target)
    return order + [n for n in steps if n not in order]


class Run(MetaflowObject):
    def __init__(self, pathspec: str, storage: Storage | None = None, *,
                 _exists: bool = False) -> None:
        flow, _, run = pathspec.partition("/")
        if not flow or not run or "/" in run:
            raise MetaflowInvalidPathspec(f"Expects Run('FlowName/RunID'), not {pathspec!r}")
        self.flow, self.id = flow, run
        self.pathspec = pathspec
        self._storage = storage or _storage()
        if not _exists and not self._exists():
            raise MetaflowNotFound(f"Run('{pathspec}') does not exist")
        if storage is None and get_namespace() is not None and not self._visible():
            raise MetaflowNamespaceMismatch(
                f"run {pathspec} is not in namespace {get_namespace()!r} (namespace(None) "
                "reads every run)")

    def _exists(self) -> bool:
        """A run exists once it has a record or a task."""
        try:
            return bool(self._meta) or bool(self._step_names())
        except ds.DamagedRecord:  # it exists; whatever reads the record next reports it
            return True
        except ValueError:  # a reserved run id
            return False

    def _visible(self) -> bool:
        try:
            return _in_namespace(self)
        except ds.DamagedRecord:  # reported by whatever reads the record next
            return True

    @cached_property
    def _meta(self) -> dict[str, Any]:
        try:
            record = ds.read_run_meta(self._storage, self.flow, self.id)
        except KeyNotFound:
            record = {}
        if record.get("status", "running") != "running" or \
                record.get("runner", run_record.STEP_FUNCTIONS) != run_record.STEP_FUNCTIONS:
            return record
        # An execution that Step Functions ended: what the run end recorder wrote, if it has.
        try:
            return run_record.merge_end(record, ds.read_run_end(self._storage, self.flow,
                                                                self.id))
        except (KeyNotFound, ds.DamagedRecord):
            return record

    def _step_names(self) -> list[str]:
        return ds.list_steps(self._storage, self.flow, self.id)

    @property
    def _graph(self) -> dict[str, Any] | None:
        """The step graph a local run records, or for an execution (whose record has none)
        the one in the code package its tasks ran; None when neither can be read."""
        graph = self._meta.get("graph")
        if isinstance(graph, dict) and isinstance(graph.get("steps"), dict):
            return graph
        if self.runner != run_record.STEP_FUNCTIONS:
            return None
        if self._package_graph is _NOT_READ:
            self._package_graph = self._read_package_graph()
        graph = self._package_graph
        return graph if isinstance(graph, dict) else None

    _package_graph: object = _NOT_READ

    def _read_package_graph(self) -> object:
        """The graph in the code package that the run's first task records (every task of
        an execution records the same); None when it records none (a state machine deployed
        before tasks recorded it) or the package cannot be read, _NOT_READ before any task."""
        for step in self._step_names():
            for task in self._task_ids(step)[:1]:
                t = Task(Step(self, step, _exists=True), task, _exists=True)
                meta = t.attempt_meta(t.current_attempt)
                if meta:
                    return code_package.package_graph(self._storage, meta.get("code_package"))
        return _NOT_READ

    @property
    def parent(self) -> Flow:
        return Flow(self.flow, self._storage, _exists=True)

    @property
    def created(self) -> float:
        """When the run started (epoch seconds)."""
        started = run_record.epoch(self._meta.get("started"))
        if started is not None:
            return started
        start = self._graph_step(START)
        if start not in self._step_names():
            return 0.0
        return Step(self, start, _exists=True)._created()

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self.created)

    @property
    def _origin_run(self) -> str | None:
        return run_record.origin_run(self._meta)

    @property
    def origin_pathspec(self) -> str | None:
        """`Flow/<origin-run-id>` as Metaflow gives it: the run a resume continued, and for
        a run that is no resume `Flow/None` (its tasks' `origin-run-id` metadata is the text
        None); None before a step started."""
        return f"{self.flow}/{self._origin_run}" if self._step_names() else None

    @property
    def params(self) -> dict[str, Any]:
        return run_record.params(self._meta)

    @property
    def runner(self) -> str:
        """`local` or `step-functions`."""
        return str(self._meta.get("runner") or "local")

    @property
    def status(self) -> str:
        """running, succeeded, failed, interrupted (a local run whose runner stopped), or, for
        an execution that Step Functions ended itself, aborted or timed out (as the run end
        recorder wrote it: until it has, the run reads as running)."""
        self.__dict__.pop("_meta", None)
        if self.successful:
            return "succeeded"
        status = str(self._meta.get("status") or "running")
        if status == "failed" and self._meta.get("interrupted"):
            return "interrupted"
        return status

    @property
    def started_at(self) -> float | None:
        """When the run started (epoch seconds)."""
        started = run_record.epoch(self._meta.get("started"))
        return started if started is not None else (self.created or None)

    @property
    def ended_at(self) -> float | None:
        """When it succeeded or failed (epoch seconds); None while it runs. Metaflow's
        `finished_at` is the end task's finish: None for a failed run."""
        ended = run_record.epoch(self._meta.get("finished"))
        if ended is None and self.successful:
            end = self.end_task
            ended = end._finished() if end else None
        return ended

    @property
    def finished_at(self) -> datetime | None:
        """When the end task finished, as Metaflow has it (None until then)."""
        end = self.end_task
        return end.finished_at if end else None

    @property
    def trigger(self) -> Trigger | None:
        """What started the run (`.event`, `.events`, `.run`), None if nothing did."""
        record = run_record.trigger(self._meta)
        return trigger_from_record(record) if isinstance(record, dict) else None

    @property
    def code(self) -> MetaflowCode | None:
        """The code package the run's tasks ran (`MetaflowCode`), as Metaflow's: the start
        task's, else the first other step's task that has one (a hybrid run's `@batch`
        steps); None for a run on this machine, which stores none (as Metaflow's)."""
        start = self._graph_step(START)
        steps = self._step_names()
        for step in sorted(steps, key=lambda name: name != start):
            for task in self._task_ids(step)[:1]:
                code = Task(Step(self, step, _exists=True), task, _exists=True).code
                if code is not None:
                    return code
        return None

    @cached_property
    def deployment(self) -> dict[str, Any]:
        """Who deployed the flow that ran (`deployed_by`) and the deploy's tags
        (`deploy_tags`), as its first task recorded them; empty for a local run."""
        meta = self._start_meta
        return {k: meta[k] for k in ("deployed_by", "deploy_tags") if k in meta}

    @cached_property
    def _start_meta(self) -> dict[str, Any]:
        start = self._graph_step(START)
        if start not in self._step_names():
            return {}
        return Step(self, start, _exists=True).first_attempt_meta()

    def _task_system_tags(self) -> dict[str, Any]:
        """The system tags a run's first task gives, as `key: value`: the deploy's tags and,
        for a run on Step Functions, the Python that ran it (`python_version`, as Metaflow's
        step-functions runs carry it: the container's, which the deploy cannot know)."""
        tags = dict(self.deployment.get("deploy_tags") or {})
        version = self._start_meta.get("python_version")
        if self.runner == run_record.STEP_FUNCTIONS and isinstance(version, str):
            tags["python_version"] = version
        return tags

    @property
    def deployed_by(self) -> str | None:
        return self.deployment.get("deployed_by")

    @property
    def tags(self) -> frozenset[str]:
        """The run's user and system tags, a frozenset as in Metaflow (see `user_tags`)."""
        return self.user_tags | self.system_tags

    @property
    def failure(self) -> dict[str, Any] | None:
        """Where and why a failed run failed: `step`, `task`, `error`, `cause` (and for a
        Batch job its `job_id` and `log_stream`), from the run record and the failed task.
        For a run that Step Functions ended itself (aborted, timed out, or failed by an error
        that no Catch takes), `error` and `cause` from its event and a `reason`."""
        status = self.status
        if status not in ("failed", "aborted", "timed out"):
            return None
        meta = self._meta
        out: dict[str, Any] = {"error": meta.get("error"), "cause": meta.get("cause")}
        if meta.get(run_record.ENDED_BY_AWS):
            out["reason"] = meta.get("cause") or run_record.DEFAULT_REASONS[status]
        out.update(run_record.batch_failure(meta.get("cause")))
        task = self._failed_task(out.get("step"), out.get("task"))
        if task is not None:
            out.setdefault("step", task[0])
            out.setdefault("task", task[1])
            if task[2].get("error"):
                out["error"] = task[2]["error"]
            batch = task[2].get("batch") or {}
            for field in ("job_id", "log_stream"):
                if batch.get(field):
                    out.setdefault(field, batch[field])
        return {k: v for k, v in out.items() if v is not None}

    def _failed_task(self, step: str | None, task: str | None
                     ) -> tuple[str, str, dict[str, Any]] | None:
        """The task that failed (its last attempt's metadata): the one named, else the
        first started and uncommitted task, in graph order, whose last attempt says failed."""
        names = self._step_names()
        steps = [step] if step else self._in_graph_order(names)
        for name in steps:
            if name not in names:
                continue
            step_ = Step(self, name, _exists=True)
            tasks = [task] if task and step else step_.started_tasks()
            for task_id in tasks:
                t = Task(step_, task_id, _exists=True)
                if t.attempt is not None:
                    continue
                meta = t.last_attempt_meta()
                if meta.get("status") == "failed" or (step and meta):
                    return name, task_id, meta
        return None

    def _in_graph_order(self, names: list[str]) -> list[str]:
        """Step names in the order of the run's graph (when it recorded one), then by name."""
        order = _topological((self._graph or {}).get("steps", {}))
        return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))

    def step_names(self) -> list[str]:
        """The names of the steps that ran, in graph order (sfncompile's; `steps()` lists
        them newest first, as Metaflow does)."""
        return self._in_graph_order(self._step_names())

    def steps(self, *tags: str) -> list[Step]:
        """The steps that ran (with all of `tags`), newest first (by their first task)."""
        if not all(t in self.tags for t in tags):
            return []
        steps = [Step(self, s, _exists=True) for s in self._step_names()]
        _each(self._storage, lambda s: s._created(), steps)
        order = self._in_graph_order([s.name for s in steps])
        return _newest_first(steps, lambda s: s._created(), lambda s: order.index(s.name))

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __getitem__(self, step: str) -> Step:
        if step not in self:
            raise KeyError(step)
        return Step(self, step, _exists=True)

    def __contains__(self, step: str) -> bool:
        return step in self._step_names()

    def _graph_step(self, default: str) -> str:
        """The start (START) or end (END) step's name, unless the run's graph names others."""
        return str((self._graph or {}).get(f"{default}_step", default))

    @property
    def end_task(self) -> Task | None:
        """The end step's task, None until it started."""
        end = self._graph_step(END)
        return self[end].task if end in self else None

    @property
    def successful(self) -> bool:
        end = self.end_task
        return end is not None and end.successful

    @property
    def finished(self) -> bool:
        """Whether the end task finished, as in Metaflow: False for a failed run (its
        `status` says failed)."""
        end = self.end_task
        return end is not None and end.finished

    @property
    def data(self) -> MetaflowData | None:
        end = self.end_task
        return end.data if end else None

    # -- tags: Metaflow's rules, in client/tags.py --------------------------------------------

    @cached_property
    def _tag_set(self) -> run_tags.RunTags:
        return run_tags.RunTags(self._storage, self.flow, self.id, self._meta,
                                self._task_system_tags)

    @property
    def user_tags(self) -> frozenset[str]:
        """`run --tag` tags, as changed since by `add_tag` & co. (read when first asked)."""
        return self._tag_set.user

    @property
    def system_tags(self) -> frozenset[str]:
        """What the run was started with (`user:<name>`, `runtime:`, `python_version:`, ...),
        and a deployed run's deploy tags as `key:value`. They cannot be changed."""
        return self._tag_set.system

    def add_tag(self, tag: str) -> None:
        """Add a user tag; a tag that is already a system tag is left alone, without an
        error. A list of tags works too, as in Metaflow."""
        self._tag_set.replace([], run_tags.one_or_many(tag))

    def add_tags(self, tags: Iterable[str]) -> None:
        self._tag_set.replace([], run_tags.one_or_many(tags))

    def remove_tag(self, tag: str) -> None:
        """Remove a user tag (a missing one is no error); removing a system tag is one."""
        self._tag_set.replace(run_tags.one_or_many(tag), [])

    def remove_tags(self, tags: Iterable[str]) -> None:
        self._tag_set.replace(tags, [])

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        """Remove a tag and add one in a single change, the removal first."""
        self._tag_set.replace(run_tags.one_or_many(tag_to_remove),
                              run_tags.one_or_many(tag_to_add))

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        self._tag_set.replace(tags_to_remove, tags_to_add)

    # -- what tasks read of their run ---------------------------------------------------------

    def _task_ids(self, step: str) -> list[str]:
        return ds.list_tasks(self._storage, self.flow, self.id, step, committed_only=False)

    def _metadata_facts(self) -> dict[str, str]:
        """The metadata every task of the run shares, under Metaflow's names."""
        storage = self._storage
        facts = {"origin-run-id": str(self._origin_run),
                 "ds-type": "local" if isinstance(storage, LocalStorage) else "s3",
                 "ds-root": str(storage.root) if isinstance(storage, LocalStorage)
                 else storage.url(),
                 "runtime": "dev" if self.runner == "local" else self.runner}
        system = self._meta.get("system_tags")
        user = next((t[5:] for t in system if isinstance(t, str) and t.startswith("user:")),
                    None) if isinstance(system, list) else None
        if user:
            facts["user"] = user
        script = (self._graph or {}).get("source") or self._meta.get("flow_file")
        if isinstance(script, str) and script:
            facts["script-name"] = os.path.basename(script)
        return facts


class Step(MetaflowObject):
    def __init__(self, run: Run | str, name: str | None = None, *,
                 _exists: bool = False) -> None:
        if isinstance(run, str):  # Step("Flow/run/step"), as Metaflow's client takes it
            if run.count("/") != 2:
                raise MetaflowInvalidPathspec(
                    f"Expects Step('FlowName/RunID/StepName'), not {run!r}")
            run, _, name = run.rpartition("/")
            run = Run(run)
        if not name:
            raise MetaflowInvalidPathspec("Expects Step('FlowName/RunID/StepName')")
        self.run, self.name, self.id = run, name, name
        self.pathspec = f"{run.pathspec}/{name}"
        self._created_epoch: float | None = None
        if not _exists and name not in run:
            raise MetaflowNotFound(f"Step('{self.pathspec}') does not exist")

    @property
    def parent(self) -> Run:
        return self.run

    @property
    def origin_pathspec(self) -> str | None:
        """The run's origin and this step's name (`Flow/None/step` for a run that is no
        resume), as Metaflow gives it."""
        origin = self.run.origin_pathspec
        return f"{origin}/{self.name}" if origin else None

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags (a step has no tags of its own in Metaflow either)."""
        return self.run.tags

    @property
    def user_tags(self) -> frozenset[str]:
        return self.run.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.run.system_tags

    def started_tasks(self) -> list[str]:
        """The ids of every task that started, in foreach index order."""
        return self.run._task_ids(self.name)

    def tasks(self, *tags: str) -> list[Task]:
        """Every task that started (with all of `tags`), newest first: committed, failed,
        killed or running (`successful`, `finished` and `exception` tell which)."""
        if not all(t in self.run.tags for t in tags):
            return []
        ids = self.started_tasks()
        r = self.run
        committed = ds.committed_attempts(r._storage, r.flow, r.id, self.name)
        tasks = [Task(self, t, _exists=True, _committed=committed.get(t)) for t in ids]
        _each(r._storage, lambda t: t._created(), tasks)
        position = {t: i for i, t in enumerate(ids)}
        return _newest_first(tasks, lambda t: t._created(), lambda t: position[t.id])

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task: str) -> Task:
        if task not in self:
            raise KeyError(task)
        return Task(self, task, _exists=True)

    def __contains__(self, task: str) -> bool:
        r = self.run
        try:
            return bool(ds.list_attempts(r._storage, r.flow, r.id, self.name, task))
        except ValueError:  # not a name a task can have
            return False

    @property
    def task(self) -> Task | None:
        """The first task (the newest): the task of a step that ran once."""
        return next(iter(self), None)

    def _created(self) -> float:
        """When its first task (in index order) started: what orders the steps."""
        if self._created_epoch is None:
            ids = self.started_tasks()
            self._created_epoch = (Task(self, ids[0], _exists=True)._created() if ids
                                   else 0.0)
        return self._created_epoch

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self._created())

    @property
    def finished_at(self) -> datetime | None:
        """When its last task finished; None while a task has not."""
        times = [t.finished_at for t in self]
        if not times or any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    @property
    def environment_info(self) -> None:
        return None

    def first_attempt_meta(self) -> dict[str, Any]:
        """The metadata of the first attempt of the step's first task ({} if none)."""
        tasks = self.started_tasks()
        if not tasks:
            return {}
        return Task(self, tasks[0], _exists=True).attempt_meta(0)

    @property
    def parent_steps(self) -> Iterator[Step]:
        """The steps that lead here, as the run's graph has them (none for the start step);
        MetaflowNotFound, as in Metaflow, when one of them never ran."""
        if self.name != self.run._graph_step(START):
            yield from self._steps(self._parent_step_names())

    @property
    def child_steps(self) -> Iterator[Step]:
        """The steps this one may lead to, as the run's graph has them (every arm of a
        switch); MetaflowNotFound, as in Metaflow, when one of them never ran (a failed run,
        a switch arm not taken)."""
        if self.name != self.run._graph_step(END):
            yield from self._steps(self._child_step_names())

    def _steps(self, names: list[str]) -> Iterator[Step]:
        for name in names:
            yield Step(self.run, name)

    def _parent_step_names(self) -> list[str]:
        graph = self.run._graph
        if graph is not None and self.name in graph["steps"]:
            return task_graph.parent_steps(graph, self.name)
        names: list[str] = []  # no graph: the steps its tasks record as parents
        for task in self.tasks():
            for step, _ in task._parent_keys():
                if step not in names:
                    names.append(step)
        return names

    def _child_step_names(self) -> list[str]:
        graph = self.run._graph
        if graph is not None and self.name in graph["steps"]:
            return task_graph.child_steps(graph, self.name)
        return [s.name for s in self.run.steps()
                if any(p == self.name for t in s.tasks() for p, _ in t._parent_keys())]


class Task(MetaflowObject):
    def __init__(self, step: Step | str, task_id: str | None = None, *,
                 attempt: int | None = None, _exists: bool = False,
                 _committed: int | None = None) -> None:
        if isinstance(step, str):  # Task("Flow/run/step/task")
            if step.count("/") != 3:
                raise MetaflowInvalidPathspec(
                    f"Expects Task('FlowName/RunID/StepName/TaskID'), not {step!r}")
            step, _, task_id = step.rpartition("/")
            step = Step(step)
        if not task_id:
            raise MetaflowInvalidPathspec("Expects Task('FlowName/RunID/StepName/TaskID')")
        if attempt is not None and (isinstance(attempt, bool) or not isinstance(attempt, int)
                                    or attempt < 0):
            raise MetaflowNotFound(f"Attempt can only be a non-negative integer, not {attempt!r}")
        self.step, self.id = step, task_id
        self.pathspec = f"{step.pathspec}/{task_id}"
        self._run = step.run
        self._attempt_arg = attempt
        self._committed = _committed  # once committed, an attempt stays so
        self._done_record: dict[str, Any] | None = None
        self._created_epoch: float | None = None
        self._metas: dict[int, dict[str, Any]] = {}  # attempts that ended
        if not _exists and task_id not in step:
            raise MetaflowNotFound(f"Task('{self.pathspec}') does not exist")

    def __repr__(self) -> str:
        if self._attempt_arg is not None:
            return f"Task('{self.pathspec}', attempt={self._attempt_arg})"
        return super().__repr__()

    @property
    def parent(self) -> Step:
        return self.step

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags, as a Metaflow task carries its run's."""
        return self.step.tags

    @property
    def user_tags(self) -> frozenset[str]:
        return self.step.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.step.system_tags

    @property
    def _key(self) -> tuple[Storage, str, str, str, str]:
        r = self._run
        return r._storage, r.flow, r.id, self.step.name, self.id

    # -- attempts -----------------------------------------------------------------------------

    @property
    def attempt(self) -> int | None:
        """The committed attempt, None while none is (running, failed or killed)."""
        if self._committed is None:
            self._committed = ds.committed_attempt(*self._key)
        return self._committed

    def _attempts(self) -> list[int]:
        return ds.list_attempts(*self._key)

    @property
    def current_attempt(self) -> int:
        """The attempt this object reads: the one asked for, else the latest that started."""
        if self._attempt_arg is not None:
            return self._attempt_arg
        attempts = self._attempts()
        return attempts[-1] if attempts else 0

    def _view(self) -> int | None:
        """The attempt whose outcome and data this object gives: the one asked for, the
        committed one, else the latest that started."""
        if self._attempt_arg is not None:
            return self._attempt_arg
        if self.attempt is not None:
            return self.attempt
        attempts = self._attempts()
        return attempts[-1] if attempts else None

    def _view_done(self) -> dict[str, Any] | None:
        """done.json of the attempt this object reads, None if it did not commit."""
        view = self._view()
        return self._done if view is not None and view == self.attempt else None

    def attempt_meta(self, attempt: int) -> dict[str, Any]:
        """meta.json of an attempt: status, times, host, error, and in AWS Batch the job
        (`batch`: job_id, job_queue, log_group, log_stream); {} if it has none."""
        if attempt in self._metas:
            return self._metas[attempt]
        try:
            meta = ds.read_meta(*self._key, attempt)
        except (KeyNotFound, ds.DamagedRecord):
            return {}
        if meta.get("status") not in (None, "running"):  # an ended attempt's record is final
            self._metas[attempt] = meta
        return meta

    def last_attempt_meta(self) -> dict[str, Any]:
        """meta.json of the committed attempt, else of the latest one."""
        view = self._view()
        return {} if view is None else self.attempt_meta(view)

    @property
    def _done(self) -> dict[str, Any]:
        """The committed attempt's done.json (which never changes once written)."""
        if self._done_record is None:
            if self.attempt is None:
                raise MetaflowNotFound(f"{self.pathspec} has not committed (it is running "
                                       "or failed)")
            self._done_record = ds.read_done(*self._key, self.attempt)
        return self._done_record

    # -- outcome and times --------------------------------------------------------------------

    @property
    def successful(self) -> bool:
        """Committed, and not by a @catch that caught the step's failure (as Metaflow)."""
        done = self._view_done()
        return done is not None and "caught" not in done

    @property
    def finished(self) -> bool:
        """Committed: succeeded, or failed and caught by @catch."""
        return self._view_done() is not None

    @property
    def exception(self) -> MetaflowExceptionWrapper | None:
        """The failed attempt's exception, as Metaflow's `MetaflowExceptionWrapper` (`.type`,
        `.exception`, `.stacktrace`); None for a committed task (@catch's too), a running
        one, or one killed before it could record it."""
        if self._view_done() is not None:
            return None
        view = self._view()
        return None if view is None else recorded_exception(self.attempt_meta(view))

    def _created(self) -> float:
        """When the task's first attempt started (a reused task: when it was reused)."""
        if self._created_epoch is None:
            self._created_epoch = self._first_start()
        return self._created_epoch

    def _first_start(self) -> float:
        first = _number(self.attempt_meta(0).get("started"))
        if first is not None:
            return first
        for attempt in self._attempts():
            started = _number(self.attempt_meta(attempt).get("started"))
            if started is not None:
                return started
        if self.attempt is not None:
            started = _number(self._done.get("started"))
            if started is not None:
                return started
        return run_record.epoch(self._run._meta.get("started")) or 0.0

    @property
    def created_at(self) -> datetime:
        return datetime.fromtimestamp(self._created())

    @property
    def started(self) -> float | None:
        """When the attempt this object reads started (epoch seconds)."""
        done = self._view_done()
        if done is not None and _number(done.get("started")) is not None:
            return _number(done.get("started"))
        view = self._view()
        return None if view is None else _number(self.attempt_meta(view).get("started"))

    def _finished(self) -> float | None:
        view = self._view()
        meta = {} if view is None else self.attempt_meta(view)
        done = self._view_done()
        if done is not None and "cloned_from" not in meta:  # a reused task: when reused
            return _number(done.get("finished"))
        return _number(meta.get("finished")) if ended_by_itself(meta) else None

    @property
    def finished_at(self) -> datetime | None:
        """When it finished, successfully or not; None while it runs or if it was killed."""
        return _local_time(self._finished())

    @property
    def index(self) -> int | None:
        """The index of the task in its innermost foreach, None outside any."""
        return task_graph.foreach_index(self.id)

    @property
    def runtime_name(self) -> str:
        return "dev" if self._run.runner == "local" else self._run.runner

    @property
    def code(self) -> MetaflowCode | None:
        """The code package the task ran from (`MetaflowCode`: a Step Functions or Batch
        task's), read and checked against the sha256 the task recorded; None for a task that
        ran on this machine, which stores none (as Metaflow's). CodePackageError when the
        package is missing or damaged."""
        meta = self.attempt_meta(self.current_attempt)
        info = {"username": meta["deployed_by"]} if isinstance(meta.get("deployed_by"), str) \
            else {}
        if meta.get("code_package"):
            version = next((t.partition(":")[2] for t in self._run.system_tags
                            if t.startswith("metaflow_version:")), None)
            info.update({"metaflow_version": version} if version else {})
        return code_package.read_code(self._run._storage, meta.get("code_package"), info)

    @property
    def environment_info(self) -> None:
        return None

    # -- resume -------------------------------------------------------------------------------

    def _cloned_from(self) -> tuple[str, str] | None:
        """(origin run, origin task) of a task that a resume reused."""
        view = self._view()
        source = self.attempt_meta(view).get("cloned_from") if view is not None else None
        if not isinstance(source, str):
            done = self._view_done()
            source = done.get("cloned_from") if done is not None else None
        parts = source.split("/") if isinstance(source, str) else []
        return (parts[1], parts[3]) if len(parts) == 5 else None

    @property
    def origin_pathspec(self) -> str | None:
        """The task a resume reused for this one (its step's origin and the reused task's
        id, as Metaflow builds it), None if it ran in this run."""
        origin, step = self._cloned_from(), self.step.origin_pathspec
        return None if origin is None or step is None else f"{step}/{origin[1]}"

    def _origin_task(self) -> Task | None:
        origin = self._cloned_from()
        if origin is None:
            return None
        try:
            run = Run(f"{self._run.flow}/{origin[0]}", self._run._storage)
            return Task(Step(run, self.step.name), origin[1])
        except MetaflowNotFound:  # the origin run was removed
            return None

    # -- metadata -----------------------------------------------------------------------------

    @property
    def metadata(self) -> list[Metadata]:
        """Metaflow's metadata events of every attempt (or of the one asked for). A reused
        task has, besides its own, those of the task it reuses, as in Metaflow."""
        attempts = self._attempts() if self._attempt_arg is None else [self._attempt_arg]
        facts = self._run._metadata_facts()
        origin = self._cloned_from()
        events = []
        for attempt in attempts:
            events += attempt_events(attempt, self.attempt_meta(attempt), facts, origin)
        result = to_metadata(events, self)
        source = self._origin_task()
        if source is not None:
            have = {m.name for m in result}
            newest = {m.name: m for m in sorted(source.metadata, key=lambda m: m.created_at)}
            result += to_metadata([(m.name, m.value, m.created_at) for m in newest.values()
                                   if m.name not in have], self)
        return result

    @property
    def metadata_dict(self) -> dict[str, Any]:
        """The newest value of each metadata name."""
        return newest_values(self.metadata)

    # -- lineage ------------------------------------------------------------------------------

    def _parent_keys(self) -> list[Key]:
        graph = self._run._graph
        if graph is not None and self.step.name in graph["steps"]:
            return self._matching(*task_graph.parent_match(
                graph, self.step.name, task_graph.foreach_path(self.id)))
        done = self._done if self.attempt is not None else None
        return [] if done is None else task_graph.recorded_parents(done)

    def _child_keys(self) -> list[Key]:
        run, graph = self._run, self._run._graph
        if graph is not None and self.step.name in graph["steps"]:
            return self._matching(*task_graph.child_match(
                graph, self.step.name, task_graph.foreach_path(self.id)))
        if self.attempt is None:  # no graph: a task that did not commit led nowhere
            return []
        return [(s.name, t.id) for s in run.steps() for t in s.tasks()
                if (self.step.name, self.id) in t._parent_keys()]

    def _matching(self, steps: list[str], match: task_graph.Match) -> list[Key]:
        """The tasks of `steps` whose foreach path `match` takes, as Metaflow's client finds
        them: its resume records no foreach path for a task it reuses, so such a task is
        taken only where any path is."""
        run = self._run
        present = run._step_names()
        out = []
        for name in steps:
            if name not in present:
                continue
            step = Step(run, name, _exists=True)
            for task in run._task_ids(name):
                if match == task_graph.ALL or (
                        task_graph.matches(match, task_graph.foreach_path(task))
                        and Task(step, task, _exists=True)._cloned_from() is None):
                    out.append((name, task))
        return out

    @property
    def parent_task_pathspecs(self) -> Iterator[str]:
        for step, task in self._parent_keys():
            yield f"{self._run.pathspec}/{step}/{task}"

    @property
    def child_task_pathspecs(self) -> Iterator[str]:
        for step, task in self._child_keys():
            yield f"{self._run.pathspec}/{step}/{task}"

    @property
    def parent_tasks(self) -> Iterator[Task]:
        """The tasks this one came from (a join's: every task it gathers)."""
        for step, task in self._parent_keys():
            yield Task(Step(self._run, step, _exists=True), task, _exists=True)

    @property
    def child_tasks(self) -> Iterator[Task]:
        """The tasks that started from this one."""
        for step, task in self._child_keys():
            yield Task(Step(self._run, step, _exists=True), task, _exists=True)

    # -- artifacts ----------------------------------------------------------------------------

    @property
    def artifact_shas(self) -> dict[str, str]:
        """Every artifact the task stored, `_x` names too: name -> sha256. A failed attempt's
        are those it held when it failed, when it could save them."""
        done = self._view_done()
        if done is not None:
            return dict(done["artifacts"])
        view = self._view()
        stored = self.attempt_meta(view).get("artifacts") if view is not None else None
        if not isinstance(stored, dict):
            return {}
        return {str(k): str(v) for k, v in stored.items()}

    @property
    def artifact_names(self) -> list[str]:
        """Names starting with `_` are the flow's private artifacts: they pass from step to
        step but, as in Metaflow's client, are not listed (`task.load("_x")` reads one)."""
        return sorted(n for n in self.artifact_shas if not n.startswith("_"))

    @property
    def data(self) -> MetaflowData:
        return MetaflowData(self)

    @property
    def artifacts(self) -> Any:
        """Metaflow's `MetaflowArtifacts`: a named tuple of the task's DataArtifacts."""
        arts = list(self)
        factory: Callable[..., Any] = namedtuple  # its fields are known only at run time
        return factory("MetaflowArtifacts", [a.id for a in arts])._make(arts)

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self:
            raise KeyError(name)
        return DataArtifact(self, name, _exists=True)

    def __contains__(self, name: str) -> bool:
        return name in self.artifact_shas

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter([DataArtifact(self, n, _exists=True) for n in self.artifact_names])

    def load(self, name: str) -> Any:
        r = self._run
        shas = self.artifact_shas
        if name not in shas:
            raise KeyError(name)
        with metaflow_alias.resolving():  # a flow module the pickle imports may use metaflow
            return ds.load_artifact(r._storage, r.flow, shas[name], name, f"task {self.pathspec}")

    # -- logs ---------------------------------------------------------------------------------

    def _log(self, name: str) -> bytes:
        try:
            return ds.read_log(*self._key, self.current_attempt, name)
        except (KeyNotFound, ValueError):
            return b""

    @property
    def stdout(self) -> str:
        """The output of the attempt this object reads (the latest that started)."""
        return self._log("stdout").decode(errors="replace")

    @property
    def stderr(self) -> str:
        return self._log("stderr").decode(errors="replace")

    def loglines(self, stream: str, as_unicode: bool = True,
                 meta_dict: dict[str, Any] | None = None) -> Iterator[tuple[datetime | None, Any]]:
        """(time, line) for each line of `stream` ('stdout' or 'stderr'), as Metaflow yields
        them. sfncompile stores a log without per-line times: each line has the time the
        attempt ended (or started, while it runs), in UTC."""
        meta = self.attempt_meta(self.current_attempt)
        when = _utc_time(_number(meta.get("finished")) or _number(meta.get("started")))
        data = self._log(stream)
        lines = data.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        for line in lines:
            yield when, (line.decode(errors="replace") if as_unicode else line)


class DataArtifact(MetaflowObject):
    def __init__(self, task: Task | str, name: str | None = None, *,
                 _exists: bool = False) -> None:
        if isinstance(task, str):  # DataArtifact("Flow/run/step/task/name")
            if task.count("/") != 4:
                raise MetaflowInvalidPathspec(
                    f"Expects DataArtifact('FlowName/RunID/StepName/TaskID/ArtifactName'), "
                    f"not {task!r}")
            task, _, name = task.rpartition("/")
            task = Task(task)
        if not name:
            raise MetaflowInvalidPathspec(
                "Expects DataArtifact('FlowName/RunID/StepName/TaskID/ArtifactName')")
        self.task, self.name, self.id = task, name, name
        self.pathspec = f"{task.pathspec}/{name}"
        if not _exists and name not in task:
            raise MetaflowNotFound(f"DataArtifact('{self.pathspec}') does not exist")

    @property
    def parent(self) -> Task:
        return self.task

    @property
    def origin_pathspec(self) -> str | None:
        """The reused task's artifact, for a task a resume reused; else None."""
        origin = self.task.origin_pathspec
        return f"{origin}/{self.name}" if origin else None

    @property
    def tags(self) -> frozenset[str]:
        return self.task.tags

    @property
    def user_tags(self) -> frozenset[str]:
        return self.task.user_tags

    @property
    def system_tags(self) -> frozenset[str]:
        return self.task.system_tags

    @property
    def sha(self) -> str:
        """The sha256 of the artifact's pickle (Metaflow's is a sha1)."""
        return self.task.artifact_shas[self.name]

    @cached_property
    def data(self) -> Any:
        return self.task.load(self.name)

    @property
    def created_at(self) -> datetime:
        """When its task stored it: when the task finished."""
        return self.task.finished_at or self.task.created_at

    @property
    def finished_at(self) -> datetime:
        return self.created_at


class MetaflowData:
    """`task.data`: the task's artifacts by attribute (`task.data.x`, loaded on access),
    `'x' in task.data`, and `dir()`. As Metaflow's, it lists no `_x` names."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._task.artifact_names:
            raise AttributeError(f"{self._task.pathspec} has no artifact {name!r}")
        return self._task.load(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._task.artifact_names

    def __dir__(self) -> list[str]:
        return self._task.artifact_names

    def __repr__(self) -> str:
        return f"<MetaflowData: {', '.join(self._task.artifact_names)}>"

    def __str__(self) -> str:
        return repr(self)


ArtifactView = MetaflowData  # its name before it took Metaflow's


# -- what started a run -----------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One event that started the run: Metaflow's MetaflowEvent fields."""

    name: str
    payload: dict[str, Any] = field(default_factory=dict)
    id: str | None = None
    timestamp: str | None = None
    type: str = "event"  # "event", or "run" for @trigger_on_finish

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Event:
        detail = record.get("detail") or {}
        if record.get("source") == RUN_SOURCE:
            return cls(name=f"{detail.get('flow')} {record.get('type')}", payload=dict(detail),
                       id=record.get("id"), timestamp=record.get("time"), type="run")
        return cls(name=str(detail.get("name") or record.get("type")),
                   payload=dict(detail.get("payload") or {}), id=record.get("id"),
                   timestamp=record.get("time"))


class Trigger:
    """What started a triggered run (`Run.trigger`, `current.trigger`): `.event`,
    `.events`, and for `@trigger_on_finish` the upstream `.run` and `.runs`."""

    def __init__(self, events: list[Event]) -> None:
        self.events = events

    @property
    def event(self) -> Event | None:
        return self.events[0] if self.events else None

    @property
    def runs(self) -> list[Run]:
        return [Run(e.payload["pathspec"]) for e in self.events
                if e.type == "run" and e.payload.get("pathspec")]

    @property
    def run(self) -> Run | None:
        runs = self.runs
        return runs[0] if runs else None

    def __getitem__(self, name: str) -> Event:
        for e in self.events:
            if e.name == name or (e.type == "run" and e.payload.get("flow") == name):
                return e
        raise KeyError(name)

    def __repr__(self) -> str:
        return f"Trigger({', '.join(e.name for e in self.events)})"


def trigger_from_record(record: dict[str, Any] | None) -> Trigger | None:
    return None if record is None else Trigger([Event.from_record(record)])
