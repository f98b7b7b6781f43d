"""The code of a flow's module, run in the process that starts the flow.

Metaflow's command is the flow's module: its code has run before Metaflow reads a Config
(whose `parser=` may be a function of the module) or an IncludeFile (which the module may
write). sfncompile's commands read flows statically, so they run that code only when a value
needs it, and once per process: `import_module_file` imports a module by its path, and
`module_attribute` reaches a function by its dotted name, as Metaflow's `parser="pkg.func"`.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from sfncompile.flow import metaflow_alias

# Resolved path of a module file -> (its mtime and size then, the module): its code runs once
# per process, again only if the file changed (a long-lived process building it again).
_IMPORTED: dict[str, tuple[tuple[int, int], ModuleType]] = {}


class ModuleCodeError(Exception):
    """Running a module's code, or finding a name in it, failed; the message says why."""


@contextlib.contextmanager
def beside(directory: Path) -> Iterator[None]:
    """`metaflow` is sfncompile and the directory's modules are importable, as in a task (the
    flow's directory is first on sys.path, as under `python flow.py`), for the block only."""
    entry = str(directory.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        with metaflow_alias.resolving():
            yield
    finally:
        if added and entry in sys.path:
            sys.path.remove(entry)


def import_module_file(path: Path) -> ModuleType:
    """The module of `path` with its code run: `__main__` itself when this process is
    `python path` (its code ran already), else imported once under its file's name (a
    private name when that one is taken). Raises ModuleCodeError."""
    resolved = str(path.resolve())
    main = sys.modules.get("__main__")
    main_file = getattr(main, "__file__", None)
    if main is not None and main_file and os.path.realpath(main_file) == resolved:
        return main
    try:
        st = os.stat(resolved)
    except OSError as exc:
        raise ModuleCodeError(f"cannot read {path}: {exc.strerror or exc}") from None
    stamp = (st.st_mtime_ns, st.st_size)
    if resolved in _IMPORTED and _IMPORTED[resolved][0] == stamp:
        return _IMPORTED[resolved][1]
    taken = path.stem in sys.modules and not (
        resolved in _IMPORTED and sys.modules[path.stem] is _IMPORTED[resolved][1])
    name = path.stem if path.stem.isidentifier() and not taken \
        else f"_sfncompile_module_{len(_IMPORTED)}"
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ModuleCodeError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    with beside(path.parent):
        try:
            spec.loader.exec_module(module)
        except BaseException as exc:
            del sys.modules[name]
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise ModuleCodeError(f"running {path} failed: {_described(exc)}") from None
    _IMPORTED[resolved] = (stamp, module)
    return module


def module_attribute(dotted: str, directory: Path) -> Any:
    """The object `package.module.name` names (Metaflow's spelling of a function given as a
    string; a leading "." is relative to `metaflow`), the module imported with `directory`
    importable. Raises ModuleCodeError."""
    if dotted.startswith("."):
        dotted = "metaflow" + dotted
    module_name, _, attr = dotted.rpartition(".")
    if not module_name or not attr:
        raise ModuleCodeError(f"{dotted!r} is not a dotted name (package.module.function)")
    with beside(directory):
        try:
            module = importlib.import_module(module_name)
        except BaseException as exc:
            if isinstance(exc, KeyboardInterrupt):
                raise
            raise ModuleCodeError(f"cannot import {module_name!r}: {_described(exc)}") from None
    if not hasattr(module, attr):
        raise ModuleCodeError(f"module {module_name!r} has no {attr!r}")
    return getattr(module, attr)


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]
