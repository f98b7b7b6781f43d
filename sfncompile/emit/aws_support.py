"""What a flow asks for that no AWS backend of sfncompile runs. A deployment (`deploy`,
`build --format cloudformation`) refuses it before any ASL is emitted, at the decorator's
position; `build` of the ASL alone warns and emits the step as a plain Batch step (Metaflow's
tutorials carry @kubernetes, and their ASL is still worth reviewing). A local run ignores it."""

from __future__ import annotations

from collections.abc import Iterator

from sfncompile.errors import FlowError
from sfncompile.ir import FlowIR, SourcePos

_USE_BATCH = "use @batch with the same cpu, memory, gpu and image instead"


def _kubernetes_steps(flow: FlowIR) -> Iterator[tuple[str, SourcePos]]:
    for step in flow.analysis.ordered:
        if step.policies.kubernetes is not None:
            yield step.name, step.policies.kubernetes


def aws_refusals(flow: FlowIR) -> list[FlowError]:
    return [FlowError(pos.path, pos.line, pos.col,
                      f"step {name!r}: @kubernetes cannot run on AWS Step Functions with "
                      f"sfncompile (steps run as AWS Batch jobs): {_USE_BATCH} (a local run "
                      "ignores @kubernetes)")
            for name, pos in _kubernetes_steps(flow)]


def aws_warnings(flow: FlowIR) -> list[str]:
    """`build`'s warnings (`path:line:col: warning: ...`) for what a deployment refuses."""
    return [f"{pos.path}:{pos.line}:{pos.col}: warning: step {name!r}: @kubernetes has no AWS "
            "backend: the ASL runs the step as a plain AWS Batch job (without @kubernetes' "
            f"settings) and `deploy` refuses it: {_USE_BATCH}"
            for name, pos in _kubernetes_steps(flow)]
