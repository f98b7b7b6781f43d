"""`@project` branches, as Metaflow names them (plugins/project_decorator.py, `format_name`).

- `--branch B`: `test.B`, or `prod.B` with `--production`;
- `--production` alone: `prod`;
- neither: the user's branch `user.<name>`, the name from $METAFLOW_USER, then $SUDO_USER,
  $USERNAME, $USER (not root), as Metaflow's `get_username`; deploy refuses to guess when none
  is set, a local run says `user.unknown`.

Stdlib only: the runtime computes `current.branch_name` with it for local runs, and deploy
writes the result into the code package's step graph (`graph["project"]`).
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


def current_fields(graph: Mapping[str, Any]) -> dict[str, Any]:
    """`current.project_name` & co. for a task: from the deployment, or for a local run from
    the decorator and the user running it."""
    project = graph.get("project")
    if not project:
        return {}
    resolved = project if "branch_name" in project else resolve(
        project, graph["flow"], user=user_name())
    return {
        "project_name": resolved["name"],
        "branch_name": resolved["branch_name"],
        "is_production": resolved["is_production"],
        "is_user_branch": resolved["is_user_branch"],
        "project_flow_name": resolved["project_flow_name"],
    }
