"""The AWS Batch job definitions of a flow: one shared by every step, plus one for each step
with its own image, IAM role, shared memory or other container settings of `@batch` (settings
a job cannot override at submit)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sfncompile.conventions.bootstrap import BOOTSTRAP
from sfncompile.emit.names import job_definition_placeholder
from sfncompile.ir import FlowIR, Resources, StepIR

DEFAULT_VCPU = "1"
DEFAULT_MEMORY = "4096"

# `Ref::name` is filled from the Task's Parameters; `params` only reaches `start`, and
# `caught` only the stand-in Task that records a failure under @catch.
COMMAND = ["python3", "-c", BOOTSTRAP, "--step", "Ref::step", "--run", "Ref::run", "--task",
           "Ref::task", "--attempt", "Ref::attempt", "--params", "Ref::params", "--caught",
           "Ref::caught"]


def needs_own_definition(step: StepIR) -> bool:
    p = step.policies
    return bool(p.batch.image or p.batch.iam_role or p.resources.shared_memory
                or container_settings(step, fargate=False) or p.batch.tags
                or p.parallel is not None)


def parallel_nodes(flow: FlowIR, step: StepIR) -> int | None:
    """The number of nodes of a @parallel step (from the `num_parallel` that leads to it)."""
    if step.policies.parallel is None:
        return None
    return next((flow.step(p).num_parallel for p in flow.analysis.parents[step.name]
                 if flow.step(p).num_parallel is not None), None)


def container_settings(step: StepIR, fargate: bool) -> dict[str, Any]:
    """containerProperties that `@batch`'s container arguments ask for, mapped as Metaflow's
    Batch client maps them (swap, tmpfs, Neuron and EFA devices, volumes, logging, ...)."""
    b = step.policies.batch
    out: dict[str, Any] = {}
    linux: dict[str, Any] = {}
    if b.max_swap is not None:
        linux["maxSwap"] = b.max_swap
    if b.swappiness is not None:
        linux["swappiness"] = b.swappiness
    devices = [{"containerPath": f"/dev/neuron{i}", "hostPath": f"/dev/neuron{i}",
                "permissions": ["READ", "WRITE"]} for i in range(b.inferentia)]
    if b.efa:  # a single-node job names the host device only (as Metaflow does)
        devices.append({"hostPath": "/dev/infiniband/uverbs0"})
    if devices:
        linux["devices"] = devices
    if b.use_tmpfs or b.tmpfs_size:
        memory = step.policies.resources.memory or int(DEFAULT_MEMORY)
        linux["tmpfs"] = [{"containerPath": b.tmpfs_path, "size": b.tmpfs_size or memory // 2,
                           "mountOptions": ["defaults"]}]
    if linux:
        out["linuxParameters"] = linux
    volumes: list[dict[str, Any]] = []
    mounts: list[dict[str, Any]] = []
    for spec in b.host_volumes:
        host, _, inside = spec.partition(":")
        name = host.replace("/", "_").replace(".", "_")
        volumes.append({"name": name, "host": {"sourcePath": host}})
        mounts.append({"sourceVolume": name, "containerPath": inside or host})
    for spec in b.efs_volumes:
        fs, _, inside = spec.partition(":")
        volumes.append({"name": f"efs_{fs}", "efsVolumeConfiguration": {
            "fileSystemId": fs, "transitEncryption": "ENABLED"}})
        mounts.append({"sourceVolume": f"efs_{fs}", "containerPath": inside or f"/mnt/{fs}"})
    if volumes:
        out["volumes"], out["mountPoints"] = volumes, mounts
    if b.log_driver or b.log_options:
        log: dict[str, Any] = {"logDriver": b.log_driver or "awslogs"}
        if b.log_options:
            log["options"] = dict(o.partition(":")[::2] for o in b.log_options)
        out["logConfiguration"] = log
    if b.privileged:
        out["privileged"] = True
    if b.execution_role:
        out["executionRoleArn"] = b.execution_role
    if b.ephemeral_storage and fargate:  # an EC2 job's disk is its instance's
        out["ephemeralStorage"] = {"sizeInGiB": b.ephemeral_storage}
    return out


def step_environment(step: StepIR, environment: dict[str, str]) -> dict[str, str]:
    """The deployment's environment, plus TMPDIR on the tmpfs when @batch asks for it."""
    b = step.policies.batch
    if (b.use_tmpfs or b.tmpfs_size) and b.tmpfs_tempdir:
        return {**environment, "TMPDIR": b.tmpfs_path}
    return environment


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
        b = step.policies.batch
        if b.use_tmpfs or b.tmpfs_size:
            problems.append(f"step {step.name!r} asks for a tmpfs")
        if b.inferentia or b.efa or b.privileged or b.host_volumes:
            problems.append(f"step {step.name!r} asks for devices, host volumes or "
                            "privileged mode")
        if step.policies.parallel is not None:
            problems.append(f"step {step.name!r} is @parallel (multi-node jobs run on EC2 only)")
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
                                   step_environment(step, environment),
                                   {**dict(p.batch.tags), **tags}, fargate,
                                   container_settings(step, fargate=fargate is not None))
            nodes = parallel_nodes(flow, step)
            if nodes is not None:
                out[key] = multinode(out[key], step, nodes)
    return out


def multinode(definition: dict[str, Any], step: StepIR, nodes: int) -> dict[str, Any]:
    """A @parallel step's definition: a multi-node job of `nodes` nodes, node 0 the main one,
    every node the same container (in Metaflow's two ranges, main and the others). The step's
    @environment and sizing are in the container as well as in the ASL's NodeOverrides (a
    multi-node job takes no ContainerOverrides), so the definition alone runs the step."""
    container = dict(definition.pop("containerProperties"))
    env = {e["name"]: e["value"] for e in container["environment"]}
    env.update(step.policies.environment)
    container["environment"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    sizing = {r["type"]: r["value"] for r in container["resourceRequirements"]}
    sizing.update({r["Type"]: r["Value"] for r in resource_requirements(step.policies.resources)})
    container["resourceRequirements"] = [{"type": k, "value": v} for k, v in sizing.items()]
    ranges = [{"targetNodes": "0:0", "container": container}]
    if nodes > 1:
        ranges.append({"targetNodes": f"1:{nodes - 1}", "container": container})
    definition["type"] = "multinode"
    definition["nodeProperties"] = {"numNodes": nodes, "mainNode": 0,
                                    "nodeRangeProperties": ranges}
    return definition


def resource_requirements(r: Resources) -> list[dict[str, str]]:
    """A step's sizing as Batch's ResourceRequirements (VCPU, MEMORY, GPU), as the ASL's
    ContainerOverrides give them."""
    out = []
    if r.cpu is not None:
        cpu = int(r.cpu) if float(r.cpu).is_integer() else r.cpu
        out.append({"Type": "VCPU", "Value": str(cpu)})
    if r.memory is not None:
        out.append({"Type": "MEMORY", "Value": str(r.memory)})
    if r.gpu:
        out.append({"Type": "GPU", "Value": str(r.gpu)})
    return out


def _definition(name: str, image: str, role: str | None, shared_memory: int | None,
                environment: dict[str, str], tags: dict[str, str],
                fargate: Fargate | None, settings: dict[str, Any] | None = None
                ) -> dict[str, Any]:
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
    settings = dict(settings or {})
    linux = settings.pop("linuxParameters", {})
    if shared_memory:
        linux = {"sharedMemorySize": shared_memory, **linux}
    if linux:
        container["linuxParameters"] = linux
    container.update(settings)
    if fargate is not None:
        container.setdefault("executionRoleArn", fargate.execution_role)
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
