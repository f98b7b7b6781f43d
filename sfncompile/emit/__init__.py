"""FlowIR -> ASL and the other generated artifacts. Never reads source code.

The compiler's back: imports `ir`, `errors` and `conventions`; never the parser, the runtime,
the client, boto3 or the CLI. jsonschema is imported only to check the ASL against our schema.
"""

from __future__ import annotations

from typing import Any

from sfncompile.errors import FlowErrors
from sfncompile.ir import FlowIR


class InvalidOutput(Exception):
    """The emitter produced ASL that our own schema rejects: a bug in sfncompile."""


def compile_asl(flow: FlowIR, check_schema: bool = True,
                deployment: bool = True) -> dict[str, Any]:
    """Emit the ASL, enforce AWS limits, and check it before returning.

    A `deployment` refuses what no AWS backend runs (emit/aws_support.py); `build` (the ASL
    or a CloudFormation template, deployment=False) warns about it instead, so that every
    flow that builds also gives a template (the fuzz test holds it so).

    The graph checks always run. The JSON Schema check (`check_schema`) guards the emitter
    against itself; the test suite runs it on every golden and random flow, and `build`
    leaves it out, since importing jsonschema alone takes longer than a small build.
    """
    from sfncompile.emit.asl import emit_asl
    from sfncompile.emit.asl_checks import validate_asl
    from sfncompile.emit.aws_support import aws_refusals
    from sfncompile.emit.limits import check_flow_limits

    refused = aws_refusals(flow) if deployment else []
    if refused:
        raise FlowErrors(refused)
    definition = emit_asl(flow)
    errors = check_flow_limits(flow, definition)
    if errors:
        raise FlowErrors(errors)
    problems = validate_asl(definition, schema=check_schema)
    if problems:
        raise InvalidOutput(
            "sfncompile generated ASL that fails its own schema (please report this):\n  "
            + "\n  ".join(problems)
        )
    return definition
