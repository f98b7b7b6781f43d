"""The typed intermediate representation of a flow.

The parser produces a `FlowIR`; every emitter, the local runner and the deployer consume it.
Nothing here knows about AWS or about Python source: a step is its name, how it ends
(`kind`), where it goes, and its policies. Graph facts that several consumers need (the join
that closes a split, the nesting scope of a step, back edges, a stable order) are derived
once here, by `FlowIR.analysis`.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Any, Literal

from sfncompile.conventions.steps import END, START

StepKind = Literal["linear", "split", "foreach", "switch", "end"]
ParamType = Literal["str", "int", "float", "bool", "json"]
# A Parameter; an IncludeFile (the value is a file's contents, read when the run starts); a
# Config (a JSON value read when the flow is built, fixed in the compiled flow).
ParamKind = Literal["parameter", "include_file", "config"]
MapMode = Literal["inline", "distributed"]
DEFAULT_MAX_CONCURRENCY = 40


# Frozen stdlib dataclasses rather than pydantic models: importing pydantic costs more than the
# rest of `build` together. The parser checks every value before it builds the IR, so the IR
# holds no validation of its own; it is typed (mypy strict) and immutable.


@dataclass(frozen=True, kw_only=True)
class SourcePos:
    """Where something was written: a path relative to the flow's directory, 1-based line/col."""

    path: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"


@dataclass(frozen=True, kw_only=True)
class Resources:
    cpu: float | None = None
    memory: int | None = None  # MiB
    gpu: int | None = None
    shared_memory: int | None = None  # MiB
    disk: int | None = None  # MiB; Metaflow sizes Kubernetes pods with it, Batch has no such knob


@dataclass(frozen=True, kw_only=True)
class BatchSettings:
    """Per-step overrides of the deployment defaults (from `@batch`), with Metaflow's
    meaning and defaults; emit/jobdef.py maps them into the step's job definition."""

    image: str | None = None
    queue: str | None = None
    iam_role: str | None = None
    execution_role: str | None = None
    max_swap: int | None = None  # MiB
    swappiness: int | None = None
    inferentia: int = 0  # Neuron devices (`trainium` counts here too, as in Metaflow)
    efa: int = 0
    host_volumes: tuple[str, ...] = ()  # "host/path" or "host/path:container/path"
    efs_volumes: tuple[str, ...] = ()  # "fs-id" or "fs-id:container/path"
    use_tmpfs: bool = False
    tmpfs_tempdir: bool = True
    tmpfs_size: int | None = None  # MiB; with use_tmpfs, half the memory when not given
    tmpfs_path: str = "/metaflow_temp"
    ephemeral_storage: int | None = None  # GiB, Fargate only
    log_driver: str | None = None
    log_options: tuple[str, ...] = ()  # "key:value"
    tags: tuple[tuple[str, str], ...] = ()  # Metaflow's aws_batch_tags
    privileged: bool = False
    # The step has @batch: a local run with an S3 datastore runs it as an AWS Batch job.
    requested: bool = False


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    times: int = 3
    minutes_between_retries: int = 2

    @property
    def interval_seconds(self) -> int:
        """The wait before each retry: the ASL Retry's IntervalSeconds (at least 1)."""
        return max(1, 60 * self.minutes_between_retries)


@dataclass(frozen=True, kw_only=True)
class CatchPolicy:
    var: str | None = None
    print_exception: bool = True


@dataclass(frozen=True, kw_only=True)
class ForeachOptions:
    mode: MapMode = "inline"
    # None: not given in the flow, so a deployment may choose it (DEFAULT_MAX_CONCURRENCY
    # otherwise); 0: no limit.
    max_concurrency: int | None = None

    @property
    def concurrency(self) -> int:
        return DEFAULT_MAX_CONCURRENCY if self.max_concurrency is None else self.max_concurrency


@dataclass(frozen=True, kw_only=True)
class CardPolicy:
    """`@card`: a card rendered after the task and stored with it (Metaflow's arguments)."""

    type: str = "default"
    id: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    timeout: int = 45
    save_errors: bool = True
    customize: bool = False


@dataclass(frozen=True, kw_only=True)
class SecretSource:
    type: str = "aws-secrets-manager"
    id: str
    options: tuple[tuple[str, Any], ...] = ()
    role: str | None = None


@dataclass(frozen=True, kw_only=True)
class SecretsPolicy:
    """`@secrets`: secrets set as environment variables when the task starts."""

    sources: tuple[SecretSource, ...] = ()
    allow_override: bool = False


@dataclass(frozen=True, kw_only=True)
class PackagesIR:
    """`@pypi`/`@conda` (on a step) or `@pypi_base`/`@conda_base` (on the flow).

    sfncompile builds no environments: a local run checks that the packages are importable,
    and `deploy` says that the image must provide them.
    """

    manager: Literal["pypi", "conda"]
    packages: tuple[tuple[str, str], ...] = ()  # (distribution, version spec; "" for any)
    python: str | None = None
    # `python=` written as an expression (`get_python_version()`): its text, never evaluated;
    # it is only recorded, as every argument here (no environment is built from it).
    python_expr: str | None = None
    disabled: bool = False
    pos: SourcePos


@dataclass(frozen=True, kw_only=True)
class ExitHookIR:
    """`@exit_hook`: functions of the flow's module called once the run has ended."""

    on_success: tuple[str, ...] = ()
    on_error: tuple[str, ...] = ()
    pos: SourcePos


@dataclass(frozen=True, kw_only=True)
class Policies:
    resources: Resources = Resources()
    batch: BatchSettings = BatchSettings()
    retry: RetryPolicy | None = None
    catch: CatchPolicy | None = None
    timeout_seconds: int | None = None
    environment: tuple[tuple[str, str], ...] = ()
    foreach: ForeachOptions = ForeachOptions()
    cards: tuple[CardPolicy, ...] = ()
    secrets: SecretsPolicy | None = None
    packages: PackagesIR | None = None  # the step's own @pypi/@conda (see FlowIR.packages_for)
    kubernetes: SourcePos | None = None  # where @kubernetes was written: no AWS backend runs it
    parallel: SourcePos | None = None  # where @parallel was written: a multi-node step


@dataclass(frozen=True, kw_only=True)
class StepIR:
    name: str
    kind: StepKind
    is_join: bool = False
    # linear: one target; split: the branches; foreach: the body; switch: the arms' targets in
    # the order of `cases`; end: none.
    targets: tuple[str, ...] = ()
    foreach_var: str | None = None
    # `self.next(self.x, num_parallel=N)`: a foreach (kind "foreach", no foreach_var) over the
    # N nodes of the @parallel step `x`, which runs as one multi-node job.
    num_parallel: int | None = None
    condition: str | None = None
    cases: tuple[tuple[str, str], ...] = ()  # (arm value, target step)
    policies: Policies = Policies()
    pos: SourcePos
    next_pos: SourcePos | None = None  # the `self.next` call
    doc: str | None = None


@dataclass(frozen=True, kw_only=True)
class ParameterIR:
    name: str  # the name on the command line
    attr: str  # the class attribute the flow reads
    type: ParamType = "str"
    default: Any = None
    required: bool = False
    help: str | None = None
    pos: SourcePos
    kind: ParamKind = "parameter"
    # A default that is not a literal (a call, arithmetic, a function of the context), as
    # written: the `start` task evaluates it once per run, from the flow's class attribute.
    default_expr: str | None = None
    # No `type=` was given and the default is an expression: the value keeps its own type.
    infer_type: bool = False
    separator: str | None = None  # a string value is split into a list (Metaflow's separator=)
    show_default: bool = True
    is_text: bool = True  # IncludeFile: str contents (else bytes)
    encoding: str = "utf-8"  # IncludeFile
    plain: bool = False  # Config: the value as is, not a ConfigValue

    def runtime_extras(self) -> dict[str, Any]:
        """What the runtime needs beyond name, type and default; only the fields that differ
        from a plain Parameter's, so a plain flow's step graph stays as it was."""
        extras: dict[str, Any] = {}
        if self.kind != "parameter":
            extras["kind"] = self.kind
        if self.default_expr is not None:
            extras["default_expr"] = self.default_expr
        if self.infer_type:
            extras["infer_type"] = True
        if self.separator is not None:
            extras["separator"] = self.separator
        if self.kind == "include_file":
            extras.update(is_text=self.is_text, encoding=self.encoding)
        if self.plain:
            extras["plain"] = True
        return extras


@dataclass(frozen=True, kw_only=True)
class ScheduleIR:
    expression: str  # "cron(...)" or "rate(...)"
    timezone: str | None = None
    pos: SourcePos


@dataclass(frozen=True, kw_only=True)
class EventTriggerIR:
    """`@trigger(event=...)`: a run starts when an event of this name is published.

    `parameters` maps flow parameters to fields of the event's payload, as Metaflow's
    `{"name": ..., "parameters": {"param": "field"}}` does (a bare name maps a parameter to the
    field of the same name).
    """

    name: str
    parameters: tuple[tuple[str, str], ...] = ()  # (flow parameter name, payload field)
    pos: SourcePos


@dataclass(frozen=True, kw_only=True)
class FinishTriggerIR:
    """`@trigger_on_finish(flow=...)`: a run starts when a run of `flow` succeeds.

    Only flows of the same project and branch connect; `project`/`branch` are set when the
    flow was named as Metaflow's `project.branch.Flow` or with a dict naming them.
    """

    flow: str
    project: str | None = None
    branch: str | None = None
    pos: SourcePos


@dataclass(frozen=True, kw_only=True)
class ProjectIR:
    """`@project(name=...)`: deployments are namespaced by project and branch."""

    name: str
    branch: str | None = None  # a branch fixed in the flow (Metaflow's `branch=`)
    production: bool = False  # Metaflow's `production=True`
    pos: SourcePos


@dataclass(frozen=True, kw_only=True)
class FlowIR:
    name: str
    source: str  # the flow file, relative to its directory
    steps: tuple[StepIR, ...]
    parameters: tuple[ParameterIR, ...] = ()
    schedule: ScheduleIR | None = None
    project: ProjectIR | None = None
    triggers: tuple[EventTriggerIR, ...] = ()
    finish_triggers: tuple[FinishTriggerIR, ...] = ()
    packages: PackagesIR | None = None  # @pypi_base / @conda_base
    exit_hook: ExitHookIR | None = None
    pos: SourcePos
    doc: str | None = None
    # The entry and the last step: `start` and `end` unless `@step(start=True)`/`(end=True)`
    # name others; one step is both in a single-step flow.
    start_step: str = START
    end_step: str = END

    def packages_for(self, step: StepIR) -> PackagesIR | None:
        """The packages a step needs: the flow's base ones, updated by the step's own (as
        Metaflow merges them); None when there are none or the step disables them."""
        own, base = step.policies.packages, self.packages
        if own is None or base is None or own.manager != base.manager:
            chosen = own or base
            return None if chosen is None or chosen.disabled else chosen
        if own.disabled:
            return None
        merged = dict(base.packages) | dict(own.packages)
        python = own if own.python or own.python_expr else base
        return replace(own, packages=tuple(sorted(merged.items())), python=python.python,
                       python_expr=python.python_expr)

    def step(self, name: str) -> StepIR:
        return self.analysis.by_name[name]

    def with_steps(self, steps: tuple[StepIR, ...]) -> FlowIR:
        """A copy with other steps (and so a fresh analysis)."""
        return replace(self, steps=steps)

    @cached_property
    def analysis(self) -> FlowAnalysis:
        return FlowAnalysis(self)

    def graph_json(self) -> dict[str, Any]:
        """The step graph as plain JSON, for the runtime (which imports nothing of the compiler)."""
        a = self.analysis
        return {
            "flow": self.name,
            "source": self.source,
            **({"start_step": self.start_step} if self.start_step != START else {}),
            **({"end_step": self.end_step} if self.end_step != END else {}),
            "parameters": [
                {
                    "name": p.name,
                    "attr": p.attr,
                    "type": p.type,
                    "default": p.default,
                    "required": p.required,
                    **p.runtime_extras(),
                }
                for p in self.parameters
            ],
            "exit_hook": {
                "on_success": list(self.exit_hook.on_success),
                "on_error": list(self.exit_hook.on_error),
            } if self.exit_hook else None,
            # the branch of a deployment is in its environment (sfncompile.conventions.project)
            "project": None if self.project is None else {
                "name": self.project.name, "branch": self.project.branch,
                "production": self.project.production},
            # The steps in graph order: a task id's step number (conventions/task_ids.py); a
            # list, since the stored graph's keys are sorted.
            "order": [s.name for s in a.ordered],
            "steps": {
                s.name: {
                    "kind": s.kind,
                    "is_join": s.is_join,
                    "targets": list(s.targets),
                    "foreach_var": s.foreach_var,
                    "condition": s.condition,
                    "cases": {value: target for value, target in s.cases},
                    "parents": list(a.parents[s.name]),
                    "back_parents": sorted(p for p, t in a.back_edges if t == s.name),
                    "closes": a.opener_of.get(s.name),
                    "branch_ends": list(a.branch_ends.get(s.name, ())),
                    "retry_times": s.policies.retry.times if s.policies.retry else 0,
                    "retry_seconds": (s.policies.retry.interval_seconds
                                      if s.policies.retry else 0),
                    "catch_var": s.policies.catch.var if s.policies.catch else None,
                    "catch": s.policies.catch is not None,
                    "print_exception": (
                        s.policies.catch.print_exception if s.policies.catch else True
                    ),
                    "timeout_seconds": s.policies.timeout_seconds,
                    "environment": dict(s.policies.environment),
                    "max_width": a.max_inline_width.get(s.name),
                    **_services_json(s.policies),
                    **_parallel_json(s),
                }
                for s in a.ordered
            },
        }


def _parallel_json(s: StepIR) -> dict[str, Any]:
    """`num_parallel` of an opener and `parallel` of a @parallel step, only when set (so
    graphs of flows without them stay byte-identical)."""
    out: dict[str, Any] = {}
    if s.num_parallel is not None:
        out["num_parallel"] = s.num_parallel
    if s.policies.parallel is not None:
        out["parallel"] = True
    return out


def _services_json(p: Policies) -> dict[str, Any]:
    """`cards` and `secrets` of a step's graph entry, only when it has them (so graphs of
    flows without them stay byte-identical)."""
    out: dict[str, Any] = {}
    if p.cards:
        out["cards"] = [{"type": c.type, "id": c.id, "options": dict(c.options),
                         "timeout": c.timeout, "save_errors": c.save_errors,
                         "customize": c.customize} for c in p.cards]
    if p.secrets is not None:
        out["secrets"] = {
            "sources": [{"type": s.type, "id": s.id, "options": dict(s.options), "role": s.role}
                        for s in p.secrets.sources],
            "allow_override": p.secrets.allow_override,
        }
    return out


# History events that Step Functions records (no retries): a Batch .sync Task records
# Entered, Scheduled, Started, Submitted, Succeeded and Exited; a control read is a plain Task
# (Entered, Scheduled, Started, Succeeded, Exited); Pass and Choice record Entered and Exited; a
# Map or Parallel records Entered, Started, Succeeded and Exited, and each Inline Map iteration
# or Parallel branch adds Started and Succeeded.
EVENTS_BATCH_TASK = 6
EVENTS_CONTROL_READ = 5
EVENTS_PASS = 2
EVENTS_CONTAINER = 4
EVENTS_PER_ITERATION = 2
# The run records itself (emit/asl.py): its first state writes the run record (a plain Task),
# and a failure adds that Task again and the Fail state's event.
EVENTS_RUN_RECORD = EVENTS_CONTROL_READ
EVENTS_FAILURE_PATH = EVENTS_CONTROL_READ + 1
HISTORY_LIMIT = 25_000
# Room kept for retries and for the states outside the foreach.
HISTORY_HEADROOM = 1_000


class FlowAnalysis:
    """Graph facts derived once from a validated flow."""

    def __init__(self, flow: FlowIR) -> None:
        self.flow = flow
        self.by_name: dict[str, StepIR] = {s.name: s for s in flow.steps}
        # dicts as ordered sets: a list's `in` made a wide join quadratic
        parents: dict[str, dict[str, None]] = {s.name: {} for s in flow.steps}
        for s in flow.steps:
            for t in s.targets:
                if t in parents:
                    parents[t][s.name] = None
        self.parents: dict[str, list[str]] = {name: list(p) for name, p in parents.items()}
        self.back_edges: set[tuple[str, str]] = set()
        self._closing: dict[str, str | None] = {}
        self.ordered: list[StepIR] = self._order()
        self.join_of: dict[str, str] = {}
        self.opener_of: dict[str, str] = {}
        self.branch_ends: dict[str, list[str]] = {}
        self.scope_of: dict[str, tuple[str, ...]] = {}
        self._find_joins()
        self.max_inline_width: dict[str, int] = {
            s.name: self._inline_cap(s)
            for s in flow.steps
            if s.kind == "foreach" and s.policies.foreach.mode == "inline"
            and s.num_parallel is None
            and s.name in self.join_of and s.name in self.scope_of
        }

    def _order(self) -> list[StepIR]:
        """Find the back edges (to a step on the DFS path: a loop) and return the steps in a
        stable topological order of the forward edges, ties broken by first visit."""
        preorder: dict[str, int] = {}
        on_path: set[str] = set()
        first = self.flow.start_step
        if first in self.by_name:
            stack: list[tuple[str, int]] = [(first, 0)]
            preorder[first] = 0
            on_path.add(first)
            while stack:
                name, i = stack[-1]
                targets = self.by_name[name].targets
                if i == len(targets):
                    stack.pop()
                    on_path.discard(name)
                    continue
                stack[-1] = (name, i + 1)
                t = targets[i]
                if t in on_path:
                    self.back_edges.add((name, t))
                elif t in self.by_name and t not in preorder:
                    preorder[t] = len(preorder)
                    on_path.add(t)
                    stack.append((t, 0))
        indegree = {n: 0 for n in preorder}
        for n in preorder:
            for t in self.forward_targets(self.by_name[n]):
                if t in indegree:
                    indegree[t] += 1
        ready = [(preorder[n], n) for n, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        out: list[StepIR] = []
        while ready:
            _, n = heapq.heappop(ready)
            out.append(self.by_name[n])
            for t in self.forward_targets(self.by_name[n]):
                if t in indegree:
                    indegree[t] -= 1
                    if indegree[t] == 0:
                        heapq.heappush(ready, (preorder[t], t))
        return out

    def forward_targets(self, step: StepIR) -> tuple[str, ...]:
        # Most steps have no back edge: their targets as they are, without a new list.
        if not self.back_edges:
            return step.targets
        return tuple(t for t in step.targets if (step.name, t) not in self.back_edges)

    def _find_joins(self) -> None:
        """Pair every split and foreach with the join that closes it, and record scopes.

        A region is walked from its entry; a nested split or foreach is skipped over through
        its own join, so the first join reached is the one at this nesting level.
        """
        self._walk_region(self.flow.start_step, None, ())

    def _walk_region(self, entry: str, stop: str | None, scope: tuple[str, ...]) -> list[str]:
        """Visit the steps from `entry` up to `stop`; return the steps that lead into `stop`."""
        ends: list[str] = []
        stack = [entry]
        while stack:
            name = stack.pop()
            if name == stop or name in self.scope_of or name not in self.by_name:
                continue
            self.scope_of[name] = scope
            step = self.by_name[name]
            nxt: Sequence[str]
            if step.kind in ("split", "foreach"):
                join = self._join_for(step, scope)
                if join is None:
                    continue
                nxt = [join]
            else:
                nxt = self.forward_targets(step)
            for t in nxt:
                if t == stop:
                    ends.append(name)
                else:
                    stack.append(t)
        return ends

    def _join_for(self, step: StepIR, scope: tuple[str, ...]) -> str | None:
        join = self.find_closing_join(step)
        if join is None:
            return None
        self.join_of[step.name] = join
        self.opener_of[join] = step.name
        inner = (*scope, step.name)
        ends: list[str] = []
        for t in step.targets:
            ends.extend(self._walk_region(t, join, inner))
        self.branch_ends[join] = sorted(set(ends))
        return join

    def find_closing_join(self, step: StepIR) -> str | None:
        # Memoised: nested splits would otherwise be walked once per enclosing split. Marked
        # unknown first, so a split or foreach that leads back into itself ends the search.
        if step.name not in self._closing:
            self._closing[step.name] = None
            joins = self.closing_joins(step)
            self._closing[step.name] = next(iter(joins)) if len(joins) == 1 else None
        return self._closing[step.name]

    def closing_joins(self, step: StepIR) -> set[str]:
        """The joins reached first from the branches of `step`; exactly one when valid.

        A nested split or foreach is skipped over through its own join.
        """
        found: set[str] = set()
        for t in step.targets:
            seen: set[str] = set()
            stack = [t]
            while stack:
                name = stack.pop()
                if name in seen or name not in self.by_name:
                    continue
                seen.add(name)
                s = self.by_name[name]
                if s.is_join:
                    found.add(name)
                    continue
                if s.kind in ("split", "foreach"):
                    inner = self.find_closing_join(s)
                    if inner is not None:
                        stack.extend(self.forward_targets(self.by_name[inner]))
                    continue
                stack.extend(self.forward_targets(s))
        return found

    def reachable_in_scope(self, entry: str, stop: str | None) -> set[str]:
        """Steps reachable from `entry` without passing `stop`, over nested splits/foreach."""
        seen: set[str] = set()
        stack = [entry]
        while stack:
            name = stack.pop()
            if name == stop or name in seen or name not in self.by_name:
                continue
            seen.add(name)
            step = self.by_name[name]
            if step.kind in ("split", "foreach"):
                stack.extend([self.join_of[name]] if name in self.join_of else [])
            else:
                stack.extend(self.forward_targets(step))
        return seen

    @cached_property
    def order_index(self) -> dict[str, int]:
        """Each ordered step's position in `ordered`."""
        return {s.name: i for i, s in enumerate(self.ordered)}

    def region_steps(self, scope: tuple[str, ...]) -> list[StepIR]:
        """The steps whose nesting scope is `scope`, in graph order."""
        return self._by_scope.get(scope, [])

    @cached_property
    def _by_scope(self) -> dict[tuple[str, ...], list[StepIR]]:
        out: dict[tuple[str, ...], list[StepIR]] = {}
        for s in self.ordered:
            if s.name in self.scope_of:
                out.setdefault(self.scope_of[s.name], []).append(s)
        return out

    def events_per_iteration(self, foreach: StepIR) -> int:
        """History events that one Inline Map iteration of `foreach` records (no retries)."""
        return EVENTS_PER_ITERATION + self._region_events((*self.scope_of[foreach.name],
                                                           foreach.name))

    def _region_events(self, scope: tuple[str, ...]) -> int:
        total = 0
        for s in self.region_steps(scope):
            total += EVENTS_BATCH_TASK
            if s.kind == "switch":
                # the control read, then a Choice (or a loop Pass)
                total += EVENTS_CONTROL_READ + EVENTS_PASS
                if any(self.scope_of.get(t) != scope for t in s.targets):
                    total += EVENTS_PASS  # the Succeed that ends the branch
            elif s.kind == "split":
                total += EVENTS_CONTAINER + len(s.targets) * EVENTS_PER_ITERATION
                total += self._region_events((*scope, s.name))
            elif s.kind == "foreach":
                # Nested foreach widths are unknown at compile time; count one iteration.
                total += EVENTS_CONTROL_READ + EVENTS_CONTAINER + EVENTS_PER_ITERATION
                total += self._region_events((*scope, s.name))
        return total

    def _inline_cap(self, foreach: StepIR) -> int:
        budget = (HISTORY_LIMIT - HISTORY_HEADROOM - EVENTS_RUN_RECORD - EVENTS_FAILURE_PATH
                  - self._region_events(()))
        return max(1, budget // self.events_per_iteration(foreach))
