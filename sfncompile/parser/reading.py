"""What the helpers of the flow reader (parameters, entry steps) need from it."""

from __future__ import annotations

import ast
from typing import Any, Protocol

from sfncompile.ir import SourcePos
from sfncompile.parser.module import ModuleInfo


class Reading(Protocol):
    """The reader of one module: its names, its Config values, and where errors go."""

    path: str
    info: ModuleInfo
    tree: ast.Module | None
    flow_name: str
    configs: dict[str, Any]  # Config attributes -> their values
    config_locals: dict[str, Any]  # Config names -> their values, as config_expr sees them

    def error(self, node: ast.AST, message: str) -> None: ...

    def pos(self, node: ast.AST) -> SourcePos: ...

    def literal(self, node: ast.expr, what: str, quiet: bool = False) -> Any: ...
