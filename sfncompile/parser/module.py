"""What a flow module binds: API names imported from sfncompile or metaflow, and constants."""

from __future__ import annotations

import ast
import copy
from dataclasses import dataclass, field
from typing import Any

from sfncompile.parser.provided import provided_names
from sfncompile.parser.support import SUPPORT

API_MODULES = ("sfncompile", "metaflow")
# Literals nested deeper than this are refused with a message; the stdlib's literal_eval and
# unparse recurse once per level and would otherwise hit Python's recursion limit.
MAX_LITERAL_DEPTH = 50
# The names a flow binds from `metaflow`/`sfncompile`: those provided (parser/provided.py, the
# one list) and every decorator Metaflow has, refused ones included (each has its message).
API_NAMES = provided_names() | SUPPORT.keys()


@dataclass
class ModuleInfo:
    names: dict[str, str] = field(default_factory=dict)  # local name -> API name
    modules: set[str] = field(default_factory=set)  # local names bound to an API module
    constants: dict[str, Any] = field(default_factory=dict)

    def api_name(self, node: ast.expr) -> str | None:
        """The API name that `node` refers to (`step`, `sfncompile.step`), if any."""
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.modules
        ):
            return node.attr
        return None

    def literal(self, node: ast.expr) -> Any:
        """Evaluate a literal, allowing names of module-level literal constants.

        Raises ValueError for anything that would need the module to run.
        """
        if isinstance(node, ast.Name) and node.id in self.constants:
            return self.constants[node.id]
        if too_deep(node, MAX_LITERAL_DEPTH):
            raise ValueError(f"nested more than {MAX_LITERAL_DEPTH} levels deep")
        return ast.literal_eval(_substitute(node, self.constants))


def too_deep(node: ast.AST, limit: int) -> bool:
    """Whether `node` nests more than `limit` levels, found without recursion."""
    stack = [(node, 1)]
    while stack:
        current, depth = stack.pop()
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(current))
    return False


def _substitute(node: ast.expr, constants: dict[str, Any]) -> ast.expr:
    """Replace known constant names inside containers so literal_eval accepts them."""

    class Sub(ast.NodeTransformer):
        def visit_Name(self, name: ast.Name) -> ast.AST:
            if name.id in constants:
                return ast.copy_location(ast.Constant(constants[name.id]), name)
            return name

    if not any(isinstance(n, ast.Name) for n in ast.walk(node)):
        return node
    return Sub().visit(copy.deepcopy(node))  # type: ignore[no-any-return]


def read_module(tree: ast.Module) -> ModuleInfo:
    info = ModuleInfo()
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module in API_MODULES:
            for alias in stmt.names:
                if alias.name in API_NAMES:
                    info.names[alias.asname or alias.name] = alias.name
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.name in API_MODULES:
                    info.modules.add(alias.asname or alias.name)
        elif (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            try:
                info.constants[stmt.targets[0].id] = info.literal(stmt.value)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                info.constants.pop(stmt.targets[0].id, None)
    return info
