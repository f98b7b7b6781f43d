"""`current`: what a running step knows about itself."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sfncompile.conventions.project import user_name


def get_username() -> str | None:
    """Who runs the flow, as Metaflow finds it: METAFLOW_USER, then SUDO_USER, USERNAME and
    USER, never root."""
    return user_name()


def resolve_identity() -> str | None:
    """Metaflow's identity: the default namespace and a run's system tag. `production:<token>`
    when METAFLOW_PRODUCTION_TOKEN is set, else `user:<name>`; None when neither is known
    (where Metaflow raises MetaflowUnknownUser)."""
    token = os.environ.get("METAFLOW_PRODUCTION_TOKEN")
    if token:
        return f"production:{token}"
    user = get_username()
    return f"user:{user}" if user else None


class Current:
    def __init__(self) -> None:
        self.flow_name: str | None = None
        self.run_id: str | None = None
        self.step_name: str | None = None
        self.task_id: str | None = None
        self.retry_count: int = 0
        self.origin_run_id: str | None = None
        self.is_running_flow: bool = False
        self.username: str | None = None
        self.namespace: str | None = None
        self.parameter_names: list[str] = []
        self._tags: set[str] | None = None
        self._read_tags: Callable[[], list[str]] | None = None
        self.card: Any = None  # the step's cards (runtime/card_writer.py) while a task runs
        # @project (sfncompile.conventions.project); None without it
        self.project_name: str | None = None
        self.branch_name: str | None = None
        self.is_production: bool | None = None
        self.is_user_branch: bool | None = None
        self.project_flow_name: str | None = None
        self._trigger: Any = None
        self._load_trigger: Callable[[], Any] | None = None

    @property
    def trigger(self) -> Any:
        """The `sfncompile.client.trigger.Trigger` of a run that an event started, else None; read
        from the datastore the first time it is asked for."""
        if self._load_trigger is not None:
            self._trigger, self._load_trigger = self._load_trigger(), None
        return self._trigger

    @property
    def pathspec(self) -> str | None:
        if self.run_id is None:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def tags(self) -> set[str]:
        """The run's tags (`run --tag`), read from the run's record on first use."""
        if self._tags is None:
            self._tags = set(self._read_tags()) if self._read_tags is not None else set()
        return self._tags

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: str) -> bool:
        return getattr(self, key, None) is not None

    def _set(self, read_tags: Callable[[], list[str]] | None = None, **values: object) -> None:
        self.username = get_username()
        self.namespace = resolve_identity()
        self._tags, self._read_tags = None, read_tags
        for key, value in values.items():
            setattr(self, key, value)
        self.is_running_flow = True


current = Current()
