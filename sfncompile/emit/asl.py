"""FlowIR -> Amazon States Language (a dict), one small function per step kind.

The shapes, and why (see DESIGN.md, "The ASL: principles"):
- the state carries only `run`, `scope` and `n` (`start` reads the parameters from the
  execution input); a task's id is its step's number, `-`, then `scope + n`: `n` counts loop
  iterations and each foreach level appends `<n>.<index>.` to the scope, so every task id is
  unique and computable by the runtime (conventions/task_ids.py); a branch or iteration ends
  with `OutputPath: $.n`, so what a Map or Parallel gathers stays tiny;
- every step is a Batch `.sync` Task whose result is discarded (`ResultPath: null`);
- a foreach or switch step is followed by a read of its small S3 control object;
- a split is a Parallel, a foreach a Map (Inline, or Distributed reading the control object
  with an ItemReader), a switch a Choice, and a loop a Pass that counts, then jumps back;
- the run records itself, with no Batch job: the first state writes the run record
  (`_run.json`, as the local runner does) and sets up the state, and every top-level state
  that can fail has a Catch to the failure path, which records the failure, then fails.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sfncompile.conventions.task_ids import prefix
from sfncompile.emit import names
from sfncompile.emit.jobdef import needs_own_definition, resource_requirements
from sfncompile.emit.render import is_short, literal
from sfncompile.ir import FlowAnalysis, FlowIR, StepIR

State = dict[str, Any]
States = dict[str, State]

BATCH_SYNC = "arn:aws:states:::batch:submitJob.sync"
S3_GET_OBJECT_SDK = "arn:aws:states:::aws-sdk:s3:getObject"
S3_GET_OBJECT = "arn:aws:states:::s3:getObject"
S3_PUT_OBJECT_SDK = "arn:aws:states:::aws-sdk:s3:putObject"
# A task's id: its step's number (conventions/task_ids.py), then its position, scope + n.
TASK_ID = "States.Format('{}{{}}{{}}', $.scope, $.n)"
ATTEMPT = "States.Format('{}', $$.State.RetryCount)"
THROTTLE_RETRY: State = {
    "ErrorEquals": ["Batch.AWSBatchException", "Batch.TooManyRequestsException"],
    # IntervalSeconds and BackoffRate are Step Functions' defaults, 1 s and 2.0: the waits are
    # at most 1, 2, 4, ... 64 s, about two minutes in all. Written out, with a MaxDelaySeconds,
    # they cost every Batch task 44 bytes of the definition.
    "MaxAttempts": 7,
    "JitterStrategy": "FULL",
}
BATCH_MIN_ATTEMPT_SECONDS = 60
# Beyond a step's @timeout, what its Batch attempt gets to start (fetch the code package, load
# the inputs) and to store the failure once the runtime's own deadline stopped the step.
ATTEMPT_MARGIN_SECONDS = 60
RUN_FAILED_ERROR = "sfncompile.RunFailed"
# A Map or Parallel gathers the output of every iteration or branch before its ResultSelector
# runs, so a branch ends with only its loop counter: the gathered result stays tiny.
BRANCH_OUTPUT = "$.n"


class _Emitter:
    def __init__(self, flow: FlowIR) -> None:
        self.flow = flow
        self.a: FlowAnalysis = flow.analysis

    def machine(self) -> dict[str, Any]:
        states: States = {names.INIT: self.run_started()}
        states.update(self.region((), self.flow.start_step, None))
        for state in states.values():
            catch_run_failure(state)
        states.update(self.failure_path())
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
            "task.$": self.task_id(step),
            "attempt.$": ATTEMPT,
        }
        if caught:
            job_params["caught.$"] = "States.JsonToString($.error)"
        if step.name == self.flow.start_step:
            job_params["params.$"] = "States.JsonToString($$.Execution.Input)"
        own_jobdef = needs_own_definition(step)
        params: dict[str, Any] = {
            "JobName": names.job_name(self.flow.name, step.name) or step.name,
            "JobQueue": literal(p.batch.queue) if p.batch.queue else "${JobQueue}",
            "JobDefinition": names.job_definition_placeholder(step.name if own_jobdef else None),
            "Parameters": job_params,
        }
        overrides = container_overrides(step)
        if overrides and step.policies.parallel is not None:
            # A multi-node job takes node overrides (as Metaflow submits it), for every node.
            params["NodeOverrides"] = {"NodePropertyOverrides": [
                {"TargetNodes": "0:", "ContainerOverrides": overrides}]}
        elif overrides:
            params["ContainerOverrides"] = overrides
        state: State = {"Type": "Task", "Resource": BATCH_SYNC, "Parameters": params}
        if p.timeout_seconds:
            # @timeout limits the step's running time: the runtime stops the step at its
            # deadline, and Batch kills an attempt that outlives it by ATTEMPT_MARGIN_SECONDS
            # (a step stuck where no signal reaches it). No TimeoutSeconds on the state: it
            # would also count the time the job waits in the queue.
            params["Timeout"] = {"AttemptDurationSeconds": attempt_duration(p.timeout_seconds)}
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
                "IntervalSeconds": p.retry.interval_seconds,
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

    # -- the run record ---------------------------------------------------------------------

    def run_record(self, status: str) -> dict[str, Any]:
        """`_run.json` as the state machine writes it: the fields of a local run's record
        that an execution knows (times are ISO 8601 text; the client reads both forms)."""
        return {"status": status, "runner": "step-functions", "params.$": "$$.Execution.Input",
                "started.$": "$$.Execution.StartTime"}

    def put_run_record(self, body: dict[str, Any]) -> State:
        key = f"${{S3KeyPrefix}}{self.flow.name}/{{}}/_run.json"
        return {"Type": "Task", "Resource": S3_PUT_OBJECT_SDK,
                "Parameters": {"Bucket": "${S3Bucket}",
                               "Key.$": f"States.Format('{key}', $$.Execution.Name)",
                               "Body": body}}

    def run_started(self) -> State:
        """The first state: records the run, and its result is the initial state."""
        state = self.put_run_record(self.run_record("running"))
        state["ResultSelector"] = {"run.$": "$$.Execution.Name", "scope": "", "n": 0}
        state["Next"] = names.state(self.flow.start_step)
        return state

    def failure_path(self) -> States:
        """Where every top-level Catch leads, with the caught {Error, Cause} as its state:
        record the failure in the run record, then fail the execution with that error."""
        record = self.run_record("failed")
        record.update({"finished.$": "$$.State.EnteredTime", "error.$": "$.Error",
                       "cause.$": "$.Cause"})
        # Then the @exit_hook(on_error=...) job, if any, and the `run failed` event: each is
        # best effort, so that failing to do it does not hide the run's own error.
        hooks = exit_hook_on_error_states(self.flow, names.PUBLISH_FAILURE)
        put = self.put_run_record(record)
        after_record = next(iter(hooks), names.PUBLISH_FAILURE)
        put.update(ResultPath=None, Next=after_record)
        put["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": None,
                         "Next": after_record}]
        return {
            names.RECORD_FAILURE: put,
            **hooks,
            names.PUBLISH_FAILURE: run_failed_event_state(self.flow.name, names.RUN_FAILED),
            # The execution's error is ours ("States." names are reserved), its cause the
            # caught error's; the run record keeps the caught error's name.
            names.RUN_FAILED: {"Type": "Fail", "Error": RUN_FAILED_ERROR, "CausePath": "$.Cause"},
        }

    def task_id(self, step: StepIR) -> str:
        """The intrinsic that gives the id of `step`'s task in this state."""
        return TASK_ID.format(self.step_prefix(step))

    def step_prefix(self, step: StepIR) -> str:
        return prefix(self.a.order_index[step.name])  # graph.json's `order`

    def control_key(self, step: StepIR) -> str:
        template = (f"${{S3KeyPrefix}}{self.flow.name}/{{}}/{step.name}/"
                    f"{self.step_prefix(step)}{{}}{{}}/control.json")
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


def attempt_duration(timeout_seconds: int) -> int:
    """The Batch attempt duration of a step with @timeout: always above AWS Batch's minimum
    of 60 s, so a shorter @timeout is the runtime's own deadline alone."""
    return max(BATCH_MIN_ATTEMPT_SECONDS, timeout_seconds + ATTEMPT_MARGIN_SECONDS)


def catch_run_failure(state: State) -> None:
    """A top-level state that can fail hands its error to the failure path (a state whose own
    Catch takes every error already, @catch's, needs none)."""
    if state["Type"] not in ("Task", "Parallel", "Map"):
        return
    catchers = state.setdefault("Catch", [])
    if not any("States.ALL" in c["ErrorEquals"] for c in catchers):
        # No ResultPath: the state becomes the error ({Error, Cause}), all the path needs.
        catchers.append({"ErrorEquals": ["States.ALL"], "Next": names.RECORD_FAILURE})


def container_overrides(step: StepIR) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    env = [{"Name": literal(k), "Value": literal(v)} for k, v in step.policies.environment]
    if env:
        overrides["Environment"] = env
    requirements = resource_requirements(step.policies.resources)
    if requirements:
        overrides["ResourceRequirements"] = requirements
    return overrides


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
    out = {
        names.state(step.name): _with_next(e.task(step), parallel),
        parallel: e.goto(state, join, stop),
    }
    if step.policies.catch is not None:  # a failure recorded under @catch: every branch runs
        out[names.state(step.name, "caught")] = _with_next(e.task(step, caught=True), parallel)
    return out


def _foreach(e: _Emitter, step: StepIR, stop: str | None) -> States:
    if step.num_parallel is not None:
        return _parallel(e, step, stop)
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


def _parallel(e: _Emitter, step: StepIR, stop: str | None) -> States:
    """`self.next(self.x, num_parallel=N)`: no Map. The @parallel step `x` is one Batch task,
    a multi-node job of N nodes, given this step's task id: each node runs the task of its
    node index (runtime/lineage.py), and the join that follows gathers them, as a foreach's."""
    body = e.a.by_name[step.targets[0]]
    join = e.a.join_of[step.name]
    return {names.state(step.name): _with_next(e.task(step), names.state(body.name)),
            names.state(body.name): e.goto(e.task(body), join, stop),
            **e.caught(body, join, stop)}


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


ON_ERROR_HOOKS = "Exit hooks on error"


def exit_hook_on_error_states(flow: FlowIR, next_state: str | None) -> States:
    """For the state machine's failure path (its top-level Catch): a Batch job that calls the
    flow's `@exit_hook(on_error=...)` functions, then `next_state` (or the end). Empty when the
    flow has no such hooks; a Catch then goes straight to `next_state`.

    The job runs the runtime with the step name ON_ERROR_HOOK_STEP (no step of a flow is
    named so); the run id is the execution's name, whatever the failure left in the state.
    The state's input passes through unchanged, and a hook's failure is not the run's.
    """
    from sfncompile.conventions.steps import ON_ERROR_HOOK_STEP

    if flow.exit_hook is None or not flow.exit_hook.on_error:
        return {}
    state: State = {
        "Type": "Task",
        "Resource": BATCH_SYNC,
        "Parameters": {
            "JobName": names.job_name(flow.name, "exit_hook") or "exit_hook",
            "JobQueue": "${JobQueue}",
            "JobDefinition": names.job_definition_placeholder(None),
            "Parameters": {"step": ON_ERROR_HOOK_STEP, "run.$": "$$.Execution.Name",
                           "task": "0", "attempt": "0"},
        },
        "ResultPath": None,
        "Retry": [dict(THROTTLE_RETRY)],
    }
    after: State = {"Next": next_state} if next_state else {"End": True}
    state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": None, **after}]
    return {ON_ERROR_HOOKS: {**state, **after}}


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
        "error.$": "$.Error",
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
