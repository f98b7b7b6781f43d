"""Graph rules for a parsed flow, at least as strict as Metaflow's linter.

Each rule returns errors pointing at the step (or its `self.next`) that breaks it.
"""

from __future__ import annotations

from sfncompile.errors import FlowError
from sfncompile.ir import FlowAnalysis, FlowIR, SourcePos, StepIR

RESERVED_STEP_NAMES = frozenset({"next", "input", "index", "merge_artifacts", "foreach_stack"})
# Splits and foreach nest at most this deep. Deeper is no real flow, and the graph analysis
# and the emitter recurse once per level: the limit keeps them far from Python's own.
MAX_NESTING = 32


def _err(pos: SourcePos | None, message: str) -> FlowError:
    assert pos is not None
    return FlowError(pos.path, pos.line, pos.col, message)


def validate_graph(flow: FlowIR) -> list[FlowError]:
    errors = _check_names(flow)
    if errors:
        return errors
    errors = _check_nesting(flow)
    if errors:
        return errors
    a = flow.analysis
    errors += _check_reachability(flow, a)
    errors += _check_cycles(a)
    errors += _check_joins(flow, a)
    if not errors:
        errors += _check_scopes(flow, a)
    if not errors:
        errors += _check_branches(a)
    if not errors:
        errors += _check_parallel(flow, a)
    return errors


def _check_names(flow: FlowIR) -> list[FlowError]:
    errors: list[FlowError] = []
    names = {s.name for s in flow.steps}
    for required in (flow.start_step, flow.end_step):
        if required not in names:
            errors.append(_err(flow.pos, f"flow {flow.name!r} has no {required!r} step; every "
                               "flow starts at `start` and finishes at `end` (or at the steps "
                               "marked @step(start=True) and @step(end=True))"))
    for s in flow.steps:
        if s.name in RESERVED_STEP_NAMES:
            errors.append(_err(s.pos, f"step {s.name!r} has a reserved name"))
        for t in s.targets:
            if t not in names:
                known = ", ".join(sorted(names))
                errors.append(_err(s.next_pos or s.pos, f"step {s.name!r}: self.next goes to "
                                   f"unknown step {t!r} (steps: {known})"))
            elif t == flow.start_step:
                errors.append(_err(s.next_pos, f"step {s.name!r}: no step may go back to "
                                   f"{flow.start_step!r}"))
        # As Metaflow: after a failure a foreach has no items and a switch no arm to follow;
        # a static split goes on to all of its branches.
        if s.policies.catch is not None and s.kind not in ("linear", "split", "end"):
            errors.append(_err(s.pos, f"step {s.name!r}: @catch is not supported on a "
                               f"{s.kind} step (as in Metaflow): after a failure it has nothing "
                               "to decide on; put @catch on the steps it leads to"))
    return errors


def _check_nesting(flow: FlowIR) -> list[FlowError]:
    """Refuse splits and foreach nested deeper than MAX_NESTING, before any recursive analysis.

    The depth of a step is the number of splits and foreach passed on the way from `start`,
    less the joins passed, over the forward edges (a loop's edge back is left out). Found
    without recursion, it is exact for a valid flow and bounds the nesting of an invalid one.
    """
    by_name = {s.name: s for s in flow.steps}
    first = flow.start_step
    if first not in by_name:
        return []
    back: set[tuple[str, str]] = set()
    visited = {first}
    on_path = {first}
    stack: list[tuple[str, int]] = [(first, 0)]
    while stack:
        name, i = stack[-1]
        if i == len(by_name[name].targets):
            stack.pop()
            on_path.discard(name)
            continue
        stack[-1] = (name, i + 1)
        t = by_name[name].targets[i]
        if t in on_path:
            back.add((name, t))
        elif t in by_name and t not in visited:
            visited.add(t)
            on_path.add(t)
            stack.append((t, 0))
    forward = {n: [t for t in by_name[n].targets if t in by_name and (n, t) not in back]
               for n in visited}
    indegree = dict.fromkeys(visited, 0)
    for targets in forward.values():
        for t in targets:
            indegree[t] += 1
    depth = dict.fromkeys(visited, 0)
    ready = [n for n, d in indegree.items() if d == 0]
    while ready:
        name = ready.pop()
        step = by_name[name]
        if depth[name] > MAX_NESTING:
            return [_err(step.pos, f"step {name!r} is nested inside {depth[name]} splits or "
                         f"foreach; at most {MAX_NESTING} levels are supported")]
        inner = depth[name] + (1 if step.kind in ("split", "foreach") else 0)
        for t in forward[name]:
            depth[t] = max(depth[t], inner - 1 if by_name[t].is_join else inner)
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return []


def _check_reachability(flow: FlowIR, a: FlowAnalysis) -> list[FlowError]:
    errors: list[FlowError] = []
    reached = {s.name for s in a.ordered}
    reaches_end = {flow.end_step}
    stack = [flow.end_step]
    while stack:
        for parent in a.parents[stack.pop()]:
            if parent not in reaches_end:
                reaches_end.add(parent)
                stack.append(parent)
    for s in flow.steps:
        if s.name not in reached:
            errors.append(_err(s.pos, f"step {s.name!r} is not reachable from "
                               f"{flow.start_step!r}"))
        elif s.name not in reaches_end:
            errors.append(_err(s.pos, f"step {s.name!r} never reaches {flow.end_step!r}"))
    return errors


def _check_cycles(a: FlowAnalysis) -> list[FlowError]:
    errors = []
    for src, dst in sorted(a.back_edges):
        step = a.by_name[src]
        if step.kind != "switch":
            errors.append(_err(step.next_pos, f"step {src!r} goes back to {dst!r}, making a "
                               "cycle; only a switch arm may loop back"))
        elif a.by_name[dst].is_join:
            errors.append(_err(step.next_pos, f"step {src!r} loops back to the join {dst!r}; "
                               "a loop must go back to the split or foreach, or inside it"))
    return errors


def _check_joins(flow: FlowIR, a: FlowAnalysis) -> list[FlowError]:
    errors: list[FlowError] = []
    for s in a.ordered:
        if s.kind not in ("split", "foreach"):
            continue
        what = "split" if s.kind == "split" else "foreach"
        for t in s.targets:
            if a.by_name[t].is_join:
                errors.append(_err(s.next_pos, f"step {s.name!r}: the {what} goes straight to "
                                   f"the join {t!r}; a branch needs at least one step"))
        joins = a.closing_joins(s)
        if len(joins) > 1:
            errors.append(_err(s.next_pos, f"step {s.name!r}: the branches of the {what} end in"
                               f" different joins ({', '.join(sorted(joins))}); they must meet"
                               " in exactly one join"))
        elif not joins:
            meet = _meeting_step(a, s) if s.kind == "split" else None
            if meet is not None and meet != flow.end_step:
                errors.append(_err(a.by_name[meet].pos, f"step {meet!r} joins the {what} of "
                                   f"{s.name!r} but does not take `inputs`: write "
                                   f"`def {meet}(self, inputs)`"))
            else:
                errors.append(_err(s.next_pos, f"step {s.name!r}: the {what} is never joined;"
                                   " its branches must meet in a join step "
                                   "`def join(self, inputs)`"))
    for s in flow.steps:
        if (s.is_join and s.name not in a.opener_of and s.name in a.scope_of
                and not any(s.name in a.closing_joins(o) for o in flow.steps
                            if o.kind in ("split", "foreach"))):
            errors.append(_err(s.pos, f"step {s.name!r} takes `inputs` but joins no split"
                               " or foreach; only a join step takes `inputs`"))
    return errors


def _meeting_step(a: FlowAnalysis, split: StepIR) -> str | None:
    """The first step that every branch of `split` reaches (where a join should be)."""
    reach: list[set[str]] = []
    for t in split.targets:
        seen: set[str] = set()
        stack = [t]
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(a.forward_targets(a.by_name[n]))
        reach.append(seen)
    common = set.intersection(*reach) if reach else set()
    for s in a.ordered:
        if s.name in common:
            return s.name
    return None


def _check_scopes(flow: FlowIR, a: FlowAnalysis) -> list[FlowError]:
    """Edges stay inside their branch; loops stay in their scope and out of split branches."""
    errors: list[FlowError] = []
    for s in a.ordered:
        scope = a.scope_of.get(s.name)
        if scope is None:
            continue
        for t in s.targets:
            if (s.name, t) in a.back_edges:
                if a.scope_of.get(t) != scope:
                    errors.append(_err(s.next_pos, f"step {s.name!r} loops back to {t!r}, "
                                       "outside its own branch or foreach"))
                elif any(a.by_name[o].kind == "split" for o in scope):
                    errors.append(_err(s.next_pos, f"step {s.name!r}: a loop inside a branch "
                                       f"of the split {scope[-1]!r} is not supported; move "
                                       "the loop into a foreach or out of the split"))
                continue
            if s.kind in ("split", "foreach"):
                continue
            target = a.by_name[t]
            if target.is_join and a.opener_of.get(t) is not None:
                opener = a.opener_of[t]
                if scope[: len(a.scope_of[opener]) + 1] != (*a.scope_of[opener], opener):
                    errors.append(_err(s.next_pos, f"step {s.name!r} goes to the join {t!r} "
                                       f"from outside the branches of {opener!r}"))
            elif a.scope_of.get(t) != scope:
                errors.append(_err(s.next_pos, f"step {s.name!r} jumps to {t!r}, out of its "
                                   "branch; branches of a split or foreach may only leave "
                                   "through their join"))
    return errors


def _check_branches(a: FlowAnalysis) -> list[FlowError]:
    """The branches of a split meet only at their join: no step of one branch goes into
    another (the step would run once per branch)."""
    errors: list[FlowError] = []
    for split in a.ordered:
        join = a.join_of.get(split.name)
        if split.kind != "split" or join is None:
            continue
        owner = {head: i for i, head in enumerate(split.targets)}
        for i, head in enumerate(split.targets):
            stack = [head]
            while stack:
                step = a.by_name[stack.pop()]
                nxt = ([a.join_of[step.name]] if step.name in a.join_of
                       else a.forward_targets(step))
                for t in nxt:
                    if t == join or t not in a.by_name:
                        continue
                    if t not in owner:
                        owner[t] = i
                        stack.append(t)
                    elif owner[t] != i:
                        other = split.targets[owner[t]]
                        errors.append(_err(step.next_pos, f"step {step.name!r} goes to {t!r}, "
                                           f"in the branch of the split {split.name!r} that "
                                           f"starts at {other!r}; the branches of a split "
                                           f"meet only at their join {join!r}"))
    return errors


def _check_parallel(flow: FlowIR, a: FlowAnalysis) -> list[FlowError]:
    """Metaflow's rules for multi-node steps: `self.next(num_parallel=)` goes to a @parallel
    step, a @parallel step is reached only so and goes straight to a join."""
    errors: list[FlowError] = []
    for s in flow.steps:
        if s.num_parallel is not None:
            target = a.by_name[s.targets[0]]
            if target.policies.parallel is None:
                errors.append(_err(s.next_pos, f"step {s.name!r} is called as a parallel step "
                                   "with self.next(num_parallel=...) but its target "
                                   f"{target.name!r} does not have a @parallel decorator"))
        pos = s.policies.parallel
        if pos is None:
            continue
        parents = [a.by_name[p] for p in a.parents[s.name]]
        if not parents or any(p.num_parallel is None for p in parents):
            errors.append(_err(pos, f"step {s.name!r} has a @parallel decorator, but is not "
                               "called with self.next(num_parallel=...) from "
                               + " and ".join(repr(p.name) for p in parents if
                                              p.num_parallel is None)))
        elif s.kind != "linear" or not a.by_name[s.targets[0]].is_join:
            errors.append(_err(s.next_pos or pos, f"a @parallel step must be followed by a join "
                               f"step: step {s.name!r} is not followed by one (add a step that "
                               "takes `inputs`)"))
    return errors
