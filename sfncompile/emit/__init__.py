"""FlowIR -> ASL and the other generated artifacts. Never reads source code."""

from __future__ import annotations

from typing import Any

from sfncompile.errors import FlowErrors
from sfncompile.ir import FlowIR


class InvalidOutput(Exception):
    """The emitter produced ASL that our own schema rejects: a bug in sfncompile."""


def compile_asl(flow: FlowIR) -> dict[str, Any]:
    """Emit the ASL, enforce AWS limits, and check it against the schema before returning."""
    from sfncompile.emit.asl import emit_asl
    from sfncompile.emit.limits import check_flow_limits
    from sfncompile.emit.validate import validate_asl

    definition = emit_asl(flow)
    errors = check_flow_limits(flow, definition)
    if errors:
        raise FlowErrors(errors)
    problems = validate_asl(definition)
    if problems:
        raise InvalidOutput(
            "sfncompile generated ASL that fails its own schema (please report this):\n  "
            + "\n  ".join(problems)
        )
    return definition
