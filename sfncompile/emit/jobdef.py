"""The AWS Batch job definitions of a flow: one shared by every step, plus one for each step
with its own image, IAM role or shared memory (settings a job cannot override at submit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfncompile.emit.names import job_definition_placeholder
from sfncompile.ir import FlowIR, StepIR
from sfncompile.runtime.bootstrap import BOOTSTRAP

DEFAULT_VCPU = "1"
DEFAULT_MEMORY = "4096"

# `Ref::name` is filled from the Task's Parameters; `params` only reaches `start`, and
# `caught` only the stand-in Task that records a failure under @catch.
COMMAND = ["python3", "-c", BOOTSTRAP, "--step", "Ref::step", "--run", "Ref::run", "--task",
           "Ref::task", "--attempt", "Ref::attempt", "--params", "Ref::params", "--caught",
           "Ref::caught"]


def needs_own_definition(step: StepIR) -> bool:
    p = step.policies
    return bool(p.batch.image or p.batch.iam_role or p.resources.shared_memory)


@dataclass(frozen=True)
class Fargate:
    """Fargate job definitions need a platform, an execution role and a network setting."""

    execution_role: str
    assign_public_ip: bool = True


def fargate_problems(flow: FlowIR) -> list[str]:
    """What a flow asks for that Fargate cannot give (GPUs, shared memory)."""
    problems = []
    for step in flow.analysis.ordered:
        r = step.policies.resources
        if r.gpu:
            problems.append(f"step {step.name!r} asks for {r.gpu} GPU(s)")
        if r.shared_memory:
            problems.append(f"step {step.name!r} asks for shared memory")
    return problems


def job_definitions(flow: FlowIR, *, name: str, image: str, job_role: str | None,
                    environment: dict[str, str], tags: dict[str, str],
                    fargate: Fargate | None = None) -> dict[str, dict[str, Any]]:
    """Placeholder name (as in the ASL, without `${}`) -> RegisterJobDefinition arguments."""
    out = {"JobDefinition": _definition(name, image, job_role, None, environment, tags,
                                        fargate)}
    for step in flow.analysis.ordered:
        if needs_own_definition(step):
            p = step.policies
            key = job_definition_placeholder(step.name)[2:-1]
            out[key] = _definition(f"{name}-{step.name}", p.batch.image or image,
                                   p.batch.iam_role or job_role, p.resources.shared_memory,
                                   environment, tags, fargate)
    return out


def _definition(name: str, image: str, role: str | None, shared_memory: int | None,
                environment: dict[str, str], tags: dict[str, str],
                fargate: Fargate | None) -> dict[str, Any]:
    container: dict[str, Any] = {
        "image": image,
        "command": COMMAND,
        "resourceRequirements": [
            {"type": "VCPU", "value": DEFAULT_VCPU},
            {"type": "MEMORY", "value": DEFAULT_MEMORY},
        ],
        "environment": [{"name": k, "value": v} for k, v in sorted(environment.items())],
    }
    if role:
        container["jobRoleArn"] = role
    if shared_memory:
        container["linuxParameters"] = {"sharedMemorySize": shared_memory}
    if fargate is not None:
        container["executionRoleArn"] = fargate.execution_role
        container["networkConfiguration"] = {
            "assignPublicIp": "ENABLED" if fargate.assign_public_ip else "DISABLED"}
        container["fargatePlatformConfiguration"] = {"platformVersion": "LATEST"}
    definition: dict[str, Any] = {
        "jobDefinitionName": name,
        "type": "container",
        "parameters": {"params": "", "caught": ""},
        "containerProperties": container,
        "propagateTags": True,
    }
    if fargate is not None:
        definition["platformCapabilities"] = ["FARGATE"]
    if tags:
        definition["tags"] = dict(sorted(tags.items()))
    return definition
