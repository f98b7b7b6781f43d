"""Flow parameters: parsed from the command line or the execution input, type-checked once.

The local runner calls this before any task runs; the start task calls it again on whatever
the state machine was started with, so a bad input fails at `start`, never later.
"""

from __future__ import annotations

import json
from typing import Any


class ParameterError(ValueError):
    """One or more bad parameter values; the message lists them all."""


_TRUE = {"true", "1", "yes", "y", "on"}
_FALSE = {"false", "0", "no", "n", "off"}


def convert(kind: str, value: Any) -> Any:
    """Convert a value (a string from the command line, or JSON) to the parameter's type."""
    if kind == "json":
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"expected JSON ({exc.msg}), got {value!r}") from None
    if kind == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise ValueError(f"expected a boolean (true/false), got {value!r}")
    if kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(f"expected an integer, got {value!r}")
        if isinstance(value, int | float):
            return int(value)
        try:
            return int(str(value).strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {value!r}") from None
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {value!r}") from None
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
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
        if p["name"] in given:
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
