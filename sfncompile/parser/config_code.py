"""Config values that need code: Metaflow's `parser=`, a function as `default=` or
`default_value=`, and a `config_expr` that is more than a key path.

Metaflow computes a Config when the flow starts, its module imported. sfncompile reads flows
without running them, so for such a value it runs, when the flow is built, only the code the
value needs: the module a function comes from (`parser="pkg.parsers.parse_ini"`, or a name
imported with `from pkg.parsers import parse_ini`), and the flow's own module only for a
function defined there (or a lambda). The value is then fixed in the compiled flow, as a
JSON file's is, so neither a task nor AWS runs that code again.
"""

from __future__ import annotations

import ast
import builtins
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sfncompile.flow.module_loader import (
    ModuleCodeError,
    beside,
    import_module_file,
    module_attribute,
)

_BUILTINS = frozenset(dir(builtins))


class ConfigCodeError(Exception):
    """The code a Config needs failed; the message says how (the caller adds where)."""


@dataclass(frozen=True)
class CodeRef:
    """Where a function named in a flow's source comes from: `dotted`, a name to import
    (`pkg.module.function`), or else `source`, an expression of the module file `path`."""

    path: Path
    dotted: str | None = None
    source: str | None = None

    def resolve(self) -> Any:
        try:
            if self.dotted is not None:
                return module_attribute(self.dotted, self.path.parent)
            module = import_module_file(self.path)
            with beside(self.path.parent):
                return eval(str(self.source), vars(module))
        except ModuleCodeError as exc:
            raise ConfigCodeError(str(exc)) from None
        except Exception as exc:  # the expression itself failed in the module's namespace
            raise ConfigCodeError(f"`{self.source}` failed: {_described(exc)}") from None

    def call(self, *args: Any, value_ok: bool = False) -> Any:
        """What the function returns for `args`; with `value_ok`, what is not a function is
        the value itself (Metaflow calls a default only when it is callable)."""
        func = self.resolve()
        if not callable(func):
            if value_ok:
                return func
            raise ConfigCodeError(f"{self.shown()} is not a function but "
                                  f"{type(func).__name__}")
        try:
            with beside(self.path.parent):
                return func(*args)
        except Exception as exc:
            raise ConfigCodeError(f"{self.shown()} failed: {_described(exc)}") from None

    def shown(self) -> str:
        return f"`{self.dotted or self.source}`"


def code_ref(node: ast.expr, tree: ast.Module | None, path: Path) -> CodeRef:
    """How to reach the function that `node` names in the module file `path`: by importing
    only its own module when the source says which one, else through the module file."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return CodeRef(path, dotted=node.value)
    imported = _imported_names(tree) if tree is not None else {}
    if isinstance(node, ast.Name) and node.id in imported:
        return CodeRef(path, dotted=imported[node.id])
    chain: list[str] = []
    root: ast.expr = node
    while isinstance(root, ast.Attribute):
        chain.insert(0, root.attr)
        root = root.value
    if chain and isinstance(root, ast.Name) and root.id in imported:
        return CodeRef(path, dotted=".".join([imported[root.id], *chain]))
    return CodeRef(path, source=ast.unparse(node))


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Module-level names bound by imports, with the dotted name each one stands for."""
    names: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module and not stmt.level:
            for alias in stmt.names:
                if alias.name != "*":
                    names[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    names[root] = root
    return names


def evaluate(source: str, configs: dict[str, Any], path: Path) -> Any:
    """A `config_expr` expression, with the Config values as its local names (as Metaflow's
    evaluation has them); the module file `path` runs only when the expression names
    something that is neither a Config nor a builtin."""
    try:
        code = compile(source, "<config_expr>", "eval", dont_inherit=True)
    except SyntaxError as exc:
        raise ConfigCodeError(f"not an expression: {exc.msg}") from None
    free = {n.id for n in ast.walk(ast.parse(source, mode="eval")) if isinstance(n, ast.Name)}
    scope: dict[str, Any] = {"__builtins__": builtins}
    try:
        if free - set(configs) - _BUILTINS:
            scope = vars(import_module_file(path))
        with beside(path.parent):
            return eval(code, scope, dict(configs))
    except ModuleCodeError as exc:
        raise ConfigCodeError(str(exc)) from None
    except Exception as exc:
        raise ConfigCodeError(f"failed: {_described(exc)}") from None


def as_json(value: Any) -> Any:
    """`value` as the plain JSON the compiled flow keeps (a ConfigValue or any other mapping
    becomes a dict, a tuple a list); ConfigCodeError when it is not JSON."""
    try:
        plain = _plain(value)
        json.dumps(plain, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigCodeError(f"{type(value).__name__} {value!r:.60}, which is not JSON "
                              f"({exc})") from None
    return plain


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise TypeError(f"the key {bad[0]!r} is not a string")
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
