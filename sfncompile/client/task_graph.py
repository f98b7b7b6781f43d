"""Which tasks a task came from and which it led to: from the run's graph and the task ids.

A task id is `<step number>-<position>` (conventions/task_ids.py); the position places the
task in the flow's foreach and loop structure (the scheme of runtime/lineage.py, which the
runner and the state machine follow): `0` at the top level, and each enclosing foreach adds
`<n>.<index>.` in front of the loop counter, so `0.3.0` is item 3 of a foreach and `0.3.2`
the third pass of a loop inside it. A committed task also records
its parents (`parents` in done.json); a task that failed records none, and its parents are
found from its id. Every function here is pure: the caller says which tasks exist.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sfncompile.conventions import task_ids
from sfncompile.conventions.task_ids import at_step, position, split_task_id, task_id

Key = tuple[str, str]  # (step, task id)


def foreach_indices(task: str) -> list[int]:
    """The index of the task in each enclosing foreach, outermost first."""
    return [int(p) for p in position(task).split(".")[1::2]]


def foreach_index(task: str) -> int | None:
    """The innermost foreach index, None outside any foreach (Metaflow's `Task.index`)."""
    indices = foreach_indices(task)
    return indices[-1] if indices else None


def recorded_parents(done: dict[str, Any]) -> list[Key]:
    """The parents a committed task recorded, as (step, task) pairs."""
    out = []
    for parent in done.get("parents") or []:
        step, _, task = str(parent).partition("/")
        if step and task:
            out.append((step, task))
    return out


def parent_candidates(graph: dict[str, Any], step: str, task: str,
                      tasks_of: Callable[[str], Iterable[str]]) -> list[Key]:
    """Every task that may have led to `step/task`, one per incoming edge (for a join, the
    branch ends it gathers). `tasks_of(step)` lists a step's task ids."""
    if graph["steps"][step]["closes"] is not None:
        return _join_parents(graph, step, task, tasks_of)
    return task_ids.parent_candidates(graph, step, task)


def _join_parents(graph: dict[str, Any], step: str, task: str,
                  tasks_of: Callable[[str], Iterable[str]]) -> list[Key]:
    info = graph["steps"][step]
    if graph["steps"][info["closes"]]["kind"] != "foreach":  # a split: the same position
        return [(end, at_step(graph, end, task)) for end in info["branch_ends"]]
    latest: dict[int, tuple[int, str, str]] = {}  # index -> (loop counter, step, task)
    for end in info["branch_ends"]:
        for t in tasks_of(end):
            parts = position(t).split(".")
            if len(parts) < 3 or ".".join(parts[:-2]) != position(task):
                continue
            index, counter = int(parts[-2]), int(parts[-1])
            if index not in latest or counter > latest[index][0]:
                latest[index] = (counter, end, t)
    return [(latest[i][1], latest[i][2]) for i in sorted(latest)]


def child_candidates(graph: dict[str, Any], step: str, task: str,
                     done: dict[str, Any]) -> list[Key]:
    """The tasks that the committed task `step/task` (its done.json `done`) leads to, as the
    local runner starts them (local/runner.py `successors`)."""
    steps = graph["steps"]
    info = steps[step]
    if info["kind"] == "end":
        return []
    if info["kind"] == "foreach":
        width = done.get("width")
        body = info["targets"][0]
        return [(body, task_id(graph, body, f"{position(task)}.{i}.0"))
                for i in range(width if isinstance(width, int) else 0)]
    if info["kind"] == "switch":
        arm = info["cases"].get(done.get("arm"))
        targets = [arm] if arm else []
    else:
        targets = list(info["targets"])
    out = []
    for target in targets:
        tinfo = steps[target]
        if step in tinfo["back_parents"]:
            scope, n = split_task_id(task)
            out.append((target, task_id(graph, target, f"{scope}{n + 1}")))
        elif tinfo["closes"] is not None and steps[tinfo["closes"]]["kind"] == "foreach":
            out.append((target, task_id(graph, target,
                                        ".".join(position(task).split(".")[:-2]))))
        else:
            out.append((target, at_step(graph, target, task)))
    return out


def parent_steps(graph: dict[str, Any], step: str) -> list[str]:
    """The steps with an edge into `step`, in graph order (as Metaflow lists them)."""
    return [name for name, info in graph["steps"].items() if step in _next_steps(info)]


def child_steps(graph: dict[str, Any], step: str) -> list[str]:
    """The steps `step` may go to: its targets (every arm of a switch)."""
    return _next_steps(graph["steps"][step])


def _next_steps(info: dict[str, Any]) -> list[str]:
    targets = list(info["targets"])
    targets += [t for t in info["cases"].values() if t not in targets]
    return targets
