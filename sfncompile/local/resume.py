"""Resume a run: re-run what failed, reusing (cloning) the committed tasks of the origin run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sfncompile.conventions.steps import START
from sfncompile.conventions.task_ids import position, task_id
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, Storage
from sfncompile.errors import UsageError
from sfncompile.local.settle import settle_run
from sfncompile.runtime.reuse import clone_task, split_input

Key = tuple[str, str]


def failed_step(storage: Storage, flow: str, run: str, order: list[str]) -> str | None:
    """The first step, in graph order, with a task that started but never committed."""
    for step in order:
        started = ds.list_tasks(storage, flow, run, step, committed_only=False)
        committed = set(ds.list_tasks(storage, flow, run, step))
        if any(t not in committed for t in started):
            return step
    return None


def unreached_step(storage: Storage, flow: str, run: str, order: list[str]) -> str | None:
    """The first step, in graph order, with no committed task: where an interrupted run
    stopped when it had no task running at that moment."""
    for step in order:
        if not ds.list_tasks(storage, flow, run, step):
            return step
    return None


def resume_point(storage: Storage, flow: str, run: str, order: list[str],
                 from_step: str | None, meta: dict[str, Any] | None = None) -> str:
    """Where to resume: `from_step`, else the first step that failed, else, for a run that
    was interrupted, the first step it did not reach."""
    if from_step is not None:
        if from_step not in order:
            raise UsageError(f"--from {from_step!r}: no such step (steps: {', '.join(order)})")
        return from_step
    meta = meta or {}
    if meta.get("status") == "running":
        raise UsageError(f"{flow}/{run} is still running; resume it once it has stopped, or "
                         "say where to resume with --from STEP")
    step = failed_step(storage, flow, run, order)
    # A run recorded as failed whose failing task left nothing (a container that never
    # started) stopped at the first step it did not reach, as an interrupted run does.
    if step is None and (meta.get("interrupted") or meta.get("status") == "failed"):
        step = unreached_step(storage, flow, run, order)
    if step is None:
        raise UsageError(f"{flow}/{run} has no failed step; say where to resume with --from STEP")
    return step


def cloner(storage: Storage, flow: str, origin: str, new_run: str, graph: dict[str, Any],
           from_step: str, given: bool = True) -> Callable[[Key], bool]:
    """A function that says whether a task of the new run is a clone of the origin's, which
    the runner then takes as done. As Metaflow's resume, it clones every committed task of
    the reused steps (`reused_steps`) up front, before any task runs: on its first call,
    which the runner makes before it launches a task's first attempt, the start task's
    first. So every clone is older than every task that runs again, and `Run.steps()` lists
    the reused steps last, as in Metaflow."""
    cloned: set[Key] | None = None

    def clone(key: Key) -> bool:
        nonlocal cloned
        if cloned is None:
            cloned = clone_all(storage, flow, origin, new_run, graph,
                               reused_steps(graph, from_step, given))
        return key in cloned

    return clone


def clone_all(storage: Storage, flow: str, origin: str, new_run: str, graph: dict[str, Any],
              steps: list[str]) -> set[Key]:
    """Clone every committed task of `steps` in the origin run into the new run, in graph
    order and index order; the keys (in the new run) of the tasks cloned. A clone has its
    origin's position (conventions/task_ids.py): its id differs when the flow numbers its
    steps otherwise since."""
    cloned: set[Key] = set()
    for step in steps:
        for found in ds.list_tasks(storage, flow, origin, step):
            mine = task_id(graph, step, position(found))
            if clone_task(storage, flow, origin, new_run, step, mine, origin_task=found):
                cloned.add((step, mine))
    return cloned


def reused_steps(graph: dict[str, Any], from_step: str, given: bool = True) -> list[str]:
    """The steps whose committed tasks a resume reuses, in graph order. From a step the user
    named (`given`, --from): every step but that one and those it leads to, which run
    again (as Metaflow's `steps_to_rerun`: the other branches of a split are reused, and a
    loop's steps run again when the step is inside the loop). From where the run failed:
    every step, as Metaflow's resume clones every task that succeeded, the successful
    foreach siblings of a failed task too. Only a committed task is reused; a task that
    failed or never ran has no children in the origin, so whatever follows a task that
    runs again runs again too."""
    order: list[str] = graph["order"]
    if not given:
        return list(order)
    again = {from_step}
    todo = [from_step]
    while todo:
        info = graph["steps"][todo.pop()]
        for target in [*info["targets"], *info["cases"].values()]:
            if target not in again:
                again.add(target)
                todo.append(target)
    return [step for step in order if step not in again]


def origin_record(storage: Storage, flow: str, run: str) -> dict[str, Any]:
    """The origin run's record, settled if its local runner died. A run on Step Functions
    may have none, only its committed tasks: then an empty record. Raises KeyNotFound for a
    run that has neither."""
    try:
        return settle_run(storage, flow, run)
    except KeyNotFound:
        if not ds.list_steps(storage, flow, run):
            raise
        return {}


def origin_params(storage: Storage, graph: dict[str, Any], run: str,
                  meta: dict[str, Any]) -> dict[str, Any]:
    """The parameters the origin run was given: from its record, else (a Step Functions run
    without one) the values its `start` task recorded as artifacts."""
    if meta.get("params") is not None:  # a local run's, or the input an execution recorded
        from sfncompile.client.run_record import execution_input

        return split_input(execution_input(meta))[0]
    flow = graph["flow"]
    try:
        start = graph.get("start_step", START)
        found = ds.list_tasks(storage, flow, run, start)
        if not found:
            return {}
        done = ds.read_done(storage, flow, run, start, found[0])
    except KeyNotFound:
        return {}
    artifacts = done["artifacts"]
    return {p["name"]: ds.load_artifact(storage, flow, artifacts[p["attr"]], p["attr"])
            for p in graph["parameters"] if p["attr"] in artifacts}


def origin_configs(meta: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """The Config values the origin run was built with (its record's graph), which a resume
    keeps as Metaflow's does, whatever the files or defaults say now (load_flow's
    `configs`). A run without a graph in its record (a Step Functions run's) gives none."""
    from sfncompile.parser.configs import GivenValue

    graph = meta.get("graph")
    params = graph.get("parameters") if isinstance(graph, dict) else None
    return {p["name"]: ("the resumed run's value", GivenValue(p.get("default")))
            for p in params or [] if isinstance(p, dict) and p.get("kind") == "config"}
