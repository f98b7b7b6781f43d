"""AWS limits that the compiler enforces, so a flow fails at build time with a clear message
rather than at deploy or run time."""

from __future__ import annotations

import json
from typing import Any

from sfncompile.emit import names
from sfncompile.emit.asl import container_overrides
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
        size = len(json.dumps(container_overrides(step)))
        if size > MAX_CONTAINER_OVERRIDES:
            at(step.pos, f"step {step.name!r}: its container overrides (environment and "
               f"resources) take {size} characters; AWS Batch allows {MAX_CONTAINER_OVERRIDES}")
    size = len(json.dumps(definition, indent=2).encode())
    if size > MAX_DEFINITION_BYTES:
        at(flow.pos, f"flow {flow.name!r}: the state machine definition is {size} bytes; Step "
           f"Functions allows {MAX_DEFINITION_BYTES}. Split the flow or use a foreach")
    return errors


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
