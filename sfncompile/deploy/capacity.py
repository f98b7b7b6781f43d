"""Whether a flow's job queues can run its steps: checked by `deploy` before it changes
anything. A job that asks for more vCPUs than any compute environment of its queue can
offer, or for a GPU where none has one, waits in RUNNABLE for ever on AWS Batch; here it is
an error that names the step.

Only managed EC2 and Spot environments say what they offer (`maxvCpus`, `instanceTypes`). A
queue that is missing or has an unmanaged or Fargate environment is not judged (Fargate's
sizes are checked with the job definitions), and neither is memory, which depends on instance
types that `optimal` leaves to AWS.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sfncompile.ir import FlowIR, StepIR

# Instance families with NVIDIA GPUs: p2..p5, g3..g6 and their variants (g4dn, g5g, ...).
_GPU_FAMILY = re.compile(r"[pg]\d")


def _has_gpus(instance_type: str) -> bool:
    return bool(_GPU_FAMILY.match(instance_type))


def _offer(batch: Any, queue: str) -> tuple[float, bool] | None:
    """The most vCPUs one job can get on the queue and whether it has GPUs; None when the
    queue cannot be judged (missing, unmanaged or Fargate environments)."""
    queues = batch.describe_job_queues(jobQueues=[queue]).get("jobQueues", [])
    if not queues:
        return None
    arns = [o["computeEnvironment"] for o in queues[0].get("computeEnvironmentOrder", [])]
    if not arns:
        return None
    envs = batch.describe_compute_environments(computeEnvironments=arns).get(
        "computeEnvironments", [])
    resources = [e.get("computeResources") or {} for e in envs]
    if len(envs) != len(arns) or any(r.get("type") not in ("EC2", "SPOT") for r in resources):
        return None
    most = max(float(r.get("maxvCpus", 0)) for r in resources)
    gpus = any(_has_gpus(t) for r in resources for t in r.get("instanceTypes", []))
    return most, gpus


def capacity_problems(flow: FlowIR, default_queue: str, batch: Any) -> list[str]:
    """What each queue cannot run, a sentence per step (queues not judged pass)."""
    by_queue: dict[str, list[StepIR]] = defaultdict(list)
    for step in flow.analysis.ordered:
        by_queue[step.policies.batch.queue or default_queue].append(step)
    problems = []
    for queue, steps in sorted(by_queue.items()):
        offer = _offer(batch, queue)
        if offer is None:
            continue
        most, gpus = offer
        for step in steps:
            res = step.policies.resources
            cpu = float(res.cpu) if res.cpu is not None else 1.0
            if cpu > most:
                problems.append(f"step {step.name!r} asks for {cpu:g} vCPU(s); the compute "
                                f"environments of job queue {queue} offer at most {most:g} "
                                "(maxvCpus): lower @resources/@batch(cpu=...) or use a "
                                "bigger queue (@batch(queue=...))")
            if res.gpu and not gpus:
                problems.append(f"step {step.name!r} asks for {res.gpu} GPU(s); no compute "
                                f"environment of job queue {queue} has GPU instance types "
                                "(p*, g*): use a GPU queue (@batch(queue=...))")
    return problems
