"""FlowSpec: the base class of every flow, and what `self` means inside a running step.

At run time the runtime binds a flow instance to its task: artifacts of the parent task are
loaded lazily on first access, `self.input`/`self.index` come from the foreach stack, and
`self.next(...)` is recorded so the runtime can check it against the compiled graph.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Attributes that belong to the framework, never saved as artifacts.
_INTERNAL = "_sfn"


class MergeArtifactsError(Exception):
    pass


class TaskDied(Exception):
    """What @catch records when a task could not catch its own failure: its process or
    container died (out of memory, killed, host lost). `error` and `cause` say what is known."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def __reduce__(self) -> tuple[type[TaskDied], tuple[str, str]]:
        return (TaskDied, (self.error, self.cause))


@dataclass
class Frame:
    """One level of foreach: which step split, over which artifact, and this task's item."""

    step: str
    var: str
    index: int
    width: int
    input_sha: str


@dataclass
class Transition:
    targets: tuple[str, ...]
    foreach: str | None = None
    condition: str | None = None
    cases: dict[str, str] = field(default_factory=dict)


@dataclass
class Binding:
    """What a flow instance knows about the task it runs in (or the parent task it shows)."""

    shas: dict[str, str]  # artifacts not loaded yet: name -> content address
    load: Callable[[str, str, str | None], Any]  # (sha, artifact name, where it comes from)
    frames: list[Frame] = field(default_factory=list)
    step: str | None = None
    transition: Transition | None = None
    read_only: bool = False
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
        # `python flow.py run ...` (Metaflow's habit) runs the sfncompile CLI on this file.
        if use_cli:
            from sfncompile.cli import main

            flow_file = sys.modules[type(self).__module__].__file__ or sys.argv[0]
            args = sys.argv[1:] or ["--help"]
            main([args[0], flow_file, "--flow", type(self).__name__, *args[1:]])

    @classmethod
    def _bound(cls, binding: Binding, values: dict[str, Any] | None = None) -> FlowSpec:
        obj = cls.__new__(cls)
        object.__setattr__(obj, _INTERNAL, binding)
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
        if binding is not None:
            binding.shas.pop(name, None)
            binding.loaded.pop(name, None)
        object.__setattr__(self, name, value)

    def _artifacts_to_save(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(values to save, name -> sha of the artifacts that need no save). An artifact
        passed on unread, or read and still the same immutable value, keeps its sha; any
        other value is saved (which costs only a hash when its blob exists already)."""
        binding = self._sfn
        values = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
        shas = dict(binding.shas)
        for name, (value, sha) in binding.loaded.items():
            if name in values and values[name] is value and _immutable(value):
                shas[name] = sha
                del values[name]
        return values, shas

    # -- foreach ------------------------------------------------------------------------------

    @property
    def input(self) -> Any:
        frames = self._sfn.frames
        if not frames:
            raise AttributeError("self.input is only available inside a foreach")
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

    # -- transitions --------------------------------------------------------------------------

    def next(self, *targets: Any, foreach: str | None = None,
             condition: str | None = None) -> None:
        binding = self._sfn
        if binding.transition is not None:
            raise RuntimeError(f"step {binding.step!r} called self.next more than once")
        cases: dict[str, str] = {}
        if len(targets) == 1 and isinstance(targets[0], dict):
            cases = {str(k): _step_name(v) for k, v in targets[0].items()}
            names = tuple(dict.fromkeys(cases.values()))
        else:
            names = tuple(_step_name(t) for t in targets)
        binding.transition = Transition(names, foreach, condition, cases)

    # -- joins --------------------------------------------------------------------------------

    def merge_artifacts(self, inputs: Inputs, include: list[str] | None = None,
                        exclude: list[str] | None = None) -> None:
        """Copy the artifacts that all inputs agree on; fail on those they disagree on."""
        if include and exclude:
            raise MergeArtifactsError("merge_artifacts takes include or exclude, not both")
        values: dict[str, set[str]] = {}
        for inp in inputs:
            for name, sha in _artifact_shas(inp).items():
                values.setdefault(name, set()).add(sha)
        mine = set(self.__dict__) | set(self._sfn.shas)
        wanted = set(include) if include else set(values) - set(exclude or ())
        missing = sorted(set(include or ()) - set(values))
        if missing:
            raise MergeArtifactsError(f"merge_artifacts: no input has {', '.join(missing)}")
        conflicts = sorted(n for n in wanted - mine if len(values.get(n, ())) > 1)
        if conflicts:
            raise MergeArtifactsError(
                f"merge_artifacts: the inputs have different values for {', '.join(conflicts)};"
                " set them in the join step or pass exclude=[...]"
            )
        for name in sorted(wanted - mine):
            (sha,) = values[name]
            self._sfn.shas[name] = sha


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
