"""FlowSpec: the base class of every flow, and what `self` means inside a running step.

At run time the runtime binds a flow instance to its task: artifacts of the parent task are
loaded lazily on first access, `self.input`/`self.index` come from the foreach stack, and
`self.next(...)` is recorded so the runtime can check it against the compiled graph.
"""

from __future__ import annotations

import reprlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from types import FunctionType, MethodType
from typing import Any, NamedTuple

from sfncompile.conventions.artifact_names import FLOW_NAME_ARTIFACT
from sfncompile.exception import (
    MetaflowException,
    MetaflowExceptionWrapper,
    MissingInMergeArtifactsException,
    UnhandledInMergeArtifactsException,
)

# Attributes that belong to the framework, never saved as artifacts.
_INTERNAL = "_sfn"
# Class attributes that are never a flow's constants (Metaflow's list, and the marker that
# class decorators leave on the class).
_NOT_CONSTANTS = frozenset({"cmd", "foreach_stack", "index", "input", "script_name", "name",
                            "sfn_decorators"})
FROZEN_MESSAGE = "Flow level attributes and Parameters are not modifiable"
# Metaflow's `self.name` (FLOW_NAME_ARTIFACT): the flow's name, set on every flow object, so
# every task (and a join's every input) has it and stores it as an artifact (merge_artifacts
# never merges it: the join has its own).

# Kept for code that caught the old name: merge_artifacts raises Metaflow's exceptions.
MergeArtifactsError = MetaflowException


class TaskDied(MetaflowExceptionWrapper):
    """What @catch recorded, before Metaflow's FailureHandledByCatch, when a task's process or
    container died: kept so that those artifacts still load. `error` and `cause` say what was
    known; as a MetaflowExceptionWrapper it also has `.exception`, `.type` and `.stacktrace`."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__()
        self.error = error
        self.cause = cause
        self.exception = f"{error}: {cause}" if cause else error
        self.type = f"{TaskDied.__module__}.TaskDied"
        self.stacktrace = None

    def __reduce__(self) -> tuple[type[TaskDied], tuple[str, str]]:
        return (TaskDied, (self.error, self.cause))


def flow_constants(cls: type) -> dict[str, Any]:
    """The flow's class-level constants, which Metaflow stores as artifacts: every public
    class attribute that is not a Parameter, method, property or class (as Metaflow's
    `_set_constants` picks them), nor part of FlowSpec itself."""
    from sfncompile.flow.api import Parameter

    found = {}
    for name in dir(cls):
        if name[0] == "_" or name in _NOT_CONSTANTS or hasattr(FlowSpec, name):
            continue
        value = getattr(cls, name)
        if not isinstance(value, (Parameter, MethodType, FunctionType, property, type)):
            found[name] = value
    return found


def frozen_names(cls: type) -> frozenset[str]:
    """Parameters and constants: a step may read them, never assign them."""
    cached = cls.__dict__.get("_sfn_frozen")
    if cached is None:
        from sfncompile.flow.api import Parameter

        params = {n for n in dir(cls) if n[0] != "_" and isinstance(getattr(cls, n, None),
                                                                      Parameter)}
        cached = frozenset(params | set(flow_constants(cls)))
        type.__setattr__(cls, "_sfn_frozen", cached)
    return cached


@dataclass
class Frame:
    """One level of foreach: which step split, over which artifact, and this task's item."""

    step: str
    var: str
    index: int
    width: int
    input_sha: str


class ForeachFrame(NamedTuple):
    """A frame of `self._foreach_stack`, in Metaflow's shape: the first step of the foreach's
    body, the artifact split, the number of items, this task's index and its item as text."""

    step: str
    var: str
    num_splits: int
    index: int  # type: ignore[assignment]  # Metaflow names the field so
    value: str | None


# Metaflow keeps at most this much of a foreach item's text in its frame.
FOREACH_VALUE_CHARS = 30


def foreach_value(item: Any) -> str:
    """An item as Metaflow's frame shows it: a str or number as text, anything else as its
    short repr, cut to FOREACH_VALUE_CHARS."""
    text = str(item) if isinstance(item, str | int | float) else reprlib.repr(item)
    return text[:FOREACH_VALUE_CHARS]


@dataclass
class Transition:
    targets: tuple[str, ...]
    foreach: str | None = None
    condition: str | None = None
    cases: dict[str, str] = field(default_factory=dict)  # arm key as text -> step
    keys: tuple[Any, ...] = ()  # the arm keys as self.next got them (str, int, float, bool)
    num_parallel: int | None = None  # the nodes of a @parallel step


@dataclass
class Binding:
    """What a flow instance knows about the task it runs in (or the parent task it shows)."""

    shas: dict[str, str]  # artifacts not loaded yet: name -> content address
    load: Callable[[str, str, str | None], Any]  # (sha, artifact name, where it comes from)
    frames: list[Frame] = field(default_factory=list)
    step: str | None = None
    transition: Transition | None = None
    read_only: bool = False
    join: bool = False  # the task runs a join step (merge_artifacts is allowed)
    all_shas: dict[str, str] = field(default_factory=dict)  # of an input: every artifact
    origin: str | None = None  # the task whose artifacts these are, for error messages
    # Artifacts loaded from the store and not reassigned since: name -> (value, sha). One of
    # these still set to the same immutable value is recorded by its sha, not saved again.
    loaded: dict[str, tuple[Any, str]] = field(default_factory=dict)
    # Set by a user_step_decorator that skipped the step or swallowed its exception: the task
    # takes the step's compiled transition, as Metaflow then calls self.next for the step.
    default_next: bool = False

    def fetch(self, name: str) -> Any:
        sha = self.shas.pop(name)
        value = self.load(sha, name, self.origin)
        self.loaded[name] = (value, sha)
        return value


class FlowSpec:
    """Base class of a flow. Steps set artifacts on `self` and end with `self.next(...)`."""

    _sfn: Binding

    def __init__(self, use_cli: bool = True) -> None:
        # `python flow.py run ...`: Metaflow's command line, on sfncompile's commands.
        if use_cli:
            from sfncompile.cli.flow_entry import main

            flow_file = sys.modules[type(self).__module__].__file__ or sys.argv[0]
            main(type(self), flow_file, sys.argv[1:])

    @classmethod
    def _bound(cls, binding: Binding, values: dict[str, Any] | None = None) -> FlowSpec:
        obj = cls.__new__(cls)
        object.__setattr__(obj, _INTERNAL, binding)
        object.__setattr__(obj, FLOW_NAME_ARTIFACT, cls.__name__)
        for name, value in (values or {}).items():
            object.__setattr__(obj, name, value)
        return obj

    def _load_now(self, names: list[str]) -> None:
        """Load these artifacts at once: Parameters, which class attributes would shadow."""
        binding = self._sfn
        for name in names:
            if name in binding.shas:
                object.__setattr__(self, name, binding.fetch(name))

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: an artifact not loaded yet.
        binding = self.__dict__.get(_INTERNAL)
        if binding is not None and name in binding.shas:
            value = binding.fetch(name)
            object.__setattr__(self, name, value)
            return value
        where = f" in step {binding.step!r}" if binding and binding.step else ""
        raise AttributeError(f"flow {type(self).__name__!r} has no artifact {name!r}{where}")

    def __setattr__(self, name: str, value: Any) -> None:
        binding = self.__dict__.get(_INTERNAL)
        if binding is not None and binding.read_only:
            raise AttributeError(f"artifacts of the input {binding.step!r} are read-only")
        if binding is not None and name in frozen_names(type(self)):
            raise AttributeError(FROZEN_MESSAGE)
        if binding is not None:
            binding.shas.pop(name, None)
            binding.loaded.pop(name, None)
        object.__setattr__(self, name, value)

    def __str__(self) -> str:
        """Metaflow's text of a flow: `<flow F step S[0,1] (input: ...)>` in a step (as
        @catch's report names the task), `<flow F>` outside one."""
        binding = self.__dict__.get(_INTERNAL)
        name = type(self).__name__
        if binding is None or not binding.step:
            return f"<flow {name}>"
        if not binding.frames:
            return f"<flow {name} step {binding.step}>"
        index = ",".join(str(f.index) for f in binding.frames)
        item = self.input
        if item is None:
            return f"<flow {name} step {binding.step}[{index}]>"
        text = str(item)
        text = text[:20] + "..." if len(text) > 20 else text
        return f"<flow {name} step {binding.step}[{index}] (input: {text})>"

    def _artifacts_to_save(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(values to save, name -> sha of the artifacts that need no save). An artifact
        passed on unread, or read and still the same immutable value, keeps its sha; any
        other value is saved (which costs only a hash when its blob exists already)."""
        binding = self._sfn
        # Like Metaflow, `self._x` is an artifact too (the client does not list it), and a
        # function or method set on self is not one.
        values = {k: v for k, v in self.__dict__.items()
                  if k != _INTERNAL and not k.startswith("__")
                  and not isinstance(v, (FunctionType, MethodType))}
        shas = dict(binding.shas)
        for name, (value, sha) in binding.loaded.items():
            if name in values and values[name] is value and _immutable(value):
                shas[name] = sha
                del values[name]
        return values, shas

    # -- foreach ------------------------------------------------------------------------------

    @property
    def input(self) -> Any:
        """The item of the enclosing foreach; None outside any foreach (as in Metaflow)."""
        frames = self._sfn.frames
        if not frames:
            return None
        top = frames[-1]
        return self._sfn.load(top.input_sha, f"{top.var}[{top.index}]", f"step {top.step}")

    @property
    def index(self) -> int | None:
        frames = self._sfn.frames
        return frames[-1].index if frames else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """(index, width, value) for each enclosing foreach, outermost first."""
        load = self._sfn.load
        return [(f.index, f.width, load(f.input_sha, f"{f.var}[{f.index}]", f"step {f.step}"))
                for f in self._sfn.frames]

    # -- Metaflow's private attributes that flows read -----------------------------------------

    @property
    def _current_step(self) -> str | None:
        """The step this instance runs (or, for a join's input, ran)."""
        return self._sfn.step

    @property
    def _graph(self) -> Any:
        """The flow's graph in Metaflow's shape (sfncompile.flow.graph.FlowGraph); known while
        the flow runs."""
        from sfncompile.flow.graph import flow_graph

        return flow_graph(type(self))

    @property
    def _foreach_stack(self) -> list[ForeachFrame]:
        """The enclosing foreach loops, outermost first, as Metaflow's frames."""
        binding = self._sfn
        spec = getattr(type(self), "_sfn_step_graph", None)
        steps = spec["steps"] if isinstance(spec, dict) else {}
        frames = []
        for f in binding.frames:
            body = (steps.get(f.step, {}).get("targets") or [f.step])[0]
            item = binding.load(f.input_sha, f"{f.var}[{f.index}]", f"step {f.step}")
            frames.append(ForeachFrame(body, f.var, f.width, f.index, foreach_value(item)))
        return frames

    # -- transitions --------------------------------------------------------------------------

    def next(self, *targets: Any, foreach: str | None = None,
             condition: str | None = None, num_parallel: int | None = None) -> None:
        binding = self._sfn
        if binding.transition is not None:
            raise RuntimeError(f"step {binding.step!r} called self.next more than once")
        cases: dict[str, str] = {}
        keys: tuple[Any, ...] = ()
        if len(targets) == 1 and isinstance(targets[0], dict):
            cases = {str(k): _step_name(v) for k, v in targets[0].items()}
            keys = tuple(targets[0])
            names = tuple(dict.fromkeys(cases.values()))
        else:
            names = tuple(_step_name(t) for t in targets)
        binding.transition = Transition(names, foreach, condition, cases, keys, num_parallel)

    # -- joins --------------------------------------------------------------------------------

    def merge_artifacts(self, inputs: Inputs, exclude: list[str] | None = None,
                        include: list[str] | None = None) -> None:
        """Copy the artifacts of the join's inputs that this step has not set: those all
        inputs agree on. Metaflow's rules, errors and messages: only in a join; `exclude`
        (the second positional argument) or `include`, not both; a conflict or an included
        name that no input has fails and merges nothing."""
        binding = self._sfn
        step = binding.step
        if not binding.join:
            raise MetaflowException(f"merge_artifacts can only be called in a join and step "
                                    f"*{step}* is not a join")
        include, exclude = list(include or ()), list(exclude or ())
        if include and exclude:
            raise MetaflowException(
                "`exclude` and `include` are mutually exclusive in merge_artifacts")
        to_merge: dict[str, str] = {}
        unresolved: list[str] = []
        for inp in inputs:
            for name, sha in _artifact_shas(inp).items():
                if (name in include) if include else (name not in exclude):
                    if self._has(name):
                        continue
                    if to_merge.setdefault(name, sha) != sha and name not in unresolved:
                        unresolved.append(name)
        missing = [n for n in include if n not in to_merge and not self._has(n)]
        if unresolved:
            raise UnhandledInMergeArtifactsException(
                f"Step *{step}* cannot merge the following artifacts due to them having "
                f"conflicting values:\n[{', '.join(unresolved)}].\nTo remedy this issue, be "
                "sure to explicitly set those artifacts (using self.<artifact_name> = ...) "
                "prior to calling merge_artifacts.", unresolved)
        if missing:
            raise MissingInMergeArtifactsException(
                f"Step *{step}* specifies that [{', '.join(include)}] should be merged but "
                f"[{', '.join(missing)}] are not present.\nTo remedy this issue, make sure "
                "that the values specified in only come from at least one branch", missing)
        binding.shas.update(to_merge)

    def _has(self, name: str) -> bool:
        """hasattr(self, name) without loading anything."""
        return name in self.__dict__ or name in self._sfn.shas or hasattr(type(self), name)


class Inputs:
    """The inputs of a join: iterate, index, or pick a branch by step name (`inputs.a.x`)."""

    def __init__(self, flows: list[FlowSpec]) -> None:
        self._flows = flows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._flows)

    def __len__(self) -> int:
        return len(self._flows)

    def __getitem__(self, index: int) -> Any:
        return self._flows[index]

    def __getattr__(self, name: str) -> Any:
        for flow in self.__dict__.get("_flows", []):
            if flow._sfn.step == name:
                return flow
        raise AttributeError(f"the join has no input from step {name!r}")


def _step_name(target: Any) -> str:
    name = getattr(target, "__name__", None)
    if not isinstance(name, str):
        raise TypeError(f"self.next takes steps like self.a, not {target!r}")
    return name


def _artifact_shas(flow: FlowSpec) -> dict[str, str]:
    """Content addresses of an input's artifacts (inputs are read straight from the store)."""
    return dict(flow._sfn.all_shas)


_ATOMS = frozenset({bytes, str, int, float, complex, bool, type(None), range})


def _immutable(value: Any, budget: int = 10_000) -> bool:
    """Whether value cannot have changed in place: built-in immutable types only (exact
    types: a subclass may carry a mutable __dict__), tuples and frozensets of them, looking
    at no more than `budget` objects (past that, say no: the value is simply saved)."""
    stack = [value]
    while stack:
        budget -= 1
        if budget < 0:
            return False
        obj = stack.pop()
        kind = type(obj)
        if kind in _ATOMS:
            continue
        if kind is tuple or kind is frozenset:
            stack.extend(obj)
            continue
        return False
    return True
