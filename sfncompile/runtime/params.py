"""Flow parameters: parsed from the command line or the execution input, type-checked once.

The local runner calls this before any task runs; the start task calls it again on whatever
the state machine was started with, so a bad input fails at `start`, never later.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from typing import Any


class ParameterError(ValueError):
    """One or more bad parameter values; the message lists them all."""


_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


# A JSON parameter is parsed, pickled, and sent to Step Functions as JSON: deeper nesting than
# this would only find Python's recursion limit somewhere along that way.
MAX_JSON_DEPTH = 100


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (Step Functions refuses it)")


def _depth(value: Any) -> int:
    """Nesting depth, without recursion."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        node, depth = todo.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, depth)
            todo.extend((child, depth + 1)
                        for child in (node.values() if isinstance(node, dict) else node))
    return deepest


def _short(value: str) -> str:
    return repr(value) if len(value) <= 80 else f"{value[:60]!r}... ({len(value)} characters)"


def _show(value: Any) -> str:
    return _short(value) if isinstance(value, str) else _short(repr(value))[1:-1]


def parse_json(text: str) -> Any:
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise ValueError(f"expected JSON ({exc.msg}), got {_short(text)}") from None
    except RecursionError:
        value = None  # reported below, with the limit
        depth = MAX_JSON_DEPTH + 1
    except ValueError as exc:  # NaN/Infinity, or an integer of over 4300 digits
        raise ValueError(f"expected JSON ({exc}), got {_short(text)}") from None
    else:
        depth = _depth(value)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return value


def convert(kind: str, value: Any) -> Any:
    """Convert a value (a string from the command line, or JSON) to the parameter's type."""
    if kind == "json":
        if not isinstance(value, str):
            return value
        return parse_json(value)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"expected a boolean (true/false), got {_show(value)}")
    if kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected an integer, got {_show(value)}")
        if isinstance(value, int | float):
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {_show(value)}") from None
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {_show(value)}")
        try:
            number = float(value)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"expected a number, got {_show(value)}") from None
        if not math.isfinite(number):
            # JSON (the execution input, the run record) has no NaN or infinity.
            raise ValueError(f"expected a finite number, got {_show(value)}")
        return number
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_show(value)}")
    return value


def resolve_parameters(spec: list[dict[str, Any]], given: dict[str, Any]) -> dict[str, Any]:
    """Values by attribute name, with defaults filled in; raises ParameterError."""
    by_name = {p["name"]: p for p in spec}
    problems = [
        f"unknown parameter {name!r} (parameters: {', '.join(sorted(by_name)) or 'none'})"
        for name in sorted(given)
        if name not in by_name
    ]
    values: dict[str, Any] = {}
    for p in spec:
        if p["name"] in given and p.get("kind", "parameter") != "parameter":
            values[p["attr"]] = given[p["name"]]  # a file's contents: run_inputs decodes them
        elif p["name"] in given:
            try:
                values[p["attr"]] = convert(p["type"], given[p["name"]])
            except (ValueError, TypeError) as exc:
                problems.append(f"parameter {p['name']!r} ({p['type']}): {exc}")
        elif p["required"]:
            problems.append(f"parameter {p['name']!r} is required")
        else:
            values[p["attr"]] = p["default"]
    if problems:
        raise ParameterError("; ".join(problems))
    return values


def parse_cli_pairs(pairs: list[str] | tuple[str, ...], option: str = "--param") -> dict[str, str]:
    """`NAME=VALUE` strings from a repeatable option, as a dict."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ParameterError(f"{option} {pair!r}: expected NAME=VALUE")
        out[name] = value
    return out


# Metaflow's `run` reads a parameter not given on its command line from this variable (click's
# auto_envvar_prefix: METAFLOW_RUN_ and the option's name, upper case, `-` as `_`).
RUN_ENV_PREFIX = "METAFLOW_RUN_"


def run_env_var(name: str) -> str:
    return RUN_ENV_PREFIX + name.replace("-", "_").upper()


def run_env_values(spec: list[dict[str, Any]], given: Mapping[str, Any],
                   env: Mapping[str, str] | None = None,
                   kinds: tuple[str, ...] = ("parameter", "include_file")) -> dict[str, Any]:
    """`given` (the command line's values), plus each parameter of `kinds` that it lacks and
    that its METAFLOW_RUN_<NAME> variable sets (an empty one counts as unset, as in click).
    A Config takes no run-time value; an IncludeFile's is a path, read where the run starts."""
    env = os.environ if env is None else env
    out = dict(given)
    for p in spec:
        value = env.get(run_env_var(p["name"]))
        if value and p["name"] not in out and p.get("kind", "parameter") in kinds:
            out[p["name"]] = value
    return out
