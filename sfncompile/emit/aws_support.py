"""What a flow asks for that no AWS backend of sfncompile runs: refused before any ASL is
emitted (by `build` and `deploy`), at the decorator's position. A local run accepts these."""

from __future__ import annotations

from sfncompile.errors import FlowError
from sfncompile.ir import FlowIR


def aws_refusals(flow: FlowIR) -> list[FlowError]:
    errors = []
    for step in flow.analysis.ordered:
        pos = step.policies.kubernetes
        if pos is not None:
            errors.append(FlowError(
                pos.path, pos.line, pos.col,
                f"step {step.name!r}: @kubernetes cannot run on AWS Step Functions with "
                "sfncompile (steps run as AWS Batch jobs): use @batch with the same cpu, "
                "memory, gpu and image instead (a local run ignores @kubernetes)"))
    return errors
