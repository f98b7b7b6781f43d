"""Which steps a flow starts and ends at, by Metaflow 2.19's rules.

`@step(start=True)` and `@step(end=True)` mark the entry and the last step; without marks they
are the steps named `start` and `end`. A flow of exactly one step starts and ends there (a
bare `@step` will do). Exactly one step may carry each mark, and a marked step may not sit
beside a step that has the reserved name (Metaflow calls that ambiguous).
"""

from __future__ import annotations

import ast
from collections.abc import Mapping

from sfncompile.conventions.steps import END, START
from sfncompile.parser.reading import Reading

# Metaflow's `@step` keywords: `node_info` is extensions' metadata, accepted and unused here.
STEP_KEYWORDS = ("start", "end", "node_info")


def is_step_decorator(reader: Reading, node: ast.expr) -> bool:
    """`@step`, `@step()` or `@step(start=True)` (through any alias of the API)."""
    target = node.func if isinstance(node, ast.Call) else node
    return reader.info.api_name(target) == "step"


def step_marks(reader: Reading, func: ast.FunctionDef | ast.AsyncFunctionDef
               ) -> tuple[bool, bool]:
    """(start, end): the marks of the step's `@step(...)`; errors for anything else in it."""
    start = end = False
    for deco in func.decorator_list:
        if not (isinstance(deco, ast.Call) and is_step_decorator(reader, deco)):
            continue
        where = f"step {func.name!r}: @step"
        if deco.args:
            reader.error(deco.args[0], f"{where} takes keyword arguments only "
                         "(start=True, end=True)")
        for kw in deco.keywords:
            if kw.arg not in STEP_KEYWORDS:
                reader.error(kw.value if kw.arg is None else kw, f"{where}: unknown argument "
                             f"{kw.arg or '**'!r} (allowed: {', '.join(STEP_KEYWORDS)})")
                continue
            if kw.arg == "node_info":
                continue
            value = kw.value.value if isinstance(kw.value, ast.Constant) else None
            if not isinstance(value, bool):
                reader.error(kw.value, f"{where}: {kw.arg}= must be True or False")
                continue
            if kw.arg == "start":
                start = value
            else:
                end = value
    return start, end


def entry_steps(reader: Reading, cls: ast.ClassDef,
                marks: Mapping[str, tuple[ast.AST, bool, bool]]) -> tuple[str, str]:
    """The start and end steps' names, from each step's (node, start mark, end mark); errors
    are reported on `reader` (the names fall back to `start`/`end` then)."""
    if len(marks) == 1:
        (only,) = marks
        return only, only
    names: list[str] = []
    for mark, reserved in ((1, START), (2, END)):
        marked = sorted(n for n, m in marks.items() if m[mark])
        chosen = reserved
        if len(marked) > 1:
            reader.error(marks[marked[1]][0], f"flow {cls.name!r}: several steps are marked "
                         f"@step({reserved}=True) ({', '.join(marked)}); exactly one may be")
        elif marked:
            chosen = marked[0]
            if chosen != reserved and reserved in marks:
                reader.error(marks[chosen][0], f"flow {cls.name!r}: step {chosen!r} is marked "
                             f"@step({reserved}=True) but a step is named {reserved!r} too; "
                             f"rename that step or drop the mark")
                chosen = reserved
        names.append(chosen)
    return names[0], names[1]
