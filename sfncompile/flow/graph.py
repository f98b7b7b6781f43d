"""Metaflow's views of a flow's graph while it runs: `self._graph` (a FlowGraph of DAGNodes:
`graph["step"].type`, `.in_funcs`, `.out_funcs`, `.matching_join`, ...) and `current.graph`
(the dict Metaflow stores as `_graph_info`).

Both come from the step graph the compiler gave the runtime (plain JSON: kinds, targets, the
split each join closes) and, for what only the source says (a step's line, docstring and
decorators), from the flow's class. The runtime builds them on first use only.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Iterator
from typing import Any, NamedTuple

from sfncompile.conventions.steps import END, START

# Metaflow's node types by sfncompile's step kinds; `current.graph` spells splits its own way.
_NODE_TYPES = {"split": "split", "foreach": "foreach", "switch": "split-switch", "end": "end"}
_INFO_TYPES = {"split": "split-static", "foreach": "split-foreach"}


class StepDecorator(NamedTuple):
    """A decorator of a step or flow, as written (its keyword arguments)."""

    name: str
    attributes: dict[str, Any]


class DAGNode:
    """One step of the graph, with the attributes of Metaflow's DAGNode that flows read."""

    def __init__(self, name: str, info: dict[str, Any], kind: str, func: Any) -> None:
        self.name = name
        self.type = kind
        self.out_funcs: list[str] = list(info["targets"])
        self.in_funcs: list[str] = []
        self.split_parents: list[str] = []
        self.split_branches: list[str] = []
        self.matching_join: str | None = None
        self.is_inside_foreach = False
        self.foreach_param: str | None = info["foreach_var"]
        self.condition: str | None = info["condition"]
        self.switch_cases: dict[str, str] = dict(info["cases"])
        self.num_args = 2 if info["is_join"] else 1
        # Metaflow's @parallel: the step is one (`parallel_step`), or it goes to one with
        # self.next(num_parallel=N) (`parallel_foreach`, a foreach over the nodes).
        self.parallel_step = bool(info.get("parallel"))
        self.parallel_foreach = info.get("num_parallel") is not None
        self.num_parallel = int(info.get("num_parallel") or 0)
        self.func_lineno, self.source_file = _where(func)
        self.doc = inspect.cleandoc(getattr(func, "__doc__", None) or "")
        self.decorators = _decorators(func)
        self.node_info: dict[str, Any] = dict(getattr(func, "node_info", None) or {})

    def __repr__(self) -> str:
        return f"DAGNode({self.name!r}, type={self.type!r}, out_funcs={self.out_funcs})"


class FlowGraph:
    """The steps by name (`graph[name]`, `name in graph`, iteration over the nodes),
    `start_step`, `end_step`, `sorted_nodes` (the steps in graph order) and `doc`."""

    def __init__(self, spec: dict[str, Any], cls: type) -> None:
        self.name: str = spec["flow"]
        self.doc = inspect.cleandoc(cls.__doc__ or "")
        self.start_step: str = spec.get("start_step", START)
        self.end_step: str = spec.get("end_step", END)
        steps: dict[str, dict[str, Any]] = spec["steps"]
        self.sorted_nodes = list(steps)
        self.nodes = {name: DAGNode(name, steps[name], self._type(name, steps[name]),
                                    getattr(cls, name, None))
                      for name in sorted(steps)}
        self._link(steps)

    def _type(self, name: str, info: dict[str, Any]) -> str:
        if name == self.end_step:
            return "end"
        if info["kind"] in _NODE_TYPES:
            return _NODE_TYPES[info["kind"]]
        if info["is_join"]:
            return "join"
        return "start" if name == self.start_step else "linear"

    def _link(self, steps: dict[str, dict[str, Any]]) -> None:
        for name, info in steps.items():
            if info["closes"] in self.nodes:
                self.nodes[info["closes"]].matching_join = name
            for target in dict.fromkeys(info["targets"]):
                if target != name and name not in steps[target]["back_parents"]:
                    self.nodes[target].in_funcs.append(name)
        for node in self.nodes.values():
            node.in_funcs.sort()
        self._nest()

    def _nest(self) -> None:
        """Each step's enclosing splits (`split_parents`) and the branches it is on, as
        Metaflow's walk from the start step finds them (loops are not followed)."""
        todo: list[tuple[str, list[str], list[str]]] = [(self.start_step, [], [])]
        seen: set[str] = set()
        while todo:
            name, parents, branches = todo.pop()
            if name in seen or name not in self.nodes:
                continue
            seen.add(name)
            node = self.nodes[name]
            node.split_parents, node.split_branches = parents, branches
            opens = node.type in ("split", "foreach")
            if opens:
                parents = [*parents, name]
            elif node.type == "join" and parents:
                node.split_branches = branches[:-1]
                parents, branches = parents[:-1], branches[:-1]
            for target in reversed(node.out_funcs):
                todo.append((target, parents, [*branches, target] if opens else branches))
        for node in self.nodes.values():
            node.is_inside_foreach = any(
                self.nodes[p].type == "foreach" and self.nodes[p].matching_join != node.name
                for p in node.split_parents)

    def __getitem__(self, name: str) -> DAGNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[DAGNode]:
        return iter(self.nodes.values())

    def output_steps(self) -> tuple[dict[str, dict[str, Any]], list[Any]]:
        """Metaflow's `steps` and `graph_structure` of `current.graph`: every step as a dict,
        and the steps in order with each split's branches nested as lists."""
        steps: dict[str, dict[str, Any]] = {}

        def block(first: str, stop: str, path: frozenset[str]) -> list[Any]:
            out: list[Any] = []
            name: str | None = first
            while name is not None and name != stop and name not in path:
                path = path | {name}
                node = self.nodes[name]
                steps[name] = _step_dict(node)
                out.append(name)
                # Metaflow's structure lists a @parallel step's opener and nodes in a line.
                if (node.type in ("split", "foreach") and node.matching_join
                        and not node.parallel_foreach):
                    out.append([block(t, node.matching_join, path) for t in node.out_funcs])
                    name = node.matching_join
                elif node.type == "split-switch":
                    out.append([block(t, stop, path) for t in node.out_funcs
                                if t not in path])
                    name = None
                else:
                    name = node.out_funcs[0] if node.out_funcs else None
            return out

        structure = ([] if self.start_step == self.end_step
                     else block(self.start_step, self.end_step, frozenset()))
        steps[self.end_step] = _step_dict(self.nodes[self.end_step])
        return steps, [*structure, self.end_step]


def graph_info(graph: FlowGraph, spec: dict[str, Any], cls: type,
               constants: dict[str, Any]) -> dict[str, Any]:
    """`current.graph`: Metaflow's `_graph_info` for this flow (`constants`: the class's,
    as flowspec.flow_constants finds them)."""
    steps, structure = graph.output_steps()
    params = sorted((p["attr"], type(getattr(cls, p["attr"], None)).__name__)
                    for p in spec["parameters"])
    return {
        "file": os.path.basename(spec.get("source") or ""),
        "start_step": graph.start_step,
        "end_step": graph.end_step,
        "parameters": [{"name": name, "type": kind} for name, kind in params],
        "constants": [{"name": name, "type": type(value).__name__}
                      for name, value in sorted(constants.items())],
        "steps": steps,
        "graph_structure": structure,
        "doc": graph.doc,
        "decorators": [_decorator_dict(d) for d in _decorators(cls)],
        "extensions": {"installed": {}},
    }


def _step_dict(node: DAGNode) -> dict[str, Any]:
    kind = "split-parallel" if node.parallel_foreach else _INFO_TYPES.get(node.type, node.type)
    out: dict[str, Any] = {
        "name": node.name, "type": kind, "line": node.func_lineno,
        "source_file": node.source_file, "doc": node.doc,
        "decorators": [_decorator_dict(d) for d in node.decorators],
        "next": list(node.out_funcs), "node_info": _pod(node.node_info),
    }
    if kind == "split-foreach":
        out["foreach_artifact"] = node.foreach_param
    elif kind == "split-parallel":
        out["num_parallel"] = node.num_parallel
    elif kind == "split-switch":
        out["condition"] = node.condition
        out["switch_cases"] = dict(node.switch_cases)
    if node.matching_join:
        out["matching_join"] = node.matching_join
    return out


def _decorator_dict(deco: StepDecorator) -> dict[str, Any]:
    return {"name": deco.name, "attributes": _pod(deco.attributes),
            "statically_defined": True, "inserted_by": None}


def _decorators(obj: Any) -> list[StepDecorator]:
    """The sfncompile decorators on a step function or a flow class, as written."""
    found = getattr(obj, "sfn_decorators", None) or {}
    return [StepDecorator(name, dict(kwargs)) for name, kwargs in found.items()]


def _where(func: Any) -> tuple[int, str | None]:
    """The line of the step's `def` (as Metaflow gives it, after the decorators) and its
    file; the code's first line when the source cannot be read."""
    if func is None:
        return 0, None
    func = inspect.unwrap(func)
    code = getattr(func, "__code__", None)
    if code is None:
        return 0, None
    try:
        lines, first = inspect.getsourcelines(func)
    except (OSError, TypeError):
        return code.co_firstlineno, code.co_filename
    for offset, line in enumerate(lines):
        if line.lstrip().startswith(("def ", "async def ")):
            return first + offset, code.co_filename
    return first, code.co_filename


def _pod(value: Any) -> Any:
    """Plain data as Metaflow's `to_pod` makes it: str and numbers as they are, containers
    item by item, a callable as its qualified name, anything else (None too) as its str."""
    if isinstance(value, str | int | float):
        return value
    if isinstance(value, dict):
        return {_pod(k): _pod(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_pod(v) for v in value]
    if callable(value):
        return getattr(value, "__qualname__", str(value))
    return str(value)


def bind_graph(cls: type, spec: dict[str, Any]) -> None:
    """Give the flow's class the runtime's step graph, for `_graph`, `_foreach_stack` and
    `current.graph` (by the runtime, before the step runs)."""
    type.__setattr__(cls, "_sfn_step_graph", spec)


def flow_graph(cls: type) -> FlowGraph:
    """The class's FlowGraph, built once from the graph `bind_graph` gave it."""
    cached = cls.__dict__.get("_sfn_flow_graph")
    if cached is None:
        spec = getattr(cls, "_sfn_step_graph", None)
        if spec is None:
            raise AttributeError(f"{cls.__name__}._graph is known only while the flow runs")
        cached = FlowGraph(spec, cls)
        type.__setattr__(cls, "_sfn_flow_graph", cached)
    return cached
