"""`metaflow` means sfncompile inside sfncompile's own processes, and wherever Metaflow is not
installed.

A flow written for Metaflow runs unchanged on sfncompile's API: `from metaflow import step`,
`from metaflow.exception import MetaflowNotFound`, `from metaflow.cards import Markdown`.
An import finder answers for `metaflow` and every `metaflow.X`:

- `metaflow` is a small alias module whose attributes are sfncompile's (looked up on use, so
  names added to sfncompile later are there too), Metaflow's submodules that sfncompile
  provides (MODULES), and for every other name of Metaflow 2.19 a placeholder that refuses
  to be used (flow/unsupported.py);
- `metaflow.X[.Y]` is the module `sfncompile.X[.Y]` itself (not a copy, so classes and the
  `current` object are the same ones), with renames where Metaflow's module has another name
  (RENAMED: `metaflow.metaflow_current` is `sfncompile.flow.current`); a package of Metaflow
  that sfncompile has no package for (`metaflow.plugins`) is a fresh module (PACKAGES);
- a `metaflow.X` that sfncompile does not have is a ModuleNotFoundError naming it.

The runner, its fork server, every task (locally and in Batch) and the `sfncompile` command
`install()` it first on `sys.meta_path`, whether or not the real Metaflow is installed. In
any other process, the `.pth` file that sfncompile's installation puts into site-packages
appends a finder *last* on `sys.meta_path` that calls `fallback_spec`: it answers only when
no other finder has `metaflow`, so an installed Metaflow is never shadowed, and it costs
nothing until `metaflow` is imported (SFNCOMPILE_METAFLOW_ALIAS=0 turns it off).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

from sfncompile.flow.unsupported import UNSUPPORTED, Unsupported

ALIAS = "metaflow"
TARGET = "sfncompile"
SWITCH = "SFNCOMPILE_METAFLOW_ALIAS"  # "0": no alias outside sfncompile's processes
FALLBACK_FINDER = "SfncompileMetaflowFallback"  # the class name the .pth line gives its finder

# Metaflow's module names that differ from sfncompile's.
RENAMED = {
    "metaflow.metaflow_current": "sfncompile.flow.current",
    "metaflow.current": "sfncompile.flow.current",
    "metaflow.parameters": "sfncompile.flow.api",
    "metaflow.decorators": "sfncompile.flow.api",
    "metaflow.flowspec": "sfncompile.flow.flowspec",
    "metaflow.cards": "sfncompile.flow.cards",
    "metaflow.includefile": "sfncompile.flow.inputs",
    "metaflow.user_configs.config_parameters": "sfncompile.flow.inputs",
    "metaflow.user_decorators.user_step_decorator": "sfncompile.flow.user_step",
    "metaflow.user_decorators.user_flow_decorator": "sfncompile.flow.user_step",
    "metaflow.user_decorators.mutable_step": "sfncompile.flow.user_step",
    "metaflow.user_decorators.mutable_flow": "sfncompile.flow.user_step",
    "metaflow.metaflow_config": "sfncompile.flow.settings",
    "metaflow.multicore_utils": "sfncompile.flow.step_helpers",
    "metaflow.metaflow_profile": "sfncompile.flow.step_helpers",
    "metaflow.plugins.catch_decorator": "sfncompile.exception",
    "metaflow.plugins.cards.exception": "sfncompile.exception",
    "metaflow.plugins.cards.card_client": "sfncompile.client.card_reader",
    "metaflow.plugins.datatools.s3": "sfncompile.runtime.s3",
    "metaflow.events": "sfncompile.runtime.publish",
    "metaflow.runner": "sfncompile.local.python_api",
}

# Metaflow's packages that sfncompile answers with a fresh package module: the sfncompile
# module whose names it shows (None: none), besides its submodules of RENAMED.
PACKAGES: dict[str, str | None] = {
    "metaflow": TARGET,
    "metaflow.plugins": None,
    "metaflow.plugins.cards": None,
    "metaflow.plugins.datatools": "sfncompile.runtime.s3",
    "metaflow.user_configs": None,
    "metaflow.user_decorators": None,
}

# `metaflow.X` for the modules of Metaflow 2.19 that sfncompile provides (`from metaflow import
# cards` works too); Metaflow's other modules are in UNSUPPORTED.
MODULES = frozenset({
    "cards", "client", "decorators", "events", "exception", "flowspec", "includefile",
    "metaflow_config", "metaflow_current", "metaflow_profile", "multicore_utils", "parameters",
    "plugins", "runner", "user_configs", "user_decorators",
})

# Modules a flow may reach only through `metaflow.X` (no import of the runtime leads to them):
# the code package carries them when they exist.
PACKAGED_MODULES = ("sfncompile.exception", "sfncompile.flow.current", "sfncompile.flow.cards",
                    "sfncompile.flow.settings", "sfncompile.flow.step_helpers",
                    "sfncompile.client.core")


def target_name(fullname: str) -> str:
    """The sfncompile module that `metaflow...` names."""
    if fullname in RENAMED:
        return RENAMED[fullname]
    return TARGET + fullname[len(ALIAS):]


def _has_child(package: str, name: str) -> bool:
    child = f"{package}.{name}"
    if package == ALIAS:
        return name in MODULES
    return child in RENAMED or child in PACKAGES


class _ModuleLoader(importlib.abc.Loader):
    """`metaflow.X` is the sfncompile module itself."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__  # importlib overwrites it; put it back in exec_module
        return module

    def exec_module(self, module: ModuleType) -> None:
        module.__spec__ = self._spec


class _PackageLoader(importlib.abc.Loader):
    """A package of PACKAGES: a fresh module whose attributes are looked up on use."""

    def __init__(self, shows: str | None) -> None:
        self.shows = shows

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None  # a fresh module, filled by exec_module

    def exec_module(self, module: ModuleType) -> None:
        package, shows = module.__name__, self.shows
        top = package == ALIAS

        def __getattr__(name: str) -> Any:  # a module's attribute hook (PEP 562)
            if top and name in UNSUPPORTED:
                return Unsupported(name)
            if shows is not None:
                with contextlib.suppress(AttributeError):
                    return getattr(importlib.import_module(shows), name)
            if not name.startswith("__") and _has_child(package, name):
                return importlib.import_module(f"{package}.{name}")
            raise AttributeError(f"module {package!r} (sfncompile's API) has no attribute "
                                 f"{name!r}")

        def __dir__() -> list[str]:
            names = set(vars(module))
            if shows is not None:
                names.update(getattr(importlib.import_module(shows), "__all__", ()))
            if top:
                names.update(MODULES, UNSUPPORTED)
            return sorted(names)

        shown = list(getattr(importlib.import_module(shows), "__all__", ())) if shows else []
        vars(module).update(__getattr__=__getattr__, __dir__=__dir__, __all__=shown)
        module.__doc__ = "Metaflow's names, answered by sfncompile."


class MetaflowAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname in PACKAGES:
            return importlib.machinery.ModuleSpec(fullname, _PackageLoader(PACKAGES[fullname]),
                                                  is_package=True)
        if not fullname.startswith(ALIAS + "."):
            return None
        top = fullname.split(".")[1]
        if top in UNSUPPORTED:
            raise ModuleNotFoundError(f"No module named {fullname!r}: metaflow.{top} "
                                      f"{UNSUPPORTED[top]}", name=fullname)
        name = target_name(fullname)
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: `metaflow` is sfncompile's API here, and "
                "sfncompile does not provide it", name=fullname)
        return importlib.machinery.ModuleSpec(
            fullname, _ModuleLoader(name),
            is_package=found.submodule_search_locations is not None)


_FINDER = MetaflowAliasFinder()


def fallback_spec(fullname: str) -> importlib.machinery.ModuleSpec | None:
    """The spec of `metaflow...` for the finder of sfncompile's `.pth` file, which is last on
    `sys.meta_path`: asked only once every finder before it has no such module. Another
    finder may still come after it (one that a later `.pth` file appended): the real Metaflow
    there wins too."""
    if os.environ.get(SWITCH) == "0":
        return None
    if fullname != ALIAS:  # a submodule: only under the alias, never under a real Metaflow
        return _FINDER.find_spec(fullname, None) if _ours(sys.modules.get(ALIAS)) else None
    for finder in sys.meta_path:
        if finder is _FINDER or getattr(finder, "__name__", None) == FALLBACK_FINDER:
            continue
        with contextlib.suppress(Exception):  # a broken finder must not break the import
            if finder.find_spec(fullname, None) is not None:
                return None
    return _FINDER.find_spec(fullname, None)


_lock = threading.Lock()
_permanent = False
_borrowed = 0  # resolving() blocks running (in any thread)
_before: dict[str, ModuleType] = {}


def install() -> None:
    """Make `metaflow` resolve to sfncompile in this process from now on (idempotent).

    A real Metaflow already imported is dropped from sys.modules: in sfncompile's processes
    the flow must see sfncompile's FlowSpec, step and current.
    """
    global _permanent
    with _lock:
        if _permanent and sys.meta_path and sys.meta_path[0] is _FINDER:
            return  # every `metaflow` import since went through the finder: ours (a task
            # forked from the fork server would otherwise scan sys.modules again)
        _permanent = True
        _put_first()


def _put_first() -> None:
    if not (sys.meta_path and sys.meta_path[0] is _FINDER):
        if _FINDER in sys.meta_path:
            sys.meta_path.remove(_FINDER)
        sys.meta_path.insert(0, _FINDER)
    for name, module in _entries().items():
        if not _ours(module):
            del sys.modules[name]


def _entries() -> dict[str, ModuleType]:
    return {n: m for n, m in list(sys.modules.items())
            if n == ALIAS or n.startswith(ALIAS + ".")}


def _ours(module: ModuleType | None) -> bool:
    name = getattr(module, "__name__", "")
    return name == TARGET or name.startswith(TARGET + ".") or isinstance(
        getattr(getattr(module, "__spec__", None), "loader", None),
        _ModuleLoader | _PackageLoader)


def installed() -> bool:
    return _FINDER in sys.meta_path


@contextlib.contextmanager
def resolving() -> Iterator[None]:
    """`metaflow` means sfncompile for the duration only (the client unpickling an object
    whose class lives in a flow module that imports metaflow), then whatever it meant
    before: a process that uses the real Metaflow keeps it. Nested and concurrent blocks
    share one installation; the last one out restores what was there."""
    global _borrowed, _before
    with _lock:
        if _permanent:
            borrowed = False
        else:
            borrowed = True
            if _borrowed == 0:
                _before = _entries()
                _put_first()
            _borrowed += 1
    try:
        yield
    finally:
        if borrowed:
            with _lock:
                _borrowed -= 1
                if _borrowed == 0 and not _permanent:
                    sys.meta_path.remove(_FINDER)
                    for name in _entries():
                        del sys.modules[name]
                    sys.modules.update(_before)
                    _before = {}
