"""`current`: what a running step knows about itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Current:
    def __init__(self) -> None:
        self.flow_name: str | None = None
        self.run_id: str | None = None
        self.step_name: str | None = None
        self.task_id: str | None = None
        self.retry_count: int = 0
        self.origin_run_id: str | None = None
        self.is_running_flow: bool = False
        # @project (sfncompile.runtime.project); None without it
        self.project_name: str | None = None
        self.branch_name: str | None = None
        self.is_production: bool | None = None
        self.is_user_branch: bool | None = None
        self.project_flow_name: str | None = None
        self._trigger: Any = None
        self._load_trigger: Callable[[], Any] | None = None

    @property
    def trigger(self) -> Any:
        """The `sfncompile.events.Trigger` of a run that an event started, else None; read
        from the datastore the first time it is asked for."""
        if self._load_trigger is not None:
            self._trigger, self._load_trigger = self._load_trigger(), None
        return self._trigger
        self.card: Any = None  # the step's cards (runtime/card.py) while a task runs

    @property
    def pathspec(self) -> str | None:
        if self.run_id is None:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    def _set(self, **values: object) -> None:
        for key, value in values.items():
            setattr(self, key, value)
        self.is_running_flow = True


current = Current()
