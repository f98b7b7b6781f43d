"""Decorators that are not Metaflow's: the user's own, which run around the step at task time.

`build` cannot run them, so it only checks that the name comes from somewhere: defined or
imported in the flow's module. A name found nowhere is an error, with a hint when it is one of
Metaflow's decorators that the module forgot to import.
"""

from __future__ import annotations

import ast
from typing import Any

from sfncompile.parser.support import SUPPORT

USER_DECORATOR = ""  # the name decorator_args gives a user's decorator


def module_bindings(tree: ast.Module) -> set[str] | None:
    """Every name the module binds (defs, classes, imports, assignments), at any depth: a
    decorator defined under `if TYPE_CHECKING:` or in a try block counts. None when a star
    import makes the names unknowable."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            for alias in node.names:
                if alias.name == "*":
                    return None
                names.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def unknown_decorator(target: ast.expr, api_name: str | None, table: dict[str, Any],
                      bound: set[str] | None) -> str | None:
    """Why `@target` is not usable here, or None when it is the user's own decorator."""
    shown = ast.unparse(target)
    if api_name is not None:  # one of our/Metaflow's names, in the wrong place or unknown
        where = SUPPORT[api_name].scope if api_name in SUPPORT else None
        if where == "flow":
            return f"@{api_name} is a flow decorator: put it on the class"
        if where == "step":
            return f"@{api_name} is a step decorator: put it on a step"
        return (f"unknown decorator @{shown}: Metaflow has no such decorator (known: "
                f"{', '.join('@' + k for k in sorted(table))})")
    root = target
    while isinstance(root, ast.Attribute | ast.Call | ast.Subscript):
        root = root.func if isinstance(root, ast.Call) else root.value
    if isinstance(root, ast.Name) and (bound is None or root.id in bound):
        return None
    if isinstance(root, ast.Name) and root.id in SUPPORT:
        return (f"@{shown} is Metaflow's decorator but is not imported: add "
                f"`from metaflow import {root.id}`")
    return (f"unknown decorator @{shown}: not a Metaflow decorator, and not defined or "
            "imported in this module (define it, or import it from where it lives)")
