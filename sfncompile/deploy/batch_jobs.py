"""Single tasks of a local run as AWS Batch jobs (a hybrid run).

The jobs use what `deploy` uses: the same code package in S3 and the same job definitions
(uploaded and registered here only when they differ, by deploy's own code), and SubmitJob gets
the parameters and container overrides that the state machine's Batch task would pass, so a
task runs in its container exactly as under Step Functions.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfncompile.conventions.task_env import DATASTORE_ENV, LOCAL_DRIVER_ENV, ORIGIN_RUN_ENV
from sfncompile.deploy.aws import AwsClients
from sfncompile.deploy.config import Config
from sfncompile.deploy.deployer import Deployer, Schedule, prepare, workdir
from sfncompile.emit.asl import attempt_duration
from sfncompile.emit.jobdef import needs_own_definition, resource_requirements
from sfncompile.emit.names import job_definition_placeholder, job_name
from sfncompile.ir import FlowIR, StepIR

# What the container's environment names: the datastore, and the run a resumed run continues.
FINAL_STATES = ("SUCCEEDED", "FAILED")


@dataclass
class JobStatus:
    status: str
    reason: str = ""


@dataclass
class BatchJobs:
    clients: AwsClients
    flow: FlowIR
    queue: str
    definitions: dict[str, str]  # step -> job definition ARN
    datastore_root: str  # the run's, given to every job
    steps: dict[str, StepIR] = field(default_factory=dict)

    def submit(self, step: str, run: str, task: str, attempt: int,
               params: dict[str, Any] | None, caught: dict[str, Any] | None,
               origin_run: str | None) -> str:
        """Start the task's job; return its id."""
        info = self.steps[step]
        parameters = {"step": step, "run": run, "task": task, "attempt": str(attempt)}
        if params is not None:
            parameters["params"] = json.dumps(params)
        if caught is not None:
            parameters["caught"] = json.dumps(caught)
        env = dict(info.policies.environment)
        env[DATASTORE_ENV] = self.datastore_root
        env[LOCAL_DRIVER_ENV] = "1"
        if origin_run:
            env[ORIGIN_RUN_ENV] = origin_run
        overrides: dict[str, Any] = {
            "environment": [{"name": k, "value": v} for k, v in sorted(env.items())]}
        requirements = [{"type": r["Type"], "value": r["Value"]}
                        for r in resource_requirements(info.policies.resources)]
        if requirements:
            overrides["resourceRequirements"] = requirements
        request: dict[str, Any] = {
            "jobName": job_name(self.flow.name, step) or step,
            "jobQueue": info.policies.batch.queue or self.queue,
            "jobDefinition": self.definitions[step],
            "parameters": parameters,
            "containerOverrides": overrides,
        }
        if info.policies.timeout_seconds:
            request["timeout"] = {
                "attemptDurationSeconds": attempt_duration(info.policies.timeout_seconds)}
        job_id: str = self.clients.batch.submit_job(**request)["jobId"]
        return job_id

    def status(self, job_id: str) -> JobStatus:
        jobs = self.clients.batch.describe_jobs(jobs=[job_id])["jobs"]
        if not jobs:
            return JobStatus("FAILED", f"AWS Batch no longer knows job {job_id}")
        return JobStatus(jobs[0]["status"], jobs[0].get("statusReason") or "")

    def terminate(self, job_id: str, reason: str) -> None:
        self.clients.batch.terminate_job(jobId=job_id, reason=reason)


def prepare_batch_jobs(flow: FlowIR, flow_file: Path, config: Config, datastore_root: str,
                       steps: list[str], say: Callable[[str], None]) -> BatchJobs:
    """Upload the code package and register the job definitions, as deploy does (each only
    when it changed), for the tasks of `steps`."""
    # deploy's own preparation, so package and job definitions are the same as a deploy's;
    # it checks every deploy setting, so those a hybrid run does not use get stand-ins: the
    # package goes under `s3_root` (else the run's datastore), and no state machine or rule
    # is made.
    values = {**config.values, "s3_root": config.get("s3_root") or datastore_root,
              "sfn_role": config.get("sfn_role") or "unused",
              "events_role": config.get("events_role") or "unused"}
    settings = Config(values, dict(config.sources))
    clients = AwsClients(region=config.get("region"))
    by_name = {s.name: s for s in flow.steps}
    with workdir() as tmp:
        target = prepare(flow, flow_file, settings, name=None, schedule=Schedule(None),
                         workdir=Path(tmp))
        deployer = Deployer(target, clients, say)
        deployer.upload_package()
        by_key: dict[str, str] = {}  # placeholder name -> ARN
        arns: dict[str, str] = {}  # step -> ARN
        for step in steps:
            key = job_definition_placeholder(
                step if needs_own_definition(by_name[step]) else None)[2:-1]
            if key not in by_key:
                wanted = target.job_definitions[key]
                revisions = deployer.active_revisions(wanted["jobDefinitionName"])
                by_key[key] = deployer.job_definition(wanted, revisions)
            arns[step] = by_key[key]
    return BatchJobs(clients, flow, str(config.get("job_queue")), arns,
                     datastore_root.rstrip("/"), by_name)
