"""`--with DECO[:k=v,...]`: a step decorator added to every step from the command line.

Metaflow's spelling and rules: the values are JSON, else an int, a float or the text as it is
(`--with retry:times=2`, `--with environment:vars={"A":"1"}`), and a step that has the
decorator in its source keeps its own (the source wins). `@batch` and `@resources` size a step
together, the larger value winning, as they do when both are written on a step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR, Policies, Resources
from sfncompile.parser.decorators import (
    STEP_DECORATORS,
    allowed,
    build_policies,
    combined_problem,
    type_problem,
)

_SPLIT = re.compile(r",(?=[\s\w]+=)")  # Metaflow's: a comma before the next `name=`
_NO_POLICIES = Policies()


def parse_decospec(spec: str) -> tuple[str, dict[str, Any]]:
    """`name[:k=v,k=v]` -> (name, checked arguments); a UsageError says what is wrong."""
    name, _, rest = spec.partition(":")
    name = name.strip().lstrip("@")
    table = STEP_DECORATORS.get(name)
    if table is None:
        raise UsageError(f"--with {spec}: unknown step decorator {name!r} (known: "
                         f"{', '.join(sorted(STEP_DECORATORS))})")
    args: dict[str, Any] = {}
    for part in _SPLIT.split(rest) if rest.strip() else []:
        key, eq, raw = part.partition("=")
        key = key.strip()
        if not eq or not key:
            raise UsageError(f"--with {spec}: expected {name}:NAME=VALUE[,NAME=VALUE...]")
        if key not in table:
            raise UsageError(f"--with {spec}: unknown argument {key!r} of @{name} "
                             f"{allowed(table)}")
        value = _value(raw)
        problem = type_problem(table[key], value)
        if problem:
            raise UsageError(f"--with {spec}: argument {key!r} of @{name} {problem}")
        args[key] = value
    problem = combined_problem(name, args)
    if problem:
        raise UsageError(f"--with {spec}: @{name} {problem}")
    return name, args


def _value(raw: str) -> Any:
    text = raw.strip()
    try:
        return json.loads(text.replace('\\"', '"'))
    except ValueError:
        pass
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def apply_with(flow: FlowIR, specs: Sequence[str]) -> FlowIR:
    """The flow with each `--with` decorator on every step that does not have it already."""
    if not specs:
        return flow
    added = [build_policies(dict([parse_decospec(spec)])) for spec in specs]
    steps = []
    for step in flow.steps:
        policies = step.policies
        for extra in added:
            policies = _merge(policies, extra)
        steps.append(replace(step, policies=policies))
    return flow.with_steps(tuple(steps))


def _merge(own: Policies, extra: Policies) -> Policies:
    changes: dict[str, Any] = {}
    for f in fields(Policies):
        mine, theirs = getattr(own, f.name), getattr(extra, f.name)
        default = getattr(_NO_POLICIES, f.name)
        if f.name == "resources":
            changes[f.name] = _larger(mine, theirs)
        elif mine == default and theirs != default:
            changes[f.name] = theirs
    return replace(own, **changes)


def _larger(a: Resources, b: Resources) -> Resources:
    values = {}
    for f in fields(Resources):
        x, y = getattr(a, f.name), getattr(b, f.name)
        values[f.name] = y if x is None else x if y is None else max(x, y)
    return Resources(**values)
