"""`sfncompile resume --on-aws`: a new execution of the deployed state machine that reuses the
finished tasks of an earlier run (the counterpart of redrive, for a run whose code was fixed
and deployed again).

The state machine is the one every run uses; the execution input carries the origin run and
the steps to reuse beside the parameters, and the runtime clones those tasks instead of
running them (sfncompile.runtime.reuse).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sfncompile.conventions.input_keys import RESUME_INPUT_KEY
from sfncompile.deploy.config import load_config
from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR
from sfncompile.runtime.reuse import resume_request


def aws_datastore_root(root: str) -> str:
    """The datastore of the deployed flow: the given root if it is on S3, else `s3_root`."""
    if root.startswith("s3://"):
        return root
    configured = load_config(Path.cwd()).get("s3_root")
    if not configured:
        raise UsageError("--on-aws: the run's tasks are on S3: give --datastore-root "
                         "s3://BUCKET/PREFIX or set s3_root")
    return str(configured).rstrip("/")


def execution_input(params: dict[str, Any], origin: str, steps: list[str]) -> dict[str, Any]:
    return {**params, RESUME_INPUT_KEY: resume_request(origin, steps)}


def resume_on_aws(flow: FlowIR, machine_name: str | None, origin: str, new_run: str,
                  params: dict[str, Any], steps: list[str]) -> None:
    """Start execution `new_run` of the flow's state machine, reusing `steps` of `origin`."""
    from sfncompile.deploy.aws import AwsClients
    from sfncompile.deploy.ops import trigger
    from sfncompile.deploy.projects import resolve_project
    from sfncompile.emit.names import deployment_name

    config = load_config(Path.cwd())
    # As deploy names it (a @project flow: the user's own branch; --name for another).
    name = machine_name or deployment_name(config.name_prefix, flow.name,
                                           resolve_project(flow, None, False))
    trigger(AwsClients(region=config.get("region")), name, new_run,
            execution_input(params, origin, steps))
