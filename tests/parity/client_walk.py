"""What a client says about a run, as flat JSON facts, the same way for both tools' clients.

    walk_run(client, run, stack_of, roles) -> {fact: value}

`client` is the module with Flow, Run, Step, Task and DataArtifact (`metaflow` in Metaflow's
process, `sfncompile.client` in the test process); `stack_of(task)` is a task's foreach index
stack, outermost first, which names the task in both tools (their task ids differ); `roles`
maps each run id to the name the test gives the run, so that a resumed run's origin reads the
same under both. The walk goes Run -> Step -> Task -> DataArtifact and records every value
the client gives that does not depend on ids, times or paths: for those it records the type
(a time is a datetime), or the id mapped to its role. Stdlib only: Metaflow's interpreter
imports it too (tests/parity/metaflow_driver.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

try:
    from tests.parity.normalise import normalise
except ModuleNotFoundError:  # in Metaflow's process, beside this file
    from normalise import normalise  # type: ignore[no-redef]

Facts = dict[str, Any]
Stack = Callable[[Any], list[int]]

# The classes an error is recorded by (a subclass counts as each base it has).
ERROR_NAMES = ("KeyError", "AttributeError", "TypeError", "ValueError", "MetaflowNotFound",
               "MetaflowInvalidPathspec", "MetaflowNamespaceMismatch")


def error_of(call: Callable[[], Any]) -> Any:
    """The names (ERROR_NAMES) of what `call` raises, or its value when it raises nothing."""
    try:
        value = call()
    except Exception as exc:  # what is recorded is which error it is
        return {"raises": sorted({c.__name__ for c in type(exc).__mro__} & set(ERROR_NAMES))}
    return {"value": value}


def type_of(value: Any) -> str:
    return type(value).__name__


def system_tag(tag: str) -> str:
    """A system tag without what differs by release: `metaflow_version:` keeps the Metaflow
    release it names (Metaflow's 2.19.39 and sfncompile's 2.19+sfncompile.V are 2.19), any
    other `*_version:` loses its value."""
    key, _, value = tag.partition(":")
    if key == "metaflow_version":
        release = re.match(r"\d+\.\d+(?=[.+]|$)", value)
        return f"{key}:{release.group(0) if release else value}"
    return f"{key}:<version>" if key.endswith("_version") else tag


# A traceback's frame in @catch's report on stdout (`>    File ...` and its code line): the
# paths and lines of each tool's own frames. The report's other lines are compared.
_FRAME_LINE = re.compile(r">    ")


def without_frames(text: Any) -> Any:
    """Log text (or lines) without @catch's traceback frames."""
    if isinstance(text, list):
        return [line for line in text if not _FRAME_LINE.match(line)]
    if isinstance(text, str):
        return "".join(line for line in text.splitlines(keepends=True)
                       if not _FRAME_LINE.match(line))
    return text


def newest_first(objects: list[Any]) -> bool:
    times = [o.created_at for o in objects]
    return times == sorted(times, reverse=True)


def walk_run(client: Any, run: Any, stack_of: Stack, roles: dict[str, str]) -> Facts:
    facts: Facts = {}
    walker = _Walker(client, run, stack_of, roles, facts)
    walker.run()
    return facts


class _Walker:
    def __init__(self, client: Any, run: Any, stack_of: Stack, roles: dict[str, str],
                 facts: Facts) -> None:
        self.client, self.run_, self.stack_of, self.roles = client, run, stack_of, roles
        self.facts = facts
        self.flow = run.path_components[0]

    def key(self, task: Any) -> str:
        return f"{task.path_components[2]}{self.stack_of(task)}"

    def origin(self, pathspec: Any) -> Any:
        """An origin pathspec with its run id as a role and its task as a key."""
        if not isinstance(pathspec, str):
            return pathspec
        parts = pathspec.split("/")
        out = [parts[0], self.roles.get(parts[1], parts[1]), *parts[2:3]]
        if len(parts) == 4:
            out.append(self.key(self.client.Task(pathspec)))
        return out

    def run(self) -> None:
        run, f = self.run_, self.facts
        f["run.successful"], f["run.finished"] = run.successful, run.finished
        f["run.finished_at"], f["run.created_at"] = type_of(run.finished_at), \
            type_of(run.created_at)
        f["run.origin"] = self.origin(run.origin_pathspec)
        f["run.parent"] = [type_of(run.parent), run.parent.id, run.parent.pathspec]
        f["run.path_components"] = len(run.path_components)
        end = run.end_task
        f["run.end_task"] = None if end is None else self.key(end)
        data = run.data
        f["run.data"] = None if data is None else sorted(n for n in dir(data)
                                                         if not n.startswith("_"))
        f["run.code"], f["run.trigger"] = repr(run.code), repr(run.trigger)
        self.tags(run, "run")
        steps = list(run)
        f["run.steps"] = [s.id for s in steps]
        f["run.steps_newest_first"] = newest_first(steps)
        f["run.steps()"] = [s.id for s in run.steps()]
        f["run.user_tags"] = sorted(run.user_tags)
        self.probes()
        for step in steps:
            self.step(step)

    def tags(self, obj: Any, at: str) -> None:
        """User tags as they are; system tags with a version's value left out."""
        f = self.facts
        try:
            user, system, tags = obj.user_tags, obj.system_tags, obj.tags
        except AttributeError as exc:
            f[f"{at}.tags"] = {"raises": [type(exc).__name__]}
            return
        f[f"{at}.user_tags"] = sorted(user)
        f[f"{at}.system_tags"] = sorted(system_tag(t) for t in system)
        f[f"{at}.tags"] = sorted(tags) == sorted({*user, *system})
        if obj is not self.run_:
            f[f"{at}.tags are the run's"] = sorted(tags) == sorted(self.run_.tags)

    def probes(self) -> None:
        """The flow and its runs, containment, and the errors for what does not exist."""
        c, run, f = self.client, self.run_, self.facts
        flow = self.flow
        f["flow.in Metaflow().flows"] = flow in [fl.id for fl in c.Metaflow().flows]
        f["flow.runs"] = [self.roles.get(r.id, r.id) for r in c.Flow(flow).runs()]
        f["flow.latest_run"] = self.roles.get(c.Flow(flow).latest_run.id)
        latest_ok = c.Flow(flow).latest_successful_run
        f["flow.latest_successful_run"] = None if latest_ok is None else \
            self.roles.get(latest_ok.id)
        f["flow.parent"] = [c.Flow(flow).parent, c.Flow(flow).pathspec]
        f["probe.Flow(Nope)"] = error_of(lambda: c.Flow("NoSuchFlowAnywhere").id)
        f["probe.Run(nope)"] = error_of(lambda: c.Run(f"{flow}/no-such-run").id)
        f["probe.flow[nope]"] = error_of(lambda: c.Flow(flow)["no-such-run"].id)
        f["probe.nope in flow"] = "no-such-run" in c.Flow(flow)
        f["probe.run in flow"] = run.id in c.Flow(flow)
        f["probe.run[nostep]"] = error_of(lambda: run["nostep"].id)
        f["probe.nostep in run"] = "nostep" in run
        f["probe.start in run"] = "start" in run
        f["probe.Step(nostep)"] = error_of(lambda: c.Step(f"{run.pathspec}/nostep").id)
        f["probe.Run(bad)"] = error_of(lambda: c.Run(flow).id)
        c.namespace("no-such-namespace")  # the walk reads in namespace None
        try:
            f["probe.Flow(elsewhere)"] = error_of(lambda: c.Flow(flow).id)
        finally:
            c.namespace(None)
        if run.user_tags:  # runs(*tags): only the runs that have every tag
            f["flow.runs(user tags)"] = [self.roles.get(r.id, r.id)
                                         for r in c.Flow(flow).runs(*run.user_tags)]
            f["flow.runs(no such tag)"] = list(c.Flow(flow).runs("no-such-tag"))

    def step(self, step: Any) -> None:
        f, c = self.facts, self.client
        at = f"step[{step.id}]"
        tasks = list(step)
        f[f"{at}.tasks"] = sorted(self.key(t) for t in tasks)
        f[f"{at}.tasks()"] = sorted(self.key(t) for t in step.tasks())
        f[f"{at}.newest_first"] = newest_first(tasks)
        f[f"{at}.task_is_first"] = step.task.pathspec == tasks[0].pathspec
        f[f"{at}.parent"] = [type_of(step.parent), step.parent.id == self.run_.id]
        f[f"{at}.path_components"] = step.path_components[2:]
        f[f"{at}.created_at"] = type_of(step.created_at)
        f[f"{at}.finished_at"] = type_of(step.finished_at)
        f[f"{at}.origin"] = self.origin(step.origin_pathspec)
        f[f"{at}.parent_steps"] = error_of(lambda: sorted(s.id for s in step.parent_steps))
        f[f"{at}.child_steps"] = error_of(lambda: sorted(s.id for s in step.child_steps))
        f[f"{at}[999]"] = error_of(lambda: step["999999"].id)
        f[f"{at}.Task(999)"] = error_of(lambda: c.Task(f"{step.pathspec}/999999").id)
        f[f"{at}.999 in step"] = "999999" in step
        self.tags(step, at)
        for task in tasks:
            self.task(task)

    def task(self, task: Any) -> None:
        f = self.facts
        at = f"task[{self.key(task)}]"
        f[f"{at}.in step"] = task.id in task.parent
        f[f"{at}.parent"] = [type_of(task.parent), task.parent.id]
        f[f"{at}.path_components"] = [len(task.path_components),
                                      task.path_components[-1] == task.id]
        for name in ("successful", "finished", "index", "current_attempt"):
            f[f"{at}.{name}"] = getattr(task, name)
        f[f"{at}.code"], f[f"{at}.environment_info"] = repr(task.code), \
            repr(task.environment_info)
        f[f"{at}.created_at"] = type_of(task.created_at)
        f[f"{at}.finished_at"] = type_of(task.finished_at)
        f[f"{at}.origin"] = self.origin(task.origin_pathspec)
        self.tags(task, at)
        exc = task.exception
        f[f"{at}.exception"] = None if exc is None else {
            "class": type_of(exc), "type": exc.type, "exception": exc.exception,
            "last line": (exc.stacktrace or "").strip().splitlines()[-1:]}
        f[f"{at}.stdout"] = without_frames(task.stdout)
        last = f"{exc.type.rpartition('.')[2]}: {exc.exception}" if exc is not None else None
        f[f"{at}.stderr names the exception"] = last is None or last in task.stderr
        lines = list(task.loglines("stdout"))
        f[f"{at}.loglines"] = without_frames([line for _, line in lines])
        f[f"{at}.loglines times"] = sorted({type_of(t) for t, _ in lines})
        self.metadata(task, at)
        f[f"{at}.parents"] = sorted(self.key(t) for t in task.parent_tasks)
        f[f"{at}.children"] = sorted(self.key(t) for t in task.child_tasks)
        self.artifacts(task, at)

    def metadata(self, task: Any, at: str) -> None:
        f = self.facts
        meta = dict(task.metadata_dict)
        if "origin-run-id" in meta:
            meta["origin-run-id"] = self.roles.get(meta["origin-run-id"],
                                                   meta["origin-run-id"])
        if "origin-task-id" in meta:
            meta["origin-task-id"] = "<a task id>"
        if "ds-root" in meta:
            meta["ds-root"] = "<a path>"
        f[f"{at}.metadata_dict"] = meta
        events = task.metadata
        f[f"{at}.metadata"] = sorted({(type_of(m), type_of(m.created_at),
                                       m.task.pathspec == task.pathspec) for m in events})
        f[f"{at}.metadata attempts"] = sorted(m.value for m in events if m.type == "attempt")

    def artifacts(self, task: Any, at: str) -> None:
        f, c = self.facts, self.client
        arts = list(task)
        names = sorted(a.id for a in arts)
        f[f"{at}.artifacts"] = names
        f[f"{at}.artifacts tuple"] = sorted(task.artifacts._fields) == names
        f[f"{at}.artifact objects"] = sorted({
            (type_of(a.parent), a.parent.pathspec == task.pathspec, a.pathspec.endswith(a.id),
             type_of(a.created_at), type_of(a.finished_at), type_of(a.sha)) for a in arts})
        for art in arts:
            f[f"{at}.artifact[{art.id}]"] = normalise(art.data)
        data = task.data
        f[f"{at}.data"] = [all(n in data for n in names), "no_such_artifact" in data,
                           error_of(lambda: list(data)),
                           error_of(lambda: data.no_such_artifact)]
        f[f"{at}[noart]"] = error_of(lambda: task["no_such_artifact"].id)
        f[f"{at}.DataArtifact(noart)"] = error_of(
            lambda: c.DataArtifact(f"{task.pathspec}/no_such_artifact").id)
