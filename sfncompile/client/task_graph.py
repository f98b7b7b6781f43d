"""Which tasks a task came from and which it led to: from the run's graph and the task ids.

A task id is `<step number>-<position>` (conventions/task_ids.py); the position places the
task in the flow's foreach and loop structure (the scheme of runtime/lineage.py, which the
runner and the state machine follow): `0` at the top level, and each enclosing foreach adds
`<n>.<index>.` in front of the loop counter, so `0.3.0` is item 3 of a foreach and `0.3.2`
the third pass of a loop inside it. Its foreach indices are the foreach path Metaflow records
for a task, from which Metaflow's client finds parents and children (below). A committed task
also records its parents (`parents` in done.json), which a run without a recorded graph uses.
Every function here is pure: the caller says which tasks exist.
"""

from __future__ import annotations

from typing import Any

from sfncompile.conventions.steps import END, START
from sfncompile.conventions.task_ids import position

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


def parent_steps(graph: dict[str, Any], step: str) -> list[str]:
    """The steps with an edge into `step`, in graph order (as Metaflow lists them)."""
    order = graph.get("order")
    names = order if isinstance(order, list) else list(graph["steps"])
    return [name for name in names
            if name in graph["steps"] and step in child_steps(graph, name)]


def child_steps(graph: dict[str, Any], step: str) -> list[str]:
    """The steps `step` may go to, as Metaflow's graph lists them (`next`): its targets, for
    a switch the target of each arm (a step two arms go to: twice, as in Metaflow)."""
    info = graph["steps"][step]
    arms = list(info["cases"].values())  # the record sorts them by key: `targets` keeps order
    return [t for t in info["targets"] for _ in range(max(1, arms.count(t)))]


# -- Metaflow's lineage ----------------------------------------------------------------------
# Metaflow 2.19's client (Task.parent_task_pathspecs and child_task_pathspecs) takes a task's
# parents or children from every task of the steps before or after it whose foreach path (the
# `foreach-execution-path` metadata: the foreach indices, outermost first) matches the task's:
# the same path, the path one foreach out, any path one foreach in, or every task where the
# path says nothing. So every pass of a loop (whose passes share a path) is a parent or child.

FOREACH_TYPES = ("split-foreach", "split-parallel")
Path = tuple[int, ...]
Match = tuple[str, Path]  # ("all", ()), ("same", path), or ("under", path): a longer path
ALL: Match = ("all", ())


def metaflow_type(graph: dict[str, Any], step: str) -> str:
    """The step's type in Metaflow's graph info (`_graph_info`, `current.graph`)."""
    info = graph["steps"][step]
    if step == graph.get("end_step", END):
        return "end"
    kind = info["kind"]
    if kind == "foreach":
        return "split-parallel" if info.get("num_parallel") is not None else "split-foreach"
    if kind in ("split", "switch"):
        return "split-static" if kind == "split" else "split-switch"
    if info["is_join"]:
        return "join"
    return "start" if step == graph.get("start_step", START) else "linear"


def foreach_path(task: str) -> Path:
    return tuple(foreach_indices(task))


def parent_match(graph: dict[str, Any], step: str, path: Path) -> tuple[list[str], Match]:
    """The steps a task of `step` at foreach path `path` may come from, and which of their
    tasks it came from."""
    steps = parent_steps(graph, step)
    if len(steps) > 1:  # a join of branches (or a loop's step): the same path
        return steps, ("same", path) if path else ALL
    if not steps or not path:
        return steps, ALL
    if metaflow_type(graph, step) == "join":  # a foreach's join: the tasks one foreach in
        return steps, ("under", path)
    opened = metaflow_type(graph, steps[0]) in FOREACH_TYPES
    if opened and len(path) == 1:
        return steps, ALL
    return steps, ("same", path[:-1] if opened else path)


def child_match(graph: dict[str, Any], step: str, path: Path) -> tuple[list[str], Match]:
    """The steps a task of `step` at foreach path `path` may lead to, and which of their tasks
    it led to."""
    steps = child_steps(graph, step)
    if len(steps) > 1:  # a split or a switch: the same path
        return steps, ("same", path) if path else ALL
    if not steps or not path:
        return steps, ALL
    if metaflow_type(graph, step) in FOREACH_TYPES:
        return steps, ("under", path)
    closes = len(parent_steps(graph, steps[0])) == 1 and \
        metaflow_type(graph, steps[0]) == "join"  # a foreach's join: one foreach out
    if closes and len(path) == 1:
        return steps, ALL
    return steps, ("same", path[:-1] if closes else path)


def matches(match: Match, path: Path) -> bool:
    """Whether a task at foreach path `path` matches."""
    how, want = match
    if how == "all":
        return True
    if how == "same":
        return path == want
    return len(path) > len(want) and path[:len(want)] == want
