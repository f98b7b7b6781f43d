"""The names a flow may import from `metaflow` (or `sfncompile`): the one list of them.

A flow that imports a name sfncompile does not provide would build, then fail at `start` with
an ImportError; `check_imports` makes it a build error at the import instead. To provide a
new name, add it to METAFLOW_NAMES (or its submodule to SUBMODULES) and export it from the
package: the decorators of the parser's tables count as provided without being listed.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sfncompile.errors import FlowError
from sfncompile.parser.decorators import CLASS_DECORATORS, REFUSED, STEP_DECORATORS

# `from metaflow import X`: the flow API, the client, and the services used inside steps.
METAFLOW_NAMES = frozenset({
    # the flow API
    "FlowSpec", "step", "Parameter", "JSONType", "IncludeFile", "Config", "config_expr",
    "current", "user_step_decorator", "USER_SKIP_STEP",
    # decorators (besides those of the parser's tables)
    "batch", "resources", "retry", "catch", "timeout", "environment", "schedule",
    "card", "secrets", "pypi", "conda", "pypi_base", "conda_base", "kubernetes", "exit_hook",
    "trigger", "trigger_on_finish", "project",
    # services and the client
    "S3", "Metaflow", "Flow", "Run", "Step", "Task", "namespace", "get_namespace",
    "default_namespace", "get_metadata", "metadata", "DataArtifact", "Runner", "NBRunner",
    # sfncompile's own: publish an event that starts deployed flows (@trigger)
    "publish_event",
})

# `from metaflow.<sub> import X`: the submodules provided, each with its names (None: any).
SUBMODULES: dict[str, frozenset[str] | None] = {
    # Metaflow's exception classes, under Metaflow's names.
    "exception": frozenset({
        "MetaflowException", "MetaflowExceptionWrapper", "ParameterFieldFailed",
        "ParameterFieldTypeMismatch", "ExternalCommandFailed", "MetaflowNotFound",
        "MetaflowNamespaceMismatch", "MetaflowInvalidPathspec", "MetaflowInternalError",
        "MetaflowTaggingError", "MetaflowUnknownUser", "InvalidDecoratorAttribute",
        "CommandException", "MetaflowDataMissing", "UnhandledInMergeArtifactsException",
        "MissingInMergeArtifactsException",
    }),
    # Card components: the module checks its own names when the step imports it.
    "cards": None,
    "metaflow_current": frozenset({"current", "Current"}),
}

API_PACKAGES = ("metaflow", "sfncompile")


def _is_own_module(name: str) -> bool:
    """Whether sfncompile has a submodule of that name (found on disk, not imported)."""
    here = Path(__file__).resolve().parent.parent
    return (here / f"{name}.py").is_file() or (here / name / "__init__.py").is_file()


def provided_names() -> frozenset[str]:
    """Every name `from metaflow import ...` may take."""
    return METAFLOW_NAMES | frozenset(STEP_DECORATORS) | frozenset(CLASS_DECORATORS)


def _import_nodes(tree: ast.Module, text: str | None) -> list[ast.AST]:
    """The nodes that may be imports: the top level when every `import` of the text is a
    top-level import statement (a cheap count, the usual flow), else the whole tree."""
    top = [s for s in tree.body if isinstance(s, ast.Import | ast.ImportFrom)]
    if text is not None and text.count("import") == len(top):
        return list(top)
    return list(ast.walk(tree))


def check_imports(tree: ast.Module, path: str, text: str | None = None) -> list[FlowError]:
    """An error at each import (anywhere in the module) of a name that is not provided."""
    names = provided_names()
    errors: list[FlowError] = []
    aliases: set[str] = set()  # local names bound to `metaflow` itself (`import metaflow`)

    def error(node: ast.AST, message: str) -> None:
        errors.append(FlowError(path, getattr(node, "lineno", 1),
                                getattr(node, "col_offset", 0) + 1, message))

    for node in _import_nodes(tree, text):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            package, _, sub = node.module.partition(".")
            if package not in API_PACKAGES:
                continue
            if not sub:
                for alias in node.names:
                    if alias.name in names or alias.name == "*" or alias.name.startswith("__"):
                        continue
                    if alias.name in SUBMODULES:  # `from metaflow import cards`
                        continue
                    if alias.name in REFUSED:  # Metaflow's, and no backend here runs it
                        error(alias, f"`from {package} import {alias.name}`: @{alias.name} "
                              f"{REFUSED[alias.name]}")
                        continue
                    if package == "sfncompile" and _is_own_module(alias.name):
                        continue  # `from sfncompile import client`
                    error(alias, f"`from {package} import {alias.name}`: sfncompile does not "
                          f"provide {package}.{alias.name}; the names it provides are listed "
                          "in the README (Metaflow compatibility)")
            elif package == "metaflow":
                allowed = SUBMODULES.get(sub, frozenset())
                if sub not in SUBMODULES:
                    error(node, f"`from {node.module} import ...`: sfncompile does not provide "
                          f"the module {node.module} (provided: "
                          f"{', '.join('metaflow.' + m for m in sorted(SUBMODULES))})")
                    continue
                for alias in node.names:
                    if allowed is not None and alias.name not in allowed and alias.name != "*":
                        error(alias, f"`from {node.module} import {alias.name}`: sfncompile "
                              f"does not provide {node.module}.{alias.name} (provided: "
                              f"{', '.join(sorted(allowed))})")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                package, _, sub = alias.name.partition(".")
                if package != "metaflow":
                    continue
                if sub and sub not in SUBMODULES:
                    error(alias, f"`import {alias.name}`: sfncompile does not provide the "
                          f"module {alias.name} (provided: "
                          f"{', '.join('metaflow.' + m for m in sorted(SUBMODULES))})")
                elif not sub or alias.asname is None:
                    aliases.add(alias.asname or "metaflow")
    if aliases:
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and isinstance(node.ctx, ast.Load)
                    and node.attr not in names and node.attr not in SUBMODULES
                    and not node.attr.startswith("__")):
                error(node, f"`{node.value.id}.{node.attr}`: sfncompile does not provide "
                      f"metaflow.{node.attr}; the names it provides are listed in the README "
                      "(Metaflow compatibility)")
    errors.sort(key=lambda e: (e.line, e.col))
    return errors
