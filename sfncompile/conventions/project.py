"""`@project` branches, as Metaflow names them (plugins/project_decorator.py, `format_name`).

- `--branch B`: `test.B`, or `prod.B` with `--production`;
- `--production` alone: `prod`;
- either not given: from $METAFLOW_BRANCH and $METAFLOW_PRODUCTION, as Metaflow's options;
- neither: the user's branch `user.<name>`, the name from $METAFLOW_USER, then $SUDO_USER,
  $USERNAME, $USER (not root), as Metaflow's `get_username`; deploy refuses to guess when none
  is set, a local run says `user.unknown`.

Stdlib only: the runtime computes `current.branch_name` with it for local runs; deploy puts
a deployment's branch into its job definitions' environment (`deployment_env`), so one code
package serves every branch.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

_USER_VARS = ("METAFLOW_USER", "SUDO_USER", "USERNAME", "USER")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")


def user_name(env: Mapping[str, str] | None = None) -> str | None:
    env = os.environ if env is None else env
    for var in _USER_VARS:
        value = env.get(var)
        if value and value != "root":
            return value
    return None


def user_branch_part(user: str) -> str:
    """A user name as a branch part: AWS names take only letters, digits, - and _, so other
    characters become _ (Alice.Smith -> alice_smith)."""
    return _NOT_NAME.sub("_", user.lower()).strip("_") or "unknown"


def branch_name(given: str | None, production: bool, user: str | None) -> str:
    if given:
        return f"{'prod' if production else 'test'}.{given}"
    if production:
        return "prod"
    return f"user.{user_branch_part(user or 'unknown')}"


def resolve(project: Mapping[str, Any], flow: str, *, branch: str | None = None,
            production: bool = False, user: str | None = None) -> dict[str, Any]:
    """What `current` says about a @project run: the decorator's branch/production unless
    the command line gave them (deploy checks that the two do not disagree)."""
    given = branch or project.get("branch")
    prod = production or bool(project.get("production"))
    name = branch_name(given, prod, user)
    return {
        "name": project["name"],
        "branch_name": name,
        "is_production": prod,
        "is_user_branch": not given and not prod,
        "project_flow_name": f"{project['name']}.{name}.{flow}",
    }


# Metaflow's --branch and --production, as its command line reads them from the environment
# when they are not given (a local run, deploy and the runtime of a local task read them).
BRANCH_OPTION_ENV = "METAFLOW_BRANCH"
PRODUCTION_OPTION_ENV = "METAFLOW_PRODUCTION"
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"", "0", "false", "f", "no", "n", "off"})


def option_env(env: Mapping[str, str] | None = None) -> tuple[str | None, bool]:
    """(METAFLOW_BRANCH or None, METAFLOW_PRODUCTION as a boolean, as click reads one);
    raises ValueError for a METAFLOW_PRODUCTION that is not a boolean."""
    env = os.environ if env is None else env
    raw = env.get(PRODUCTION_OPTION_ENV, "")
    if raw.strip().lower() not in _TRUE | _FALSE:
        raise ValueError(f"{PRODUCTION_OPTION_ENV}={raw!r}: expected true or false")
    return env.get(BRANCH_OPTION_ENV) or None, raw.strip().lower() in _TRUE


# Set by deploy (and the CloudFormation stack) in the job definitions: the deployment's branch.
BRANCH_ENV = "SFNCOMPILE_PROJECT_BRANCH"
PRODUCTION_ENV = "SFNCOMPILE_PROJECT_PRODUCTION"


def deployment_env(resolved: Mapping[str, Any] | None) -> dict[str, str]:
    if resolved is None:
        return {}
    return {BRANCH_ENV: str(resolved["branch_name"]),
            PRODUCTION_ENV: "true" if resolved["is_production"] else "false"}


def current_fields(graph: Mapping[str, Any], env: Mapping[str, str] | None = None
                   ) -> dict[str, Any]:
    """`current.project_name` & co. for a task: from the deployment's job definition, or for
    a local run from METAFLOW_BRANCH/METAFLOW_PRODUCTION, the decorator and the user running
    it. Raises ValueError for a METAFLOW_PRODUCTION that is not a boolean."""
    project = graph.get("project")
    if not project:
        return {}
    env = os.environ if env is None else env
    branch = env.get(BRANCH_ENV)
    if branch:
        name = project["name"]
        resolved = {"name": name, "branch_name": branch,
                    "is_production": env.get(PRODUCTION_ENV) == "true",
                    "is_user_branch": branch.startswith("user."),
                    "project_flow_name": f"{name}.{branch}.{graph['flow']}"}
    else:
        given, production = option_env(env)
        resolved = resolve(project, graph["flow"], branch=given, production=production,
                           user=user_name(env))
    return {
        "project_name": resolved["name"],
        "branch_name": resolved["branch_name"],
        "is_production": resolved["is_production"],
        "is_user_branch": resolved["is_user_branch"],
        "project_flow_name": resolved["project_flow_name"],
    }
