"""Validate an ASL definition: the JSON Schema in asl_schema.json plus graph checks.

The schema catches shape mistakes (unknown fields, wrong types, Next with End). What it
cannot express is checked here: every StartAt/Next/Default/Catch target names a state of
the same States scope, every state is reachable from StartAt, and state names are unique
across the whole machine, nested Branches and ItemProcessors included (Step Functions
requires that, and execution history events name states without their scope).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    # types-jsonschema is not a test dependency; unused-ignore keeps this clean with it too.
    from jsonschema import (  # type: ignore[import-untyped,unused-ignore]
        Draft202012Validator,
        ValidationError,
    )

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_MESSAGE = 200
# For these keywords jsonschema's message repeats the whole instance; the schema puts a
# readable message in the subschema's description instead.
_COMPOSITE = frozenset({"anyOf", "oneOf", "not"})

Path = tuple[str | int, ...]


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    # Imported here: jsonschema takes longer to import than a small build takes.
    from importlib.resources import files

    from jsonschema import Draft202012Validator

    text = files("sfncompile.emit").joinpath("asl_schema.json").read_text(encoding="utf-8")
    # The schema itself is checked against the meta-schema by the tests, not at every build.
    return Draft202012Validator(json.loads(text))


def validate_asl(definition: dict[str, Any], schema: bool = True) -> list[str]:
    """Return every problem in ``definition`` as ``<json path>: <message>``, sorted.

    ``schema=False`` runs only the graph checks (no jsonschema import).
    """
    problems = ({_format(e.absolute_path, _schema_message(e))
                 for e in _schema_errors(definition)} if schema else set())
    problems.update(_format(path, msg) for path, msg in _graph_errors(definition))
    return sorted(problems)


def _schema_errors(definition: dict[str, Any]) -> Iterator[ValidationError]:
    errors: Iterator[ValidationError] = _validator().iter_errors(_distinct(definition))
    return errors


def _distinct(definition: Any) -> Any:
    """The definition with repeated states left out, for the schema check only.

    Most states of a large flow are alike but for the names they mention (a Task's JobName,
    its step, its Next), and the schema check costs as much per state as the rest of the build
    together. States (and branches) equal up to those names are checked once. Names themselves
    are held by the graph checks and by propertyNames on the States keys.
    """
    if not isinstance(definition, dict) or not isinstance(definition.get("States"), dict):
        return definition
    names = set(_all_state_names(definition))

    def key(value: Any) -> str:
        def norm(v: Any, field: str = "") -> Any:
            if isinstance(v, dict) and field == "States":
                return [norm(x) for x in v.values()]  # state names as keys: by position
            if isinstance(v, dict):
                return {k: norm(x, k) for k, x in v.items()}
            if isinstance(v, list):
                return [norm(x, field) for x in v]
            if isinstance(v, str) and (v in names or field in ("JobName", "step")):
                return "<name>"
            return v

        return json.dumps(norm(value), sort_keys=True)

    def reduce(machine: dict[str, Any]) -> dict[str, Any]:
        seen: set[str] = set()
        states: dict[str, Any] = {}
        for name, state in machine["States"].items():
            state = _reduce_children(state, reduce, key)
            k = key(state)
            if k not in seen:
                seen.add(k)
                states[name] = state
        return {**machine, "States": states}

    return reduce(definition)


def _reduce_children(state: Any, reduce: Any, key: Any) -> Any:
    if not isinstance(state, dict):
        return state
    out = dict(state)
    if isinstance(state.get("Branches"), list):
        # Identical branches (a wide split of alike steps) are checked once.
        branches: dict[str, Any] = {}
        for b in state["Branches"]:
            b = reduce(b) if _is_machine(b) else b
            branches.setdefault(key(b), b)
        out["Branches"] = list(branches.values())
    for field in ("ItemProcessor", "Iterator"):
        if _is_machine(state.get(field)):
            out[field] = reduce(state[field])
    return out


def _is_machine(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("States"), dict)


def _all_state_names(machine: dict[str, Any]) -> Iterator[str]:
    for name, state in machine["States"].items():
        yield name
        if not isinstance(state, dict):
            continue
        children = [b for b in state.get("Branches", []) if _is_machine(b)] if isinstance(
            state.get("Branches"), list) else []
        children += [state[f] for f in ("ItemProcessor", "Iterator") if _is_machine(state.get(f))]
        for child in children:
            yield from _all_state_names(child)


def _schema_message(error: ValidationError) -> str:
    schema = error.schema
    if error.validator in _COMPOSITE and isinstance(schema, dict) and "description" in schema:
        return str(schema["description"])
    message: str = error.message
    return message if len(message) <= _MAX_MESSAGE else message[: _MAX_MESSAGE - 3] + "..."


def _format(path: Any, message: str) -> str:
    return f"{_json_path(path)}: {message}"


def _json_path(path: Any) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _IDENTIFIER.fullmatch(part):
            out += f".{part}"
        else:
            out += "[" + json.dumps(part) + "]"
    return out


def _graph_errors(definition: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    """Target, reachability and uniqueness checks; tolerant of a malformed shape."""
    seen: dict[str, Path] = {}
    for path, scope in _scopes(definition, ()):
        states = scope.get("States")
        if not isinstance(states, dict):
            continue
        for name in states:
            if name in seen:
                where = _json_path(seen[name])
                yield (*path, "States", name), f"state name {name!r} is also used at {where}"
            else:
                seen[name] = (*path, "States", name)
        yield from _scope_errors(path, scope.get("StartAt"), states)


def _scopes(node: Any, path: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every StartAt/States scope: the machine, each Parallel branch, each Map processor."""
    if not isinstance(node, dict):
        return
    yield path, node
    states = node.get("States")
    if not isinstance(states, dict):
        return
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        here = (*path, "States", name)
        branches = state.get("Branches")
        if isinstance(branches, list):
            for i, branch in enumerate(branches):
                yield from _scopes(branch, (*here, "Branches", i))
        for key in ("ItemProcessor", "Iterator"):
            yield from _scopes(state.get(key), (*here, key))


def _scope_errors(path: Path, start: Any, states: dict[str, Any]) -> Iterator[tuple[Path, str]]:
    has_start = isinstance(start, str) and start in states
    if isinstance(start, str) and not has_start:
        yield (*path, "StartAt"), f"{start!r} is not a state in this scope"
    edges: dict[str, list[str]] = {}
    for name, state in states.items():
        edges[name] = []
        for where, target in _targets(state):
            if target in states:
                edges[name].append(target)
            else:
                yield (*path, "States", name, *where), f"{target!r} is not a state in this scope"
    reached: set[str] = set()
    todo = [start] if has_start else []
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo.extend(edges[name])
    if has_start:
        for name in states:
            if name not in reached:
                yield (*path, "States", name), f"state {name!r} is unreachable from StartAt"


def _targets(state: Any) -> Iterator[tuple[Path, str]]:
    """(relative path, target name) of every transition out of a state."""
    if not isinstance(state, dict):
        return
    for key in ("Next", "Default"):
        if isinstance(state.get(key), str):
            yield (key,), state[key]
    for field in ("Choices", "Catch"):
        rules = state.get(field)
        if isinstance(rules, list):
            for i, rule in enumerate(rules):
                if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                    yield (field, i, "Next"), rule["Next"]
