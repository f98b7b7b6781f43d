"""Byte-stable text for generated files, and `${Name}` placeholder substitution.

The unresolved ASL holds two kinds of `${`: our placeholders (`${JobQueue}`, ...), which
deploy, `build --resolve` and CloudFormation fill in, and the user's own text (an
`@environment` value, a switch arm's key, a queue name), which must reach AWS verbatim. The
emitter writes every `${` of user text as `${!` (`literal`), as CloudFormation's Fn::Sub
escapes it; no placeholder name starts with `!`, so the two never mix. Resolving turns `${!`
back into `${` once no placeholder is left.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from sfncompile.errors import UsageError

PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")
ESCAPE = "${!"
# A placeholder, or an escaped `${` (group 1 empty), in one left-to-right pass.
_TOKEN = re.compile(r"\$\{(?:!|([A-Za-z][A-Za-z0-9_]*)\})")


# Without `indent`, json uses its C encoder; the indented one is pure Python and was the
# slowest part of a large build.
_one_line = json.JSONEncoder(ensure_ascii=True, separators=(", ", ": ")).encode
# A tuple, not `dict | list`: isinstance checks a tuple several times faster than a union.
_CONTAINER = (dict, list)


def render_json(obj: Any) -> str:
    """2-space indentation, insertion key order, ASCII only, final newline.

    A container whose items are all scalars, or scalars and lists of scalars (a Retry rule,
    an ItemSelector), is written on one line, as is a list holding one such container and a
    dict of scalars and such containers (a Task's Batch parameters, a control read): each
    reads as one record. In a dict written over several lines, consecutive short members
    (scalars, or a dict of one scalar) share a line: `"Type": "Task", "Resource": ..., "Next":
    ...`. Deep states then do not spend most of their bytes on indentation.
    """
    out: list[str] = []
    _render(obj, "", out)
    out.append("\n")
    return "".join(out)


def _render(value: Any, indent: str, out: list[str]) -> None:
    if not isinstance(value, _CONTAINER) or _one_line_container(value):
        out.append(_one_line(value))
        return
    inner = indent + "  "
    if isinstance(value, dict):
        out.append("{")
        scalar_run = False
        for i, (key, item) in enumerate(value.items()):
            scalar = is_short(item)
            if scalar and scalar_run:
                out.append(", ")
            else:
                out.append(("\n" if i == 0 else ",\n") + inner)
            out.append(_one_line(key) + ": ")
            _render(item, inner, out)
            scalar_run = scalar
        out.append("\n" + indent + "}")
    else:
        out.append("[")
        for i, item in enumerate(value):
            out.append(("\n" if i == 0 else ",\n") + inner)
            _render(item, inner, out)
        out.append("\n" + indent + "]")


def is_short(value: Any) -> bool:
    """A scalar, an empty container, or a dict of one scalar (`{"Mode": "INLINE"}`)."""
    if not isinstance(value, _CONTAINER) or not value:
        return True
    return (isinstance(value, dict) and len(value) == 1
            and not isinstance(next(iter(value.values())), _CONTAINER))


def _one_line_container(value: dict[str, Any] | list[Any]) -> bool:
    """A record, a list holding one record, or a dict of scalars and records."""
    if _is_record(value):
        return True
    if isinstance(value, list):
        return len(value) == 1 and _is_record(value[0])
    return all(not isinstance(v, _CONTAINER) or _is_record(v) for v in value.values())


def _is_record(value: Any) -> bool:
    """Scalars, or scalars and lists of scalars (empty containers count as scalars)."""
    items = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict):
        return all(not isinstance(v, _CONTAINER) or not v
                   or (isinstance(v, list) and not any(isinstance(x, _CONTAINER) for x in v))
                   for v in items)
    return not any(isinstance(v, _CONTAINER) and v for v in items)


def render_compact(obj: Any) -> str:
    """What deploy sends: no whitespace (Step Functions counts the definition's bytes)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=True)


def literal(text: str) -> str:
    """User text as the unresolved ASL holds it: no substitution will touch it."""
    return text.replace("${", ESCAPE)


def placeholders(obj: Any) -> list[str]:
    return sorted(set(PLACEHOLDER.findall(json.dumps(obj))))


def map_strings(obj: Any, func: Callable[[str], str]) -> Any:
    """obj with func applied to every string value (keys are ours: state and field names)."""
    if isinstance(obj, str):
        return func(obj)
    if isinstance(obj, dict):
        return {k: map_strings(v, func) for k, v in obj.items()}
    if isinstance(obj, list):
        return [map_strings(v, func) for v in obj]
    return obj


def substitute(text: str, values: dict[str, str], unescape: bool) -> str:
    """`${Name}` -> values[Name] (unknown names stay), and with unescape `${!` -> `${`."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name is None:
            return "${" if unescape else m.group(0)
        return values.get(name, m.group(0))

    return _TOKEN.sub(one, text)


def resolve(obj: Any, values: dict[str, str], strict: bool = True) -> Any:
    """Substitute `${Name}` in every string, as CloudFormation's DefinitionSubstitutions does.

    When every placeholder gets a value, the user's escaped `${` are restored too: the result
    is what AWS receives. Otherwise it is still a template (escapes kept, values escaped), so
    that it can be resolved again. `strict` rejects values for placeholders that do not occur
    (a typo on the command line).
    """
    present = placeholders(obj)
    unknown = sorted(set(values) - set(present))
    if strict and unknown:
        raise UsageError(
            f"--resolve: no placeholder named {', '.join(unknown)} "
            f"(placeholders: {', '.join(present)})"
        )
    final = set(present) <= set(values)
    given = values if final else {k: literal(v) for k, v in values.items()}
    return map_strings(obj, lambda text: substitute(text, given, unescape=final))
