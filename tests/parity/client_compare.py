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


# The steps whose first task the `resumed` run (tests/test_client_parity.py) reuses.
RESUMED_CLONED = {"start", "work"}


def _cloned_reordered(ours: Any, theirs: Any) -> bool:
    """The same steps in the same order, but for the order among the cloned steps, which
    both list last (they are cloned before any task runs)."""
    if not (isinstance(ours, list) and isinstance(theirs, list)):
        return False
    k = len(RESUMED_CLONED)
    return ours[:-k] == theirs[:-k] and set(ours[-k:]) == set(theirs[-k:]) == RESUMED_CLONED


DIFFERENCES = (
    Difference(
        "order-of-cloned-steps",
        ("resumed:run.steps", "resumed:run.steps()"),
        "Both resumes clone the same tasks before they run any; Metaflow's clones them in "
        "parallel threads, in the order its datastore lists them, so which cloned step is the "
        "oldest is its own (its `work` clone was once older than its `start` clone); "
        "sfncompile's clones them in graph order. The steps that ran again are in the same "
        "order.",
        _cloned_reordered, always=False),
    Difference(
        "order-of-concurrent-steps",
        ("*:run.steps", "*:run.steps()"),
        "Both list steps newest first by when they started; the branches of a split start "
        "together, so their order is each run's own (both lists are checked newest first).",
        lambda ours, theirs: sorted(ours) == sorted(theirs), always=False),
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
