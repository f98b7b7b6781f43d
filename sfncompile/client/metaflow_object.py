"""What the client's objects share: Metaflow's base class (pathspec, parent, origin, repr),
the order they list their children in, reads made several at once on S3, and times as
Metaflow's client gives them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Any, TypeVar

from sfncompile.datastore.storage import LocalStorage, Storage

T = TypeVar("T")
_READERS = 8  # records read at once from S3: hides the round trips of a wide step


def _each(storage: Storage, fn: Callable[[T], object], items: Sequence[T]) -> None:
    """fn on every item: in turn on a local disk, several at once on S3."""
    if isinstance(storage, LocalStorage) or len(items) < 4:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(max_workers=_READERS) as pool:
        list(pool.map(fn, items))


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _local_time(seconds: float | None) -> datetime | None:
    """A time as Metaflow's client gives it: a naive datetime in local time."""
    return None if seconds is None else datetime.fromtimestamp(seconds)


def _utc_time(seconds: float | None) -> datetime | None:
    """A log line's time as Metaflow's `loglines` gives it: a naive datetime in UTC."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(seconds, timezone.utc).replace(tzinfo=None)


def _newest_first(objects: list[T], created: Callable[[T], float],
                  tie: Callable[[T], Any]) -> list[T]:
    """Metaflow's order of children: by creation time, newest first."""
    return sorted(objects, key=lambda o: (created(o), tie(o)), reverse=True)


class MetaflowObject:
    """What Flow, Run, Step, Task and DataArtifact share, as Metaflow's base class has it."""

    id: str
    pathspec: str

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    @property
    def parent(self) -> MetaflowObject | None:
        return None

    @property
    def origin_pathspec(self) -> str | None:
        """None for a flow, as in Metaflow (a run, step, task or artifact says what a resume
        reused for it)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}('{self.pathspec}')"

    def __str__(self) -> str:
        return repr(self)
