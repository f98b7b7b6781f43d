"""`current`: what a running step knows about itself."""

from __future__ import annotations

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
