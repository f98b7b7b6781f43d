"""The project branch a deployment goes to (`deploy`/`build --format cloudformation`
`--branch NAME`, `--production`, or the user's branch), checked before any AWS call."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sfncompile.conventions.project import BRANCH_OPTION_ENV, option_env, resolve, user_name
from sfncompile.errors import UsageError
from sfncompile.ir import FlowIR
from sfncompile.parser.triggers import branch_problem

PROJECT_TAG = "sfncompile:project"
BRANCH_TAG = "sfncompile:branch"


def check_branch_option(branch: str | None) -> None:
    """`--branch`: refused before anything else (it names AWS resources)."""
    if branch is not None:
        problem = branch_problem(branch)
        if problem:
            raise UsageError(f"--branch: {problem}")


def env_options(flow: FlowIR, branch: str | None, production: bool,
                env: Mapping[str, str] | None = None) -> tuple[str | None, bool]:
    """--branch and --production, each taken from METAFLOW_BRANCH / METAFLOW_PRODUCTION when
    not given (as Metaflow's command line does, and only for a @project flow: the options
    exist only there), checked."""
    check_branch_option(branch)
    if flow.project is None:
        return branch, production
    try:
        env_branch, env_production = option_env(env)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    source = "--branch"
    if branch is None and env_branch is not None:
        problem = branch_problem(env_branch)
        if problem:
            raise UsageError(f"{BRANCH_OPTION_ENV}: {problem}")
        branch, source = env_branch, BRANCH_OPTION_ENV
    p = flow.project
    if branch is not None and p.branch is not None and branch != p.branch:
        raise UsageError(f"{source} {branch}: the flow's @project fixes branch={p.branch!r} "
                         f"({p.pos}); give one of them, as Metaflow requires")
    return branch, production or env_production


def resolve_project(flow: FlowIR, branch: str | None, production: bool,
                    env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The deployment's project and branch (sfncompile.conventions.project), or None."""
    branch, production = env_options(flow, branch, production, env)
    p = flow.project
    if p is None:
        if branch is not None or production:
            raise UsageError(f"--branch/--production: flow {flow.name} has no @project")
        return None
    given = branch or p.branch
    user = None
    if not given and not (production or p.production):
        user = user_name(env)
        if user is None:
            raise UsageError("@project: cannot tell whose user branch to deploy to (no "
                             "METAFLOW_USER, SUDO_USER, USERNAME or USER other than root): "
                             "set one, or deploy with --branch NAME or --production")
    return resolve({"name": p.name, "branch": p.branch, "production": p.production},
                   flow.name, branch=branch, production=production, user=user)


def project_tags(project: dict[str, Any] | None) -> dict[str, str]:
    if project is None:
        return {}
    return {PROJECT_TAG: str(project["name"]), BRANCH_TAG: str(project["branch_name"])}
