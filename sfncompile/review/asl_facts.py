"""ASL -> per-step facts: the one place that knows how emit/asl.py lays out a step.

The reader is tolerant on purpose: it reads any ASL, and a fact it cannot find is left unknown
(and then not compared) rather than guessed. What it relies on:
- a step is a Batch Task (`arn:aws:states:::batch:submitJob...`) that is not the target of a
  Catch (those are @catch stand-ins); its step name is a `step` key in its Parameters (the job's
  parameters), else the state's name;
- transitions: following `Next` through the states that are not steps (control reads, Pass,
  Choice, Parallel, Map) until steps are reached; a Parallel or Map enters its branches or
  iterations, the end of a branch continues after the Parallel or Map, a Choice gives one
  transition per rule (labelled with the value it compares), and a Succeed ends a branch;
- resources from ContainerOverrides.ResourceRequirements, the environment from
  ContainerOverrides.Environment, retry from a Retry rule on States.TaskFailed, catch from a
  Catch other than the run's failure path, timeout from the Batch attempt duration (less its
  margin), foreach mode and concurrency from the Map that follows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sfncompile.emit.asl import ATTEMPT_MARGIN_SECONDS
from sfncompile.emit.names import RECORD_FAILURE
from sfncompile.review.facts import (
    Edge,
    MachineFacts,
    StepFacts,
    digest,
    words_concurrency,
    words_cpu,
    words_duration,
    words_gpu,
    words_memory,
    words_queue,
    words_retry,
)

State = dict[str, Any]
States = dict[str, State]
Exit = Callable[[], list[Edge]]

BATCH_PREFIX = "arn:aws:states:::batch:submitJob"
COMMENT_SUFFIX = ", compiled by sfncompile"


class NotASL(ValueError):
    """The JSON is not a state machine definition."""


def machine_facts(definition: Any) -> MachineFacts:
    if (not isinstance(definition, dict) or not isinstance(definition.get("States"), dict)
            or not isinstance(definition.get("StartAt"), str)):
        raise NotASL("not a state machine definition (no StartAt and States)")
    comment = definition.get("Comment")
    name = None
    if isinstance(comment, str) and comment.endswith(COMMENT_SUFFIX):
        name = comment[: -len(COMMENT_SUFFIX)]
    reader = _Reader()
    try:
        reader.region(definition["States"], lambda: [])
    except (TypeError, AttributeError, ValueError, RecursionError) as exc:
        raise NotASL(f"not a state machine definition: {exc}") from None
    return MachineFacts(name=name, steps=reader.steps)


def _is_step(state: Any) -> bool:
    return (isinstance(state, dict) and state.get("Type") == "Task"
            and str(state.get("Resource", "")).startswith(BATCH_PREFIX))


def _find_key(obj: Any, key: str) -> Any:
    """The first value under `key` (or `key.$`) anywhere in `obj`, breadth first."""
    queue = [obj]
    while queue:
        item = queue.pop(0)
        if isinstance(item, dict):
            for k in (key, f"{key}.$"):
                if isinstance(item.get(k), str):
                    return item[k]
            queue.extend(item.values())
        elif isinstance(item, list):
            queue.extend(item)
    return None


def _catch_targets(states: States) -> set[str]:
    return {str(c.get("Next")) for s in states.values() if isinstance(s, dict)
            for c in s.get("Catch") or [] if isinstance(c, dict)}


class _Reader:
    def __init__(self) -> None:
        self.steps: dict[str, StepFacts] = {}

    def step_name(self, state_name: str, state: State) -> str:
        found = _find_key(state.get("Parameters"), "step")
        return found if isinstance(found, str) and found else state_name

    def region(self, states: States, exit_: Exit) -> None:
        standins = _catch_targets(states)
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            if _is_step(state) and name not in standins:
                facts = self.task_facts(state)
                facts.name = self.step_name(name, state)
                facts.edges = self.follow(states, state, exit_, set())
                facts.facts.update(self.shape(states, state, bool(facts.edges)))
                self.steps.setdefault(facts.name, facts)
            after = self._continuation(states, state, exit_)
            for branch in state.get("Branches") or []:
                if isinstance(branch, dict) and isinstance(branch.get("States"), dict):
                    self.region(branch["States"], after)
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if isinstance(processor, dict) and isinstance(processor.get("States"), dict):
                self.region(processor["States"], after)

    def _continuation(self, states: States, state: State, exit_: Exit) -> Exit:
        return lambda: self.follow(states, state, exit_, set())

    def follow(self, states: States, state: State, exit_: Exit, seen: set[str]) -> list[Edge]:
        """The steps that run after `state`."""
        nxt = state.get("Next")
        if isinstance(nxt, str):
            return self.enter(states, nxt, exit_, seen)
        return exit_() if state.get("End") else []

    def enter(self, states: States, name: str, exit_: Exit, seen: set[str]) -> list[Edge]:
        """The steps reached on entering the state `name`."""
        state = states.get(name)
        if name in seen or not isinstance(state, dict):
            return []
        seen = seen | {name}
        kind = state.get("Type")
        if _is_step(state):
            return [Edge(self.step_name(name, state))]
        if kind == "Parallel":
            return [e for b in state.get("Branches") or [] for e in self._start(b)]
        if kind == "Map":
            processor = state.get("ItemProcessor") or state.get("Iterator") or {}
            return [Edge(e.target, "foreach") for e in self._start(processor)]
        if kind == "Choice":
            edges: list[Edge] = []
            rules = [*(state.get("Choices") or []), {"Next": state.get("Default")}]
            for rule in rules:
                if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                    label = _rule_value(rule)
                    edges += [Edge(e.target, label or e.label)
                              for e in self.enter(states, rule["Next"], exit_, seen)]
            return edges
        if kind == "Succeed":
            return exit_()
        if kind == "Fail":
            return []
        return self.follow(states, state, exit_, seen)

    def _start(self, sub: Any) -> list[Edge]:
        if not isinstance(sub, dict) or not isinstance(sub.get("States"), dict):
            return []
        return self.enter(sub["States"], str(sub.get("StartAt")), lambda: [], set())

    def shape(self, states: States, state: State, has_edges: bool) -> dict[str, str]:
        """The step's kind, from the first container or Choice after it."""
        seen: set[str] = set()
        current = state
        while isinstance(current.get("Next"), str) and current["Next"] not in seen:
            seen.add(current["Next"])
            current = states.get(current["Next"], {})
            if not isinstance(current, dict) or _is_step(current):
                break
            kind = current.get("Type")
            if kind == "Parallel":
                return {"kind": "split"}
            if kind == "Choice":
                return {"kind": "switch"}
            if kind == "Map":
                processor = current.get("ItemProcessor") or current.get("Iterator") or {}
                mode = str((processor.get("ProcessorConfig") or {}).get("Mode", "INLINE"))
                concurrency = current.get("MaxConcurrency")
                return {
                    "kind": "foreach",
                    "foreach mode": mode.lower(),
                    "foreach concurrency": words_concurrency(
                        concurrency if isinstance(concurrency, int) else None),
                }
        return {"kind": "linear" if has_edges else "end"}

    def task_facts(self, state: State) -> StepFacts:
        raw = state.get("Parameters")
        params: dict[str, Any] = raw if isinstance(raw, dict) else {}
        overrides = params.get("ContainerOverrides") or _node_overrides(params)
        if not isinstance(overrides, dict):
            overrides = {}
        needs = {r.get("Type"): r.get("Value") for r in overrides.get("ResourceRequirements") or []
                 if isinstance(r, dict)}
        facts = {
            "cpu": words_cpu(needs.get("VCPU")),
            "memory": words_memory(needs.get("MEMORY")),
            "gpu": words_gpu(needs.get("GPU")),
            "retry": "none",
            "catch": "on" if any(isinstance(c, dict) and c.get("Next") != RECORD_FAILURE
                                 for c in state.get("Catch") or []) else "none",
            "timeout": _timeout(params),
        }
        queue = params.get("JobQueue")
        if isinstance(queue, str):
            facts["queue"] = words_queue(queue)
        for rule in _retry_rules(state):
            facts["retry"] = words_retry(int(rule.get("MaxAttempts", 3)),
                                         int(rule.get("IntervalSeconds", 1)))
        env = {str(e.get("Name")): digest(str(e.get("Value")))
               for e in overrides.get("Environment") or [] if isinstance(e, dict)}
        return StepFacts("", facts, env)


def _retry_rules(state: State) -> Iterator[dict[str, Any]]:
    """The user's @retry: a rule on task failures (not the Batch throttling retry)."""
    for rule in state.get("Retry") or []:
        if isinstance(rule, dict) and "States.TaskFailed" in (rule.get("ErrorEquals") or []):
            yield rule


def _rule_value(rule: dict[str, Any]) -> str:
    for key, value in rule.items():
        if key.startswith(("String", "Numeric", "Boolean")) and not key.endswith("Path"):
            return str(value)
    return ""


def _timeout(params: dict[str, Any]) -> str:
    """@timeout, from the attempt duration that emit/asl.py derives from it."""
    timeout = params.get("Timeout")
    seconds = timeout.get("AttemptDurationSeconds") if isinstance(timeout, dict) else None
    if not isinstance(seconds, int) or seconds <= ATTEMPT_MARGIN_SECONDS:
        return "none"
    return words_duration(seconds - ATTEMPT_MARGIN_SECONDS)


def _node_overrides(params: dict[str, Any]) -> Any:
    """The container overrides of a multi-node job (a @parallel step), given for every node."""
    nodes = params.get("NodeOverrides")
    found = nodes.get("NodePropertyOverrides") if isinstance(nodes, dict) else None
    first = found[0] if isinstance(found, list) and found else None
    return first.get("ContainerOverrides") if isinstance(first, dict) else None
