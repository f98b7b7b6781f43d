"""What a reviewer cares about in a state machine, per step, in words.

A machine's facts come from its ASL (see `asl_facts`), so two ASL files compare; when a side is
a flow, the IR adds what the ASL does not carry (image, schedule, the foreach variable, ...) and
fills any fact the ASL reader could not find. Every value is already worded for a reviewer, so
comparing two machines is comparing strings. Environment values are kept only as digests: a
review says that a value changed, never what it is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sfncompile.ir import FlowIR, StepIR

# The order in which a step's facts are reported.
FIELDS = (
    "kind", "cpu", "memory", "gpu", "image", "queue", "retry", "catch", "catch variable",
    "timeout", "foreach mode", "foreach concurrency", "foreach variable", "switch condition",
    "parallel nodes",
)


@dataclass(frozen=True, order=True)
class Edge:
    """A transition from one step to another; `label` is a switch arm's value or "foreach"."""

    target: str
    label: str = ""

    def describe(self, source: str) -> str:
        when = f" ({self.label})" if self.label else ""
        return f"{source} -> {self.target}{when}"


@dataclass
class StepFacts:
    name: str
    facts: dict[str, str] = field(default_factory=dict)  # a fact missing here is unknown
    environment: dict[str, str] | None = None  # name -> digest of the value; None: unknown
    edges: list[Edge] = field(default_factory=list)


@dataclass
class MachineFacts:
    name: str | None = None
    steps: dict[str, StepFacts] = field(default_factory=dict)  # in graph order
    flow_facts: dict[str, str] = field(default_factory=dict)  # schedule, parameters


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def words_duration(seconds: int) -> str:
    parts = []
    rest = seconds
    for unit, size in (("h", 3600), ("min", 60)):
        if rest >= size:
            parts.append(f"{rest // size} {unit}")
            rest %= size
    if rest or not parts:
        parts.append(f"{rest} s")
    return " ".join(parts)


def words_retry(times: int, interval_seconds: int) -> str:
    if times <= 0:
        return "none"
    return f"{times} time{'s' if times != 1 else ''}, {words_duration(interval_seconds)} apart"


def words_cpu(value: str | float | None) -> str:
    if value is None:
        return "default"
    number = float(value)
    shown = int(number) if number.is_integer() else number
    return f"{shown} vCPU"


def words_memory(value: str | int | None) -> str:
    return "default" if value is None else f"{value} MiB"


def words_gpu(value: str | int | None) -> str:
    return "none" if not value or str(value) == "0" else str(value)


def words_queue(value: str | None) -> str:
    return "the default queue" if not value or value.startswith("${") else value


def words_concurrency(value: int | None) -> str:
    return "unlimited" if not value else str(value)


def from_ir(flow: FlowIR) -> MachineFacts:
    """Every fact the IR knows (it knows them all)."""
    machine = MachineFacts(name=flow.name)
    for step in flow.analysis.ordered:
        nodes = next((flow.step(o).num_parallel for o in flow.analysis.parents[step.name]
                      if flow.step(o).num_parallel is not None), None)
        machine.steps[step.name] = _step_from_ir(step, nodes)
    if flow.schedule is not None:
        tz = f" ({flow.schedule.timezone})" if flow.schedule.timezone else ""
        machine.flow_facts["schedule"] = flow.schedule.expression + tz
    else:
        machine.flow_facts["schedule"] = "none"
    return machine


def _step_from_ir(step: StepIR, nodes: int | None = None) -> StepFacts:
    """A step's facts; `nodes` of a @parallel step. The step that goes to it is a plain
    Task in the ASL, with no Map: a "linear" step as the ASL reader sees it."""
    p = step.policies
    parallel_opener = step.num_parallel is not None
    facts = {
        "kind": "linear" if parallel_opener else step.kind,
        "cpu": words_cpu(p.resources.cpu),
        "memory": words_memory(p.resources.memory),
        "gpu": words_gpu(p.resources.gpu),
        "image": p.batch.image or "the default image",
        "queue": words_queue(p.batch.queue),
        # The ASL waits at least a second between attempts (see emit/asl.py).
        "retry": (words_retry(p.retry.times, max(1, 60 * p.retry.minutes_between_retries))
                  if p.retry else "none"),
        "catch": "on" if p.catch is not None else "none",
        "timeout": words_duration(p.timeout_seconds) if p.timeout_seconds else "none",
    }
    if p.catch is not None:
        facts["catch variable"] = p.catch.var or "none"
    if nodes is not None:
        facts["parallel nodes"] = str(nodes)
    if step.kind == "foreach" and not parallel_opener:
        facts["foreach mode"] = p.foreach.mode
        # `concurrency`, where the IR has it, resolves a limit the flow left to its default.
        limit = getattr(p.foreach, "concurrency", p.foreach.max_concurrency)
        facts["foreach concurrency"] = words_concurrency(limit)
        facts["foreach variable"] = step.foreach_var or ""
    if step.kind == "switch":
        facts["switch condition"] = step.condition or ""
        edges = [Edge(target, value) for value, target in step.cases]
    elif step.kind == "foreach" and not parallel_opener:
        edges = [Edge(step.targets[0], "foreach")]
    else:
        edges = [Edge(t) for t in step.targets]
    return StepFacts(step.name, facts, {k: digest(v) for k, v in p.environment}, edges)


def overlay(asl: MachineFacts, ir: MachineFacts) -> MachineFacts:
    """The ASL's facts, with what only the IR knows filled in (the ASL's word wins: both sides
    of a flow-vs-ASL comparison then read the same facts the same way)."""
    out = MachineFacts(name=asl.name or ir.name, flow_facts={**ir.flow_facts, **asl.flow_facts})
    for name, step in asl.steps.items():
        known = ir.steps.get(name)
        if known is None:
            out.steps[name] = step
            continue
        env = step.environment if step.environment is not None else known.environment
        out.steps[name] = StepFacts(name, {**known.facts, **step.facts}, env,
                                    step.edges or known.edges)
    return out
