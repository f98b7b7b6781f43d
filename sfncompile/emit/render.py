"""Byte-stable text for generated files, and `${Name}` placeholder substitution."""

from __future__ import annotations

import json
import re
from typing import Any

from sfncompile.errors import UsageError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")


# Without `indent`, json uses its C encoder; the indented one is pure Python and was the
# slowest part of a large build.
_one_line = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode


def render_json(obj: Any) -> str:
    """2-space indentation, insertion key order, ASCII only, final newline.

    A container whose items are all scalars, or scalars and lists of scalars (a Retry rule,
    a Task's Batch parameters, an ItemSelector), is written on one line, as is a list holding
    one such container: each reads as one record, and deep states do not spend most of their
    bytes on indentation.
    """
    out: list[str] = []
    _render(obj, "", out)
    out.append("\n")
    return "".join(out)


def _render(value: Any, indent: str, out: list[str]) -> None:
    if not isinstance(value, dict | list) or _is_record(value) or (
            isinstance(value, list) and len(value) == 1 and _is_record(value[0])):
        out.append(_one_line(value))
        return
    inner = indent + "  "
    if isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            out.append(("\n" if i == 0 else ",\n") + inner + _one_line(key) + ": ")
            _render(item, inner, out)
        out.append("\n" + indent + "}")
    else:
        out.append("[")
        for i, item in enumerate(value):
            out.append(("\n" if i == 0 else ",\n") + inner)
            _render(item, inner, out)
        out.append("\n" + indent + "]")


def _is_record(value: Any) -> bool:
    """Scalars, or scalars and lists of scalars (empty containers count as scalars)."""
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict):
        return all(not isinstance(v, dict | list) or not v
                   or (isinstance(v, list) and not any(isinstance(x, dict | list) for x in v))
                   for v in items)
    return not any(isinstance(v, dict | list) and v for v in items)


def render_compact(obj: Any) -> str:
    """What deploy sends: no whitespace (Step Functions counts the definition's bytes)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def placeholders(obj: Any) -> list[str]:
    return sorted(set(PLACEHOLDER.findall(json.dumps(obj))))


def resolve(obj: Any, values: dict[str, str], strict: bool = True) -> Any:
    """Substitute `${Name}` in every string, as CloudFormation's DefinitionSubstitutions does.

    `strict` rejects values for placeholders that do not occur (a typo on the command line).
    """
    unknown = sorted(set(values) - set(placeholders(obj)))
    if strict and unknown:
        raise UsageError(
            f"--resolve: no placeholder named {', '.join(unknown)} "
            f"(placeholders: {', '.join(placeholders(obj))})"
        )

    def sub(value: Any) -> Any:
        if isinstance(value, str):
            return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
        if isinstance(value, dict):
            return {k: sub(v) for k, v in value.items()}
        if isinstance(value, list):
            return [sub(v) for v in value]
        return value

    return sub(obj)
