"""RedriveExecution for moto's Step Functions engine (moto 5.2.5 has no such action).

AWS (API reference, RedriveExecution): a STANDARD execution that FAILED, TIMED_OUT or was
ABORTED, and stopped less than 14 days ago, restarts under the same ARN with the same input
and definition; the states that succeeded are not run again (their results are kept), and in
an inline Map or a Parallel only the failed iterations and branches run again. The execution
is RUNNING again, its history goes on with an `ExecutionRedriven` event, and DescribeExecution
counts the redrives (`redriveCount`).

How: every state's successful exit is recorded per execution, keyed by where it ran (the
state's name, the Map iteration's index and the state's input) with its output and the state
it went to. A redrive runs the program again from StartAt in a new worker that shares the
execution's event history; a state found in the record is not evaluated: its recorded output
and transition are replayed, with no history event. So the path is walked again, but no Task
that succeeded runs a second time. A Task whose error a Catch took is not a success: it runs
again.
"""

from __future__ import annotations

import datetime
import json
import threading
from collections import deque
from typing import Any

REDRIVABLE = ("FAILED", "TIMED_OUT", "ABORTED")
REDRIVE_DAYS = 14

# execution ARN -> (state key -> outcomes in the order they happened)
_record: dict[str, dict[tuple[Any, ...], list[tuple[Any, str | None]]]] = {}
_replay: dict[str, dict[tuple[Any, ...], deque[tuple[Any, str | None]]]] = {}
_redrives: dict[str, int] = {}
_lock = threading.Lock()
_END = None  # the recorded transition of a state that ended the program


def _state_key(env: Any, name: str) -> tuple[Any, ...]:
    context = env.states.context_object.context_object_data
    index = context.get("Map", {}).get("Item", {}).get("Index")
    text = json.dumps(env.states.get_input(), sort_keys=True, default=str)
    return (name, index, text)


def _execution_arn(env: Any) -> str | None:
    """None where there is no execution (the TestState API)."""
    arn: str | None = env.states.context_object.context_object_data.get("Execution", {}).get("Id")
    return arn


def patch_state_record() -> None:
    """Record each successful state exit; replay it, instead of evaluating, in a redrive."""
    from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
    from moto.stepfunctions.parser.asl.component.state.state import CommonStateField
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramEnded, ProgramRunning

    original_body = CommonStateField._eval_body
    original_catch = ExecutionState._handle_catch

    def _handle_catch(self: Any, env: Any, failure_event: Any) -> None:
        original_catch(self, env, failure_event)
        # The state failed, even though a Catch takes the run on: it is not a success.
        if env.stack and type(env.stack[-1]).__name__ == "CatchOutcome":
            env.sfncompile_caught = env.stack[-1].name == "Caught"

    def _eval_body(self: Any, env: Any) -> None:
        arn = _execution_arn(env)
        if arn is None:
            original_body(self, env)
            return
        key = _state_key(env, self.name)
        with _lock:
            pending = _replay.get(arn, {}).get(key)
            outcome = pending.popleft() if pending else None
        if outcome is not None:
            output, next_state = outcome
            env.states.reset(input_value=output)
            if next_state is _END:
                env.set_ended()
            else:
                env.next_state_name = next_state
            return
        env.sfncompile_caught = False
        original_body(self, env)
        state = env.program_state()
        if env.sfncompile_caught or not isinstance(state, ProgramRunning | ProgramEnded):
            return
        next_state = env.next_state_name if isinstance(state, ProgramRunning) else _END
        with _lock:
            _record.setdefault(arn, {}).setdefault(key, []).append(
                (env.states.get_input(), next_state))

    CommonStateField._eval_body = _eval_body
    ExecutionState._handle_catch = _handle_catch


class NotRedrivable(Exception):
    pass


def redrive(execution: Any) -> datetime.datetime:
    """Restart a stopped execution from where it failed; returns the redrive's date."""
    from moto.stepfunctions.parser.api import (
        ExecutionRedrivenEventDetails,
        ExecutionStatus,
        HistoryEventType,
        StateMachineType,
    )
    from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

    if execution.sm_type != StateMachineType.STANDARD:
        raise NotRedrivable("RedriveExecution is not supported by EXPRESS state machines")
    now = datetime.datetime.now(tz=datetime.timezone.utc)
    arn = execution.exec_arn
    with _lock:  # one redrive at a time: the check and the switch to RUNNING go together
        status = execution.exec_status.value if execution.exec_status else "RUNNING"
        if status not in REDRIVABLE:
            raise NotRedrivable(f"Execution is {status} and cannot be redriven.")
        if execution.stop_date and now - execution.stop_date > datetime.timedelta(REDRIVE_DAYS):
            raise NotRedrivable("Execution redrivable period exceeded.")
        execution.exec_status = ExecutionStatus.RUNNING
        _replay[arn] = {k: deque(v) for k, v in _record.get(arn, {}).items()}
        _redrives[arn] = _redrives.get(arn, 0) + 1
        count = _redrives[arn]
    history = execution.exec_worker.env.event_manager
    worker = execution._get_start_execution_worker()
    program = worker._get_evaluation_entrypoint()

    def run() -> None:
        env = worker._get_evaluation_environment()
        env.event_manager = history  # the history goes on after the failed attempt's
        worker.env = env
        env.event_manager.add_event(
            context=env.event_history_context,
            event_type=HistoryEventType.ExecutionRedriven,
            event_details=EventDetails(executionRedrivenEventDetails=(
                ExecutionRedrivenEventDetails(redriveCount=count))),
            update_source_event_id=False,
        )
        program.eval(env)
        worker._execution_communication.terminated()

    worker.env = execution.exec_worker.env  # until the new attempt's env exists
    execution.exec_worker = worker
    execution.stop_date = execution.error = execution.cause = execution.output = None
    execution.sfncompile_redrive = (count, now)
    threading.Thread(target=run, name=f"redrive-{execution.name}", daemon=True).start()
    return now


def patch_redrive_action() -> None:
    """Serve RedriveExecution, and the redrive fields of DescribeExecution."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.stepfunctions.responses import StepFunctionResponse

    describe = StepFunctionResponse.describe_execution

    def redrive_execution(self: Any) -> Any:
        execution = self.stepfunction_backend.describe_execution(
            self._get_param("executionArn"))
        try:
            date = redrive(execution)
        except NotRedrivable as exc:
            raise JsonRESTError("ExecutionNotRedrivable", str(exc)) from None
        return ActionResult({"redriveDate": date})

    def describe_execution(self: Any) -> Any:
        result = describe(self)
        execution = self.stepfunction_backend.describe_execution(
            self._get_param("executionArn"))
        count, date = getattr(execution, "sfncompile_redrive", (0, None))
        body = result.result if hasattr(result, "result") else None
        if isinstance(body, dict):
            body["redriveCount"] = count
            if date is not None:
                body["redriveDate"] = date
            body["redriveStatus"] = ("REDRIVABLE" if execution.status in REDRIVABLE
                                     else "NOT_REDRIVABLE")
        return result

    StepFunctionResponse.redrive_execution = redrive_execution
    StepFunctionResponse.describe_execution = describe_execution


def patch_redrive() -> None:
    patch_state_record()
    patch_redrive_action()
