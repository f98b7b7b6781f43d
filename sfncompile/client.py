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
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from sfncompile.runtime import datastore as ds
from sfncompile.runtime.storage import KeyNotFound, Storage, open_storage

DEFAULT_ROOT = ".sfncompile"


class DamagedRunWarning(UserWarning):
    """A run was left out of a listing because one of its records is damaged."""
_root: str | None = None


def set_datastore_root(root: str | None) -> None:
    """Read from this root (a directory or s3://bucket/prefix); None restores the default."""
    global _root
    _root = root


def datastore_root() -> str:
    return _root or os.environ.get("SFNCOMPILE_DATASTORE_ROOT") or DEFAULT_ROOT


def _storage() -> Storage:
    return open_storage(datastore_root())


class Flow:
    def __init__(self, name: str) -> None:
        self.name = name
        self._storage = _storage()

    def __repr__(self) -> str:
        return f"Flow('{self.name}')"

    def runs(self) -> list[Run]:
        """Every run, newest first. A run whose records are damaged is left out, with a
        warning that names the file; the others are still listed."""
        runs = []
        for run_id in ds.list_runs(self._storage, self.name):
            run = Run(f"{self.name}/{run_id}", self._storage)
            try:
                run.created  # noqa: B018 - reads _run.json (or the start task's done.json)
            except ds.DamagedRecord as exc:
                warnings.warn(f"skipping run {run.pathspec}: {exc}", DamagedRunWarning,
                              stacklevel=2)
                continue
            runs.append(run)
        return sorted(runs, key=lambda r: (r.created, r.id), reverse=True)

    def __iter__(self) -> Iterator[Run]:
        return iter(self.runs())

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

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"

    @cached_property
    def _meta(self) -> dict[str, Any]:
        try:
            return ds.read_run_meta(self._storage, self.flow, self.id)
        except KeyNotFound:
            return {}

    @property
    def created(self) -> float:
        started = self._meta.get("started")
        if started is not None:
            return float(started)
        try:
            return float(self[self._graph_step("start")].task.started or 0.0)
        except KeyError:
            return 0.0

    @property
    def params(self) -> dict[str, Any]:
        return dict(self._meta.get("params") or {})

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

    def _graph_step(self, which: str) -> str:
        """The start or end step's name: `start`/`end` unless the run's graph names others."""
        return str((self._meta.get("graph") or {}).get(f"{which}_step", which))

    @property
    def end_task(self) -> Task | None:
        end = self._graph_step("end")
        if end not in self:
            return None
        tasks = self[end].tasks()
        return tasks[-1] if tasks else None

    @property
    def successful(self) -> bool:
        return self.end_task is not None

    @property
    def finished(self) -> bool:
        """Succeeded, or failed for good (a local run records that; a run on Step Functions
        shows as finished once its end task commits)."""
        self.__dict__.pop("_meta", None)
        return self.successful or self._meta.get("status") == "failed"

    @property
    def data(self) -> ArtifactView | None:
        end = self.end_task
        return end.data if end else None


class Step:
    def __init__(self, run: Run, name: str) -> None:
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


class Task:
    def __init__(self, step: Step, task_id: str) -> None:
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

    @property
    def artifact_names(self) -> list[str]:
        return sorted(self._done["artifacts"])

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
