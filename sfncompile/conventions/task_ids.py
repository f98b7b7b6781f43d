"""A task's id: `<step number>-<position>`, unique within a run, as Metaflow's task ids are.

The position places the task in the flow's foreach and loop structure (runtime/lineage.py):
`<scope><n>`, where `n` counts loop iterations and each enclosing foreach adds
`<n>.<index>.` to the scope (`0` at the top, `0.3.0` for item 3 of a foreach). Tasks of
different steps share positions (both branches of a split are at `0`), so the id puts the
step's number in front: its place in the graph order of the steps (graph.json's `order`:
`start` is 0), so `2-0.3.0` is item 3 of the foreach body that is the third step.
The Step Functions state carries only the scope and the counter; each step's state adds its
own number, and every id of another step is derived from the position and that step's number,
with no parent ids passed around. Runs made before this scheme have a graph without `order`
and ids that are positions alone: their ids are derived as positions, as they were made.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

SEP = "-"


def prefix(number: int) -> str:
    return f"{number}{SEP}"


def task_id(graph: Mapping[str, Any], step: str, position: str) -> str:
    """The id of `step`'s task at `position`."""
    order = graph.get("order")
    if not isinstance(order, list):  # a graph from before task ids named their step
        return position
    return prefix(order.index(step)) + position


def at_step(graph: Mapping[str, Any], step: str, task: str) -> str:
    """The id of `step`'s task at the position of `task` (a task of another step)."""
    return task_id(graph, step, position(task))


def position(task: str) -> str:
    """The task's position: its id without the step number."""
    return task.rpartition(SEP)[2]


def same_position(task: str, prefix_of: str) -> str:
    """`task`'s position with the step number of the id `prefix_of` (a task of another run
    of the same step, whose flow may have numbered its steps otherwise)."""
    head, sep, _ = prefix_of.rpartition(SEP)
    return f"{head}{sep}{position(task)}"


def split_task_id(task: str) -> tuple[str, int]:
    """(scope, loop counter) of the task's position: `3-0.3.2` -> (`0.3.`, 2)."""
    scope, _, n = position(task).rpartition(".")
    return (scope + "." if scope else ""), int(n)


def parent_candidates(graph: Mapping[str, Any], step: str, task: str) -> list[tuple[str, str]]:
    """Every (step, task) that could have led to this (non-join) task, one per incoming
    edge: a loop's previous pass, a foreach's opener, or the task at the same position."""
    info = graph["steps"][step]
    scope, n = split_task_id(task)
    parts = position(task).split(".")
    out = []
    for parent in info["parents"]:
        if parent in info["back_parents"]:
            if n >= 1:
                out.append((parent, task_id(graph, parent, f"{scope}{n - 1}")))
        elif graph["steps"][parent]["kind"] == "foreach":
            if n == 0 and len(parts) >= 3:
                out.append((parent, task_id(graph, parent, ".".join(parts[:-2]))))
        else:
            out.append((parent, at_step(graph, parent, task)))
    return out
