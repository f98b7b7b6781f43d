"""Flow classes and their bases, read statically across the flow file and the modules beside it.

A flow may inherit steps, parameters and decorators from base classes and mixins defined in
the same file or in a module of the flow's directory (`from mymodule import Base`, `import
mymodule`). Bases are found by name, never by running a module, and ordered as Python orders
them (C3 linearization), so a subclass's step overrides a base's step of the same name, as in
Metaflow. A base that is neither defined here nor in a module beside the flow cannot be read.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sfncompile.errors import FlowError, FlowErrors
from sfncompile.parser.module import ModuleInfo

# Follow re-exports and base chains at most this far: a deeper chain is a cycle in disguise.
MAX_CHAIN = 64


@dataclass(eq=False)
class SourceModule:
    """One parsed Python file: the flow file or a module beside it."""

    path: str  # as shown in messages
    text: str
    tree: ast.Module
    info: ModuleInfo
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    # `from mod import name as local`: local -> (module, name, level, the alias node)
    imported: dict[str, tuple[str, str, int, ast.alias]] = field(default_factory=dict)
    # `import mod as local`: local -> the module's dotted name
    module_aliases: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for stmt in self.tree.body:
            if isinstance(stmt, ast.ClassDef):
                self.classes[stmt.name] = stmt
            elif isinstance(stmt, ast.ImportFrom) and stmt.module:
                for alias in stmt.names:
                    self.imported[alias.asname or alias.name] = (
                        stmt.module, alias.name, stmt.level, alias)
            elif isinstance(stmt, ast.Import):
                for alias in stmt.names:
                    if alias.asname:
                        self.module_aliases[alias.asname] = alias.name
                    elif "." not in alias.name:
                        self.module_aliases[alias.name] = alias.name


@dataclass(frozen=True, eq=False)
class ClassRef:
    module: SourceModule
    node: ast.ClassDef

    @property
    def name(self) -> str:
        return self.node.name


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name


FLOWSPEC = _Marker("FlowSpec")
OBJECT = _Marker("object")


@dataclass(frozen=True)
class Unresolved:
    """A base that cannot be read: where it was written and why."""

    node: ast.AST
    module: SourceModule
    reason: str


Base = ClassRef | _Marker | Unresolved
Loader = Callable[[Path, str], SourceModule]  # (file, display path) -> parsed module


class Hierarchy:
    """Resolves class names to class definitions across the flow's directory, lazily."""

    def __init__(self, main: SourceModule, flow_dir: Path, load: Loader) -> None:
        self.main = main
        self.flow_dir = flow_dir
        self.load = load
        self.display_dir = str(Path(main.path).parent)
        self._modules: dict[Path, SourceModule | None] = {}
        self._mro: dict[int, list[ClassRef]] = {}

    # -- modules -------------------------------------------------------------------------------

    def module(self, dotted: str) -> SourceModule | None:
        """A module of the flow's directory by its dotted name, parsed once; None if absent."""
        parts = dotted.split(".")
        base = self.flow_dir.joinpath(*parts)
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                key = candidate.resolve()
                if key not in self._modules:
                    self._modules[key] = None  # an import cycle finds nothing, not a loop
                    rel = candidate.relative_to(self.flow_dir).as_posix()
                    display = rel if self.display_dir in ("", ".") else \
                        f"{self.display_dir}/{rel}"
                    self._modules[key] = self.load(candidate, display)
                return self._modules[key]
        return None

    # -- names -------------------------------------------------------------------------------

    def resolve(self, module: SourceModule, node: ast.expr) -> Base:
        """What a base-class expression names."""
        if module.info.api_name(node) == "FlowSpec":
            return FLOWSPEC
        if isinstance(node, ast.Name):
            return self.lookup(module, node.id, node, 0)
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in module.module_aliases):
            dotted = module.module_aliases[node.value.id]
            target = self.module(dotted)
            if target is None:
                return Unresolved(node, module, f"module {dotted!r} is not beside the flow")
            return self.lookup(target, node.attr, node, 0, via=module)
        return Unresolved(node, module, "a base class must be a name")

    def lookup(self, module: SourceModule, name: str, node: ast.AST, depth: int,
               via: SourceModule | None = None) -> Base:
        where = via or module
        if depth > MAX_CHAIN:
            return Unresolved(node, where, f"{name!r} is re-exported in a cycle")
        if name in module.classes:
            return ClassRef(module, module.classes[name])
        if name in module.imported:
            source, original, level, _ = module.imported[name]
            if level == 0 and source.split(".")[0] in ("metaflow", "sfncompile"):
                if original == "FlowSpec":
                    return FLOWSPEC
                return Unresolved(node, where, f"{source}.{original} is not a flow class")
            target = self.module(source)
            if target is None:
                return Unresolved(node, where, f"{name!r} comes from {source!r}, which is not "
                                  "a module beside the flow (its bases are read from the "
                                  "flow's directory, without running anything)")
            return self.lookup(target, original, node, depth + 1, via=where)
        if name == "object":
            return OBJECT
        return Unresolved(node, where, f"{name!r} is not defined in {module.path} or "
                          "imported from a module beside the flow")

    def bases(self, ref: ClassRef) -> list[Base]:
        return [self.resolve(ref.module, b) for b in ref.node.bases]

    def api_bases(self, module: SourceModule, node: ast.expr) -> set[str]:
        """The API classes (`StepMutator`, ...) among the readable ancestors of the class
        that `node` names; empty when it names no class that can be read."""
        found: set[str] = set()
        start = self.resolve(module, node)
        todo = [start] if isinstance(start, ClassRef) else []
        seen: set[int] = set()
        while todo and len(seen) <= MAX_CHAIN:
            ref = todo.pop()
            if id(ref.node) in seen:
                continue
            seen.add(id(ref.node))
            for base in ref.node.bases:
                api = ref.module.info.api_name(base)
                if api is not None:
                    found.add(api)
                    continue
                resolved = self.resolve(ref.module, base)
                if isinstance(resolved, ClassRef):
                    todo.append(resolved)
        return found

    # -- flows -------------------------------------------------------------------------------

    def is_flow(self, ref: ClassRef) -> bool:
        """Whether FlowSpec is among the class's (readable) ancestors."""
        seen: set[int] = set()
        todo = [ref]
        while todo:
            current = todo.pop()
            if id(current.node) in seen:
                continue
            seen.add(id(current.node))
            for base in self.bases(current):
                if base is FLOWSPEC:
                    return True
                if isinstance(base, ClassRef):
                    todo.append(base)
        return False

    def flow_classes(self) -> list[ClassRef]:
        return [ClassRef(self.main, c) for c in self.main.tree.body
                if isinstance(c, ast.ClassDef) and self.is_flow(ClassRef(self.main, c))]

    def check_cycles(self, ref: ClassRef) -> None:
        """Raise FlowErrors if the class is among its own ancestors."""
        stack: list[tuple[ClassRef, tuple[ClassRef, ...]]] = [(ref, ())]
        while stack:
            current, path = stack.pop()
            if any(p.node is current.node for p in path):
                chain = " -> ".join(p.name for p in (*path, current))
                first = path[0]
                raise FlowErrors([_error(first.module, first.node,
                                         f"class {first.name!r} inherits from itself: {chain}")])
            if len(path) > MAX_CHAIN:
                continue
            stack.extend((b, (*path, current)) for b in self.bases(current)
                         if isinstance(b, ClassRef))

    def unresolved_bases(self) -> list[Unresolved]:
        """Bases of the flow file's classes that could not be read (for "no flow found")."""
        return [b for c in self.main.tree.body if isinstance(c, ast.ClassDef)
                for b in self.bases(ClassRef(self.main, c)) if isinstance(b, Unresolved)]

    def mro(self, ref: ClassRef) -> list[ClassRef]:
        """The class and its readable ancestors in Python's method resolution order (FlowSpec
        and object left out); raises FlowErrors for a base that cannot be read or a cycle."""
        return self._linearize(ref, ())

    def _linearize(self, ref: ClassRef, path: tuple[ClassRef, ...]) -> list[ClassRef]:
        if any(p.node is ref.node for p in path):
            chain = " -> ".join(p.name for p in (*path, ref))
            first = path[0]
            raise FlowErrors([_error(first.module, first.node,
                                     f"class {first.name!r} inherits from itself: {chain}")])
        if id(ref.node) in self._mro:
            return self._mro[id(ref.node)]
        if len(path) > MAX_CHAIN:
            raise FlowErrors([_error(ref.module, ref.node, f"class {ref.name!r}: the chain of "
                                     f"base classes is deeper than {MAX_CHAIN}")])
        parents: list[ClassRef] = []
        for base in self.bases(ref):
            if isinstance(base, Unresolved):
                raise FlowErrors([_error(base.module, base.node, f"class {ref.name!r}: cannot "
                                         f"read its base class: {base.reason}")])
            if isinstance(base, ClassRef):
                parents.append(base)
        sequences = [self._linearize(p, (*path, ref)) for p in parents] + [parents]
        result = [ref, *_merge(sequences, ref)]
        self._mro[id(ref.node)] = result
        return result


def _merge(sequences: list[list[ClassRef]], ref: ClassRef) -> list[ClassRef]:
    """C3: the merge step of Python's method resolution order."""
    seqs = [list(s) for s in sequences if s]
    out: list[ClassRef] = []
    while seqs:
        for seq in seqs:
            head = seq[0]
            if not any(head.node is c.node for s in seqs for c in s[1:]):
                break
        else:
            raise FlowErrors([_error(ref.module, ref.node, f"class {ref.name!r}: its base "
                                     "classes have no consistent order (Python refuses this "
                                     "class: cannot create a consistent method resolution "
                                     "order)")])
        out.append(head)
        seqs = [s[1:] if s[0].node is head.node else s for s in seqs]
        seqs = [s for s in seqs if s]
    return out


def _error(module: SourceModule, node: ast.AST, message: str) -> FlowError:
    return FlowError(module.path, getattr(node, "lineno", 1), getattr(node, "col_offset", 0) + 1,
                     message)


def main_guard_calls(tree: ast.Module) -> list[str]:
    """The names called under `if __name__ == "__main__":` (where `SomeFlow()` picks the
    flow that `python flow.py` runs), in source order."""
    names: list[str] = []
    for stmt in tree.body:
        if isinstance(stmt, ast.If) and _is_main_test(stmt.test):
            for node in ast.walk(ast.Module(body=stmt.body, type_ignores=[])):
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                    names.append(node.func.id)
    return names


def _is_main_test(test: ast.expr) -> bool:
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    return (any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
            and any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides))
