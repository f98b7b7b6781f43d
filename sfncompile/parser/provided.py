"""The names a flow may import from `metaflow` (or `sfncompile`): the one list of them.

Every name of Metaflow 2.19's `metaflow` imports: those sfncompile provides (METAFLOW_NAMES,
the decorators of the parser's tables, and Metaflow's submodules in metaflow_alias.MODULES)
and those it does not (flow/unsupported.py's UNSUPPORTED), which `check_imports` reports
where they are used, not where they are imported. A name Metaflow does not have, or a
`metaflow.X.Y` sfncompile does not provide, is an error at its import: the flow would build,
then fail at `start` with an ImportError. To provide a new name, add it to METAFLOW_NAMES
(or its submodule to SUBMODULES) and export it from the package.
"""

from __future__ import annotations

import ast
from pathlib import Path

from sfncompile.errors import FlowError
from sfncompile.flow.metaflow_alias import MODULES
from sfncompile.flow.unsupported import UNSUPPORTED, unsupported_message
from sfncompile.parser.decorators import CLASS_DECORATORS, STEP_DECORATORS

# `from metaflow import X`: the flow API, the client, and the services used inside steps.
METAFLOW_NAMES = frozenset({
    # the flow API
    "FlowSpec", "step", "Parameter", "JSONType", "JSONTypeClass", "IncludeFile", "Config",
    "ConfigValue", "config_expr", "current", "user_step_decorator", "USER_SKIP_STEP",
    "UserStepDecorator", "StepMutator", "FlowMutator",
    # decorators (besides those of the parser's tables)
    "batch", "resources", "retry", "catch", "timeout", "environment", "schedule",
    "card", "secrets", "pypi", "conda", "pypi_base", "conda_base", "kubernetes", "exit_hook",
    "trigger", "trigger_on_finish", "project", "parallel",
    # services, helpers and the client
    "S3", "Flow", "Run", "Step", "Task", "namespace", "get_namespace", "default_namespace",
    "get_metadata", "metadata", "default_metadata", "DataArtifact", "Metaflow", "Runner",
    "NBRunner", "Deployer", "DeployedFlow", "NBDeployer", "parallel_map",
    "parallel_imap_unordered", "profile",
    # sfncompile's own: publish an event that starts deployed flows (@trigger)
    "publish_event",
})

_EXCEPTIONS = frozenset({
    "MetaflowException", "MetaflowExceptionWrapper", "ParameterFieldFailed",
    "ParameterFieldTypeMismatch", "ExternalCommandFailed", "MetaflowNotFound",
    "MetaflowNamespaceMismatch", "MetaflowInvalidPathspec", "MetaflowInternalError",
    "MetaflowTaggingError", "MetaflowUnknownUser", "InvalidDecoratorAttribute",
    "CommandException", "MetaflowDataMissing", "UnhandledInMergeArtifactsException",
    "MissingInMergeArtifactsException",
})
_S3 = frozenset({
    "S3", "S3Object", "S3PutObject", "MetaflowS3Exception", "MetaflowS3URLException",
    "MetaflowS3NotFound", "MetaflowS3AccessDenied", "MetaflowS3InvalidObject",
})

# `from metaflow.<sub> import X`: the submodules provided (flow/metaflow_alias.py maps each to
# sfncompile's module), each with its names (None: any; of a package: its submodules too).
SUBMODULES: dict[str, frozenset[str] | None] = {
    # Metaflow's exception classes, under Metaflow's names.
    "exception": _EXCEPTIONS,
    # Card components: the module checks its own names when the step imports it.
    "cards": None,
    "metaflow_current": frozenset({"current", "Current"}),
    "flowspec": frozenset({"FlowSpec"}),
    "parameters": frozenset({"Parameter", "JSONType", "JSONTypeClass"}),
    "decorators": frozenset({"step"}),
    "includefile": frozenset({"IncludeFile"}),
    "client": frozenset({
        "Flow", "Run", "Step", "Task", "DataArtifact", "namespace", "get_namespace",
        "default_namespace", "get_metadata", "metadata", "MetaflowNamespaceMismatch"}),
    "runner": frozenset({"Runner", "NBRunner"}),
    "events": frozenset({"Trigger", "publish_event"}),
    # Metaflow's settings, from METAFLOW_* environment variables (flow/settings.py).
    "metaflow_config": None,
    "multicore_utils": frozenset({"parallel_map", "parallel_imap_unordered",
                                  "MulticoreException"}),
    "metaflow_profile": frozenset({"profile"}),
    "plugins": frozenset(),
    "plugins.catch_decorator": frozenset({"FailureHandledByCatch"}),
    "plugins.cards": frozenset(),
    "plugins.cards.exception": frozenset({"CardNotPresentException",
                                          "CardClassFoundException", "MetaflowException"}),
    "plugins.cards.card_client": frozenset({"Card", "get_cards"}),
    "plugins.datatools": _S3,
    "plugins.datatools.s3": _S3,
    "user_configs": frozenset(),
    "user_configs.config_parameters": frozenset({"Config", "ConfigValue", "config_expr"}),
    "user_decorators": frozenset(),
    "user_decorators.user_step_decorator": frozenset({
        "user_step_decorator", "UserStepDecorator", "StepMutator", "USER_SKIP_STEP"}),
    "user_decorators.user_flow_decorator": frozenset({"FlowMutator"}),
    "user_decorators.mutable_step": frozenset({"MutableStep"}),
    "user_decorators.mutable_flow": frozenset({"MutableFlow"}),
}

API_PACKAGES = ("metaflow", "sfncompile")


def _is_own_module(name: str) -> bool:
    """Whether sfncompile has a submodule of that name (found on disk, not imported)."""
    here = Path(__file__).resolve().parent.parent
    return (here / f"{name}.py").is_file() or (here / name / "__init__.py").is_file()


def provided_names() -> frozenset[str]:
    """Every name `from metaflow import ...` may take and use."""
    return METAFLOW_NAMES | MODULES | frozenset(STEP_DECORATORS) | frozenset(CLASS_DECORATORS)


def _names_of(sub: str) -> frozenset[str] | None:
    """What `from metaflow.<sub> import ...` may take (None: any): its names, and a
    package's submodules."""
    allowed = SUBMODULES[sub]
    if allowed is None:
        return None
    prefix = sub + "."
    return allowed | {k[len(prefix):] for k in SUBMODULES
                      if k.startswith(prefix) and "." not in k[len(prefix):]}


def _module_problem(sub: str) -> str | None:
    """Why `metaflow.<sub>` cannot be imported, or None when sfncompile provides it."""
    if sub in SUBMODULES:
        return None
    top = sub.partition(".")[0]
    if top in UNSUPPORTED:
        return unsupported_message(top)
    return (f"sfncompile does not provide the module metaflow.{sub} (provided: "
            f"{', '.join('metaflow.' + m for m in sorted(SUBMODULES))})")


def _import_nodes(tree: ast.Module, text: str | None) -> list[ast.AST]:
    """The nodes that may be imports: the top level when every `import` of the text is a
    top-level import statement (a cheap count, the usual flow), else the whole tree."""
    top = [s for s in tree.body if isinstance(s, ast.Import | ast.ImportFrom)]
    if text is not None and text.count("import") == len(top):
        return list(top)
    return list(ast.walk(tree))


class _Imports:
    """What check_imports collects: errors, and the local names to follow to their uses."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.errors: list[FlowError] = []
        self.aliases: set[str] = set()  # local names bound to `metaflow` (`import metaflow`)
        self.unsupported: dict[str, str] = {}  # local name -> Metaflow's name it binds

    def error(self, node: ast.AST, message: str) -> None:
        self.errors.append(FlowError(self.path, getattr(node, "lineno", 1),
                                     getattr(node, "col_offset", 0) + 1, message))

    def from_package(self, node: ast.ImportFrom, package: str) -> None:
        names = provided_names()
        for alias in node.names:
            name = alias.name
            if name in names or name == "*" or name.startswith("__"):
                continue
            if name in UNSUPPORTED:
                if package == "metaflow":  # a placeholder: refused where it is used
                    self.unsupported[alias.asname or name] = name
                else:
                    self.error(alias, f"`from {package} import {name}`: "
                               f"{unsupported_message(name)}")
                continue
            if package == "sfncompile" and _is_own_module(name):
                continue  # `from sfncompile import client`
            self.error(alias, f"`from {package} import {name}`: sfncompile does not provide "
                       f"{package}.{name}; the names it provides are listed in the README "
                       "(Metaflow compatibility)")

    def from_module(self, node: ast.ImportFrom, sub: str) -> None:
        problem = _module_problem(sub)
        if problem is not None:
            self.error(node, f"`from {node.module} import ...`: {problem}")
            return
        allowed = _names_of(sub)
        for alias in node.names:
            if allowed is not None and alias.name not in allowed and alias.name != "*":
                self.error(alias, f"`from {node.module} import {alias.name}`: sfncompile "
                           f"does not provide {node.module}.{alias.name} (provided: "
                           f"{', '.join(sorted(allowed))})")

    def plain(self, node: ast.Import) -> None:
        for alias in node.names:
            package, _, sub = alias.name.partition(".")
            if package != "metaflow":
                continue
            problem = _module_problem(sub) if sub else None
            if problem is not None:
                self.error(alias, f"`import {alias.name}`: {problem}")
            elif not sub or alias.asname is None:
                self.aliases.add(alias.asname or "metaflow")

    def uses(self, tree: ast.Module) -> None:
        """Each use of an unsupported name, and each `metaflow.X` of a name not provided."""
        names = provided_names()
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id in self.unsupported and isinstance(
                    node.ctx, ast.Load):
                self.error(node, f"`{node.id}`: {unsupported_message(self.unsupported[node.id])}")
            elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in self.aliases and isinstance(node.ctx, ast.Load)
                    and node.attr not in names and not node.attr.startswith("__")):
                shown = f"`{node.value.id}.{node.attr}`"
                if node.attr in UNSUPPORTED:
                    self.error(node, f"{shown}: {unsupported_message(node.attr)}")
                else:
                    self.error(node, f"{shown}: sfncompile does not provide metaflow."
                               f"{node.attr}; the names it provides are listed in the README "
                               "(Metaflow compatibility)")


def check_imports(tree: ast.Module, path: str, text: str | None = None) -> list[FlowError]:
    """An error at each import (anywhere in the module) of a name that Metaflow does not have
    or sfncompile does not provide, and at each use of a name of Metaflow's that sfncompile
    does not provide (imported, it is only a placeholder)."""
    found = _Imports(path)
    for node in _import_nodes(tree, text):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            package, _, sub = node.module.partition(".")
            if package not in API_PACKAGES:
                continue
            if not sub:
                found.from_package(node, package)
            elif package == "metaflow":
                found.from_module(node, sub)
        elif isinstance(node, ast.Import):
            found.plain(node)
    if found.aliases or found.unsupported:
        found.uses(tree)
    return sorted(found.errors, key=lambda e: (e.line, e.col))
