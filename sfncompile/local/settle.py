"""Record a run whose local runner died (kill -9, a crash, a closed laptop) as interrupted.

A dead runner cannot write its own end: its `_run.json` still says "running" and the tasks it
had started say "running" too, though the fork server killed them with it. Whoever looks next
(`show`, `resume`) finds the runner gone and writes what happened, so the run record and the
task records agree again and the run reads as finished (failed, interrupted) to every reader.
"""

from __future__ import annotations

import time
from typing import Any

from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, Storage
from sfncompile.local import lifeline

RUNNER_GONE = "the runner stopped before the run finished (killed, or its machine stopped)"


def runner_gone(meta: dict[str, Any]) -> bool:
    """Whether a run recorded as running has lost its local runner, as far as this machine
    can tell (a runner on another machine is taken to be alive)."""
    owner = meta.get("runner_process")
    return (meta.get("status") == "running" and isinstance(owner, dict)
            and lifeline.is_alive(owner) is False)


def settle_run(storage: Storage, flow: str, run: str) -> dict[str, Any]:
    """The run's record, first marked failed and interrupted if its runner is gone. Raises
    KeyNotFound for a run with no record."""
    meta = ds.read_run_meta(storage, flow, run)
    if not runner_gone(meta):
        return meta
    now = time.time()
    for step in ds.list_steps(storage, flow, run):
        for task in ds.list_tasks(storage, flow, run, step, committed_only=False):
            for attempt in ds.list_attempts(storage, flow, run, step, task):
                _settle_attempt(ds.TaskStore(storage, flow, run, step, task, attempt), now)
    meta.update(status="failed", interrupted=True, finished=now, error=RUNNER_GONE)
    ds.write_run_meta(storage, flow, run, meta)
    return meta


def _settle_attempt(store: ds.TaskStore, now: float) -> None:
    try:
        task_meta = ds.read_meta(store.storage, store.flow, store.run, store.step, store.task,
                                 store.attempt)
    except (KeyNotFound, ValueError):
        return
    if task_meta.get("status") != "running":
        return
    try:  # committed after all (the runner died after the commit): it stands
        ds.read_done(store.storage, store.flow, store.run, store.step, store.task,
                     store.attempt)
        return
    except KeyNotFound:
        pass
    except ValueError:  # a damaged done.json: not ours to judge here
        return
    task_meta.update(status="failed", interrupted=True, finished=now, error=RUNNER_GONE)
    store.write_meta(task_meta)
