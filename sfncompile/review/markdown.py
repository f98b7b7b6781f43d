"""A pull-request comment: the semantic summary, the step graph as Mermaid with added, removed
and changed steps marked, and the JSON diff folded away."""

from __future__ import annotations

from sfncompile.conventions.steps import END, START
from sfncompile.review.facts import Edge, MachineFacts
from sfncompile.review.semantic import MachineDiff

# GitHub renders classDef styles; the dashes keep "removed" readable without colour too.
CLASS_DEFS = (
    "classDef added fill:#dafbe1,stroke:#1a7f37,stroke-width:2px",
    "classDef removed fill:#ffebe9,stroke:#cf222e,stroke-dasharray:5 5",
    "classDef changed fill:#fff8c5,stroke:#9a6700,stroke-width:2px",
)


def node_id(step: str) -> str:
    # Mermaid reserves words such as `end`; the prefix keeps every step name usable as an id.
    return f"s_{step}"


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def mermaid(old: MachineFacts, new: MachineFacts, diff: MachineDiff) -> str:
    names = list(new.steps) + [n for n in old.steps if n not in new.steps]
    lines = ["flowchart TD"]
    for name in names:
        facts = (new.steps.get(name) or old.steps[name]).facts
        if facts.get("kind") == "switch":
            shape = f'{{{{"{name}"}}}}'
        elif name in (START, END):
            shape = f'(["{name}"])'
        else:
            shape = f'["{name}"]'
        lines.append(f"  {node_id(name)}{shape}")
    for name in names:
        new_edges = new.steps[name].edges if name in new.steps else []
        old_edges = old.steps[name].edges if name in old.steps else []
        for edge in new_edges:
            arrow = "-->" if edge in old_edges or name not in old.steps else "==>"
            lines.append(_edge(name, edge, arrow, ""))
        for edge in old_edges:
            if edge not in new_edges:
                lines.append(_edge(name, edge, "-.->", "removed"))
    lines += [f"  {c}" for c in CLASS_DEFS]
    for status in ("added", "removed", "changed"):
        marked = [node_id(c.name) for c in diff.steps if c.status == status]
        if marked:
            lines.append(f"  class {','.join(marked)} {status}")
    return "\n".join(lines) + "\n"


def _edge(source: str, edge: Edge, arrow: str, note: str) -> str:
    label = " ".join(x for x in (note, edge.label) if x)
    if label:
        arrow += f'|"{_label(label)}"|'
    return f"  {node_id(source)} {arrow} {node_id(edge.target)}"


def comment(old: MachineFacts, new: MachineFacts, diff: MachineDiff, json_diff: str) -> str:
    title = new.name or old.name or diff.new_label
    out = [f"### State machine `{title}`", ""]
    if diff.equal:
        return "\n".join([*out, "No changes.", ""])
    icons = {"added": "added", "removed": "removed", "changed": "changed"}
    for change in diff.steps:
        out.append(f"- **{icons[change.status]}** step `{change.name}`")
        out += [f"  - {_md(line)}" for line in change.lines]
    out += [f"- {_md(line)}" for line in diff.flow_lines]
    if not diff.steps and not diff.flow_lines:
        out.append("- no change to steps, transitions or policies; the JSON differs elsewhere")
    out += ["", "```mermaid", mermaid(old, new, diff).rstrip("\n"), "```", ""]
    if json_diff:
        fence = "````" if "```" in json_diff else "```"
        out += ["<details><summary>ASL diff</summary>", "", f"{fence}diff",
                json_diff.rstrip("\n"), fence, "", "</details>", ""]
    return "\n".join(out)


def _md(text: str) -> str:
    return text.replace("`", "'").replace("<", "&lt;")
