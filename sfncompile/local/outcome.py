"""What a task attempt came to, as the runner and its progress display see it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Key = tuple[str, str]  # (step, task id)


@dataclass
class Outcome:
    key: Key
    attempt: int
    returncode: int
    output: str
    seconds: float
    caught: dict[str, Any] | None = None  # the failure this attempt recorded under @catch
    error: str | None = None  # why an attempt that exited 0 still failed (it never committed)
    done: dict[str, Any] | None = None  # the committed attempt's done.json
    timed_out: bool = False  # the runner killed it on its @timeout
    ended: str | None = None  # how it ended, when it died before it could say (task_death.py)
    cancelled: bool = False  # it waited for a slot when the run stopped, and never ran

    @property
    def succeeded(self) -> bool:
        return self.returncode == 0 and self.error is None
