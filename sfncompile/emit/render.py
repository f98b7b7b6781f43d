"""Byte-stable text for generated files, and `${Name}` placeholder substitution."""

from __future__ import annotations

import json
import re
from typing import Any

from sfncompile.errors import UsageError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")


def render_json(obj: Any) -> str:
    """2-space indentation, insertion key order, ASCII only, final newline."""
    return json.dumps(obj, indent=2, ensure_ascii=True) + "\n"


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
