"""The step graph as Mermaid or Graphviz dot, for pull-request review."""

from __future__ import annotations

from sfncompile.ir import FlowIR, StepIR


def _edges(step: StepIR) -> list[tuple[str, str]]:
    """(target, label) for each outgoing edge."""
    if step.kind == "switch":
        return [(target, f"{step.condition} = {value}") for value, target in step.cases]
    if step.num_parallel is not None:
        return [(step.targets[0], f"num_parallel={step.num_parallel}")]
    if step.kind == "foreach":
        return [(step.targets[0], f"foreach {step.foreach_var}")]
    return [(t, "") for t in step.targets]


def _node(name: str) -> str:
    # Mermaid reserves words such as `end`; a prefix keeps every step name usable as an id.
    return f"s_{name}"


def mermaid(flow: FlowIR) -> str:
    lines = ["flowchart TD"]
    for step in flow.analysis.ordered:
        if step.kind == "switch":
            shape = f"{{{{{step.name}}}}}"
        elif step.name in (flow.start_step, flow.end_step):
            shape = f"([{step.name}])"
        else:
            shape = f"[{step.name}]"
        lines.append(f"  {_node(step.name)}{shape}")
    for step in flow.analysis.ordered:
        for target, label in _edges(step):
            back = (step.name, target) in flow.analysis.back_edges
            arrow = "-.->" if back else "-->"
            if label:
                arrow += f'|"{label}"|'
            lines.append(f"  {_node(step.name)} {arrow} {_node(target)}")
    return "\n".join(lines) + "\n"


def dot(flow: FlowIR) -> str:
    lines = [f'digraph "{flow.name}" {{', "  rankdir=TB;", "  node [shape=box];"]
    for step in flow.analysis.ordered:
        shape = {"switch": "diamond", "end": "oval"}.get(step.kind, "box")
        if step.name == flow.start_step:
            shape = "oval"
        lines.append(f'  "{step.name}" [shape={shape}];')
    for step in flow.analysis.ordered:
        for target, label in _edges(step):
            attrs = [f'label="{label}"'] if label else []
            if (step.name, target) in flow.analysis.back_edges:
                attrs.append("style=dashed")
            suffix = f" [{', '.join(attrs)}]" if attrs else ""
            lines.append(f'  "{step.name}" -> "{target}"{suffix};')
    lines.append("}")
    return "\n".join(lines) + "\n"
