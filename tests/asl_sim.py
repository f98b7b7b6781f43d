"""A small, strict interpreter for the subset of Amazon States Language that sfncompile emits.

It exists to measure what AWS would see when it runs our state machines: the size of every
state's JSON input, the size of every raw result a state produces, and the number of history
events each execution records. It runs one execution to the end, synchronously, and checks as
it goes. Anything outside the subset (a field, a resource, a JSONPath or an intrinsic we do not
emit) raises `Unsupported`, so a change in the emitter cannot make a test pass by being ignored.

Supported:
- `Pass` with `Parameters` or `Result`, and `ResultPath`;
- `Task` on `batch:submitJob.sync` (simulated by `on_task`), on `aws-sdk:s3:getObject` of a
  control object (its body comes from `control`) and on `aws-sdk:s3:putObject` of the run
  record (kept in `Record.run_records`), on `events:putEvents` (the entries kept in
  `Record.published`), with `Parameters`, `ResultSelector`, `ResultPath`,
  `Retry`, `Catch` and `TimeoutSeconds`;
- `Choice` with `Variable` + `StringEquals` rules and an optional `Default`;
- `Parallel` with `Branches`, `ResultSelector`, `ResultPath`;
- `Map` INLINE (`ItemsPath`, `ItemSelector`, `MaxConcurrency`, `ResultSelector`, `ResultPath`)
  and DISTRIBUTED (`ItemReader` on `s3:getObject` with `InputType: JSON`; every item runs as a
  child execution with its own history and its own `$$.Execution.Name`);
- `Catch` on Parallel and Map too (a failure inside them);
- `Succeed`, `Fail` with `ErrorPath` and `CausePath`, `Next`, `End`, and `OutputPath` on any
  state but Choice and Fail;
- paths `$`, `$.a.b`, and the context fields `$$.Execution.Name`, `$$.Execution.Input`,
  `$$.Execution.Id`, `$$.Execution.StartTime`, `$$.State.Name`, `$$.State.EnteredTime`,
  `$$.State.RetryCount`, `$$.Map.Item.Index`, `$$.Map.Item.Value` (the last two only inside an
  `ItemSelector`, as in AWS);
- intrinsics `States.Format`, `States.MathAdd`, `States.JsonToString`, `States.StringToJson`.

History events use the per-state numbers of `sfncompile.ir` (`EVENTS_*`); the few kinds that
module does not list are defined below with the AWS event names they stand for.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sfncompile.datastore.layout import control_key
from sfncompile.ir import (
    EVENTS_BATCH_TASK,
    EVENTS_CONTAINER,
    EVENTS_CONTROL_READ,
    EVENTS_PASS,
    EVENTS_PER_ITERATION,
)

BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
S3_GET_OBJECT_SDK = "arn:aws:states:::aws-sdk:s3:getObject"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
S3_PUT_OBJECT_SDK = "arn:aws:states:::aws-sdk:s3:putObject"
EVENTS_PUT = "arn:aws:states:::events:putEvents"
SIM_TIME = "2026-01-01T00:00:00.000Z"
PAYLOAD_LIMIT = 262_144

# ExecutionStarted + ExecutionSucceeded.
EVENTS_EXECUTION = 2
# SucceedStateEntered + SucceedStateExited.
EVENTS_SUCCEED = 2
# FailStateEntered (ExecutionFailed replaces ExecutionSucceeded).
EVENTS_FAIL = 1
# A Distributed Map adds MapRunStarted + MapRunSucceeded to the parent's container events;
# its iterations are child executions with their own histories.
EVENTS_MAP_RUN = 2
# A Task records Entered and Exited once, and per attempt the rest (Scheduled, Started,
# [Submitted,] Succeeded or Failed).
_TASK_ONCE = 2

DEFAULT_SUBSTITUTIONS = {
    "S3Bucket": "sim-bucket",
    "S3KeyPrefix": "sfn/",
    "JobQueue": "sim-queue",
    "JobDefinition": "sim-jobdef",
    "EventBus": "sim-bus",
    "ProjectName": "",
    "ProjectBranch": "",
}
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9_]*)\}")
_PATH = re.compile(r"\$(\$)?((?:\.[A-Za-z_][A-Za-z0-9_]*)*)")

OnTask = Callable[[str, str, str, dict[str, Any]], None]
Control = Callable[[str, str], Any]


class SimulationError(Exception):
    """The simulator cannot go on (a bug in the definition or in the test)."""


class Unsupported(SimulationError):
    """The definition uses something outside the subset this simulator implements."""


class ExecutionFailed(SimulationError):
    """The execution fails as it would in AWS, with a States error name."""

    def __init__(self, error: str, cause: str) -> None:
        super().__init__(f"{error}: {cause}")
        self.error = error
        self.cause = cause


class _Caught(Exception):
    """A Task's Catch took over: go to `next_state` with `data`."""

    def __init__(self, next_state: str, data: Any) -> None:
        super().__init__(next_state)
        self.next_state = next_state
        self.data = data


class TaskFailure(Exception):
    """Raise from `on_task` to make one attempt of a Batch job fail with `error`."""

    def __init__(self, error: str = "States.TaskFailed") -> None:
        super().__init__(error)
        self.error = error


@dataclass(frozen=True)
class TaskCall:
    step: str
    run: str
    task_id: str
    attempt: str
    params: dict[str, Any]


@dataclass
class Execution:
    """One execution's history: the parent, or a Distributed Map's child."""

    name: str
    events: int = EVENTS_EXECUTION
    input: Any = None


@dataclass
class Record:
    """Everything one simulated run observed."""

    output: Any = None
    executions: list[Execution] = field(default_factory=list)
    # state name -> sizes (bytes of compact JSON) of every input it was entered with
    inputs: dict[str, list[int]] = field(default_factory=dict)
    # state name -> sizes of every raw result (before ResultSelector and ResultPath)
    results: dict[str, list[int]] = field(default_factory=dict)
    state_types: dict[str, str] = field(default_factory=dict)
    tasks: list[TaskCall] = field(default_factory=list)
    control_reads: list[tuple[str, str]] = field(default_factory=list)
    # S3 key -> the last body the state machine put there (the run record)
    run_records: dict[str, Any] = field(default_factory=dict)
    published: list[dict[str, Any]] = field(default_factory=list)  # entries put on the bus
    # (Error, Cause) when the execution ended in a Fail state
    failed: tuple[Any, Any] | None = None
    transitions: int = 0

    @property
    def events(self) -> int:
        """History events of the parent execution."""
        return self.executions[0].events

    @property
    def child_events(self) -> list[int]:
        return [e.events for e in self.executions[1:]]

    def max_input(self, state: str) -> int:
        return max(self.inputs[state])

    def max_inputs(self) -> dict[str, int]:
        return {name: max(sizes) for name, sizes in self.inputs.items()}

    def max_results(self) -> dict[str, int]:
        return {name: max(sizes) for name, sizes in self.results.items()}


def json_size(value: Any) -> int:
    """Bytes of `value` as compact UTF-8 JSON: how Step Functions measures a payload."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


# -- JSONPath and intrinsic functions ---------------------------------------------------------


@dataclass
class _Context:
    execution: Execution
    state_name: str = ""
    retry_count: int = 0
    map_item: tuple[int, Any] | None = None

    def as_object(self) -> dict[str, Any]:
        ctx: dict[str, Any] = {
            "Execution": {"Name": self.execution.name, "Input": self.execution.input,
                          "Id": f"arn:aws:states:::execution:sim:{self.execution.name}",
                          "StartTime": SIM_TIME},
            "State": {"Name": self.state_name, "RetryCount": self.retry_count,
                      "EnteredTime": SIM_TIME},
        }
        if self.map_item is not None:
            ctx["Map"] = {"Item": {"Index": self.map_item[0], "Value": self.map_item[1]}}
        return ctx


_CONTEXT_FIELDS = frozenset(
    {"Execution.Name", "Execution.Input", "Execution.Id", "Execution.StartTime", "State.Name",
     "State.RetryCount", "State.EnteredTime", "Map.Item.Index", "Map.Item.Value"}
)


def read_path(path: str, data: Any, ctx: _Context) -> Any:
    m = _PATH.fullmatch(path)
    if m is None:
        raise Unsupported(f"JSONPath {path!r}: only $ and $.a.b (and $$.x.y) are supported")
    keys = [k for k in m.group(2).split(".") if k]
    if m.group(1):
        if ".".join(keys) not in _CONTEXT_FIELDS:
            raise Unsupported(f"context path {path!r} is not supported")
        data = ctx.as_object()
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise ExecutionFailed("States.Runtime", f"the JSONPath {path!r} could not be found "
                                  f"in the input (state {ctx.state_name!r})")
        data = data[key]
    return data


@dataclass(frozen=True)
class _Literal:
    """A string literal of an intrinsic: its text with escapes still in (for Format)."""

    raw: str

    def value(self) -> str:
        return re.sub(r"\\(.)", r"\1", self.raw)


_INTRINSIC_TOKEN = re.compile(
    r"\s*(?:(?P<lit>'(?:[^'\\]|\\.)*')|(?P<func>States\.[A-Za-z]+)\(|(?P<path>\$\$?[A-Za-z0-9_.]*)"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<close>\))|(?P<comma>,))"
)


def _parse_intrinsic(text: str) -> Any:
    """Parse `States.F(arg, ...)` into ("call", name, [args]); args are _Literal, ("path", p),
    numbers or nested calls."""
    pos = 0

    def token() -> re.Match[str]:
        nonlocal pos
        m = _INTRINSIC_TOKEN.match(text, pos)
        if m is None:
            raise Unsupported(f"intrinsic {text!r}: cannot read it at offset {pos}")
        pos = m.end()
        return m

    def call(m: re.Match[str]) -> Any:
        name = m.group("func")
        args: list[Any] = []
        while True:
            t = token()
            if t.group("close") is not None and not args:
                return ("call", name, args)
            args.append(argument(t))
            t = token()
            if t.group("close") is not None:
                return ("call", name, args)
            if t.group("comma") is None:
                raise Unsupported(f"intrinsic {text!r}: expected , or ) at offset {t.start()}")

    def argument(t: re.Match[str]) -> Any:
        if t.group("lit") is not None:
            return _Literal(t.group("lit")[1:-1])
        if t.group("func") is not None:
            return call(t)
        if t.group("path") is not None:
            return ("path", t.group("path"))
        if t.group("num") is not None:
            num = t.group("num")
            return float(num) if "." in num else int(num)
        raise Unsupported(f"intrinsic {text!r}: unexpected {t.group(0)!r}")

    first = token()
    if first.group("func") is None:
        raise Unsupported(f"{text!r} is not an intrinsic function call")
    tree = call(first)
    if text[pos:].strip():
        raise Unsupported(f"intrinsic {text!r}: trailing text {text[pos:]!r}")
    return tree


def _format_value(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    raise ExecutionFailed("States.IntrinsicFailure",
                          f"{where}: States.Format cannot format {type(value).__name__}")


def _format(template: _Literal, args: list[Any], where: str) -> str:
    out: list[str] = []
    raw = template.raw
    i = used = 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            out.append(raw[i + 1])
            i += 2
        elif c == "{":
            if raw[i + 1 : i + 2] != "}":
                raise ExecutionFailed("States.IntrinsicFailure",
                                      f"{where}: unescaped '{{' in the template {raw!r}")
            if used == len(args):
                raise ExecutionFailed("States.IntrinsicFailure",
                                      f"{where}: more {{}} than arguments in {raw!r}")
            out.append(_format_value(args[used], where))
            used += 1
            i += 2
        elif c == "}":
            raise ExecutionFailed("States.IntrinsicFailure",
                                  f"{where}: unescaped '}}' in the template {raw!r}")
        else:
            out.append(c)
            i += 1
    if used != len(args):
        raise ExecutionFailed("States.IntrinsicFailure",
                              f"{where}: {len(args)} arguments for {used} {{}} in {raw!r}")
    return "".join(out)


_INTRINSICS = frozenset(
    {"States.Format", "States.MathAdd", "States.JsonToString", "States.StringToJson"}
)


def evaluate_intrinsic(text: str, data: Any, ctx: _Context) -> Any:
    where = f"state {ctx.state_name!r}: {text}"

    def ev(node: Any) -> Any:
        if isinstance(node, _Literal):
            return node.value()
        if isinstance(node, tuple) and node[0] == "path":
            return read_path(node[1], data, ctx)
        if isinstance(node, tuple) and node[0] == "call":
            return apply(node[1], node[2])
        return node

    def apply(name: str, raw_args: list[Any]) -> Any:
        if name not in _INTRINSICS:
            raise Unsupported(f"{where}: intrinsic {name} is not supported")
        if name == "States.Format":
            if not raw_args or not isinstance(raw_args[0], _Literal):
                raise Unsupported(f"{where}: States.Format needs a literal template first")
            return _format(raw_args[0], [ev(a) for a in raw_args[1:]], where)
        args = [ev(a) for a in raw_args]
        if name == "States.MathAdd":
            if len(args) != 2 or not all(
                isinstance(a, int) and not isinstance(a, bool) for a in args
            ):
                raise ExecutionFailed("States.IntrinsicFailure",
                                      f"{where}: States.MathAdd takes two integers, got {args!r}")
            return args[0] + args[1]
        if name == "States.JsonToString":
            if len(args) != 1 or not (isinstance(raw_args[0], tuple)
                                      and raw_args[0][0] == "path"):
                raise ExecutionFailed("States.IntrinsicFailure",
                                      f"{where}: States.JsonToString takes one path")
            return json.dumps(args[0], separators=(",", ":"), ensure_ascii=False)
        if name == "States.StringToJson":
            if len(args) != 1 or not isinstance(args[0], str):
                raise ExecutionFailed("States.IntrinsicFailure",
                                      f"{where}: States.StringToJson takes one string")
            try:
                return json.loads(args[0])
            except json.JSONDecodeError as exc:
                raise ExecutionFailed("States.IntrinsicFailure",
                                      f"{where}: not JSON: {exc}") from None
        raise Unsupported(f"{where}: intrinsic {name} is not supported")

    return ev(_parse_intrinsic(text))


def apply_template(template: Any, data: Any, ctx: _Context) -> Any:
    """A payload template (Parameters, ItemSelector, ResultSelector) applied to `data`."""
    if isinstance(template, list):
        return [apply_template(v, data, ctx) for v in template]
    if not isinstance(template, dict):
        return template
    out: dict[str, Any] = {}
    for key, value in template.items():
        if key.endswith(".$"):
            name = key[:-2]
            if not isinstance(value, str):
                raise ExecutionFailed("States.Runtime", f"{key!r} must hold a path or intrinsic")
            if value.startswith("States."):
                result = evaluate_intrinsic(value, data, ctx)
            elif value.startswith("$"):
                result = read_path(value, data, ctx)
            else:
                raise ExecutionFailed("States.Runtime", f"{key!r}: {value!r} is neither a path "
                                      "nor an intrinsic")
        else:
            name, result = key, apply_template(value, data, ctx)
        if name in out:
            raise ExecutionFailed("States.Runtime", f"field {name!r} given twice in a template")
        out[name] = result
    return out


def apply_result_path(result_path: Any, state_input: Any, result: Any) -> Any:
    if result_path is None:
        return state_input
    if not isinstance(result_path, str):
        raise Unsupported(f"ResultPath {result_path!r}")
    m = _PATH.fullmatch(result_path)
    if m is None or m.group(1):
        raise Unsupported(f"ResultPath {result_path!r}: only $ and $.a.b are supported")
    keys = [k for k in m.group(2).split(".") if k]
    if not keys:
        return result
    if not isinstance(state_input, dict):
        raise ExecutionFailed("States.Runtime", f"ResultPath {result_path!r} on a non-object")
    out = copy.deepcopy(state_input)
    node = out
    for key in keys[:-1]:
        nxt = node.setdefault(key, {})
        if not isinstance(nxt, dict):
            raise ExecutionFailed("States.Runtime", f"ResultPath {result_path!r}: {key!r} is "
                                  "not an object")
        node = nxt
    node[keys[-1]] = result
    return out


def substitute(definition: Any, values: Mapping[str, str]) -> Any:
    """Fill `${Name}` placeholders, as deploy does (CloudFormation DefinitionSubstitutions)."""

    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in values:
            return values[name]
        if name.startswith("JobDefinition_"):
            return f"{values.get('JobDefinition', 'jobdef')}-{name[len('JobDefinition_'):]}"
        raise Unsupported(f"no value for the placeholder ${{{name}}}")

    if isinstance(definition, str):
        return _PLACEHOLDER.sub(one, definition)
    if isinstance(definition, dict):
        return {k: substitute(v, values) for k, v in definition.items()}
    if isinstance(definition, list):
        return [substitute(v, values) for v in definition]
    return definition


# -- the interpreter --------------------------------------------------------------------------

_COMMON = frozenset({"Type", "Comment", "Next", "End", "OutputPath"})
_ALLOWED = {
    "Pass": _COMMON | {"Parameters", "Result", "ResultPath"},
    "Task": _COMMON | {"Resource", "Parameters", "ResultSelector", "ResultPath", "Retry",
                       "TimeoutSeconds", "Catch"},
    "Choice": frozenset({"Type", "Comment", "Choices", "Default"}),
    "Parallel": _COMMON | {"Branches", "ResultSelector", "ResultPath", "Catch"},
    "Map": _COMMON | {"ItemsPath", "ItemReader", "ItemSelector", "MaxConcurrency",
                      "ItemProcessor", "ResultSelector", "ResultPath", "Catch"},
    "Succeed": frozenset({"Type", "Comment", "OutputPath"}),
    "Fail": frozenset({"Type", "Comment", "Error", "Cause", "ErrorPath", "CausePath"}),
}
_RETRY_FIELDS = frozenset({"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate",
                           "MaxDelaySeconds", "JitterStrategy"})


def _catch(name: str, state: dict[str, Any], error: str, cause: str, data: Any) -> None:
    """Raise _Caught for the state's first Catch that takes `error` (else return)."""
    for catcher in state.get("Catch", []):
        if not {"ErrorEquals", "Next"} <= set(catcher) <= {"ErrorEquals", "ResultPath", "Next"}:
            raise Unsupported(f"state {name!r}: a Catch with {sorted(catcher)}") from None
        if error in catcher["ErrorEquals"] or "States.ALL" in catcher["ErrorEquals"]:
            raise _Caught(catcher["Next"], apply_result_path(
                catcher.get("ResultPath", "$"), data, {"Error": error, "Cause": cause})) from None


class Simulator:
    """Run a definition once: `Simulator(definition, on_task=..., control=...).run(input)`.

    `on_task(step, run, task_id, params)` is called for every Batch job, with the evaluated
    `submitJob` parameters; it may raise `TaskFailure` to fail that attempt. `control(step,
    task_id)` returns the value that task wrote as its control object (a list of items for a
    foreach, an arm for a switch); the simulator reads it only through the S3 key that the
    state machine computes, and only after that task has run in this execution.
    """

    def __init__(
        self,
        definition: dict[str, Any],
        *,
        on_task: OnTask,
        control: Control,
        execution_name: str = "sim-run",
        flow_name: str | None = None,
        substitutions: Mapping[str, str] | None = None,
        max_transitions: int = 5_000_000,
    ) -> None:
        self.values = {**DEFAULT_SUBSTITUTIONS, **(substitutions or {})}
        self.definition = substitute(definition, self.values)
        self.on_task = on_task
        self.control = control
        self.execution_name = execution_name
        self.flow_name = flow_name
        self.max_transitions = max_transitions
        self.record = Record()
        self._written: set[tuple[str, str, str]] = set()  # (run, step, task) that ran

    def run(self, execution_input: Any) -> Record:
        parent = Execution(self.execution_name, input=execution_input)
        self.record.executions.append(parent)
        self.record.output = self._machine(self.definition, execution_input, parent)
        return self.record

    # -- scopes and states ----------------------------------------------------------------

    def _machine(self, machine: Any, data: Any, execution: Execution) -> Any:
        if not isinstance(machine, dict) or set(machine) - {"Comment", "StartAt", "States"}:
            raise Unsupported(f"a States scope with fields {sorted(machine)}")
        states = machine["States"]
        name = machine["StartAt"]
        while True:
            if name not in states:
                raise SimulationError(f"no state named {name!r} in this scope")
            self.record.transitions += 1
            if self.record.transitions > self.max_transitions:
                raise SimulationError("too many transitions: is a loop never left?")
            state = states[name]
            kind = state.get("Type")
            if kind not in _ALLOWED:
                raise Unsupported(f"state {name!r}: Type {kind!r}")
            extra = set(state) - _ALLOWED[kind]
            if extra:
                raise Unsupported(f"state {name!r} ({kind}): fields {sorted(extra)}")
            self.record.inputs.setdefault(name, []).append(json_size(data))
            self.record.state_types[name] = kind
            ctx = _Context(execution, state_name=name)
            if kind == "Choice":
                execution.events += EVENTS_PASS
                name = self._choose(name, state, data, ctx)
                continue
            if kind == "Succeed":
                execution.events += EVENTS_SUCCEED
                return read_path(state.get("OutputPath", "$"), data, ctx)
            if kind == "Fail":
                execution.events += EVENTS_FAIL
                error = read_path(state["ErrorPath"], data, ctx) if "ErrorPath" in state \
                    else state.get("Error")
                cause = read_path(state["CausePath"], data, ctx) if "CausePath" in state \
                    else state.get("Cause")
                self.record.failed = (error, cause)
                raise ExecutionFailed(str(error), str(cause))
            try:
                try:
                    data = getattr(self, f"_{kind.lower()}")(name, state, data, ctx)
                except ExecutionFailed as failed:
                    if kind not in ("Parallel", "Map") or self.record.failed is not None:
                        raise
                    _catch(name, state, failed.error, failed.cause, data)
                    raise
            except _Caught as caught:
                name, data = caught.next_state, caught.data
                continue
            data = read_path(state.get("OutputPath", "$"), data, ctx)
            if state.get("End") is True and "Next" not in state:
                return data
            if "Next" in state and "End" not in state:
                name = state["Next"]
                continue
            raise SimulationError(f"state {name!r} needs exactly one of Next and End: true")

    def _raw_result(self, name: str, result: Any) -> None:
        size = json_size(result)
        self.record.results.setdefault(name, []).append(size)

    def _finish(self, name: str, state: dict[str, Any], data: Any, result: Any,
                ctx: _Context) -> Any:
        self._raw_result(name, result)
        if "ResultSelector" in state:
            result = apply_template(state["ResultSelector"], result, ctx)
        return apply_result_path(state.get("ResultPath", "$"), data, result)

    def _pass(self, name: str, state: dict[str, Any], data: Any, ctx: _Context) -> Any:
        ctx.execution.events += EVENTS_PASS
        if "Parameters" in state and "Result" in state:
            raise Unsupported(f"state {name!r}: Pass with both Parameters and Result")
        if "Parameters" in state:
            result = apply_template(state["Parameters"], data, ctx)
        else:
            result = copy.deepcopy(state.get("Result", data))
        return apply_result_path(state.get("ResultPath", "$"), data, result)

    def _choose(self, name: str, state: dict[str, Any], data: Any, ctx: _Context) -> str:
        for rule in state["Choices"]:
            if set(rule) != {"Variable", "StringEquals", "Next"}:
                raise Unsupported(f"state {name!r}: a Choice rule with fields {sorted(rule)}")
            value = read_path(rule["Variable"], data, ctx)
            if isinstance(value, str) and value == rule["StringEquals"]:
                return str(rule["Next"])
        if "Default" in state:
            return str(state["Default"])
        raise ExecutionFailed("States.NoChoiceMatched", f"state {name!r}: no rule matches")

    def _task(self, name: str, state: dict[str, Any], data: Any, ctx: _Context) -> Any:
        resource = state.get("Resource")
        if resource == BATCH_SYNC:
            per_attempt = EVENTS_BATCH_TASK - _TASK_ONCE
            call: Callable[[dict[str, Any]], Any] = self._submit_job
        elif resource == S3_GET_OBJECT_SDK:
            per_attempt = EVENTS_CONTROL_READ - _TASK_ONCE
            call = self._get_object
        elif resource == S3_PUT_OBJECT_SDK:
            per_attempt = EVENTS_CONTROL_READ - _TASK_ONCE
            call = self._put_object
        elif resource == EVENTS_PUT:
            per_attempt = EVENTS_CONTROL_READ - _TASK_ONCE
            call = self._put_events
        else:
            raise Unsupported(f"state {name!r}: Resource {resource!r}")
        timeout = state.get("TimeoutSeconds")
        if timeout is not None and not (isinstance(timeout, int) and timeout > 0):
            raise ExecutionFailed("States.Runtime", f"state {name!r}: TimeoutSeconds {timeout!r}")
        retriers = state.get("Retry", [])
        for r in retriers:
            if set(r) - _RETRY_FIELDS or "ErrorEquals" not in r:
                raise Unsupported(f"state {name!r}: a Retry with fields {sorted(r)}")
        attempts_by_rule = [0] * len(retriers)
        ctx.execution.events += _TASK_ONCE
        while True:
            ctx.execution.events += per_attempt
            params = apply_template(state.get("Parameters", {}), data, ctx)
            try:
                result = call(params)
                break
            except TaskFailure as failure:
                rule = next((i for i, r in enumerate(retriers)
                             if failure.error in r["ErrorEquals"]
                             or "States.ALL" in r["ErrorEquals"]), None)
                if rule is None or attempts_by_rule[rule] >= retriers[rule].get("MaxAttempts", 3):
                    _catch(name, state, failure.error, "simulated", data)
                    raise ExecutionFailed(failure.error,
                                          f"state {name!r} failed after {ctx.retry_count} "
                                          "retries") from None
                attempts_by_rule[rule] += 1
                ctx.retry_count += 1
        return self._finish(name, state, data, result, ctx)

    def _submit_job(self, params: dict[str, Any]) -> Any:
        if set(params) - {"JobName", "JobQueue", "JobDefinition", "Parameters",
                          "ContainerOverrides", "NodeOverrides", "Timeout"}:
            raise Unsupported(f"submitJob fields {sorted(params)}")
        job = params.get("Parameters")
        if not isinstance(job, dict) or not all(isinstance(v, str) for v in job.values()):
            raise ExecutionFailed("States.TaskFailed", "Batch job Parameters must be a map of "
                                  f"strings, got {job!r}")
        missing = {"step", "run", "task", "attempt"} - set(job)
        if missing:
            raise ExecutionFailed("States.TaskFailed", f"job Parameters lack {sorted(missing)}")
        call = TaskCall(job["step"], job["run"], job["task"], job["attempt"], params)
        self.record.tasks.append(call)
        self.on_task(call.step, call.run, call.task_id, params)
        self._written.add((call.run, call.step, call.task_id))
        # The shape (not the size) of what Batch returns: the job's description.
        return {"JobName": params.get("JobName"), "JobId": f"job-{len(self.record.tasks)}",
                "JobQueue": params.get("JobQueue"), "Status": "SUCCEEDED", "Parameters": job,
                "Attempts": [{"Container": {"ExitCode": 0}}]}

    def _read_control(self, params: dict[str, Any]) -> Any:
        if set(params) != {"Bucket", "Key"} or not isinstance(params["Key"], str):
            raise Unsupported(f"s3:getObject parameters {params!r}")
        if params["Bucket"] != self.values["S3Bucket"]:
            raise ExecutionFailed("S3.NoSuchBucket", f"bucket {params['Bucket']!r}")
        key: str = params["Key"]
        prefix = self.values["S3KeyPrefix"]
        parts = key[len(prefix):].split("/") if key.startswith(prefix) else []
        if len(parts) != 5 or parts[-1] != "control.json":
            raise ExecutionFailed("S3.NoSuchKey", f"{key!r} is not a control object key")
        flow, run, step, task, _ = parts
        if prefix + control_key(flow, run, step, task) != key:
            raise ExecutionFailed("S3.NoSuchKey", f"{key!r} is not the runtime's control key")
        if self.flow_name is not None and flow != self.flow_name:
            raise ExecutionFailed("S3.NoSuchKey", f"{key!r}: flow {flow!r}, expected "
                                  f"{self.flow_name!r}")
        if (run, step, task) not in self._written:
            raise ExecutionFailed("S3.NoSuchKey", f"{key!r}: task {step}/{task} of run {run!r} "
                                  "has not run, so nothing wrote this control object")
        self.record.control_reads.append((step, task))
        return self.control(step, task)

    def _get_object(self, params: dict[str, Any]) -> Any:
        value = self._read_control(params)
        body = json.dumps(value, sort_keys=True, separators=(",", ":"))
        return {"Body": body, "ContentLength": len(body.encode()),
                "ContentType": "application/json", "ETag": '"0"', "Metadata": {}}

    def _put_object(self, params: dict[str, Any]) -> Any:
        if set(params) != {"Bucket", "Key", "Body"} or not isinstance(params["Key"], str):
            raise Unsupported(f"s3:putObject parameters {params!r}")
        if params["Bucket"] != self.values["S3Bucket"]:
            raise ExecutionFailed("S3.NoSuchBucket", f"bucket {params['Bucket']!r}")
        key: str = params["Key"]
        prefix = self.values["S3KeyPrefix"]
        parts = key[len(prefix):].split("/") if key.startswith(prefix) else []
        if len(parts) != 3 or parts[-1] != "_run.json" or (
                self.flow_name is not None and parts[0] != self.flow_name):
            raise Unsupported(f"s3:putObject of {key!r}: only a run record is written")
        self.record.run_records[key] = copy.deepcopy(params["Body"])
        return {"ETag": '"0"', "VersionId": "null"}

    def _put_events(self, params: dict[str, Any]) -> Any:
        entries = params.get("Entries")
        if set(params) != {"Entries"} or not isinstance(entries, list):
            raise Unsupported(f"events:putEvents parameters {params!r}")
        self.record.published.extend(copy.deepcopy(entries))
        return {"Entries": [{"EventId": str(i)} for i in range(len(entries))],
                "FailedEntryCount": 0}

    def _parallel(self, name: str, state: dict[str, Any], data: Any, ctx: _Context) -> Any:
        branches = state["Branches"]
        ctx.execution.events += EVENTS_CONTAINER + EVENTS_PER_ITERATION * len(branches)
        result = [self._machine(b, copy.deepcopy(data), ctx.execution) for b in branches]
        return self._finish(name, state, data, result, ctx)

    def _map(self, name: str, state: dict[str, Any], data: Any, ctx: _Context) -> Any:
        processor = state["ItemProcessor"]
        config = processor.get("ProcessorConfig", {"Mode": "INLINE"})
        machine = {k: v for k, v in processor.items() if k != "ProcessorConfig"}
        mode = config.get("Mode")
        if mode == "INLINE" and set(config) == {"Mode"}:
            if "ItemReader" in state:
                raise Unsupported(f"state {name!r}: an INLINE Map with an ItemReader")
            items = read_path(state.get("ItemsPath", "$"), data, ctx)
        elif mode == "DISTRIBUTED" and config == {"Mode": "DISTRIBUTED",
                                                  "ExecutionType": "STANDARD"}:
            if "ItemsPath" in state or "ItemReader" not in state:
                raise Unsupported(f"state {name!r}: a DISTRIBUTED Map must read an ItemReader")
            items = self._item_reader(name, state["ItemReader"], data, ctx)
        else:
            raise Unsupported(f"state {name!r}: ProcessorConfig {config!r}")
        if not isinstance(items, list):
            raise ExecutionFailed("States.Runtime", f"state {name!r}: the items are not an array")
        concurrency = state.get("MaxConcurrency", 0)
        if not (isinstance(concurrency, int) and concurrency >= 0):
            raise ExecutionFailed("States.Runtime", f"state {name!r}: MaxConcurrency")
        ctx.execution.events += EVENTS_CONTAINER
        if mode == "DISTRIBUTED":
            ctx.execution.events += EVENTS_MAP_RUN
        result = []
        for index, item in enumerate(items):
            item_ctx = _Context(ctx.execution, state_name=name, map_item=(index, item))
            if "ItemSelector" in state:
                item_input = apply_template(state["ItemSelector"], data, item_ctx)
            else:
                item_input = copy.deepcopy(item)
            if mode == "INLINE":
                ctx.execution.events += EVENTS_PER_ITERATION
                result.append(self._machine(machine, item_input, ctx.execution))
            else:
                child = Execution(f"{ctx.execution.name}:{name}:{index:08d}")
                self.record.executions.append(child)
                result.append(self._machine(machine, item_input, child))
        return self._finish(name, state, data, result, ctx)

    def _item_reader(self, name: str, reader: Any, data: Any, ctx: _Context) -> Any:
        if (not isinstance(reader, dict) or set(reader) != {"Resource", "ReaderConfig",
                                                            "Parameters"}
                or reader["Resource"] != S3_GET_OBJECT
                or reader["ReaderConfig"] != {"InputType": "JSON"}):
            raise Unsupported(f"state {name!r}: ItemReader {reader!r}")
        return self._read_control(apply_template(reader["Parameters"], data, ctx))


# -- driving compiled flows in tests ----------------------------------------------------------


def scopes(machine: dict[str, Any]) -> list[dict[str, Any]]:
    """Every States scope of a definition: the machine, Parallel branches, Map processors."""
    out = [machine]
    for state in machine["States"].values():
        for branch in state.get("Branches", []):
            out.extend(scopes(branch))
        if "ItemProcessor" in state:
            out.extend(scopes(state["ItemProcessor"]))
    return out


def all_states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for scope in scopes(machine) for name, s in scope["States"].items()}


def batch_step(state: dict[str, Any]) -> str | None:
    if state.get("Type") == "Task" and state.get("Resource") == BATCH_SYNC:
        return str(state["Parameters"]["Parameters"]["step"])
    return None


@dataclass
class ControlShapes:
    """What the definition reads back after each step: switch arms (and which of them loop,
    i.e. lead to a Pass named "... loop to ..."), and which steps are foreach openers."""

    switch_arms: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)
    foreach_steps: dict[str, str] = field(default_factory=dict)  # step -> "INLINE"/"DISTRIBUTED"


def control_shapes(definition: dict[str, Any]) -> ControlShapes:
    states = all_states(definition)
    shapes = ControlShapes()
    for state in states.values():
        step = batch_step(state)
        if step is None or "Next" not in state:
            continue
        nxt = states[state["Next"]]
        if nxt.get("Type") == "Map":
            shapes.foreach_steps[step] = nxt["ItemProcessor"]["ProcessorConfig"]["Mode"]
        if nxt.get("Resource") != S3_GET_OBJECT_SDK:
            continue
        after = states[nxt["Next"]]
        if after["Type"] == "Map":
            shapes.foreach_steps[step] = after["ItemProcessor"]["ProcessorConfig"]["Mode"]
        elif after["Type"] == "Choice":
            shapes.switch_arms[step] = [
                (rule["StringEquals"],
                 states[rule["Next"]]["Type"] == "Pass" and " loop to " in rule["Next"])
                for rule in after["Choices"]
            ]
        else:
            raise Unsupported(f"a control read of {step!r} followed by {after['Type']}")
    return shapes


def task_scope(task_id: str) -> str:
    """The foreach part of a task id: "0.3.2" -> "0.3.", "2" -> ""."""
    return task_id[: task_id.rfind(".") + 1]


class Explorer:
    """A generic control callback: every foreach is `widths[step]` (or `width`) items wide;
    each switch takes its exit arms in turn (the turn carries over between runs, so repeated
    runs visit every arm), and a switch with a loop arm takes it `loops` times per scope first.
    """

    def __init__(self, definition: dict[str, Any], width: int = 2,
                 widths: Mapping[str, int] | None = None, loops: int = 0) -> None:
        self.shapes = control_shapes(definition)
        self.width = width
        self.widths = dict(widths or {})
        self.loops = loops
        self.turn: dict[str, int] = {}
        self.taken: set[tuple[str, str]] = set()
        self.values: dict[tuple[str, str], Any] = {}
        self._visits: dict[tuple[str, str], int] = {}

    def new_run(self) -> None:
        self.values = {}
        self._visits = {}

    def __call__(self, step: str, task_id: str) -> Any:
        value: Any
        if step in self.shapes.foreach_steps:
            value = list(range(self.widths.get(step, self.width)))
        elif step in self.shapes.switch_arms:
            arms = self.shapes.switch_arms[step]
            loop_arms = [a for a, loops in arms if loops]
            exit_arms = [a for a, loops in arms if not loops]
            key = (step, task_scope(task_id))
            visits = self._visits.get(key, 0)
            self._visits[key] = visits + 1
            if loop_arms and visits < self.loops:
                value = loop_arms[visits % len(loop_arms)]
            else:
                turn = self.turn.get(step, 0)
                self.turn[step] = turn + 1
                value = exit_arms[turn % len(exit_arms)]
            self.taken.add((step, value))
        else:
            raise SimulationError(f"step {step!r} has no control object in this definition")
        self.values[(step, task_id)] = value
        return value

    def all_arms(self) -> set[tuple[str, str]]:
        return {(s, a) for s, arms in self.shapes.switch_arms.items() for a, loops in arms
                if not loops}


def simulate(definition: dict[str, Any], control: Control, execution_input: Any = None, *,
             execution_name: str = "sim-run", flow_name: str | None = None,
             on_task: OnTask | None = None) -> Record:
    def ignore(step: str, run: str, task_id: str, params: dict[str, Any]) -> None:
        return None

    sim = Simulator(definition, on_task=on_task or ignore, control=control,
                    execution_name=execution_name, flow_name=flow_name)
    return sim.run({} if execution_input is None else execution_input)
