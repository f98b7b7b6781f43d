"""Read runs, steps, tasks and artifacts, from a local or an S3 datastore, in Metaflow's shape.

    from sfncompile.client import Flow, Run
    run = Flow("HelloFlow").latest_run
    run["end"].task.data.result

The datastore root comes from `set_datastore_root(...)`, else SFNCOMPILE_DATASTORE_ROOT, else
`./.sfncompile`. Only committed tasks are visible, so a run can be read while it runs.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator
from functools import cached_property
from typing import Any

from sfncompile import exception
from sfncompile.client import run_record
from sfncompile.client import tags as run_tags
from sfncompile.conventions.steps import END, START
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, Storage, open_storage
from sfncompile.flow import metaflow_alias
from sfncompile.flow.current import resolve_identity

DEFAULT_ROOT = ".sfncompile"


class DamagedRunWarning(UserWarning):
    """A run was left out of a listing because one of its records is damaged."""
_root: str | None = None
_task_root: str | None = None  # inside a running task: the run's datastore


def set_datastore_root(root: str | None) -> None:
    """Read from this root (a directory or s3://bucket/prefix); None restores the default."""
    global _root
    _root = root


def bind_task_root(root: str | None) -> None:
    """Called by the runtime: inside a task the client reads the run's own datastore."""
    global _task_root
    _task_root = root


def datastore_root() -> str:
    return (_root or _task_root or os.environ.get("SFNCOMPILE_DATASTORE_ROOT")
            or DEFAULT_ROOT)


# -- Metaflow's metadata and namespace functions -------------------------------------------
# sfncompile keeps all metadata in the datastore, so the "metadata provider" is the datastore
# root: get_metadata() gives "local@<root>", metadata("local@<root>") (or a bare root) reads
# another. A namespace is a tag: runs are filtered by namespace only when their record lists
# system tags (a local run's); a run recorded without them is visible in every namespace.


class MetaflowNamespaceMismatch(exception.MetaflowNamespaceMismatch):
    """The run is not in the current namespace (namespace(None) shows every run); a flow
    catches it as `metaflow.exception.MetaflowNamespaceMismatch`."""

    def __init__(self, message: str) -> None:
        exception.MetaflowException.__init__(self, message)


_UNSET = object()
_namespace: object = _UNSET


def default_namespace() -> str | None:
    """Back to the default namespace, which it returns: `user:<name>`, or `production:<token>`
    with METAFLOW_PRODUCTION_TOKEN set (None when no user name is known)."""
    global _namespace
    _namespace = resolve_identity()
    return _namespace


def namespace(ns: str | None) -> str | None:
    """Read only runs tagged `ns`, a user or system tag (None: every run); returns `ns`."""
    global _namespace
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    if _namespace is _UNSET:
        return default_namespace()
    return _namespace  # type: ignore[return-value]


def get_metadata() -> str:
    return f"local@{datastore_root()}"


def metadata(ms: str) -> str:
    """Read runs from another datastore root, given as `local@<root>` or the root itself."""
    _, at, root = ms.partition("@")
    set_datastore_root(root if at else ms)
    return get_metadata()


def _in_namespace(run: Run) -> bool:
    """A run is in namespace `ns` when one of its recorded system tags (`user:<name>`, ...)
    or its user tags (as changed since) is `ns`. A run that records no system tags is in
    every one."""
    ns = get_namespace()
    if ns is None or not isinstance(run._meta.get("system_tags"), list):
        return True
    return run._tag_set.has_all([ns], deployed=False)


def _storage() -> Storage:
    return open_storage(datastore_root())


class Flow:
    def __init__(self, name: str) -> None:
        self.name = name
        self._storage = _storage()

    def __repr__(self) -> str:
        return f"Flow('{self.name}')"

    def runs(self, *tags: str) -> list[Run]:
        """Every run in the namespace (with `tags`: that carries all of them), newest first.
        A run whose records are damaged is left out, with a warning that names the file;
        the others are still listed."""
        runs = []
        for run_id in ds.list_runs(self._storage, self.name):
            run = Run(f"{self.name}/{run_id}", self._storage)
            try:
                run.created  # noqa: B018 - reads _run.json (or the start task's done.json)
                wanted = _in_namespace(run) and run._tag_set.has_all(tags)
            except ds.DamagedRecord as exc:
                warnings.warn(f"skipping run {run.pathspec}: {exc}", DamagedRunWarning,
                              stacklevel=2)
                continue
            if wanted:
                runs.append(run)
        return sorted(runs, key=lambda r: (r.created, r.id), reverse=True)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.name}/{run_id}", self._storage)

    @property
    def latest_run(self) -> Run | None:
        runs = self.runs()
        return runs[0] if runs else None

    @property
    def latest_successful_run(self) -> Run | None:
        return next((r for r in self.runs() if r.successful), None)


class Run:
    def __init__(self, pathspec: str, storage: Storage | None = None) -> None:
        flow, _, run = pathspec.partition("/")
        if not flow or not run or "/" in run:
            raise ValueError(f"a run is named 'Flow/run-id', not {pathspec!r}")
        self.flow, self.id = flow, run
        self.pathspec = pathspec
        self._storage = storage or _storage()
        if storage is None and get_namespace() is not None and not self._visible():
            raise MetaflowNamespaceMismatch(
                f"run {pathspec} is not in namespace {get_namespace()!r} (namespace(None) "
                "reads every run)")

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"

    def _visible(self) -> bool:
        try:
            return _in_namespace(self)
        except ds.DamagedRecord:  # reported by whatever reads the record next
            return True

    @cached_property
    def _meta(self) -> dict[str, Any]:
        try:
            return ds.read_run_meta(self._storage, self.flow, self.id)
        except KeyNotFound:
            return {}

    @property
    def created(self) -> float:
        started = run_record.epoch(self._meta.get("started"))
        if started is not None:
            return started
        try:
            return float(self[self._graph_step(START)].task.started or 0.0)
        except KeyError:
            return 0.0

    @property
    def params(self) -> dict[str, Any]:
        return run_record.params(self._meta)

    @property
    def runner(self) -> str:
        """`local` or `step-functions`."""
        return str(self._meta.get("runner") or "local")

    @property
    def status(self) -> str:
        """running, succeeded, failed, or interrupted (a local run whose runner stopped).

        An execution that Step Functions aborted or timed out records nothing more, so it
        reads as running here; `sfncompile status` asks Step Functions."""
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
    def finished_at(self) -> float | None:
        """When it succeeded or failed; None while it runs."""
        finished = run_record.epoch(self._meta.get("finished"))
        if finished is None and self.successful:
            end = self.end_task
            finished = end.finished_at if end else None
        return finished

    @property
    def trigger(self) -> Any:
        return run_record.trigger(self._meta)

    @cached_property
    def deployment(self) -> dict[str, Any]:
        """Who deployed the flow that ran (`deployed_by`) and the deploy's tags
        (`deploy_tags`), as its first task recorded them; empty for a local run."""
        try:
            meta = self[self._graph_step(START)].first_attempt_meta()
        except KeyError:
            return {}
        return {k: meta[k] for k in ("deployed_by", "deploy_tags") if k in meta}

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
        Batch job its `job_id` and `log_stream`), from the run record and the failed task."""
        if self.status != "failed":
            return None
        meta = self._meta
        out: dict[str, Any] = {"error": meta.get("error"), "cause": meta.get("cause")}
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
        first started and uncommitted task whose last attempt says failed."""
        steps = [step] if step else [s.name for s in self.steps()]
        for name in steps:
            step_ = Step(self, name)
            tasks = [task] if task and step else step_.started_tasks()
            for task_id in tasks:
                t = Task(step_, task_id)
                if t.successful:
                    continue
                meta = t.last_attempt_meta()
                if meta.get("status") == "failed" or (step and meta):
                    return name, task_id, meta
        return None

    def steps(self) -> list[Step]:
        """The steps that ran, in graph order when the run recorded its graph."""
        names = ds.list_steps(self._storage, self.flow, self.id)
        order = list((self._meta.get("graph") or {}).get("steps", {}))
        names.sort(key=lambda n: (order.index(n) if n in order else len(order), n))
        return [Step(self, s) for s in names]

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps())

    def __getitem__(self, step: str) -> Step:
        if step not in ds.list_steps(self._storage, self.flow, self.id):
            raise KeyError(f"{self.pathspec} has no step {step!r} (yet)")
        return Step(self, step)

    def __contains__(self, step: str) -> bool:
        return step in ds.list_steps(self._storage, self.flow, self.id)

    def _graph_step(self, default: str) -> str:
        """The start (START) or end (END) step's name, unless the run's graph names others."""
        return str((self._meta.get("graph") or {}).get(f"{default}_step", default))

    @property
    def end_task(self) -> Task | None:
        end = self._graph_step(END)
        if end not in self:
            return None
        tasks = self[end].tasks()
        return tasks[-1] if tasks else None

    @property
    def successful(self) -> bool:
        return self.end_task is not None

    @property
    def finished(self) -> bool:
        """Succeeded, or failed for good (a local run and a Step Functions execution record
        that; an aborted or timed-out execution cannot)."""
        return self.status != "running"

    @property
    def data(self) -> ArtifactView | None:
        end = self.end_task
        return end.data if end else None

    # -- tags: Metaflow's rules, in client/tags.py --------------------------------------------

    @cached_property
    def _tag_set(self) -> run_tags.RunTags:
        return run_tags.RunTags(self._storage, self.flow, self.id, self._meta,
                                lambda: self.deployment.get("deploy_tags") or {})

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


class Step:
    def __init__(self, run: Run | str, name: str | None = None) -> None:
        if isinstance(run, str):  # Step("Flow/run/step"), as Metaflow's client takes it
            run, _, name = run.rpartition("/")
            run = Run(run)
        if not name:
            raise ValueError("a step is named 'Flow/run-id/step'")
        self.run, self.name = run, name
        self.pathspec = f"{run.pathspec}/{name}"

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"

    def tasks(self) -> list[Task]:
        """The committed tasks, in foreach index order."""
        r = self.run
        return [Task(self, t) for t in ds.list_tasks(r._storage, r.flow, r.id, self.name)]

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks())

    def __getitem__(self, task: str) -> Task:
        return Task(self, task)

    @property
    def task(self) -> Task:
        """The task of a step that ran once (the first one otherwise)."""
        tasks = self.tasks()
        if not tasks:
            raise KeyError(f"{self.pathspec} has no committed task (yet)")
        return tasks[0]

    def started_tasks(self) -> list[str]:
        r = self.run
        return ds.list_tasks(r._storage, r.flow, r.id, self.name, committed_only=False)

    def first_attempt_meta(self) -> dict[str, Any]:
        """The metadata of the first attempt of the step's first task ({} if none)."""
        tasks = self.started_tasks()
        if not tasks:
            return {}
        return Task(self, tasks[0]).attempt_meta(0)


class Task:
    def __init__(self, step: Step | str, task_id: str | None = None) -> None:
        if isinstance(step, str):  # Task("Flow/run/step/task")
            step, _, task_id = step.rpartition("/")
            step = Step(step)
        if not task_id:
            raise ValueError("a task is named 'Flow/run-id/step/task-id'")
        self.step, self.id = step, task_id
        self.pathspec = f"{step.pathspec}/{task_id}"
        self._run = step.run

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}')"

    @property
    def _key(self) -> tuple[Storage, str, str, str, str]:
        r = self._run
        return r._storage, r.flow, r.id, self.step.name, self.id

    @cached_property
    def attempt(self) -> int | None:
        return ds.committed_attempt(*self._key)

    @property
    def successful(self) -> bool:
        return self.attempt is not None

    @property
    def finished(self) -> bool:
        return self.successful

    @cached_property
    def _done(self) -> dict[str, Any]:
        if self.attempt is None:
            raise KeyError(f"{self.pathspec} has not committed (it is running or failed)")
        return ds.read_done(*self._key, self.attempt)

    @property
    def started(self) -> float | None:
        return self._done.get("started") if self.successful else None

    @property
    def finished_at(self) -> float | None:
        return self._done.get("finished") if self.successful else None

    @property
    def metadata(self) -> dict[str, Any]:
        return dict(self._done)

    def attempt_meta(self, attempt: int) -> dict[str, Any]:
        """meta.json of an attempt: status, times, host, error, and in AWS Batch the job
        (`batch`: job_id, job_queue, log_group, log_stream); {} if it has none."""
        try:
            return ds.read_meta(*self._key, attempt)
        except (KeyNotFound, ds.DamagedRecord):
            return {}

    def last_attempt_meta(self) -> dict[str, Any]:
        """meta.json of the committed attempt, else of the latest one."""
        attempts = ds.list_attempts(*self._key)
        attempt = self.attempt if self.attempt is not None else (attempts[-1] if attempts
                                                                  else None)
        return {} if attempt is None else self.attempt_meta(attempt)

    @property
    def artifact_names(self) -> list[str]:
        """Names starting with `_` are the flow's private artifacts: they pass from step to
        step but, as in Metaflow's client, are not listed (`task.load("_x")` reads one)."""
        return sorted(n for n in self._done["artifacts"] if not n.startswith("_"))

    @property
    def data(self) -> ArtifactView:
        return ArtifactView(self)

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self._done["artifacts"]:
            raise KeyError(f"{self.pathspec} has no artifact {name!r}")
        return DataArtifact(self, name)

    def __contains__(self, name: str) -> bool:
        return name in self._done["artifacts"]

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(DataArtifact(self, n) for n in self.artifact_names)

    def _log(self, name: str, attempt: int | None = None) -> str:
        if attempt is None:
            attempt = self.attempt
        if attempt is None:
            attempts = ds.list_attempts(*self._key)
            if not attempts:
                return ""
            attempt = attempts[-1]
        try:
            return ds.read_log(*self._key, attempt, name).decode(errors="replace")
        except KeyNotFound:
            return ""

    @property
    def stdout(self) -> str:
        return self._log("stdout")

    @property
    def stderr(self) -> str:
        return self._log("stderr")

    def load(self, name: str) -> Any:
        r = self._run
        sha = self._done["artifacts"][name]
        with metaflow_alias.resolving():  # a flow module the pickle imports may use metaflow
            return ds.load_artifact(r._storage, r.flow, sha, name, f"task {self.pathspec}")


class DataArtifact:
    def __init__(self, task: Task, name: str) -> None:
        self.task, self.name = task, name
        self.pathspec = f"{task.pathspec}/{name}"

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"

    @property
    def sha(self) -> str:
        sha: str = self.task._done["artifacts"][self.name]
        return sha

    @cached_property
    def data(self) -> Any:
        return self.task.load(self.name)


class ArtifactView:
    """`task.data.<name>` loads an artifact on first access."""

    def __init__(self, task: Task) -> None:
        self._task = task

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._task:
            raise AttributeError(f"{self._task.pathspec} has no artifact {name!r}")
        return self._task.load(name)

    def __dir__(self) -> list[str]:
        return self._task.artifact_names
