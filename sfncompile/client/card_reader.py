"""Reading the cards that `@card` stored with a task (runtime/card_writer.py writes them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sfncompile.datastore.storage import DatastoreError, KeyNotFound, Storage


@dataclass(frozen=True)
class Card:
    """A stored card (what Metaflow's `get_cards` gives): `.html`, `.type`, `.id`, `.path`."""

    type: str
    id: str | None
    path: str  # the key under the datastore root
    url: str
    _storage: Storage = field(repr=False, compare=False)

    def get(self) -> str:
        try:
            return self._storage.get_bytes(self.path).decode("utf-8")
        except KeyNotFound:
            raise DatastoreError(f"{self.url} is missing (the task lists this card)") from None

    @property
    def html(self) -> str:
        return self.get()


def task_cards(task: Any, id: str | None = None, type: str | None = None) -> list[Card]:
    """The cards that a committed client Task recorded, filtered by id and type."""
    from sfncompile.datastore import layout as ds

    storage = task._run._storage
    done = task._done
    prefix = ds.attempt_prefix(task._run.flow, task._run.id, task.step.name, task.id,
                               task.attempt)
    if isinstance(done.get("cloned_from"), str):  # resume reused the task: its files are there
        prefix = done["cloned_from"]
    cards = []
    for entry in done.get("cards") or []:
        if (id is None or entry.get("id") == id) and (type is None or entry.get("type") == type):
            key = f"{prefix}/{entry['file']}"
            cards.append(Card(entry.get("type"), entry.get("id"), key, storage.url(key),
                              storage))
    return cards


def get_cards(task: Any, id: str | None = None, type: str | None = None) -> list[Card]:
    """Metaflow's `get_cards`: the cards of a client Task or of a task's pathspec."""
    if isinstance(task, str):
        from sfncompile.client import core as client

        task = client.Task(task)
    return task_cards(task, id=id, type=type)
