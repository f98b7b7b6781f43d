"""Read a flow file into the IR by static analysis of its AST. The module is never executed."""

from __future__ import annotations

import ast
import functools
import gc
import io
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sfncompile import ir
from sfncompile.conventions.steps import END
from sfncompile.errors import FlowError, FlowErrors, UsageError
from sfncompile.flow.unsupported import mutator_message
from sfncompile.ir import FlowIR, ParameterIR, ScheduleIR, SourcePos, StepIR
from sfncompile.parser.classes import ClassRef, Hierarchy, SourceModule, main_guard_calls
from sfncompile.parser.configs import (
    FAILED,
    MISSING,
    config_reference,
    given_configs,
    is_failure,
    unpacked_config,
    with_config_values,
)
from sfncompile.parser.decorators import (
    CLASS_DECORATORS,
    FUNCTION_ARGS,
    RECORDED_ARGS,
    REFUSED,
    REPEATABLE,
    STEP_DECORATORS,
    Unevaluated,
    allowed,
    build_policies,
    combined_problem,
    numeric_text,
    schedule_expression,
    type_problem,
)
from sfncompile.parser.entry_steps import entry_steps, is_step_decorator, step_marks
from sfncompile.parser.event_decorators import EventDecorators
from sfncompile.parser.flow_extras import FLOW_EXTRAS, flow_extras
from sfncompile.parser.graph_checks import validate_graph
from sfncompile.parser.module import MAX_LITERAL_DEPTH, ModuleInfo, read_module, too_deep
from sfncompile.parser.parameters import parameter_call, read_parameter
from sfncompile.parser.provided import check_imports
from sfncompile.parser.schedule import ScheduleError
from sfncompile.parser.user_decorators import USER_DECORATOR, module_bindings, unknown_decorator

# Every step is a Batch Task state of at least this many bytes, so a definition within Step
# Functions' 1,048,576 bytes (emit/limits.py checks the real size) has at most MAX_STEPS
# steps: checked before anything is built, so a huge flow is refused at once.
MIN_TASK_STATE_BYTES = 200
MAX_DEFINITION_BYTES = 1_048_576
MAX_STEPS = MAX_DEFINITION_BYTES // MIN_TASK_STATE_BYTES
# Each branch of a Parallel records at least its own start and end and its Batch task's events.
EVENTS_PER_BRANCH = ir.EVENTS_PER_ITERATION + ir.EVENTS_BATCH_TASK
MAX_SPLIT_WIDTH = (ir.HISTORY_LIMIT - ir.HISTORY_HEADROOM) // EVENTS_PER_BRANCH
# Metaflow's classes whose subclasses change the flow when Metaflow loads it: refused.
MUTATORS = frozenset({"StepMutator", "FlowMutator"})


class _Reader:
    """Collects every problem instead of stopping at the first."""

    def __init__(self, path: str, info: ModuleInfo, text: str = "") -> None:
        self.path = path
        self.info = info
        # For a text prefilter in next_calls; only ASCII, where a column is a character offset
        # and no other spelling of `next` normalises to it.
        self.lines: list[str] | None = text.splitlines() if text.isascii() else None
        self.errors: list[FlowError] = []
        self.tree: ast.Module | None = None  # for `bound`, read only when a name is not ours
        self.configs: dict[str, Any] = {}  # Config attributes of the flow -> their values
        self.config_locals: dict[str, Any] = {}  # Config names -> values, for config_expr
        self.flow_name = ""  # the flow being read
        self.end_step = END  # the flow's last step (@step(end=True) may name another)
        # The API classes a decorator's class derives from (set by parse_source).
        self.api_bases: Callable[[ast.expr], set[str]] = lambda node: set()

    @functools.cached_property
    def bound(self) -> set[str] | None:
        """The names the module binds, where a user's decorator may come from (None: a star
        import makes them unknowable). Walked only when a decorator is not Metaflow's."""
        return module_bindings(self.tree) if self.tree is not None else set()

    def pos(self, node: ast.AST) -> SourcePos:
        return SourcePos(
            path=self.path,
            line=getattr(node, "lineno", 1),
            col=getattr(node, "col_offset", 0) + 1,
        )

    def error(self, node: ast.AST, message: str) -> None:
        p = self.pos(node)
        self.errors.append(FlowError(p.path, p.line, p.col, message))

    # -- decorators -------------------------------------------------------------------------

    def decorator_args(
        self, node: ast.expr, table: dict[str, dict[str, Any]], where: str
    ) -> tuple[str, dict[str, Any]] | None:
        """The decorator's name and checked arguments; USER_DECORATOR for the user's own
        decorator (it runs at task time); None after an error."""
        call = node if isinstance(node, ast.Call) else None
        target = call.func if call else node
        name = self.info.api_name(target)
        if name in REFUSED:
            self.error(node, f"{where}: @{name} {REFUSED[name]}")
            return None
        if name not in table:
            problem = unknown_decorator(target, name, table, self.bound)
            if problem is None:
                problem = self.mutator_problem(target)
            if problem is None:
                return USER_DECORATOR, {}
            self.error(node, f"{where}: {problem}")
            return None
        args: dict[str, Any] = {}
        if call is None:
            return name, args
        if call.args:
            self.error(call.args[0], f"{where}: @{name} takes keyword arguments only")
        spec = table[name]
        for kw in call.keywords:
            if kw.arg is None:  # `**cfg`: the Config's keys are the arguments (Metaflow's)
                unpacked = unpacked_config(self, kw.value, f"{where}: @{name}")
                for key, value in (unpacked or {}).items():
                    self.keyword(name, spec, key, value, kw.value, where, args)
                continue
            if kw.arg not in spec:
                self.error(kw, f"{where}: unknown argument {kw.arg!r} of @{name} "
                           f"{allowed(spec)}")
                continue
            if (name, kw.arg) in FUNCTION_ARGS:
                value = self.function_names(kw.value, f"{where}: argument {kw.arg!r} of @{name}")
            else:
                recorded = (name, kw.arg) in RECORDED_ARGS
                value = self.literal(kw.value, f"{where}: argument {kw.arg!r} of @{name}",
                                     quiet=recorded)
                if value is _NOT_LITERAL and recorded:
                    args[kw.arg] = Unevaluated(ast.unparse(kw.value))
                    continue
            if value is _NOT_LITERAL:
                continue
            self.keyword(name, spec, kw.arg, value, kw.value, where, args)
        problem = combined_problem(name, args)
        if problem:
            self.error(node, f"{where}: @{name} {problem}")
        return name, args

    def mutator_problem(self, target: ast.expr) -> str | None:
        """Why the user's decorator `@target` cannot be applied: a StepMutator or FlowMutator
        (found by reading its class and bases), or None."""
        root = target.func if isinstance(target, ast.Call) else target
        if not isinstance(root, ast.Name | ast.Attribute):
            return None
        try:
            kinds = self.api_bases(root) & MUTATORS
        except (FlowErrors, UsageError):  # a module that cannot be read is the task's to load
            return None
        return mutator_message(ast.unparse(root), min(kinds)) if kinds else None

    def keyword(self, name: str, spec: dict[str, Any], key: str, value: Any, node: ast.expr,
                where: str, args: dict[str, Any]) -> None:
        """Check one argument of decorator `name` and add it to `args` (or report it)."""
        if key not in spec:
            self.error(node, f"{where}: unknown argument {key!r} of @{name} {allowed(spec)}")
            return
        value = numeric_text(spec[key], value)
        problem = type_problem(spec[key], value)
        if problem:
            self.error(node, f"{where}: argument {key!r} of @{name} {problem}")
            return
        args[key] = value

    def function_names(self, node: ast.expr, what: str) -> Any:
        """A list of functions of the module (or their names, or dotted import paths), as
        Metaflow's @exit_hook takes them: kept by name."""
        if not isinstance(node, ast.List | ast.Tuple):
            self.error(node, f"{what} must be a list of functions, not `{_short(node)}`")
            return _NOT_LITERAL
        names = []
        for item in node.elts:
            if isinstance(item, ast.Constant) and isinstance(item.value, str) and item.value:
                names.append(item.value)
            elif isinstance(item, ast.Name):
                names.append(item.id)
            else:
                self.error(item, f"{what} must list functions defined or imported in this "
                           f"module, or their names, not `{_short(item)}`")
                return _NOT_LITERAL
        return names

    def literal(self, node: ast.expr, what: str, quiet: bool = False) -> Any:
        """The value of a literal (or of a Config reference); _NOT_LITERAL, with an error
        unless `quiet`, for anything that would need the module to run."""
        if too_deep(node, MAX_LITERAL_DEPTH):
            self.error(node, f"{what} nests more than {MAX_LITERAL_DEPTH} levels deep")
            return _NOT_LITERAL
        from_config = config_reference(self, node, what)
        if is_failure(from_config):
            return _NOT_LITERAL
        if from_config is not MISSING:
            return from_config
        substituted = with_config_values(self, node, what)  # `{"k": cfg.key}`
        if substituted is None:
            return _NOT_LITERAL
        try:
            return self.info.literal(substituted)
        except (ValueError, TypeError, SyntaxError, RecursionError):
            if not quiet:
                self.error(node, f"{what} must be a literal value, not `{_short(node)}` "
                           "(flows are compiled without running them)")
            return _NOT_LITERAL

    # -- flow class -------------------------------------------------------------------------

    def flow(self, cls: ast.ClassDef, source: str,
             lineage: list[tuple[_Reader, ast.ClassDef, bool]] | None = None) -> FlowIR | None:
        """The flow of class `cls`; `lineage` is the class and its bases in resolution order
        (each with the reader of its module, and whether it derives from FlowSpec)."""
        lineage = lineage or [(self, cls, True)]
        members = _members(lineage)
        steps_defined = [stmt for reader, stmt in members if isinstance(
            stmt, ast.FunctionDef | ast.AsyncFunctionDef) and reader.is_step(stmt)]
        if len(steps_defined) > MAX_STEPS:
            self.error(steps_defined[MAX_STEPS], f"flow {cls.name!r} has {len(steps_defined):,} "
                       f"steps; a Step Functions definition ({MAX_DEFINITION_BYTES:,} bytes at "
                       f"most) holds at most {MAX_STEPS:,} (every step is a Batch task state of "
                       f"at least {MIN_TASK_STATE_BYTES} bytes). Use a foreach, or split the flow")
            return None
        # Configs first: decorators and Parameter defaults may read their values.
        configs: dict[int, ParameterIR | None] = {}
        for reader, _, _ in lineage:
            reader.flow_name = cls.name
        for reader, stmt in members:
            if (isinstance(stmt, ast.Assign | ast.AnnAssign)
                    and parameter_call(reader, stmt) == "Config"):
                configs[id(stmt)] = config = reader.parameter(stmt)
                if config is not None:
                    for other, _, _ in lineage:
                        other.configs[config.attr] = config.default
                        other.config_locals[config.name] = _as_seen(config)
                else:  # its error is reported: what reads it fails without another one
                    for other, _, _ in lineage:
                        other.configs.update(dict.fromkeys(_defined_names(stmt), FAILED))
        schedule = None
        given_on: dict[str, str] = {}
        extras: list[tuple[str, dict[str, Any], SourcePos]] = []
        events = EventDecorators(self.pos, self.error, cls.name)
        for reader, klass, is_flow in lineage:
            if not is_flow:
                continue
            for deco in klass.decorator_list:
                parsed = reader.decorator_args(deco, CLASS_DECORATORS, f"flow {cls.name!r}")
                if parsed is None or parsed[0] == USER_DECORATOR:
                    continue
                name, args = parsed
                if name in given_on and given_on[name] != klass.name:
                    reader.error(deco, f"flow {cls.name!r}: @{name} is given on {klass.name!r} "
                                 f"and on {given_on[name]!r}; a flow decorator is given once "
                                 "in a class hierarchy (as in Metaflow)")
                    continue
                given_on[name] = klass.name
                events.pos, events.error = reader.pos, reader.error
                if events.read(name, args, deco):
                    continue
                if name in FLOW_EXTRAS:
                    extras.append((name, args, reader.pos(deco)))
                    continue
                if name != "schedule":
                    continue
                try:
                    schedule = ScheduleIR(expression=schedule_expression(args),
                                          timezone=args.get("timezone"), pos=reader.pos(deco))
                except ScheduleError as exc:
                    reader.error(deco, f"flow {cls.name!r}: @schedule: {exc}")
        marks = {stmt.name: (stmt, *reader.step_marks(stmt)) for reader, stmt in members
                 if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef)
                 and reader.is_step(stmt)}
        start_step, end_step = entry_steps(self, cls, marks)
        for reader, _, _ in lineage:
            reader.end_step = end_step
        steps: list[StepIR] = []
        params: list[ParameterIR] = []
        seen_steps: dict[str, ast.FunctionDef] = {}
        seen_params: dict[str, ParameterIR] = {}
        unparsed = False  # a step whose transition could not be read: skip graph rules
        for reader, stmt in members:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and reader.is_step(stmt):
                if stmt.name in seen_steps:
                    reader.error(stmt, f"step {stmt.name!r} is defined twice (first at line "
                                 f"{seen_steps[stmt.name].lineno})")
                    continue
                if isinstance(stmt, ast.AsyncFunctionDef):
                    reader.error(stmt, f"step {stmt.name!r} must not be async")
                    continue
                seen_steps[stmt.name] = stmt
                step = reader.step(stmt)
                if step is None:
                    unparsed = True
                else:
                    steps.append(step)
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                param = configs[id(stmt)] if id(stmt) in configs else reader.parameter(stmt)
                if param is None:
                    continue
                if param.name in seen_params:
                    first = seen_params[param.name].pos
                    at = f"line {first.line}" if first.path == reader.path else \
                        f"{first.path}:{first.line}"
                    reader.error(stmt, f"duplicate Parameter {param.name!r} (first defined at "
                                 f"{at})")
                    continue
                seen_params[param.name] = param
                params.append(param)
        for param in params:
            if param.attr in seen_steps:
                self.error(seen_steps[param.attr],
                           f"step {param.attr!r} has the name of a Parameter")
        flow = FlowIR(name=cls.name, source=source, steps=tuple(steps),
                      parameters=tuple(params), schedule=schedule, pos=self.pos(cls),
                      doc=ast.get_docstring(cls), **flow_extras(extras, self.errors),
                      **events.fields(params), start_step=start_step,
                      end_step=end_step)
        if not unparsed:
            self.errors.extend(validate_graph(flow))
        return flow

    def step_marks(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[bool, bool]:
        return step_marks(self, func)

    def is_step(self, func: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
        return any(is_step_decorator(self, d) for d in func.decorator_list)

    # -- steps ------------------------------------------------------------------------------

    def step(self, func: ast.FunctionDef) -> StepIR | None:
        where = f"step {func.name!r}"
        decorators: dict[str, Any] = {}  # name -> arguments (a list where repeatable)
        positions: dict[str, SourcePos] = {}
        for deco in func.decorator_list:
            if is_step_decorator(self, deco):
                continue
            parsed = self.decorator_args(deco, STEP_DECORATORS, where)
            if parsed is None or parsed[0] == USER_DECORATOR:
                continue
            positions[parsed[0]] = self.pos(deco)
            if parsed[0] in REPEATABLE:
                decorators.setdefault(parsed[0], []).append(parsed[1])
            else:
                if parsed[0] in decorators:
                    self.error(deco, f"{where}: @{parsed[0]} is given twice")
                decorators[parsed[0]] = parsed[1]
        positional = [*func.args.posonlyargs, *func.args.args]
        if not positional or positional[0].arg != "self":
            self.error(func, f"{where} must take `self` as its first argument")
        if len(positional) > 2 or func.args.vararg or func.args.kwonlyargs:
            self.error(func, f"{where} takes `self`, plus `inputs` for a join, and nothing else")
        is_join = len(positional) == 2
        calls = self.next_calls(func)
        base: dict[str, Any] = {
            "name": func.name, "is_join": is_join, "pos": self.pos(func),
            "doc": ast.get_docstring(func), "policies": build_policies(decorators, positions),
        }
        if func.name == self.end_step:
            for call in calls:
                self.error(call, f"step {func.name!r} must not call self.next: it is the last "
                           "step")
            return StepIR(kind="end", **base)
        if not calls:
            self.error(func, f"{where} must end with self.next(...)")
            return None
        for extra in calls[1:]:
            self.error(extra, f"{where} calls self.next more than once; a step has exactly one "
                       "transition (use a switch to choose at run time)")
        call = calls[0]
        last = func.body[-1]
        if not (isinstance(last, ast.Expr) and last.value is call):
            self.error(call, f"{where}: self.next(...) must be the last statement of the step")
        return self.transition(call, base, where)

    def next_calls(self, func: ast.FunctionDef) -> list[ast.Call]:
        """Every `self.next(...)` call in the step (decorators included), in source order.

        Walking each step's whole tree was most of the parse time of a large flow: when no
        text before the last statement mentions `next`, only the last statement can hold one.
        """
        last = func.body[-1]
        scope: ast.AST = func
        if self.lines is not None:
            first = min([func.lineno, *(d.lineno for d in func.decorator_list)])
            before = self.lines[first - 1:last.lineno - 1]
            head = self.lines[last.lineno - 1][:last.col_offset]
            if "next" not in head and not any("next" in line for line in before):
                scope = last
                # The usual step: its last statement is its one `self.next(...)`.
                lines = self.lines[last.lineno - 1:last.end_lineno or last.lineno]
                if (isinstance(last, ast.Expr) and isinstance(last.value, ast.Call)
                        and _is_self_next(last.value)
                        and sum(line.count("next") for line in lines) == 1):
                    return [last.value]
        calls = [n for n in ast.walk(scope) if isinstance(n, ast.Call) and _is_self_next(n)]
        calls.sort(key=lambda c: (c.lineno, c.col_offset))
        return calls

    def transition(self, call: ast.Call, base: dict[str, Any], where: str) -> StepIR | None:
        kwargs = {kw.arg: kw.value for kw in call.keywords}
        for name in kwargs:
            if name not in ("foreach", "condition", "num_parallel"):
                self.error(call, f"{where}: self.next got an unknown keyword {name!r} "
                           "(allowed: foreach, condition, num_parallel)")
        base["next_pos"] = self.pos(call)
        if len(call.args) == 1 and isinstance(call.args[0], ast.Dict):
            return self.switch(call, call.args[0], kwargs.get("condition"), base, where)
        if "condition" in kwargs:
            if "num_parallel" in kwargs or "foreach" in kwargs:
                self.error(call, f"{where}: a switch (condition=) cannot be combined with "
                           "foreach or num_parallel (as in Metaflow)")
                return None
            self.error(call, f"{where}: condition= needs a dict of arms: "
                       "self.next({'a': self.x, 'b': self.y}, condition='var')")
        targets = [self.target(arg, where) for arg in call.args]
        if not call.args:
            self.error(call, f"{where}: self.next() needs at least one step")
            return None
        if None in targets:
            return None
        names = tuple(t for t in targets if t is not None)
        if "num_parallel" in kwargs:
            return self.parallel_transition(call, kwargs, names, base, where)
        if "foreach" in kwargs:
            node = kwargs["foreach"]
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                self.error(node, f"{where}: foreach= must be a string literal naming an "
                           f"artifact, not `{_short(node)}`")
                return None
            if len(names) != 1:
                self.error(call, f"{where}: a foreach goes to exactly one step")
                return None
            return StepIR(kind="foreach", targets=names, foreach_var=node.value, **base)
        if len(set(names)) != len(names):
            self.error(call, f"{where}: self.next lists the same step twice")
            return None
        if len(names) > MAX_SPLIT_WIDTH:
            self.error(call, f"{where}: a split of {len(names):,} branches; at most "
                       f"{MAX_SPLIT_WIDTH:,} fit in the {ir.HISTORY_LIMIT:,} events of an "
                       f"execution's history (each branch records at least "
                       f"{EVENTS_PER_BRANCH}). Use a foreach")
            return None
        return StepIR(kind="linear" if len(names) == 1 else "split", targets=names, **base)

    def parallel_transition(self, call: ast.Call, kwargs: dict[str | None, ast.expr],
                            names: tuple[str, ...], base: dict[str, Any],
                            where: str) -> StepIR | None:
        """`self.next(self.x, num_parallel=N)`: N nodes of the @parallel step `x` (a foreach
        over the nodes, as Metaflow's graph has it). N is fixed when the flow is built: the
        multi-node job definition names its number of nodes."""
        node = kwargs["num_parallel"]
        if "foreach" in kwargs:
            self.error(call, f"{where}: self.next takes foreach= or num_parallel=, not both")
            return None
        value = node.value if isinstance(node, ast.Constant) else None
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(node, f"{where}: num_parallel= must be an int literal (the number of "
                       f"nodes), not `{_short(node)}`")
            return None
        if value < 1:
            self.error(node, f"{where}: num_parallel={value}: a @parallel step needs at "
                       "least 1 node")
            return None
        if len(names) != 1:
            self.error(call, f"{where}: only one destination is allowed when num_parallel is "
                       "used in self.next (as in Metaflow)")
            return None
        return StepIR(kind="foreach", targets=names, num_parallel=value, **base)

    def switch(self, call: ast.Call, arms: ast.Dict, condition: ast.expr | None,
               base: dict[str, Any], where: str) -> StepIR | None:
        if condition is None:
            self.error(call, f"{where}: a dict of arms needs condition='<artifact name>'")
            return None
        if not (isinstance(condition, ast.Constant) and isinstance(condition.value, str)):
            self.error(condition, f"{where}: condition= must be a string literal naming an "
                       f"artifact, not `{_short(condition)}`")
            return None
        cases: list[tuple[str, str]] = []
        keys: list[Any] = []
        for key, value in zip(arms.keys, arms.values, strict=True):
            if key is None:
                self.error(value, f"{where}: switch arms must be written out, not `**`")
                return None
            arm = self.literal(key, f"{where}: a switch arm key")
            if arm is _NOT_LITERAL:
                return None
            # Metaflow matches the condition's value with the keys by equality; the IR names
            # an arm by its key's text, which the task writes as its control value.
            if not isinstance(arm, (str, int, float)):
                self.error(key, f"{where}: switch arm keys must be strings or numbers, "
                           f"got {arm!r}")
                return None
            target = self.target(value, where)
            if target is None:
                return None
            if str(arm) in dict(cases) or any(arm == k for k in keys):
                self.error(key, f"{where}: switch arm {arm!r} is given twice")
            keys.append(arm)
            cases.append((str(arm), target))
        if len(cases) < 2:
            self.error(arms, f"{where}: a switch needs at least two arms")
            return None
        targets = tuple(dict.fromkeys(t for _, t in cases))
        return StepIR(kind="switch", targets=targets, condition=condition.value,
                      cases=tuple(cases), **base)

    def target(self, node: ast.expr, where: str) -> str | None:
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id == "self"):
            return node.attr
        self.error(node, f"{where}: a transition target must be a step written as "
                   f"`self.<step>`, not `{_short(node)}`")
        return None

    # -- parameters -------------------------------------------------------------------------

    def parameter(self, stmt: ast.Assign | ast.AnnAssign) -> ParameterIR | None:
        if parameter_call(self, stmt) is None:
            return None
        return read_parameter(self, stmt, _NOT_LITERAL)


def _as_seen(config: ParameterIR) -> Any:
    """A Config's value as Metaflow's config_expr sees it: a read-only ConfigValue, unless
    the Config is plain (or has no value)."""
    from sfncompile.flow.inputs import ConfigValue

    value = config.default
    return value if value is None or config.plain or not isinstance(value, dict) \
        else ConfigValue(value)


class _NotLiteral:
    pass


_NOT_LITERAL: Any = _NotLiteral()


def _defined_names(stmt: ast.stmt) -> set[str]:
    """The class attributes a statement of a class body binds."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return {stmt.name}
    targets = stmt.targets if isinstance(stmt, ast.Assign) else \
        [stmt.target] if isinstance(stmt, ast.AnnAssign) else []
    return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}


def _members(lineage: list[tuple[_Reader, ast.ClassDef, bool]]) -> list[tuple[_Reader, ast.stmt]]:
    """The class-body statements a flow class sees, with their readers: a name bound by a class
    earlier in the resolution order hides the same name in later ones (a subclass's step
    overrides its base's). Listed base-most first, each class in source order."""
    owner: dict[str, int] = {}
    for i, (_, klass, _) in enumerate(lineage):
        for stmt in klass.body:
            for name in _defined_names(stmt):
                owner.setdefault(name, i)
    out: list[tuple[_Reader, ast.stmt]] = []
    for i in reversed(range(len(lineage))):
        reader, klass, _ = lineage[i]
        for stmt in klass.body:
            names = _defined_names(stmt)
            if names and all(owner[n] == i for n in names):
                out.append((reader, stmt))
    return out


def _is_self_next(call: ast.Call) -> bool:
    f = call.func
    return (isinstance(f, ast.Attribute) and f.attr == "next"
            and isinstance(f.value, ast.Name) and f.value.id == "self")


def _short(node: ast.AST) -> str:
    if too_deep(node, MAX_LITERAL_DEPTH):
        return "..."
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_python(text: str, display: str) -> ast.Module:
    """ast.parse, quietly and fast. Python's own warnings about the source (an invalid escape
    in a string, say) are Python's to give when the flow runs, not errors of the flow. The
    tree holds no cycles, so the cycle collector is paused while it is built: on a big flow
    it would otherwise take half the time, scanning the new nodes over and over."""
    paused = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text, filename=display)
    finally:
        if paused:
            gc.enable()


def _longest_statement(text: str) -> int:
    """The line of the statement with the most tokens: where a too-deep expression sits."""
    import tokenize

    best, best_line, count, line = -1, 1, 0, 1
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if count == 0:
                line = tok.start[0]
            count += 1
            if tok.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
                if count > best:
                    best, best_line = count, line
                count = 0
    except (tokenize.TokenError, SyntaxError):
        if count > best:
            best_line = line
    return best_line


def parse_flow(path: str | Path, flow_name: str | None = None,
               configs: Mapping[str, tuple[str, Any]] | None = None) -> FlowIR:
    """Parse the flow in `path`; raise FlowErrors listing every problem found. `configs`:
    Config name -> (what gave it, its text or GivenValue), in place of the Config's default
    (`--config`, `--config-value`, a resumed run's values)."""
    display = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{display}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{display}: cannot read the flow file: {exc.strerror or exc}") from None
    with given_configs(configs):
        return parse_source(decode_source(data, display), display, flow_name)


def decode_source(data: bytes, display: str) -> str:
    """The text of a flow file, decoded as Python does (UTF-8, or its coding declaration)."""
    encoding = "utf-8"
    if b"coding" in b"\n".join(data.split(b"\n", 2)[:2]):
        encoding = _declared_encoding(data, display)
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        col = len(data[line_start:exc.start].decode(encoding, errors="replace")) + 1
        bad = data[exc.start:exc.end].hex(" ")
        raise FlowErrors([FlowError(display, line, col, f"the file is not valid {encoding}: "
                                    f"cannot decode byte(s) {bad}; save it as UTF-8 or "
                                    "declare its encoding (# -*- coding: ... -*-)")]) from None


def _declared_encoding(data: bytes, display: str) -> str:
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        # Bytes that are not UTF-8 in the first two lines, or an unknown coding declaration.
        if "encoding declaration" not in str(exc.msg):
            line = data.count(b"\n", 0, data.find(b"coding")) + 1 if b"coding" in data else 1
            raise FlowErrors([FlowError(display, line, 1, str(exc.msg))]) from None
        return "utf-8"
    return encoding


def parse_source(text: str, display: str, flow_name: str | None = None) -> FlowIR:
    text = text.removeprefix("\ufeff")
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - text.rfind("\n", 0, nul)
        raise FlowErrors([FlowError(display, line, col, "the file contains a NUL character; "
                                    "it is not Python source")])
    try:
        tree = _parse_python(text, display)
    except SyntaxError as exc:
        raise FlowErrors([FlowError(display, exc.lineno or 1, exc.offset or 1,
                                    f"syntax error: {exc.msg}")]) from None
    except (RecursionError, MemoryError):
        line = _longest_statement(text)
        raise FlowErrors([FlowError(display, line, 1, "this statement nests too deeply for "
                                    "Python's parser; split it into smaller expressions")]
                         ) from None
    except ValueError as exc:  # e.g. an integer literal longer than Python allows
        raise FlowErrors([FlowError(display, 1, 1, f"cannot parse the file: {exc}")]) from None
    main = SourceModule(display, text, tree, read_module(tree))
    errors = check_imports(tree, display, text)
    if errors:
        raise FlowErrors(errors)
    readers: dict[int, _Reader] = {}
    shared: list[FlowError] = []

    hierarchy = Hierarchy(main, Path(display).parent, _load_beside)

    def reader_for(module: SourceModule) -> _Reader:
        if id(module) not in readers:
            reader = readers[id(module)] = _Reader(module.path, module.info, module.text)
            reader.errors = shared
            reader.tree = module.tree
            reader.api_bases = functools.partial(hierarchy.api_bases, module)
        return readers[id(module)]

    classes = hierarchy.flow_classes()
    if not classes:
        unread = hierarchy.unresolved_bases()
        if unread:
            first = unread[0]
            raise FlowErrors([FlowError(first.module.path, getattr(first.node, "lineno", 1),
                                        getattr(first.node, "col_offset", 0) + 1,
                                        f"no flow found: cannot read a base class: "
                                        f"{first.reason}")])
        raise FlowErrors([FlowError(display, 1, 1, "no flow found: define `class MyFlow(FlowSpec)`"
                                    " with `from sfncompile import FlowSpec, step` "
                                    "(or from metaflow)")])
    for ref in classes:
        hierarchy.check_cycles(ref)
    chosen = _choose_flow(classes, tree, display, flow_name)
    lineage = [(reader_for(ref.module), ref.node, hierarchy.is_flow(ref))
               for ref in hierarchy.mro(chosen)]
    reader = reader_for(main)
    flow = reader.flow(chosen.node, Path(display).name, lineage)
    if shared or flow is None:
        raise FlowErrors(shared)
    return flow


def _choose_flow(classes: list[ClassRef], tree: ast.Module, display: str,
                 flow_name: str | None) -> ClassRef:
    """The flow to build: --flow NAME, else the only flow class, else the one the `__main__`
    guard runs, else the only one that no other flow class of the file derives from."""
    names = ", ".join(c.name for c in classes)
    if flow_name is not None:
        for c in classes:
            if c.name == flow_name:
                return c
        raise UsageError(f"{display}: no flow named {flow_name!r} (flows here: {names})")
    if len(classes) == 1:
        return classes[0]
    by_name = {c.name: c for c in classes}
    for called in main_guard_calls(tree):
        if called in by_name:
            return by_name[called]
    bases = {b.id for c in classes for b in c.node.bases if isinstance(b, ast.Name)}
    leaves = [c for c in classes if c.name not in bases]
    if len(leaves) == 1:
        return leaves[0]
    second = classes[1].node
    raise FlowErrors([FlowError(display, second.lineno, second.col_offset + 1,
                                f"several flows in this file ({names}): choose one with "
                                "--flow NAME, or run it under `if __name__ == \"__main__\":`")])


def _load_beside(path: Path, display: str) -> SourceModule:
    """A module beside the flow, parsed and checked like the flow file itself."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{display}: cannot read the module: {exc.strerror or exc}") from None
    text = decode_source(data, display).removeprefix("\ufeff")
    try:
        tree = _parse_python(text, display)
    except SyntaxError as exc:
        raise FlowErrors([FlowError(display, exc.lineno or 1, exc.offset or 1,
                                    f"syntax error: {exc.msg}")]) from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise FlowErrors([FlowError(display, 1, 1, f"cannot parse the module: "
                                    f"{type(exc).__name__}")]) from None
    errors = check_imports(tree, display, text)
    if errors:
        raise FlowErrors(errors)
    return SourceModule(display, text, tree, read_module(tree))
