"""The execution's JSON state stays constant-size (DESIGN.md, "The ASL: principles", 3 and 4).

Every golden flow runs in the ASL simulator (tests/asl_sim.py) with a generic control: every
foreach is W items wide, every switch arm is taken across runs, and loops go round before they
leave. What each state is entered with is measured in bytes of compact JSON, as AWS measures it.
The execution name is 80 characters, the longest AWS allows, so sizes are the worst case.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from sfncompile.emit import compile_asl
from sfncompile.emit import names as state_names
from sfncompile.emit.asl import ON_ERROR_HOOKS
from sfncompile.emit.names import PUBLISH_FAILURE, RECORD_FAILURE
from sfncompile.ir import FlowIR
from sfncompile.parser import parse_flow, parse_source
from tests.asl_sim import (
    PAYLOAD_LIMIT,
    Execution,
    ExecutionFailed,
    Explorer,
    Record,
    Simulator,
    TaskFailure,
    Unsupported,
    _Context,
    all_states,
    evaluate_intrinsic,
    simulate,
)
from tests.conftest import GOLDEN, golden_dirs

EXECUTION_NAME = "x" * 80
SMALL, LARGE = 2, 500
# Going from SMALL to LARGE items only lengthens the foreach index inside `scope`.
INDEX_DIGITS = len(str(LARGE - 1)) - len(str(SMALL - 1))
MAX_RUNS = 8
TASK_ID = re.compile(r"\d+-(?:\d+\.\d+\.)*\d+")

FAILURE_PATH = (RECORD_FAILURE, ON_ERROR_HOOKS, PUBLISH_FAILURE)


@dataclass(frozen=True)
class Case:
    name: str
    flow: FlowIR
    asl: dict[str, Any]

    @property
    def params(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.flow.parameters}


@cache
def golden(name: str) -> Case:
    flow = parse_flow(GOLDEN / name / "flow.py")
    return Case(name, flow, compile_asl(flow))


def synthetic(source: str, name: str) -> Case:
    flow = parse_source(source, f"{name}.py")
    return Case(name, flow, compile_asl(flow))


@dataclass
class Exploration:
    records: list[Record]
    explorer: Explorer

    def max_inputs(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.records:
            for state, size in record.max_inputs().items():
                out[state] = max(out.get(state, 0), size)
        return out

    def max_results(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for record in self.records:
            for state, size in record.max_results().items():
                out[state] = max(out.get(state, 0), size)
        return out


def explore(case: Case, width: int = 1, widths: dict[str, int] | None = None, loops: int = 1,
            execution_input: Any = None) -> Exploration:
    """Run the flow until every exit arm of every switch it reaches has been taken."""
    explorer = Explorer(case.asl, width=width, widths=widths, loops=loops)
    records = []
    for _ in range(MAX_RUNS):
        explorer.new_run()
        records.append(simulate(case.asl, explorer,
                                case.params if execution_input is None else execution_input,
                                execution_name=EXECUTION_NAME, flow_name=case.flow.name))
        if explorer.all_arms() <= explorer.taken:
            break
    assert explorer.all_arms() <= explorer.taken, "some switch arms were never reached"
    return Exploration(records, explorer)


def foreach_cases() -> list[Any]:
    return [pytest.param(case.name, step, id=f"{case.name}-{step}")
            for case in map(golden, (p.name for p in golden_dirs()))
            for step in sorted(s.name for s in case.flow.steps
                               if s.kind == "foreach" and s.num_parallel is None)]


def map_state(step: str) -> str:
    return state_names.state(step, "foreach")


# -- (a) and (b): foreach width ----------------------------------------------------------------


def test_every_golden_flow_runs_every_arm() -> None:
    for path in golden_dirs():
        exploration = explore(golden(path.name), width=SMALL, loops=2)
        assert exploration.records[0].tasks, path.name


@pytest.mark.parametrize(("name", "step"), foreach_cases())
def test_only_the_maps_own_input_grows_with_foreach_width(name: str, step: str) -> None:
    case = golden(name)
    small = explore(case, width=SMALL, widths={step: SMALL}).max_inputs()
    large = explore(case, width=SMALL, widths={step: LARGE}).max_inputs()
    assert small.keys() == large.keys()
    mode = case.flow.step(step).policies.foreach.mode
    grown = {s: (small[s], large[s]) for s in small if large[s] - small[s] > INDEX_DIGITS}
    if mode == "inline":
        # The Inline Map is entered with the item list it iterates (`$.ctl.v`); nothing else
        # (no Task, no Choice, no Parallel, no other Map) may see the width.
        assert set(grown) == {map_state(step)}, grown
    else:
        assert grown == {}
        assert small[map_state(step)] == large[map_state(step)]
    # Every Task but the failure path's, which a successful run never enters.
    tasks = {s for s, t in all_states(case.asl).items()
             if t["Type"] == "Task" and s not in FAILURE_PATH}
    for state in tasks:
        assert large[state] - small[state] <= INDEX_DIGITS, state


@cache
def at_widest(name: str, step: str) -> Exploration:
    """The flow with `step` at the widest width sfncompile allows (others 1 wide)."""
    case = golden(name)
    mode = case.flow.step(step).policies.foreach.mode
    widest = case.flow.analysis.max_inline_width.get(step)
    if mode == "inline":
        assert widest is not None and widest > 40
    else:
        assert widest is None
        widest = 10_000  # Distributed Map child executions at once
    return explore(case, width=1, widths={step: widest})


@pytest.mark.parametrize(("name", "step"), foreach_cases())
def test_state_at_the_widest_width_fits_the_payload_limit(name: str, step: str) -> None:
    inputs = at_widest(name, step).max_inputs()
    assert inputs[map_state(step)] < PAYLOAD_LIMIT
    others = {s: size for s, size in inputs.items() if s != map_state(step)}
    # Everything else stays small: the run id, scope, n, the switch arm, the parameters.
    assert max(others.values()) < 1_000, others


def split_source(width: int) -> str:
    branches = [f"b{i:03d}" for i in range(width)]
    lines = [
        "from sfncompile import FlowSpec, JSONType, Parameter, step",
        "",
        "",
        f"class Split{width}Flow(FlowSpec):",
        "    config = Parameter('config', default={}, type=JSONType)",
        "",
        "    @step",
        "    def start(self):",
        f"        self.next({', '.join('self.' + b for b in branches)})",
    ]
    for b in branches:
        lines += ["", "    @step", f"    def {b}(self):", "        self.next(self.join)"]
    lines += ["", "    @step", "    def join(self, inputs):", "        self.next(self.end)",
              "", "    @step", "    def end(self):", "        pass", ""]
    return "\n".join(lines)


def test_split_fan_out_does_not_grow_the_state() -> None:
    narrow = explore(synthetic(split_source(2), "split2")).max_inputs()
    wide = explore(synthetic(split_source(200), "split200")).max_inputs()
    for state in narrow:
        assert wide[state] == narrow[state], state
    assert {wide[s] for s in wide if s.startswith("b")} == {narrow["b000"]}


def test_golden_wide_split_branches_see_the_state_of_start() -> None:
    case = golden("split_wide")
    inputs = explore(case).max_inputs()
    branches = [s.name for s in case.flow.steps if s.name.startswith("b")]
    assert len(branches) == 40
    assert {inputs[b] for b in branches} == {inputs["start"]} == {inputs["join"]}


# -- raw results: what a Map or Parallel returns before ResultSelector ------------------------
#
# AWS applies the payload limit to a state's result as well as to its output, so a Map or a
# Parallel whose collected iteration/branch outputs exceed 256 KiB fails with
# States.DataLimitExceeded even when its ResultSelector or ResultPath would drop them (for a
# Distributed Map, AWS's remedy is a ResultWriter). These tests measure that collected result.



def _oversized_results(exploration: Exploration) -> dict[str, int]:
    return {s: size for s, size in exploration.max_results().items() if size >= PAYLOAD_LIMIT}


def test_inline_map_results_fit_at_the_widest_width() -> None:
    oversized = {}
    for param in foreach_cases():
        name, step = param.values
        if golden(name).flow.step(step).policies.foreach.mode == "inline":
            found = _oversized_results(at_widest(name, step))
            oversized |= {f"{name}: {state}": size for state, size in found.items()}
    assert oversized == {}


def test_distributed_map_result_fits_at_ten_thousand_items() -> None:
    assert _oversized_results(at_widest("foreach_distributed", "start")) == {}


def test_parallel_result_fits_with_a_wide_split_and_parameters() -> None:
    case = synthetic(split_source(200), "split200")
    exploration = explore(case, execution_input={"config": {"weights": "w" * 2_000}})
    assert _oversized_results(exploration) == {}


# -- task ids ----------------------------------------------------------------------------------


def expected_tasks(flow: FlowIR, values: dict[tuple[str, str], Any]) -> list[tuple[str, str]]:
    """The (step, task id) pairs of a run, from the IR and the control values the run read,
    following the scheme of sfncompile/emit/asl.py's docstring: a task id is the step's
    number in graph order, `-`, then `scope + n`; `n` counts loop iterations; each foreach
    level appends `<n>.<index>.` to the scope."""
    a = flow.analysis
    out: list[tuple[str, str]] = []

    def walk(name: str, stop: str | None, scope: str, n: int) -> None:
        # A split branch starts with its parent's scope and n; a foreach body with n = 0.
        while name != stop:
            step = flow.step(name)
            task = f"{a.order_index[name]}-{scope}{n}"
            out.append((name, task))
            if step.kind == "end":
                return
            if step.kind == "linear":
                name = step.targets[0]
            elif step.kind == "split":
                for target in step.targets:
                    walk(target, a.join_of[name], scope, n)
                name = a.join_of[name]
            elif step.num_parallel is not None:
                # One multi-node job, given its step's id at this position: each node
                # derives its own.
                body = step.targets[0]
                out.append((body, f"{a.order_index[body]}-{scope}{n}"))
                name = a.join_of[name]
            elif step.kind == "foreach":
                for index in range(len(values[(name, task)])):
                    walk(step.targets[0], a.join_of[name], f"{scope}{n}.{index}.", 0)
                name = a.join_of[name]
            else:
                target = dict(step.cases)[values[(name, task)]]
                if (name, target) in a.back_edges:
                    n += 1
                name = target

    walk("start", None, "", 0)
    return out


def check_task_ids(case: Case, record: Record, values: dict[tuple[str, str], Any]) -> None:
    seen = [(t.step, t.task_id) for t in record.tasks]
    assert len(seen) == len(set(seen)), "a (step, task id) ran twice"
    assert len({t for _, t in seen}) == len(seen), "two tasks of a run share an id"
    assert sorted(seen) == sorted(expected_tasks(case.flow, values))
    for call in record.tasks:
        assert TASK_ID.fullmatch(call.task_id), call
        assert call.run == EXECUTION_NAME  # also inside Distributed Map child executions
        assert call.attempt == "0"


@pytest.mark.parametrize("path", golden_dirs(), ids=lambda p: p.name)
def test_task_ids_are_unique_and_follow_the_documented_scheme(path: Path) -> None:
    case = golden(path.name)
    explorer = Explorer(case.asl, width=3, loops=2)
    for _ in range(MAX_RUNS):
        explorer.new_run()
        record = simulate(case.asl, explorer, case.params, execution_name=EXECUTION_NAME,
                          flow_name=case.flow.name)
        check_task_ids(case, record, explorer.values)
        if explorer.all_arms() <= explorer.taken:
            break


def test_nested_foreach_and_loop_ids() -> None:
    nested = golden("foreach_nested")
    explorer = Explorer(nested.asl, width=2)
    record = simulate(nested.asl, explorer, nested.params, execution_name=EXECUTION_NAME)
    level3 = nested.flow.analysis.order_index["level3"]
    assert ("level3", f"{level3}-0.1.0.0.0.1.0") in {(t.step, t.task_id) for t in record.tasks}
    loop = golden("loop_in_foreach")
    explorer = Explorer(loop.asl, width=2, loops=2)
    record = simulate(loop.asl, explorer, loop.params, execution_name=EXECUTION_NAME)
    climbs = [t.task_id for t in record.tasks if t.step == "climb"]
    climb = loop.flow.analysis.order_index["climb"]
    assert climbs == [f"{climb}-{p}" for p in ("0.0.0", "0.0.1", "0.0.2", "0.1.0", "0.1.1",
                                                "0.1.2")]


def test_a_retried_task_keeps_its_id_and_counts_its_attempt() -> None:
    case = golden("decorators")
    calls: list[tuple[str, str, str]] = []

    def flaky(step: str, run: str, task_id: str, params: dict[str, Any]) -> None:
        attempt = params["Parameters"]["attempt"]
        calls.append((step, task_id, attempt))
        if step == "train" and attempt == "0":
            raise TaskFailure()

    execution_input = {"label": "x", "config": {"lr": 0.1}}
    clean = simulate(case.asl, Explorer(case.asl), execution_input)
    sim = Simulator(case.asl, on_task=flaky, control=Explorer(case.asl),
                    execution_name=EXECUTION_NAME)
    record = sim.run(execution_input)
    train = f"{case.flow.analysis.order_index['train']}-0"
    assert ("train", train, "0") in calls and ("train", train, "1") in calls
    # A failed Batch attempt adds Scheduled, Started, Submitted and Failed.
    assert record.events == clean.events + 4


# -- the simulator refuses what it does not implement ------------------------------------------


def _mutated(name: str, path: tuple[Any, ...], key: str, value: Any) -> dict[str, Any]:
    definition = copy.deepcopy(golden(name).asl)
    node: Any = definition
    for part in path:
        node = node[part]
    node[key] = value
    return definition


@pytest.mark.parametrize(("name", "path", "key", "value"), [
    pytest.param("switch", ("States", "start switch"), "Catch", [], id="Catch-on-Choice"),
    pytest.param("linear", ("States", "Init run"), "InputPath", "$", id="InputPath"),
    pytest.param("linear", ("States", "add"), "Type", "Wait", id="Wait"),
    pytest.param("linear", ("States", "add"), "Resource", "arn:aws:states:::lambda:invoke",
                 id="lambda"),
    pytest.param("linear", ("States", "Init run", "Parameters"), "x.$",
                 "States.ArrayLength($.count)", id="unknown-intrinsic"),
    pytest.param("linear", ("States", "Init run", "Parameters"), "x.$", "$.params[0]",
                 id="bracket-path"),
    pytest.param("linear", ("States", "Init run", "Parameters"), "x.$", "$$.Execution.RoleArn",
                 id="context-field"),
    pytest.param("switch", ("States", "start switch", "Choices", 0), "NumericEquals", 1,
                 id="NumericEquals"),
    pytest.param("foreach", ("States", "start foreach"), "ItemBatcher", {}, id="ItemBatcher"),
    pytest.param("foreach", ("States", "start foreach", "ItemProcessor", "ProcessorConfig"),
                 "Mode", "EXPRESS", id="processor-mode"),
])
def test_simulator_rejects_unsupported_constructs(name: str, path: tuple[Any, ...], key: str,
                                                  value: Any) -> None:
    definition = _mutated(name, path, key, value)
    with pytest.raises(Unsupported):
        simulate(definition, Explorer(definition), golden(name).params)


@pytest.mark.parametrize(("name", "path", "key", "value", "error"), [
    # reading the control object of a task that never ran (wrong step in the key)
    pytest.param("foreach", ("States", "start control", "Parameters"), "Key.$",
                 "States.Format('${S3KeyPrefix}ForeachFlow/{}/join/{}{}/control.json', $.run, "
                 "$.scope, $.n)", "S3.NoSuchKey", id="unwritten-control"),
    pytest.param("linear", ("States", "Init run", "Parameters"), "x.$",
                 "States.Format('{}{}', $$.Execution.Name)", "States.IntrinsicFailure",
                 id="format-args"),
    pytest.param("linear", ("States", "Init run", "Parameters"), "x.$", "$.nothing",
                 "States.Runtime", id="missing-path"),
    pytest.param("switch", ("States", "start switch", "Choices", 0), "Variable", "$.ctl.x",
                 "States.Runtime", id="choice-path"),
    pytest.param("linear", ("States", "add", "Parameters", "Parameters"), "n.$", "$.n",
                 "States.TaskFailed", id="job-parameter-not-a-string"),
])
def test_simulator_fails_like_aws(name: str, path: tuple[Any, ...], key: str, value: Any,
                                  error: str) -> None:
    definition = _mutated(name, path, key, value)
    with pytest.raises(ExecutionFailed) as failure:
        simulate(definition, Explorer(definition), golden(name).params)
    assert failure.value.error == error


def test_simulator_intrinsics() -> None:
    ctx = _Context(Execution("run-1"), retry_count=2, map_item=(7, "x"))
    data = {"scope": "0.3.", "n": 1, "p": {"a": [1, "b"]}, "s": '{"k": 1}'}
    assert evaluate_intrinsic("States.Format('{}{}.{}.', $.scope, $.n, $$.Map.Item.Index)",
                              data, ctx) == "0.3.1.7."
    assert evaluate_intrinsic(r"States.Format('a\{\}b\'{}', $$.State.RetryCount)",
                              data, ctx) == "a{}b'2"
    assert evaluate_intrinsic("States.MathAdd($.n, 1)", data, ctx) == 2
    assert evaluate_intrinsic("States.JsonToString($.p)", data, ctx) == '{"a":[1,"b"]}'
    assert evaluate_intrinsic("States.StringToJson($.s)", data, ctx) == {"k": 1}
    assert evaluate_intrinsic("States.Format('{}', $$.Execution.Name)", data, ctx) == "run-1"
