"""Compare two machines' facts: what changed per step, in words a reviewer reads."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Literal

from sfncompile.emit.render import render_json
from sfncompile.review.facts import FIELDS, Edge, MachineFacts, StepFacts

Status = Literal["added", "removed", "changed"]


@dataclass
class StepChange:
    name: str
    status: Status
    lines: list[str] = field(default_factory=list)


@dataclass
class MachineDiff:
    old_label: str
    new_label: str
    steps: list[StepChange] = field(default_factory=list)
    flow_lines: list[str] = field(default_factory=list)
    json_differs: bool = False

    @property
    def equal(self) -> bool:
        return not (self.steps or self.flow_lines or self.json_differs)

    def status_of(self, step: str) -> Status | None:
        return next((c.status for c in self.steps if c.name == step), None)


def compare(old: MachineFacts, new: MachineFacts, old_json: Any, new_json: Any,
            old_label: str = "old", new_label: str = "new") -> MachineDiff:
    diff = MachineDiff(old_label, new_label, json_differs=old_json != new_json)
    if old.name and new.name and old.name != new.name:
        diff.flow_lines.append(f"flow name: {old.name} -> {new.name}")
    for key in sorted(set(old.flow_facts) & set(new.flow_facts)):
        if old.flow_facts[key] != new.flow_facts[key]:
            diff.flow_lines.append(f"{key}: {old.flow_facts[key]} -> {new.flow_facts[key]}")
    names = list(new.steps) + [n for n in old.steps if n not in new.steps]
    for name in names:
        before, after = old.steps.get(name), new.steps.get(name)
        if before is None and after is not None:
            diff.steps.append(StepChange(name, "added", _describe_new(after)))
        elif after is None:
            diff.steps.append(StepChange(name, "removed"))
        elif before is not None:
            lines = _step_lines(before, after)
            if lines:
                diff.steps.append(StepChange(name, "changed", lines))
    return diff


def _describe_new(step: StepFacts) -> list[str]:
    kind = step.facts.get("kind", "step")
    lines = [f"{kind}, transitions: "
             + (", ".join(e.describe(step.name) for e in step.edges) or "none")]
    for key in FIELDS[1:]:
        value = step.facts.get(key)
        if value and value not in ("none", "default", "the default queue", "the default image"):
            lines.append(f"{key}: {value}")
    if step.environment:
        lines.append(f"environment: {', '.join(sorted(step.environment))}")
    return lines


def _step_lines(old: StepFacts, new: StepFacts) -> list[str]:
    lines = []
    for key in FIELDS:
        if key in old.facts and key in new.facts and old.facts[key] != new.facts[key]:
            lines.append(f"{key}: {old.facts[key]} -> {new.facts[key]}")
    if old.environment is not None and new.environment is not None:
        lines += _environment_lines(old.environment, new.environment)
    lines += _edge_lines(old.name, old.edges, new.edges)
    return lines


def _environment_lines(old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines = []
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(k for k in set(old) & set(new) if old[k] != new[k])
    if added:
        lines.append(f"environment added: {', '.join(added)}")
    if removed:
        lines.append(f"environment removed: {', '.join(removed)}")
    if changed:
        lines.append(f"environment value changed: {', '.join(changed)}")
    return lines


def _edge_lines(source: str, old: list[Edge], new: list[Edge]) -> list[str]:
    lines = [f"transition added: {e.describe(source)}" for e in new if e not in old]
    lines += [f"transition removed: {e.describe(source)}" for e in old if e not in new]
    return lines


def summary_text(diff: MachineDiff) -> str:
    """The semantic summary as plain text (the first part of `diff` and `build --check`)."""
    if diff.equal:
        return "no changes\n"
    counts = [f"{sum(c.status == s for c in diff.steps)} {s}"
              for s in ("added", "removed", "changed")
              if any(c.status == s for c in diff.steps)]
    head = f"{diff.old_label} -> {diff.new_label}"
    lines = [f"{head}: steps {', '.join(counts) if counts else 'unchanged'}"]
    marks = {"added": "+", "removed": "-", "changed": "~"}
    for change in diff.steps:
        lines.append(f"{marks[change.status]} step {change.name} {change.status}"
                     + (":" if change.lines else ""))
        lines += [f"    {line}" for line in change.lines]
    lines += [f"* {line}" for line in diff.flow_lines]
    if not diff.steps and not diff.flow_lines:
        lines.append("no change to steps, transitions or policies; the JSON differs elsewhere")
    return "\n".join(lines) + "\n"


def json_diff(old_json: Any, new_json: Any, old_label: str, new_label: str) -> str:
    return text_diff(render_json(old_json), render_json(new_json), old_label, new_label)


def text_diff(old_text: str, new_text: str, old_label: str, new_label: str) -> str:
    return "".join(difflib.unified_diff(old_text.splitlines(keepends=True),
                                        new_text.splitlines(keepends=True),
                                        fromfile=old_label, tofile=new_label))
