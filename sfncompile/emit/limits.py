"""AWS limits that the compiler enforces, so a flow fails at build time with a clear message
rather than at deploy or run time."""

from __future__ import annotations

import json
from typing import Any

from sfncompile.emit import names
from sfncompile.emit.asl import container_overrides
from sfncompile.emit.render import PLACEHOLDER, render_compact
from sfncompile.errors import FlowError, UsageError
from sfncompile.ir import FlowIR

MAX_DEFINITION_BYTES = 1_048_576
MAX_CONTAINER_OVERRIDES = 8_192
MAX_MACHINE_NAME = 80
MAX_EXECUTION_NAME = 80
MAX_RULE_NAME = 64


def check_flow_limits(flow: FlowIR, definition: dict[str, Any]) -> list[FlowError]:
    errors: list[FlowError] = []

    def at(pos: Any, message: str) -> None:
        errors.append(FlowError(pos.path, pos.line, pos.col, message))

    for step in flow.steps:
        if names.job_name(flow.name, step.name) is None:
            at(step.pos, f"step {step.name!r}: the Batch job name '{flow.name}-{step.name}' "
               f"must be at most {names.MAX_JOB_NAME} characters of letters, digits, - and _")
        overrides = container_overrides(step)
        size = len(json.dumps(overrides)) if overrides else 0
        if size > MAX_CONTAINER_OVERRIDES:
            at(step.pos, f"step {step.name!r}: its container overrides (environment and "
               f"resources) take {size} characters; AWS Batch allows {MAX_CONTAINER_OVERRIDES}")
    size = deployed_size(definition)
    if size > MAX_DEFINITION_BYTES:
        at(flow.pos, f"flow {flow.name!r}: the state machine definition is {size:,} bytes as "
           "deploy sends it (compact JSON, placeholders filled with the longest ARNs and names "
           f"AWS allows); Step Functions allows {MAX_DEFINITION_BYTES} "
           f"({MAX_DEFINITION_BYTES:,}). Split the flow or use a foreach")
    return errors


# The longest value AWS allows for each placeholder, so that a definition that passes `build`
# also fits once deploy fills in the real ARNs. The partition is the longest (aws-us-gov), the
# region leaves room beyond today's longest names (14 characters), names are at their limits
# (job queue and job definition 128, bucket 63) and a revision is a 32-bit integer.
_ARN_HEAD = "arn:aws-us-gov:batch:" + "r" * 20 + ":123456789012:"
LONGEST_JOB_QUEUE = _ARN_HEAD + "job-queue/" + "q" * 128
LONGEST_JOB_DEFINITION = _ARN_HEAD + "job-definition/" + "d" * 128 + ":2147483647"
LONGEST_VALUES = {
    "JobQueue": LONGEST_JOB_QUEUE,
    "JobDefinition": LONGEST_JOB_DEFINITION,
    "S3Bucket": "b" * 63,
    # An S3 key, the prefix included, is at most 1,024 bytes.
    "S3KeyPrefix": "p" * 1_023 + "/",
}
# Any other placeholder: the longest ARN (2,048 characters).
LONGEST_OTHER = "x" * 2_048


def longest_value(placeholder: str) -> str:
    if placeholder.startswith("JobDefinition_"):
        return LONGEST_JOB_DEFINITION
    return LONGEST_VALUES.get(placeholder, LONGEST_OTHER)


def deployed_size(definition: dict[str, Any]) -> int:
    """Bytes of the definition as deploy sends it, with every placeholder at its longest.

    Rendered once, compactly (the C encoder); the placeholders' growth is added up rather than
    substituted, since the values are plain ASCII that JSON does not escape.
    """
    text = render_compact(definition)
    size = len(text.encode())
    for match in PLACEHOLDER.finditer(text):
        size += len(longest_value(match.group(1))) - len(match.group(0))
    return size


def check_definition_size(text: str) -> None:
    """Refuse a rendered, resolved definition that Step Functions would refuse."""
    size = len(text.encode())
    if size > MAX_DEFINITION_BYTES:
        raise UsageError(f"the state machine definition is {size:,} bytes with this "
                         f"deployment's values; Step Functions allows {MAX_DEFINITION_BYTES:,}. "
                         "Split the flow or use a foreach")


def check_name(kind: str, name: str, limit: int) -> str:
    if not name or len(name) > limit:
        raise UsageError(f"the {kind} name {name!r} must be 1 to {limit} characters long")
    return name


def check_machine_type(machine_type: str) -> str:
    if machine_type.upper() != "STANDARD":
        raise UsageError(
            f"state machine type {machine_type!r}: the AWS Batch .sync integration that runs "
            "every step needs a STANDARD state machine (Express workflows cannot wait for a job)"
        )
    return "STANDARD"
