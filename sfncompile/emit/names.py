"""Stable names for states, jobs and placeholders.

Synthetic state names join a step name and a role with spaces, which no step name (a Python
identifier) contains, so they never collide with a step's own state. Names longer than Step
Functions allows keep a readable head and end in a hash of the full name.
"""

from __future__ import annotations

import re

MAX_STATE_NAME = 80
MAX_JOB_NAME = 128
_JOB_NAME = re.compile(r"[A-Za-z0-9_-]+")


def _digest(name: str) -> str:
    import hashlib  # only long names need it; loading OpenSSL costs a small build ~2 ms

    return hashlib.sha256(name.encode()).hexdigest()[:8]


def shorten(name: str, limit: int) -> str:
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9]}~{_digest(name)}"


def state(*parts: str) -> str:
    return shorten(" ".join(parts), MAX_STATE_NAME)


INIT = "Init run"
RECORD_FAILURE = "Failed"
PUBLISH_FAILURE = "Publish run failed"
RUN_FAILED = "Run failed"


def job_name(flow: str, step: str) -> str | None:
    """The Batch job name of a step, or None when it cannot be one (Batch's character set)."""
    name = f"{flow}-{step}"
    if len(name) > MAX_JOB_NAME or not _JOB_NAME.fullmatch(name):
        return None
    return name


def job_definition_placeholder(step: str | None) -> str:
    """Steps with their own image, role or shared memory need their own job definition."""
    return "${JobDefinition}" if step is None else f"${{JobDefinition_{step}}}"


def aws_name(name: str, limit: int) -> str:
    """`name` cut to `limit` characters of an AWS resource name: a readable head, then `-`
    and a hash of the whole name, so two long names never share one."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9]}-{_digest(name)}"


MAX_MACHINE_NAME = 80


def deployment_name(prefix: str, flow: str, project: dict[str, object] | None) -> str:
    """The state machine's name: `<prefix><Flow>`, or with @project
    `<prefix><project>-<branch, dots as dashes>-<Flow>` (Metaflow's `project.branch.Flow`;
    AWS names take no dots). Project names have no `-`, nor branches other than through a
    dot, so the name still says which project, branch and flow it is."""
    if project is None:
        return f"{prefix}{flow}"
    branch = str(project["branch_name"]).replace(".", "-")
    return aws_name(f"{prefix}{project['name']}-{branch}-{flow}", MAX_MACHINE_NAME)
