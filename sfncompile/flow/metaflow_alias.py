"""`metaflow` means sfncompile inside sfncompile's own processes.

A flow written for Metaflow runs unchanged on sfncompile's API: `from metaflow import step`,
`from metaflow.exception import MetaflowNotFound`, `from metaflow.cards import Markdown`.
`install()` puts an import finder first on `sys.meta_path` that answers for `metaflow` and
every `metaflow.X`, whether or not the real Metaflow is installed:

- `metaflow` is a small alias module whose attributes are sfncompile's (looked up on use, so
  names added to sfncompile later are there too);
- `metaflow.X[.Y]` is the module `sfncompile.X[.Y]` itself (not a copy, so classes and the
  `current` object are the same ones), with a few renames where Metaflow's module has another
  name (`metaflow.metaflow_current` is `sfncompile.flow.current`);
- a `metaflow.X` that sfncompile does not have is a ModuleNotFoundError naming it.

The runner, its fork server, every task (locally and in Batch) and the `sfncompile` command
install it; nothing else does, so a notebook that uses the real Metaflow keeps it.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

ALIAS = "metaflow"
TARGET = "sfncompile"

# Metaflow's module names that differ from sfncompile's.
RENAMED = {
    "metaflow.metaflow_current": "sfncompile.flow.current",
    "metaflow.current": "sfncompile.flow.current",
    "metaflow.parameters": "sfncompile.flow.api",
    "metaflow.flowspec": "sfncompile.flow.flowspec",
    "metaflow.cards": "sfncompile.flow.cards",
    "metaflow.events": "sfncompile.runtime.publish",
    "metaflow.runner": "sfncompile.local.python_api",
}

# Modules a flow may reach only through `metaflow.X` (no import of the runtime leads to them):
# the code package carries them when they exist.
PACKAGED_MODULES = ("sfncompile.exception", "sfncompile.flow.current", "sfncompile.flow.cards")


def target_name(fullname: str) -> str:
    """The sfncompile module that `metaflow...` names."""
    if fullname in RENAMED:
        return RENAMED[fullname]
    return TARGET + fullname[len(ALIAS):]


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target: str | None) -> None:
        self.target = target  # None: the top-level alias module

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        if self.target is None:
            return None  # a fresh module, filled by exec_module
        module = importlib.import_module(self.target)
        self._spec = module.__spec__  # importlib overwrites it; put it back in exec_module
        return module

    def exec_module(self, module: ModuleType) -> None:
        if self.target is not None:
            module.__spec__ = self._spec
            return
        target = importlib.import_module(TARGET)

        def __getattr__(name: str) -> Any:  # a module's attribute hook (PEP 562)
            try:
                return getattr(target, name)
            except AttributeError:
                raise AttributeError(f"module 'metaflow' (sfncompile's API) has no attribute "
                                     f"{name!r}") from None

        vars(module).update(__getattr__=__getattr__,
                            __all__=list(getattr(target, "__all__", ())))
        module.__doc__ = "Metaflow's names, answered by sfncompile."


class MetaflowAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if fullname == ALIAS:
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader(None), is_package=True)
        if not fullname.startswith(ALIAS + "."):
            return None
        name = target_name(fullname)
        try:
            found = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            found = None
        if found is None:
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: in sfncompile's processes `metaflow` is "
                f"sfncompile's API, which has no {name!r}", name=fullname)
        return importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(name),
            is_package=found.submodule_search_locations is not None)


_FINDER = MetaflowAliasFinder()


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


def _ours(module: ModuleType) -> bool:
    name = getattr(module, "__name__", "")
    return name == TARGET or name.startswith(TARGET + ".") or isinstance(
        getattr(getattr(module, "__spec__", None), "loader", None), _AliasLoader)


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
