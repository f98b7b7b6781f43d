"""The run end recorder: how every execution of a deployed flow comes to record its end.

An execution records its start and, through its failure path, a caught failure (emit/asl.py).
What Step Functions ends by itself (StopExecution, the state machine's TimeoutSeconds, an
uncatchable `States.Runtime` error) runs no further state. Step Functions then sends an
"Execution Status Change" event to the account's default EventBridge bus; a rule on it
(ABORTED, TIMED_OUT, FAILED of this state machine only) starts the recorder, a small state
machine with one `aws-sdk:s3:putObject` task, which writes `<prefix><Flow>/<run>/_run_end.json`
(conventions/run_keys.py) from the event. SUCCEEDED is left out: the end task's commit
already says so.

The recorder never writes `_run.json`: the execution's own failure record (the caught error and
its Batch job) has more to say, and the client keeps it, merging the end record only into a
record that still says running (client/run_record.py, `merge_end`).

Used by `deploy` (deploy/deployer.py) and by `build --format cloudformation`.
"""

from __future__ import annotations

from typing import Any

from sfncompile.conventions.run_keys import RUN_END_RECORD
from sfncompile.emit.asl import S3_PUT_OBJECT_SDK
from sfncompile.emit.event_rules import MAX_RULE_NAME
from sfncompile.emit.names import MAX_MACHINE_NAME, aws_name

RECORDER_SUFFIX = "-run-end"
RULE_SUFFIX = ".end"  # trigger rules end in `.t<i>`: `.` is in no state machine name
# The statuses whose end only Step Functions sees; FAILED also covers an uncaught error.
RECORDED_STATUSES = ("ABORTED", "FAILED", "TIMED_OUT")
EVENT_SOURCE = "aws.states"
EVENT_TYPE = "Step Functions Execution Status Change"
RECORD_STATE = "Record run end"


def recorder_name(machine: str) -> str:
    """The recorder state machine's name: the flow's, then `-run-end`."""
    return aws_name(machine, MAX_MACHINE_NAME - len(RECORDER_SUFFIX)) + RECORDER_SUFFIX


def rule_name(machine: str) -> str:
    """The EventBridge rule's name (on the default bus): the flow's machine, then `.end`."""
    return aws_name(machine, MAX_RULE_NAME - len(RULE_SUFFIX)) + RULE_SUFFIX


def event_pattern(machine_arn: Any) -> dict[str, Any]:
    """This state machine's executions that Step Functions ended (an ARN, or a template's
    reference to one)."""
    return {"source": [EVENT_SOURCE], "detail-type": [EVENT_TYPE],
            "detail": {"stateMachineArn": [machine_arn], "status": list(RECORDED_STATUSES)}}


def recorder_definition(flow: str, machine: str) -> dict[str, Any]:
    """The recorder's ASL, with `${S3Bucket}` and `${S3KeyPrefix}` left as placeholders.

    Its input is the whole event. AWS documents `error` and `cause` as optional, and a
    missing path is an uncatchable error in a Task's Parameters, so they first get null
    defaults (JsonMerge: the event's own values win)."""
    key = f"${{S3KeyPrefix}}{flow}/{{}}/{RUN_END_RECORD}"
    return {
        "Comment": f"Records how an execution of {machine} ended (sfncompile)",
        "StartAt": "Defaults",
        "States": {
            "Defaults": {"Type": "Pass", "ResultPath": "$.defaults", "Next": "Event",
                         "Result": {"error": None, "cause": None, "input": None,
                                    "startDate": None, "stopDate": None}},
            "Event": {"Type": "Pass", "Next": RECORD_STATE, "Parameters": {
                "detail.$": "States.JsonMerge($.defaults, $.detail, false)",
                "time.$": "$.time"}},
            RECORD_STATE: {
                "Type": "Task", "Resource": S3_PUT_OBJECT_SDK, "ResultPath": None, "End": True,
                "Parameters": {
                    "Bucket": "${S3Bucket}",
                    "Key.$": f"States.Format('{key}', $.detail.name)",
                    # Step Functions' status as it spells it (ABORTED, TIMED_OUT, FAILED); the
                    # event's time (to the second), and the start and stop dates in epoch
                    # milliseconds, as the event has them.
                    "Body": {"runner": "step-functions", "status.$": "$.detail.status",
                             "finished.$": "$.time", "error.$": "$.detail.error",
                             "cause.$": "$.detail.cause", "params.$": "$.detail.input",
                             "start_date.$": "$.detail.startDate",
                             "stop_date.$": "$.detail.stopDate"},
                },
                "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}],
            },
        },
    }


__all__ = ["RECORDED_STATUSES", "event_pattern", "recorder_definition", "recorder_name",
           "rule_name"]
