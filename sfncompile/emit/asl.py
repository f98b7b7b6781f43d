"""FlowIR -> Amazon States Language (a dict), one small function per step kind.

The shapes, and why (see DESIGN.md, "The ASL: principles"):
- the state carries only `run`, `scope` and `n` (`start` reads the parameters from the
  execution input); a task's id is `scope + n`: `n` counts loop iterations and each foreach
  level appends `<n>.<index>.` to the scope, so every task id is unique and computable by the
  runtime; a branch or iteration ends with `OutputPath: $.n`, so what a Map or Parallel
  gathers stays tiny;
- every step is a Batch `.sync` Task whose result is discarded (`ResultPath: null`);
- a foreach or switch step is followed by a read of its small S3 control object;
- a split is a Parallel, a foreach a Map (Inline, or Distributed reading the control object
  with an ItemReader), a switch a Choice, and a loop a Pass that counts, then jumps back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sfncompile.emit import names
from sfncompile.emit.render import is_short, literal
from sfncompile.ir import FlowAnalysis, FlowIR, Resources, StepIR

State = dict[str, Any]
States = dict[str, State]

BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
S3_GET_OBJECT_SDK = "arn:aws:states:::aws-sdk:s3:getObject"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
TASK_ID = "States.Format('{}{}', $.scope, $.n)"
ATTEMPT = "States.Format('{}', $$.State.RetryCount)"
THROTTLE_RETRY: State = {
    "ErrorEquals": ["Batch.AWSBatchException", "Batch.TooManyRequestsException"],
    "IntervalSeconds": 2,
    "MaxAttempts": 6,
    # BackoffRate: Step Functions' default, 2.0
    "MaxDelaySeconds": 60,
    "JitterStrategy": "FULL",
}
BATCH_MIN_ATTEMPT_SECONDS = 60
# A Map or Parallel gathers the output of every iteration or branch before its ResultSelector
# runs, so a branch ends with only its loop counter: the gathered result stays tiny.
BRANCH_OUTPUT = "$.n"


class _Emitter:
    def __init__(self, flow: FlowIR) -> None:
        self.flow = flow
        self.a: FlowAnalysis = flow.analysis

    def machine(self) -> dict[str, Any]:
        states: States = {
            names.INIT: {
                "Type": "Pass",
                "Parameters": {"run.$": "$$.Execution.Name", "scope": "", "n": 0},
                "Next": names.state("start"),
            }
        }
        states.update(self.region((), "start", None))
        return {
            "Comment": f"{self.flow.name}, compiled by sfncompile",
            "StartAt": names.INIT,
            "States": _scalars_first(states),
        }

    def region(self, scope: tuple[str, ...], entry: str, stop: str | None) -> States:
        """The states of the steps of `scope` reachable from `entry`, in graph order; reaching
        `stop` ends the region (a Parallel branch holds only the steps of its own branch)."""
        # Only the reached steps, sorted into graph order: walking all of the scope's steps
        # for each branch would make a wide split quadratic.
        order = self.a.order_index
        reach = sorted((n for n in self.a.reachable_in_scope(entry, stop)
                        if self.a.scope_of.get(n) == scope), key=order.__getitem__)
        states: States = {}
        for name in reach:
            step = self.a.by_name[name]
            states.update(_EMITTERS[step.kind](self, step, stop))
        return states

    def sub_machine(self, opener: StepIR, entry: str, stop: str) -> dict[str, Any]:
        inner = (*self.a.scope_of[opener.name], opener.name)
        return {"StartAt": names.state(entry), "States": self.region(inner, entry, stop)}

    # -- states -----------------------------------------------------------------------------

    def goto(self, state: State, target: str | None, stop: str | None) -> State:
        if target is not None and target != stop:
            state["Next"] = names.state(target)
            return state
        if stop is not None:
            state["OutputPath"] = BRANCH_OUTPUT
        state["End"] = True
        return state

    def task(self, step: StepIR, caught: bool = False) -> State:
        """The Batch Task of a step; `caught` is its stand-in after a failure under @catch."""
        p = step.policies
        job_params: dict[str, Any] = {
            "step": step.name,
            "run.$": "$.run",
            "task.$": TASK_ID,
            "attempt.$": ATTEMPT,
        }
        if caught:
            job_params["caught.$"] = "States.JsonToString($.error)"
        if step.name == "start":
            job_params["params.$"] = "States.JsonToString($$.Execution.Input)"
        own_jobdef = p.batch.image or p.batch.iam_role or p.resources.shared_memory
        params: dict[str, Any] = {
            "JobName": names.job_name(self.flow.name, step.name) or step.name,
            "JobQueue": literal(p.batch.queue) if p.batch.queue else "${JobQueue}",
            "JobDefinition": names.job_definition_placeholder(step.name if own_jobdef else None),
            "Parameters": job_params,
        }
        overrides = container_overrides(step)
        if overrides:
            params["ContainerOverrides"] = overrides
        state: State = {"Type": "Task", "Resource": BATCH_SYNC, "Parameters": params}
        if p.timeout_seconds:
            params["Timeout"] = {
                "AttemptDurationSeconds": max(BATCH_MIN_ATTEMPT_SECONDS, p.timeout_seconds)
            }
            state["TimeoutSeconds"] = p.timeout_seconds
        if caught:
            # Records the failure as the @catch artifact; keep the error out of the state.
            state["ResultSelector"] = {"caught": True}
            state["ResultPath"] = "$.error"
            state["Retry"] = [dict(THROTTLE_RETRY)]
            return state
        state["ResultPath"] = None
        retry = [dict(THROTTLE_RETRY)]
        if p.retry and p.retry.times > 0:
            retry.append({
                "ErrorEquals": ["States.TaskFailed", "States.Timeout"],
                "IntervalSeconds": max(1, 60 * p.retry.minutes_between_retries),
                "MaxAttempts": p.retry.times,
                "BackoffRate": 1.0,
            })
        state["Retry"] = retry
        if p.catch is not None:
            state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                               "Next": names.state(step.name, "caught")}]
        return state

    def caught(self, step: StepIR, target: str | None, stop: str | None) -> States:
        """For a step under @catch: the state that records a failure the runtime itself could
        not catch (the container died: out of memory, killed, lost host) and goes on."""
        if step.policies.catch is None:
            return {}
        return {names.state(step.name, "caught"): self.goto(self.task(step, caught=True),
                                                            target, stop)}

    def control_key(self, step: StepIR) -> str:
        template = f"${{S3KeyPrefix}}{self.flow.name}/{{}}/{step.name}/{{}}{{}}/control.json"
        return f"States.Format('{template}', $.run, $.scope, $.n)"

    def read_control(self, step: StepIR, next_state: str) -> State:
        return {
            "Type": "Task",
            "Resource": S3_GET_OBJECT_SDK,
            "Parameters": {"Bucket": "${S3Bucket}", "Key.$": self.control_key(step)},
            "ResultSelector": {"v.$": "States.StringToJson($.Body)"},
            "ResultPath": "$.ctl",
            "Next": next_state,
        }


def container_overrides(step: StepIR) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    env = [{"Name": literal(k), "Value": literal(v)} for k, v in step.policies.environment]
    if env:
        overrides["Environment"] = env
    requirements = resource_requirements(step.policies.resources)
    if requirements:
        overrides["ResourceRequirements"] = requirements
    return overrides


def resource_requirements(r: Resources) -> list[dict[str, str]]:
    out = []
    if r.cpu is not None:
        cpu = int(r.cpu) if float(r.cpu).is_integer() else r.cpu
        out.append({"Type": "VCPU", "Value": str(cpu)})
    if r.memory is not None:
        out.append({"Type": "MEMORY", "Value": str(r.memory)})
    if r.gpu:
        out.append({"Type": "GPU", "Value": str(r.gpu)})
    return out


# -- one function per step kind ---------------------------------------------------------------


def _linear(e: _Emitter, step: StepIR, stop: str | None) -> States:
    return {names.state(step.name): e.goto(e.task(step), step.targets[0], stop),
            **e.caught(step, step.targets[0], stop)}


def _end(e: _Emitter, step: StepIR, stop: str | None) -> States:
    return {names.state(step.name): e.goto(e.task(step), None, stop), **e.caught(step, None, stop)}


def _split(e: _Emitter, step: StepIR, stop: str | None) -> States:
    join = e.a.join_of[step.name]
    parallel = names.state(step.name, "split")
    state: State = {
        "Type": "Parallel",
        "Branches": [e.sub_machine(step, t, join) for t in step.targets],
        "ResultPath": None,
    }
    return {
        names.state(step.name): _with_next(e.task(step), parallel),
        parallel: e.goto(state, join, stop),
    }


def _foreach(e: _Emitter, step: StepIR, stop: str | None) -> States:
    join = e.a.join_of[step.name]
    opts = step.policies.foreach
    map_name = names.state(step.name, "foreach")
    selector = {
        "run.$": "$.run",
        "scope.$": "States.Format('{}{}.{}.', $.scope, $.n, $$.Map.Item.Index)",
        "n": 0,
    }
    processor = e.sub_machine(step, step.targets[0], join)
    state: State = {"Type": "Map"}
    out: States = {}
    if opts.mode == "distributed":
        out[names.state(step.name)] = _with_next(e.task(step), map_name)
        state["ItemReader"] = {
            "Resource": S3_GET_OBJECT,
            "ReaderConfig": {"InputType": "JSON"},
            "Parameters": {"Bucket": "${S3Bucket}", "Key.$": e.control_key(step)},
        }
        config = {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    else:
        read = names.state(step.name, "control")
        out[names.state(step.name)] = _with_next(e.task(step), read)
        out[read] = e.read_control(step, map_name)
        state["ItemsPath"] = "$.ctl.v"
        config = {"Mode": "INLINE"}
    state["ItemSelector"] = selector
    if opts.concurrency:
        state["MaxConcurrency"] = opts.concurrency
    state["ItemProcessor"] = {"ProcessorConfig": config, **processor}
    # Keep the Map's result (one entry per iteration) out of the state.
    state["ResultSelector"] = {"foreach": step.name}
    state["ResultPath"] = "$.ctl"
    out[map_name] = e.goto(state, join, stop)
    return out


def _switch(e: _Emitter, step: StepIR, stop: str | None) -> States:
    read = names.state(step.name, "control")
    choice = names.state(step.name, "switch")
    out: States = {
        names.state(step.name): _with_next(e.task(step), read),
        read: e.read_control(step, choice),
    }
    extra: States = {}
    rules = []
    for value, target in step.cases:
        if target == stop:
            dest = names.state(step.name, "done")
            extra[dest] = {"Type": "Succeed", "OutputPath": BRANCH_OUTPUT}
        elif (step.name, target) in e.a.back_edges:
            dest = names.state(step.name, "loop to", target)
            extra[dest] = {
                "Type": "Pass",
                "Parameters": {
                    "run.$": "$.run",
                    "scope.$": "$.scope",
                    "n.$": "States.MathAdd($.n, 1)",
                },
                "Next": names.state(target),
            }
        else:
            dest = names.state(target)
        rules.append({"Variable": "$.ctl.v", "StringEquals": literal(value), "Next": dest})
    out[choice] = {"Type": "Choice", "Choices": rules}
    out.update(extra)
    return out


def _scalars_first(states: States) -> States:
    """Each state's scalar fields (Type, Resource, ResultPath, Next, End...) first, in their
    order: the reviewed text writes them on one line, ahead of the state's records."""
    out: States = {}
    for name, state in states.items():
        scalars = {k: v for k, v in state.items() if is_short(v)}
        rest = {k: v for k, v in state.items() if k not in scalars}
        for key in ("Branches",):
            if key in rest:
                rest[key] = [{**b, "States": _scalars_first(b["States"])} for b in rest[key]]
        if "ItemProcessor" in rest:
            proc = rest["ItemProcessor"]
            rest["ItemProcessor"] = {"StartAt": proc["StartAt"], **proc,
                                     "States": _scalars_first(proc["States"])}
        out[name] = {**scalars, **rest}
    return out


def _with_next(state: State, next_state: str) -> State:
    state["Next"] = next_state
    return state


_EMITTERS: dict[str, Callable[[_Emitter, StepIR, str | None], States]] = {
    "linear": _linear,
    "end": _end,
    "split": _split,
    "foreach": _foreach,
    "switch": _switch,
}


def emit_asl(flow: FlowIR) -> dict[str, Any]:
    return _Emitter(flow).machine()


EVENTS_PUT = "arn:aws:states:::events:putEvents"


def run_failed_event_state(flow: str, next_state: str | None = None) -> State:
    """The state that puts a `run failed` event (sfncompile.runtime.events' contract) on the
    deployment's bus, for the state machine's failure path: a failed run has no last task to
    publish it, and this costs no Batch job. `${EventBus}`, `${ProjectName}` and
    `${ProjectBranch}` are deployment values (deploy and the CloudFormation stack fill them;
    the names are empty without @project)."""
    detail = {
        "flow": literal(flow),
        "run.$": "$$.Execution.Name",
        "pathspec.$": f"States.Format('{literal(flow)}/{{}}', $$.Execution.Name)",
        "project": "${ProjectName}",
        "branch": "${ProjectBranch}",
        "error.$": "$.error",
    }
    state: State = {
        "Type": "Task",
        "Resource": EVENTS_PUT,
        "Parameters": {"Entries": [{
            "Source": "sfncompile.run",
            "DetailType": "run failed",
            "EventBusName": "${EventBus}",
            "Detail": detail,
        }]},
        "ResultPath": None,
    }
    # A refused event must not hide the run's own failure: go on to it either way.
    state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": None,
                       **({"Next": next_state} if next_state else {})}]
    if next_state:
        state["Next"] = next_state
    else:
        del state["Catch"]
        state["End"] = True
    return state
