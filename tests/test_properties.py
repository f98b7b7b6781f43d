"""Property-based tests: random valid flows compile, and random broken sources fail cleanly.

Valid flows are drawn as trees (linear steps, splits, foreach, switches whose arms may loop back
to the switch or to an earlier step of the same scope, never inside a split branch), nested up
to depth 3, and written out as Python source. The parser, the validator, the emitter and the
ASL simulator must agree on them. Broken sources are mutations of valid ones, or random text:
the parser must answer with the project's own FlowErrors and nothing else.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sfncompile.emit import InvalidOutput, compile_asl
from sfncompile.emit.asl_checks import validate_asl
from sfncompile.emit.render import render_json
from sfncompile.errors import FlowErrors
from sfncompile.parser import parse_source
from tests.asl_sim import Explorer, all_states, batch_step, simulate
from tests.test_state_size import expected_tasks

MAX_DEPTH = 3

# -- drawing flow trees -----------------------------------------------------------------------
#
# block  := [node, ...]                      (steps in sequence)
# node   := ("step",) | ("split", [block, ...]) | ("foreach", block)
#         | ("switch", [arm, ...])
# arm    := ("go", block)                    (an empty block goes straight on)
#         | ("loop", k)                      (back to the k-th step that dominates the switch)


@st.composite
def blocks(draw: st.DrawFn, depth: int, in_split: bool, min_size: int = 1) -> list[Any]:
    size = draw(st.integers(min_value=min_size, max_value=3 if depth == 0 else 2))
    return [draw(nodes(depth, in_split)) for _ in range(size)]


@st.composite
def nodes(draw: st.DrawFn, depth: int, in_split: bool) -> Any:
    kinds = ["step"] if depth >= MAX_DEPTH else ["step", "step", "split", "foreach", "switch"]
    kind = draw(st.sampled_from(kinds))
    if kind == "split":
        width = draw(st.integers(min_value=2, max_value=5))
        return ("split", [draw(blocks(depth + 1, True)) for _ in range(width)])
    if kind == "foreach":
        return ("foreach", draw(blocks(depth + 1, in_split)))
    if kind == "switch":
        count = draw(st.integers(min_value=2, max_value=3))
        arms: list[Any] = []
        for i in range(count):
            # At least one arm must leave; loops are not allowed inside a split branch.
            loop = not in_split and i > 0 and draw(st.booleans())
            if loop:
                arms.append(("loop", draw(st.integers(min_value=0, max_value=10))))
            else:
                arms.append(("go", draw(blocks(depth + 1, in_split, min_size=0))))
        return ("switch", draw(st.permutations(arms)))
    return ("step",)


@dataclass
class Writer:
    """Writes a tree out as a FlowSpec; step names are s1, s2, ... (the first is `start`)."""

    steps: list[str] = field(default_factory=list)
    count: int = 0

    def name(self) -> str:
        self.count += 1
        return "start" if self.count == 1 else f"s{self.count}"

    def add(self, name: str, transition: str, body: str = "self.x = 1", join: bool = False) -> None:
        args = "self, inputs" if join else "self"
        self.steps.append(f"    @step\n    def {name}({args}):\n        {body}\n"
                          f"        {transition}\n")

    def block(self, block: list[Any], cont: str, dominators: list[str]) -> str:
        """Write `block`, continuing to `cont`; return the name of its first step (or `cont`).

        `dominators` are the steps of this scope that every path to here went through: the
        only places a loop may go back to (joins and `start` excepted)."""
        if not block:
            return cont
        heads = [self.name() for _ in block]
        doms = list(dominators)
        for i, node in enumerate(block):
            nxt = heads[i + 1] if i + 1 < len(block) else cont
            doms.extend(self.node(node, heads[i], nxt, doms))
        return heads[0]

    def node(self, node: Any, head: str, cont: str, doms: list[str]) -> list[str]:
        """Write one node whose first step is `head`; return the steps it adds to the
        dominators of what follows it."""
        kind = node[0]
        if kind == "step":
            self.add(head, f"self.next(self.{cont})")
            return [head]
        if kind in ("split", "foreach"):
            closing = self.name()
            self.add(closing, f"self.next(self.{cont})", join=True)
            if kind == "split":
                firsts = [self.block(b, closing, []) for b in node[1]]
                self.add(head, f"self.next({', '.join('self.' + f for f in firsts)})")
            else:
                first = self.block(node[1], closing, [])
                self.add(head, f'self.next(self.{first}, foreach="items")',
                         body="self.items = [1, 2, 3]")
            return [head]
        arms = []
        for i, arm in enumerate(node[1]):
            if arm[0] == "loop":
                targets = [d for d in [*doms, head] if d != "start"]
                target = targets[arm[1] % len(targets)] if targets else cont
            else:
                target = self.block(arm[1], cont, [*doms, head])
            arms.append(f'"a{i}": self.{target}')
        self.add(head, f'self.next({{{", ".join(arms)}}}, condition="arm")',
                 body='self.arm = "a0"')
        return [head]

    def source(self, tree: list[Any]) -> str:
        self.block(tree, "end", [])
        self.steps.append("    @step\n    def end(self):\n        pass\n")
        return ("from sfncompile import FlowSpec, step\n\n\nclass RandomFlow(FlowSpec):\n"
                + "\n".join(self.steps))


@st.composite
def flow_sources(draw: st.DrawFn) -> str:
    return Writer().source(draw(blocks(0, False)))


# -- valid flows ------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow_sources())
def test_valid_flows_compile_consistently(source: str) -> None:
    flow = parse_source(source, "random_flow.py")
    definition = compile_asl(flow)
    assert validate_asl(definition) == []
    # Every step is exactly one Batch Task, named by its step.
    tasks = [batch_step(s) for s in all_states(definition).values()]
    tasks = [t for t in tasks if t is not None]
    assert sorted(tasks) == sorted(s.name for s in flow.steps)
    # Deterministic: the same source gives the same text.
    again = render_json(compile_asl(parse_source(source, "random_flow.py")))
    assert render_json(definition) == again
    # The state machine runs the steps the graph says, with unique task ids.
    explorer = Explorer(definition, width=2, loops=1)
    record = simulate(definition, explorer, {}, flow_name=flow.name)
    ran = [(t.step, t.task_id) for t in record.tasks]
    assert len(ran) == len(set(ran))
    assert sorted(ran) == sorted(expected_tasks(flow, explorer.values))


# -- rewired flows: the validator stands between any graph and the emitter ---------------------

NEXT_TARGET = re.compile(r"self\.(\w+)(?=[,)])")


@st.composite
def rewired_sources(draw: st.DrawFn) -> str:
    """A valid flow with one to three transition targets pointed at another step: jumps
    between split branches, into and out of foreach, back into splits, loops of any kind."""
    source = draw(flow_sources())
    steps = re.findall(r"def (\w+)\(", source)
    lines = source.splitlines()
    nexts = [i for i, line in enumerate(lines) if "self.next(" in line]
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        i = draw(st.sampled_from(nexts))
        targets = list(NEXT_TARGET.finditer(lines[i]))
        if not targets:
            continue
        m = draw(st.sampled_from(targets))
        new = draw(st.sampled_from(steps))
        lines[i] = lines[i][:m.start(1)] + new + lines[i][m.end(1):]
    return "\n".join(lines) + "\n"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rewired_sources())
def test_no_valid_flow_reaches_invalid_output(source: str) -> None:
    """InvalidOutput means the emitter wrote ASL our own schema rejects: only a bug of ours
    may cause it. Whatever the graph, the validator refuses it (FlowErrors) or it compiles
    to schema-valid ASL."""
    try:
        flow = parse_source(source, "rewired_flow.py")
    except FlowErrors:
        return
    try:
        definition = compile_asl(flow)
    except FlowErrors:
        return  # an AWS limit
    except InvalidOutput as exc:
        raise AssertionError(f"a flow that passed validation reached InvalidOutput:\n{exc}\n"
                             f"{source}") from None
    assert validate_asl(definition) == []


# -- broken sources ---------------------------------------------------------------------------

GARBAGE = st.sampled_from([
    "self.next(self.start)", "    def", "@step", "):", "class X(FlowSpec):", "import foo",
    "        self.next(self.nowhere)", "        return 1", "\t\tpass",
    "    @step\n    def end(self):",
    "        self.next(self.end, foreach=items)", "        self.next({}, condition='a')",
    "\x00", "'''", "(" * 120, "        self.next(*steps)", "lambda: (yield)",
])


@st.composite
def broken_sources(draw: st.DrawFn) -> str:
    lines = draw(flow_sources()).splitlines()
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        mutation = draw(st.sampled_from(["delete", "swap", "inputs", "garbage", "truncate"]))
        if mutation == "delete" and len(lines) > 1:
            del lines[draw(st.integers(min_value=0, max_value=len(lines) - 1))]
        elif mutation == "swap" and len(lines) > 1:
            i = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            j = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif mutation == "inputs":
            joins = [i for i, line in enumerate(lines) if ", inputs)" in line]
            if joins:
                i = draw(st.sampled_from(joins))
                lines[i] = lines[i].replace(", inputs)", ")")
        elif mutation == "garbage":
            i = draw(st.integers(min_value=0, max_value=len(lines)))
            lines.insert(i, draw(GARBAGE | st.text(max_size=40)))
        else:
            text = "\n".join(lines)
            cut = draw(st.integers(min_value=0, max_value=len(text)))
            lines = text[:cut].splitlines()
    return "\n".join(lines) + "\n"


def parse_or_flow_errors(source: str) -> None:
    try:
        flow = parse_source(source, "broken_flow.py")
    except FlowErrors as exc:
        assert exc.errors, "FlowErrors without an error"
        for error in exc.errors:
            assert error.path == "broken_flow.py" and error.line >= 1 and error.message
        return
    # What the parser accepts, the emitter compiles (or rejects with FlowErrors for a limit).
    with contextlib.suppress(FlowErrors):
        compile_asl(flow)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(broken_sources())
def test_broken_flows_fail_with_flow_errors(source: str) -> None:
    parse_or_flow_errors(source)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_random_text_fails_with_flow_errors(source: str) -> None:
    parse_or_flow_errors(source)


UNCLOSED_NESTED_FOREACH = """\
from sfncompile import FlowSpec, step


class F(FlowSpec):
    @step
    def start(self):
        self.items = [1]
        self.next(self.a, foreach="items")

    @step
    def a(self):
        self.items = [1]
        self.next(self.b, foreach="items")

    @step
    def b(self):
        self.next(self.j)

    @step
    def j(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_unclosed_nested_foreach_is_a_flow_error() -> None:
    try:
        parse_source(UNCLOSED_NESTED_FOREACH, "flow.py")
    except FlowErrors as exc:
        assert "never joined" in str(exc)
    else:
        raise AssertionError("parse_source accepted a foreach without a join")


# -- the local runner agrees with the state machine -------------------------------------------


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(source=flow_sources())
def test_local_runner_runs_the_tasks_the_state_machine_would(source: str,
                                                             tmp_path_factory: Any) -> None:
    """Run a random flow locally, then replay its state machine with the decisions the local
    run made (its control objects): both must run exactly the same (step, task id) set."""
    from sfncompile.datastore import layout as ds
    from sfncompile.datastore.storage import LocalStorage
    from tests.asl_sim import Simulator
    from tests.flows import run_local

    flow = parse_source(source, "random_flow.py")
    # Every switch picks arm a0 at run time; a loop there would never end.
    assume(not any(s.kind == "switch" and (s.name, dict(s.cases)["a0"]) in flow.analysis.back_edges
                   for s in flow.steps))
    tmp = tmp_path_factory.mktemp("random")
    (tmp / "random_flow.py").write_text(source)
    proc = run_local(tmp / "random_flow.py", str(tmp / "store"))
    assert proc.returncode == 0, proc.stderr
    run = proc.stdout.strip().splitlines()[-1].split("/")[1]
    storage = LocalStorage(tmp / "store")
    local = {(step, task) for step in ds.list_steps(storage, flow.name, run)
             for task in ds.list_tasks(storage, flow.name, run, step)}
    simulator = Simulator(
        compile_asl(flow), flow_name=flow.name, execution_name=run,
        on_task=lambda *args: None,
        control=lambda step, task: ds.read_control(storage, flow.name, run, step, task))
    replayed = {(t.step, t.task_id) for t in simulator.run({}).tasks}
    assert replayed == local
