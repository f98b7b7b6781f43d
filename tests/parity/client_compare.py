"""Comparing what two clients say of a run (tests/parity/client_walk.py facts).

What may differ is declared here, nothing else: the walk itself replaces ids, times and paths,
and DIFFERENCES names each behaviour where sfncompile's client or runtime differs from
Metaflow's, with the check that the two differ only in that way. A difference's `where`
patterns are "role:fact" with `*` for any text; a role is the name a test gives a run (a
corpus case's name in tests/test_parity.py, a role of tests/test_client_parity.py).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.parity.client_walk import Facts
from tests.parity.corpus import compare_value

MISSING = "<no such fact>"


@dataclass(frozen=True)
class Difference:
    """An intended difference: the facts it covers, why, and the check that ours and
    Metaflow's differ only in that way."""

    name: str
    where: tuple[str, ...]
    why: str
    check: Callable[[Any, Any], bool]
    always: bool = True  # False: it shows only in some runs (tests/test_client_parity.py)


def _plus_name(ours: Any, theirs: Any) -> bool:
    """Metaflow's artifact names are ours and `name`; its `name` is the flow's name; a task
    with no artifact of its own has one DataArtifact there."""
    if ours == MISSING:
        return isinstance(theirs, str)
    if ours == [] and isinstance(theirs, list) and len(theirs) == 1:
        return True
    return isinstance(ours, list) and sorted([*ours, "name"]) == sorted(theirs)


def _catch_report(ours: Any, theirs: Any) -> bool:
    """Ours has nothing on stdout where Metaflow has its @catch report (or its lines' times)."""
    if ours not in ("", []):
        return False
    first = theirs if isinstance(theirs, str) else (theirs or [""])[0]
    return first.startswith("@catch caught an exception") or theirs == ["datetime"]


def _version_tag(ours: Any, theirs: Any) -> bool:
    swap = {"sfncompile_version:<version>": "metaflow_version:<version>"}
    return isinstance(ours, list) and sorted(swap.get(t, t) for t in ours) == theirs


def _without_branch(tags: Any) -> Any:
    return [t for t in tags if not t.startswith("project_branch:")] \
        if isinstance(tags, list) else tags


DIFFERENCES = (
    Difference(
        "flow-name-artifact",
        ("*.artifacts", "*.artifact[name]", "*.artifact objects", "*:run.data"),
        "Metaflow stores the flow's name as an artifact `name` of every task (`self.name`); "
        "sfncompile stores no such artifact.",
        _plus_name),
    Difference(
        "order-of-cloned-steps",
        ("resumed:run.steps*",),
        "Both resumes reuse the same tasks; Metaflow's clones them all before it runs "
        "anything, in an order of its own (its `work` clone is older than its `start` clone), "
        "sfncompile's clones each task when the run reaches it, in graph order.",
        lambda ours, theirs: sorted(ours) == sorted(theirs), always=False),
    Difference(
        "catch-report-stream",
        ("*:task[*].stdout", "*:task[*].loglines*"),
        "Metaflow's @catch prints its report of the caught exception on the task's stdout; "
        "sfncompile's prints it on stderr.",
        _catch_report),
    Difference(
        "order-of-concurrent-steps",
        ("*:run.steps", "*:run.steps()"),
        "Both list steps newest first by when they started; the branches of a split start "
        "together, so their order is each run's own (both lists are checked newest first).",
        lambda ours, theirs: sorted(ours) == sorted(theirs), always=False),
    Difference(
        "branch-set-by-module-code",
        ("run_inputs:*system_tags",),
        "The flow sets METAFLOW_BRANCH in its module code. Metaflow runs that code in the "
        "process that tags the run; sfncompile's runner reads the flow without running it "
        "(its tasks do, and report that branch as current.branch_name), so the run's "
        "`project_branch:` tag is the branch of the environment the run started in.",
        lambda ours, theirs: _version_tag(_without_branch(ours), _without_branch(theirs))
        and _without_branch(ours) != ours, always=False),
    Difference(
        "version-tag",
        ("*:run.system_tags", "*:step[*].system_tags", "*:task[*].system_tags"),
        "A run's system tags name the tool that ran it: Metaflow's `metaflow_version:`, "
        "sfncompile's `sfncompile_version:`; the other system tags are the same.",
        _version_tag),
)


def _pattern(where: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in where.split("*")) + r"\Z")


def compare_facts(role: str, corpus_name: str, ours: Facts, theirs: Facts,
                  used: set[str] | None = None) -> list[str]:
    """Every fact that differs, unless a Difference covers it and its check passes.
    Artifact values are compared as the corpus does (the differences it declares for the
    case `corpus_name`)."""
    problems = []
    for fact in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(fact, MISSING), theirs.get(fact, MISSING)
        if fact.endswith(".metadata_dict") and MISSING not in (mine, other):
            both = set(mine) & set(other)  # the names both tools record
            mine, other = ({k: v for k, v in d.items() if k in both} for d in (mine, other))
        name = re.search(r"\.artifact\[(\w+)\]$", fact)
        if name and MISSING not in (mine, other):
            problem = compare_value(corpus_name, name.group(1), mine, other)
            if problem:
                problems.append(f"{role}:{fact}: {problem}")
            continue
        if mine == other:
            continue
        covering = [d for d in DIFFERENCES
                    if any(_pattern(w).match(f"{role}:{fact}") for w in d.where)]
        explained = [d.name for d in covering if d.check(mine, other)]
        if explained:
            if used is not None:
                used.update(explained)
            continue
        problems.append(f"{role}:{fact}: sfncompile {_short(mine)} != Metaflow {_short(other)}"
                        + (f" (beyond {', '.join(d.name for d in covering)})" if covering
                           else ""))
    return problems


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) < 300 else text[:300] + "..."
