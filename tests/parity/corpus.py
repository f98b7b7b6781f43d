"""The parity corpus: flows written the way Metaflow's docs write them, run by both tools.

Every `tests/parity/flows/*.py` (not `_*.py`, which are modules the flows import) is a case.
A case runs with its parameters from PARAMS; every task's artifacts must be equal under
Metaflow 2.19 and sfncompile, except where DIFFERENCES names an intentional difference (each
one is explained in docs/metaflow-parity.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FLOWS = Path(__file__).resolve().parent / "flows"

# Flows whose run is given parameter values (Metaflow's `--name value`, sfncompile's
# `--param name=value`); the others run with their defaults.
PARAMS: dict[str, dict[str, str]] = {
    "params_types": {"count": "5", "flag": "true", "number": "7", "ratio": "0.25"},
    "switch_param": {"mode": "slow", "size": "2"},
    "params_separator": {"given": "p;q"},
    "params_json": {"given": '{"k": [1, 2.5, null]}'},
    "run_inputs": {"beta": "3"},  # the command line wins over METAFLOW_RUN_BETA
}
# Flows whose run is given user tags (`--tag`, both tools), which their clients must report.
TAGS: dict[str, list[str]] = {
    "linear": ["nightly", "team:ml"],
    "foreach": ["nightly"],
}


@dataclass(frozen=True)
class Case:
    name: str

    @property
    def file(self) -> Path:
        return FLOWS / f"{self.name}.py"

    @property
    def params(self) -> dict[str, str]:
        return PARAMS.get(self.name, {})

    @property
    def tags(self) -> list[str]:
        return TAGS.get(self.name, [])

    def metaflow_argv(self) -> list[str]:
        return [*(arg for key, value in self.params.items() for arg in (f"--{key}", value)),
                *(arg for tag in self.tags for arg in ("--tag", tag))]

    def sfncompile_argv(self) -> list[str]:
        return [*(arg for key, value in self.params.items()
                  for arg in ("--param", f"{key}={value}")),
                *(arg for tag in self.tags for arg in ("--tag", tag))]


def cases() -> list[Case]:
    return [Case(p.stem) for p in sorted(FLOWS.glob("*.py")) if not p.name.startswith("_")]


# Normalised values (tests/parity/normalise.py) of one artifact, ours and Metaflow's: True
# when the difference between them is the intended one.
Check = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Difference:
    """An intentional difference, by name: where it is, why (docs/metaflow-parity.md), and
    the check that the two values differ only in that way."""

    name: str
    where: frozenset[str]  # "flow.artifact"
    why: str
    check: Check


def _attrs(value: Any) -> dict[str, Any]:
    attrs = value.get("attrs", {}) if isinstance(value, dict) else {}
    return attrs if isinstance(attrs, dict) else {}


def same_but_stacktrace(ours: Any, theirs: Any) -> bool:
    """Equal but for the stack trace's text, whose last line (the exception) is equal."""
    if ours is None or theirs is None:
        return bool(ours == theirs)
    mine, other = dict(_attrs(ours)), dict(_attrs(theirs))
    # `args` is whatever the wrapper's pickling leaves there ((None,) in Metaflow).
    mine.pop("args", None)
    other.pop("args", None)
    traces = mine.pop("stacktrace", None), other.pop("stacktrace", None)
    last = [t.strip().splitlines()[-1] if isinstance(t, str) and t.strip() else t
            for t in traces]
    return bool(ours.get("object") == theirs.get("object") and mine == other
                and last[0] == last[1])


def same_items(ours: Any, theirs: Any) -> bool:
    """The same elements of a list, in any order."""
    def items(value: Any) -> list[str]:
        inner = value.get("list") if isinstance(value, dict) else None
        return sorted(json.dumps(v, sort_keys=True) for v in inner) if inner else [repr(value)]

    return items(ours) == items(theirs)


SFNCOMPILE_EXCEPTIONS, METAFLOW_EXCEPTIONS = "sfncompile.exception.", "metaflow.exception."


def _metaflow_module(value: Any) -> Any:
    """`value` with sfncompile's module of Metaflow's exceptions spelt as Metaflow's."""
    if isinstance(value, str):
        return value.replace(SFNCOMPILE_EXCEPTIONS, METAFLOW_EXCEPTIONS)
    if isinstance(value, list):
        return [_metaflow_module(v) for v in value]
    if isinstance(value, dict):
        return {k: _metaflow_module(v) for k, v in value.items()}
    return value


def same_but_exception_module(ours: Any, theirs: Any) -> bool:
    """Equal once sfncompile's exception module reads as Metaflow's (in a @catch wrapper,
    equal but for the stack trace as well)."""
    ours = _metaflow_module(ours)
    if _attrs(ours).get("stacktrace") or _attrs(theirs).get("stacktrace"):
        return same_but_stacktrace(ours, theirs)
    return bool(ours == theirs)


def both_task_ids(ours: Any, theirs: Any) -> bool:
    """Each tool's own task id: Metaflow's a number, sfncompile's the step's number and the
    task's position (sfncompile/conventions/task_ids.py)."""
    return isinstance(ours, str) and isinstance(theirs, str) and theirs.isdigit() \
        and re.fullmatch(r"\d+-(\d+\.\d+\.)*\d+", ours) is not None


DIFFERENCES = (
    Difference(
        "task-ids",
        frozenset({"merge_errors.who"}),
        "A task id is each tool's own: Metaflow counts tasks, sfncompile's names the step's "
        "number and the task's position (`2-0`). Both are unique within a run.",
        both_task_ids,
    ),
    Difference(
        "foreach-join-order-after-switch",
        frozenset({"switch_in_foreach.outs"}),
        "When the tasks of a foreach reach its join through different switch arms, Metaflow "
        "orders the join's inputs by arm (in the order of a Python set of step names, which "
        "depends on string hashing) and then by index; sfncompile orders them by foreach "
        "index, as for any foreach join. The same inputs, in another order.",
        same_items,
    ),
    Difference(
        "catch-stacktrace",
        frozenset({"catch_wrapper.failure", "catch_wrapper.no_failure", "retry_catch.error",
                   "parameter_assign.assign_error"}),
        "The @catch wrapper's `stacktrace` is the text of the tool's own traceback: the file "
        "paths and line numbers of the frames around the step differ. Its last line (the "
        "exception) and the wrapper's class name, `type` and `exception` are equal. (The "
        "wrapper is an Exception whose `args` mean nothing; they are not compared.)",
        same_but_stacktrace,
    ),
    Difference(
        "exception-module",
        frozenset({"merge_errors.outside_join", "merge_errors.outside_join_type"}),
        "sfncompile's own exceptions with Metaflow's class names (MetaflowException, ...) live "
        "in `sfncompile.exception`, so an exception's dotted name (a @catch wrapper's `type` "
        "and its trace's last line) reads `sfncompile.exception.X` where Metaflow's reads "
        "`metaflow.exception.X`. `from metaflow.exception import X` still works.",
        same_but_exception_module,
    ),
)


def compare_value(flow: str, name: str, ours: Any, theirs: Any,
                  differences: tuple[Difference, ...] = DIFFERENCES) -> str | None:
    """None when equal (or different only in a named, intended way), else what differs."""
    for difference in differences:
        if f"{flow}.{name}" in difference.where:
            if difference.check(ours, theirs):
                return None
            return (f"beyond the intended difference {difference.name!r}: "
                    f"sfncompile {_short(ours)} != Metaflow {_short(theirs)}")
    if ours == theirs:
        return None
    return f"sfncompile {_short(ours)} != Metaflow {_short(theirs)}"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) < 300 else text[:300] + "..."


Tasks = dict[str, list[dict[str, Any]]]


def compare_runs(flow: str, ours: Tasks, theirs: Tasks,
                 differences: tuple[Difference, ...] = DIFFERENCES) -> list[str]:
    """Every difference between two runs' tasks (step -> each task's artifacts)."""
    problems = []
    if sorted(ours) != sorted(theirs):
        problems.append(f"steps: sfncompile {sorted(ours)} != Metaflow {sorted(theirs)}")
    for step in sorted(set(ours) & set(theirs)):
        mine, other = ours[step], theirs[step]
        if len(mine) != len(other):
            problems.append(f"{step}: {len(mine)} tasks != Metaflow's {len(other)}")
            continue
        # Tasks are matched in a canonical order (each tool has its own task ids).
        for index, (a, b) in enumerate(zip(_ordered(mine), _ordered(other), strict=True)):
            where = step if len(mine) == 1 else f"{step}[{index}]"
            for name in sorted(set(a) | set(b)):
                if name not in a or name not in b:
                    side = "sfncompile" if name not in a else "Metaflow"
                    problems.append(f"{where}.{name}: missing under {side}")
                    continue
                problem = compare_value(flow, name, a[name], b[name], differences)
                if problem:
                    problems.append(f"{where}.{name}: {problem}")
    return problems


def _ordered(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    def key(task: dict[str, Any]) -> str:
        # Order by what cannot legitimately differ (no catch wrappers' traces).
        return json.dumps({k: v for k, v in task.items() if not _attrs(v).get("stacktrace")},
                          sort_keys=True)

    return sorted(tasks, key=key)
