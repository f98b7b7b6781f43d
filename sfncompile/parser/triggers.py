"""`@trigger`, `@trigger_on_finish` and `@project`: their arguments, checked, into the IR.

The accepted forms are Metaflow's (plugins/events_decorator.py, project_decorator.py):
- `@trigger(event="name")`, `event={"name": ..., "parameters": {param: field} | [param |
  (param, field)]}`, or `events=[...]` of either;
- `@trigger_on_finish(flow="Flow")`, `"project.branch.Flow"`, `{"name": "Flow", "project": ...,
  "project_branch": ...}`, or `flows=[...]` of either;
- `@project(name=..., branch=..., production=...)`.

Beyond Metaflow, every value that EventBridge or an AWS name would refuse is refused here, so
a flow that builds also deploys: an event name becomes a PutEvents DetailType (at most 128
characters), a payload field a dot-notation input path, a parameter an input-template key.
"""

from __future__ import annotations

import re
from typing import Any

from sfncompile.conventions.event_format import event_name_problem
from sfncompile.ir import EventTriggerIR, FinishTriggerIR, ProjectIR, SourcePos

# An InputTransformer holds at most 100 input paths; five carry the trigger record.
MAX_MAPPED_PARAMETERS = 95
# Rule names are `<stem>.t<i>` within EventBridge's 64 characters (emit/event_rules.py).
MAX_TRIGGERS = 100
# Input paths use dot notation only; keys of InputPathsMap are [A-Za-z0-9_-]+.
_PATH_PART = re.compile(r"[A-Za-z0-9_-]{1,128}")
_FLOW_NAME = re.compile(r"[A-Za-z0-9_]+")  # Metaflow's rule for @trigger_on_finish
# Metaflow's rule for project and branch names (project_decorator.py, VALID_NAME_RE)
PROJECT_NAME = re.compile(r"[a-z0-9_]{1,128}")


class TriggerProblem(ValueError):
    """A value of @trigger/@trigger_on_finish/@project that cannot be used; the message says
    why and what to write instead."""


def _mapping(event: str, raw: Any) -> tuple[tuple[str, str], ...]:
    """Metaflow's parameter mapping: a dict, or a list of names and (param, field) pairs."""
    pairs: list[tuple[Any, Any]] = []
    if isinstance(raw, dict):
        pairs = list(raw.items())
    elif isinstance(raw, list | tuple):
        for item in raw:
            if isinstance(item, str):
                pairs.append((item, item))
            elif isinstance(item, list | tuple) and len(item) == 2:
                pairs.append((item[0], item[1]))
            else:
                raise TriggerProblem(f"event {event!r}: parameters must list names or "
                                     f"(parameter, field) pairs, got {item!r:.60}")
    else:
        raise TriggerProblem(f"event {event!r}: parameters must be a dict "
                             "{'parameter': 'payload field'} or a list")
    out: list[tuple[str, str]] = []
    for param, field in pairs:
        if not isinstance(param, str) or not isinstance(field, str):
            raise TriggerProblem(f"event {event!r}: parameter mappings are strings, got "
                                 f"{param!r:.40}: {field!r:.40}")
        if not _PATH_PART.fullmatch(field):
            raise TriggerProblem(
                f"event {event!r}: payload field {field!r:.60} cannot be read by an "
                "EventBridge input path (1-128 letters, digits, _ and -; no dots or spaces)")
        if not _PATH_PART.fullmatch(param):
            raise TriggerProblem(
                f"event {event!r}: parameter {param!r:.60} cannot be an EventBridge "
                "input-transformer key (1-128 letters, digits, _ and -)")
        out.append((param, field))
    if len(out) > MAX_MAPPED_PARAMETERS:
        raise TriggerProblem(f"event {event!r}: {len(out)} mapped parameters; an EventBridge "
                             f"input transformer takes at most {MAX_MAPPED_PARAMETERS} here")
    if len({p for p, _ in out}) != len(out):
        raise TriggerProblem(f"event {event!r}: a parameter is mapped twice")
    return tuple(out)


def _event(raw: Any, pos: SourcePos) -> EventTriggerIR:
    params: tuple[tuple[str, str], ...] = ()
    if isinstance(raw, str):
        name = raw
    elif isinstance(raw, dict):
        unknown = sorted(set(raw) - {"name", "parameters"})
        if unknown:
            raise TriggerProblem(f"unknown key(s) {', '.join(map(repr, unknown))} in an event "
                                 "(allowed: 'name', 'parameters')")
        if "name" not in raw:
            raise TriggerProblem("an event given as a dict needs a 'name'")
        name = raw["name"]
        problem = event_name_problem(name)
        if problem:
            raise TriggerProblem(problem)
        params = _mapping(name, raw.get("parameters", {}))
    else:
        raise TriggerProblem("an event is a name or {'name': ..., 'parameters': {...}}, got "
                             f"{type(raw).__name__}")
    problem = event_name_problem(name)
    if problem:
        raise TriggerProblem(problem)
    return EventTriggerIR(name=name, parameters=params, pos=pos)


def event_triggers(args: dict[str, Any], pos: SourcePos) -> tuple[EventTriggerIR, ...]:
    """The triggers of one `@trigger(...)`; raises TriggerProblem."""
    if ("event" in args) == ("events" in args):
        raise TriggerProblem("@trigger takes one of event= or events=")
    raw = [args["event"]] if "event" in args else list(args["events"])
    if not raw:
        raise TriggerProblem("@trigger(events=[]) names no event")
    out = tuple(_event(e, pos) for e in raw)
    names = [t.name for t in out]
    if len(set(names)) != len(names):
        raise TriggerProblem("@trigger names the same event twice")
    return out


def _finish(raw: Any, pos: SourcePos) -> FinishTriggerIR:
    project = branch = None
    if isinstance(raw, dict):
        unknown = sorted(set(raw) - {"name", "project", "project_branch"})
        if unknown:
            raise TriggerProblem(f"unknown key(s) {', '.join(map(repr, unknown))} in a flow "
                                 "(allowed: 'name', 'project', 'project_branch')")
        name = raw.get("name")
        if not isinstance(name, str) or "." in name:
            raise TriggerProblem("a flow given as a dict needs a 'name' without dots")
        project, branch = raw.get("project"), raw.get("project_branch")
        for what, value in (("project", project), ("project_branch", branch)):
            if value is not None and not isinstance(value, str):
                raise TriggerProblem(f"the {what} of flow {name!r} must be a string")
    elif isinstance(raw, str):
        if raw.count(".") == 1:
            raise TriggerProblem(f"flow {raw!r}: name a flow as 'Flow' or "
                                 "'project.branch.Flow'")
        name = raw
        if raw.count(".") >= 2:
            project, tail = raw.split(".", 1)
            branch, name = tail.rsplit(".", 1)
    else:
        raise TriggerProblem("a flow is a name, 'project.branch.Flow' or {'name': ...}, got "
                             f"{type(raw).__name__}")
    if not _FLOW_NAME.fullmatch(name):
        raise TriggerProblem(f"flow name {name!r}: only letters, digits and _ are allowed")
    if project is not None and not PROJECT_NAME.fullmatch(project):
        raise TriggerProblem(f"project {project!r}: lowercase letters, digits and _ only")
    if branch is not None and not re.fullmatch(r"[a-z0-9_.]{1,140}", branch):
        raise TriggerProblem(f"branch {branch!r}: lowercase letters, digits, _ and . only")
    return FinishTriggerIR(flow=name, project=project, branch=branch, pos=pos)


def finish_triggers(args: dict[str, Any], pos: SourcePos) -> tuple[FinishTriggerIR, ...]:
    """The triggers of one `@trigger_on_finish(...)`; raises TriggerProblem."""
    if ("flow" in args) == ("flows" in args):
        raise TriggerProblem("@trigger_on_finish takes one of flow= or flows=")
    raw = [args["flow"]] if "flow" in args else list(args["flows"])
    if not raw:
        raise TriggerProblem("@trigger_on_finish(flows=[]) names no flow")
    return tuple(_finish(f, pos) for f in raw)


def project(args: dict[str, Any], pos: SourcePos) -> ProjectIR:
    name = args.get("name")
    if not isinstance(name, str) or not PROJECT_NAME.fullmatch(name):
        raise TriggerProblem("@project needs name='...' of 1-128 lowercase letters, digits "
                             "and _ (as Metaflow requires)")
    branch = args.get("branch")
    if branch is not None:
        branch_problem_ = branch_problem(branch)
        if branch_problem_:
            raise TriggerProblem(branch_problem_)
    return ProjectIR(name=name, branch=branch, production=bool(args.get("production")),
                     pos=pos)


def branch_problem(branch: str) -> str | None:
    """Metaflow's rule for a given branch; it also keeps every AWS name derived from it valid."""
    if not PROJECT_NAME.fullmatch(branch):
        return (f"branch {branch!r:.80} must be 1-128 lowercase letters, digits and _ (as "
                "Metaflow requires; AWS resource names are made from it)")
    return None
