"""The class decorators about events and projects, collected while a flow class is read."""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from typing import Any

from sfncompile.ir import EventTriggerIR, FinishTriggerIR, ParameterIR, ProjectIR, SourcePos
from sfncompile.parser import triggers

NAMES = ("trigger", "trigger_on_finish", "project")


class EventDecorators:
    def __init__(self, pos: Callable[[ast.AST], SourcePos],
                 error: Callable[[ast.AST, str], None], flow: str) -> None:
        self.pos = pos
        self.error = error
        self.flow = flow
        self.where = f"flow {flow!r}"
        self.seen: dict[str, ast.AST] = {}
        self.project: ProjectIR | None = None
        self.triggers: tuple[EventTriggerIR, ...] = ()
        self.finish: tuple[FinishTriggerIR, ...] = ()

    def read(self, name: str, args: dict[str, Any], node: ast.expr) -> bool:
        """Take one decorator if it is ours (True), reporting its problems."""
        if name not in NAMES:
            return False
        if name in self.seen:
            self.error(node, f"{self.where}: @{name} is given twice (combine them: "
                       f"@{name}({'events' if name == 'trigger' else 'flows'}=[...]))")
            return True
        self.seen[name] = node
        try:
            if name == "trigger":
                self.triggers = triggers.event_triggers(args, self.pos(node))
            elif name == "trigger_on_finish":
                self.finish = triggers.finish_triggers(args, self.pos(node))
            else:
                self.project = triggers.project(args, self.pos(node))
        except triggers.TriggerProblem as exc:
            self.error(node, f"{self.where}: @{name}: {exc}")
        return True

    def fields(self, params: Sequence[ParameterIR]) -> dict[str, Any]:
        """The FlowIR fields, after checking that every mapped parameter exists."""
        known = {p.name for p in params}
        for t in self.triggers:
            for param, _ in t.parameters:
                if param not in known:
                    self.error(self.seen["trigger"], f"{self.where}: @trigger: event "
                               f"{t.name!r} maps the payload to {param!r}, which is not a "
                               f"Parameter of the flow (parameters: "
                               f"{', '.join(sorted(known)) or 'none'})")
        own_project = self.project.name if self.project else None
        for f in self.finish:
            # Its own finish, on its own branch: every run would start the next, forever.
            if f.flow == self.flow and f.project in (None, own_project) and f.branch is None:
                self.error(self.seen["trigger_on_finish"], f"{self.where}: @trigger_on_finish "
                           "names the flow itself, so each run would start another without "
                           "end; trigger on another flow, or on another branch "
                           "('project.branch.Flow')")
        count = len(self.triggers) + len(self.finish)
        if count > triggers.MAX_TRIGGERS:
            self.error(self.seen.get("trigger") or self.seen["trigger_on_finish"],
                       f"{self.where}: {count} triggers; at most {triggers.MAX_TRIGGERS} (one "
                       "EventBridge rule each)")
        return {"project": self.project, "triggers": self.triggers,
                "finish_triggers": self.finish}
