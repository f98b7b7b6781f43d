"""Where a task runs, recorded in its metadata: the AWS Batch job and its CloudWatch log stream
(in a Batch container), who deployed the flow and the code package it runs from (set by
`deploy` in the job definition; the client reads the run's step graph from that package).

`logs` and `show` read these back, so a task that died before it could store its own output
still says where to look. Outside Batch nothing is recorded.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sfncompile.conventions.bootstrap import CODE_PACKAGE_ENV, CODE_SHA_ENV

# Set by `deploy` in the job definition's environment: who deployed, and the deploy's tags.
DEPLOYED_BY_ENV = "SFNCOMPILE_DEPLOYED_BY"
DEPLOY_TAGS_ENV = "SFNCOMPILE_DEPLOY_TAGS"
# AWS Batch sets these in every job's container.
_BATCH_ENV = {"AWS_BATCH_JOB_ID": "job_id", "AWS_BATCH_JOB_ATTEMPT": "job_attempt",
              "AWS_BATCH_JQ_NAME": "job_queue", "AWS_BATCH_CE_NAME": "compute_environment"}
# ECS (under Batch, EC2 and Fargate alike) serves the container's metadata, its awslogs
# options included, at this address.
_ECS_METADATA_ENV = "ECS_CONTAINER_METADATA_URI_V4"
_METADATA_TIMEOUT_SECONDS = 1.0


def batch_job() -> dict[str, str]:
    """The Batch job this process runs in (empty outside Batch)."""
    job = {field: os.environ[var] for var, field in _BATCH_ENV.items() if os.environ.get(var)}
    if job:
        job.update(log_stream())
    return job


def log_stream() -> dict[str, str]:
    """The CloudWatch Logs group and stream of this container, from ECS's metadata endpoint;
    empty when there is no endpoint or it does not answer at once."""
    url = os.environ.get(_ECS_METADATA_ENV)
    if not url:
        return {}
    import urllib.request  # only in a container: 20 ms of imports every task would pay

    try:
        with urllib.request.urlopen(url, timeout=_METADATA_TIMEOUT_SECONDS) as response:
            meta: Any = json.loads(response.read())
    except (OSError, ValueError):
        return {}
    options = meta.get("LogOptions") if isinstance(meta, dict) else None
    if not isinstance(options, dict):
        return {}
    out = {"log_group": options.get("awslogs-group"), "log_stream": options.get("awslogs-stream")}
    return {k: str(v) for k, v in out.items() if v}


def deployment() -> dict[str, Any]:
    """Who deployed the flow and the deploy's tags (empty for a local run)."""
    out: dict[str, Any] = {}
    if os.environ.get(DEPLOYED_BY_ENV):
        out["deployed_by"] = os.environ[DEPLOYED_BY_ENV]
    try:
        tags = json.loads(os.environ.get(DEPLOY_TAGS_ENV) or "{}")
    except ValueError:
        tags = {}
    if isinstance(tags, dict) and tags:
        out["deploy_tags"] = {str(k): str(v) for k, v in tags.items()}
    return out


def code_package() -> dict[str, str]:
    """The code package this task runs from, as Metaflow's `code-package` metadata names it:
    `location` (s3://...) and `sha` (empty outside a deployed run)."""
    location, sha = os.environ.get(CODE_PACKAGE_ENV), os.environ.get(CODE_SHA_ENV)
    return {"location": location, "sha": sha} if location and sha else {}


def task_environment() -> dict[str, Any]:
    """The fields a task adds to its metadata about where it runs."""
    out = deployment()
    package = code_package()
    if package:
        out["code_package"] = package
    job = batch_job()
    if job:
        out["batch"] = job
    return out
