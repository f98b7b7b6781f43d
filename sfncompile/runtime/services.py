"""What a task sets up around the user's step besides its inputs: the step's secrets in the
environment, `current.card`, and the client (`Flow`, `Run`, `S3(run=self)`) pointed at the
run's datastore; after the step, its cards."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

from sfncompile.current import current
from sfncompile.runtime.card import CardCollector, write_cards
from sfncompile.runtime.secrets import SecretsError, apply_secrets


class ServiceError(Exception):
    """The task cannot start its step (a secret could not be read); the message says why."""


_started: float | None = None


def bind_datastore(root: str) -> None:
    """Point the client in this process, and in processes the step starts, at the run's
    datastore (a local root made absolute, as the step may change directory)."""
    absolute = root if root.startswith("s3://") else os.path.abspath(root)
    os.environ["SFNCOMPILE_DATASTORE_ROOT"] = absolute  # what the client reads when imported
    client = sys.modules.get("sfncompile.client")  # imported already (by the flow module)
    if client is not None:
        client.bind_task_root(absolute)


def before_step(info: dict[str, Any], root: str) -> None:
    global _started
    _started = time.time()
    bind_datastore(root)
    current.card = CardCollector(list(info.get("cards") or []))
    try:
        apply_secrets(info.get("secrets"))
    except SecretsError as exc:
        raise ServiceError(str(exc)) from None


def after_step(task: Any, flow: Any, done: dict[str, Any]) -> dict[str, Any]:
    """Write the step's cards (done.json's "cards"); nothing when it has none.
    `task` is the runtime's TaskRunner."""
    spec = task.spec
    cards = task.info.get("cards")
    if not cards:
        return {}
    collector = current.card if isinstance(current.card, CardCollector) else CardCollector(cards)
    artifacts: dict[str, Any] = {}
    for name in done["artifacts"]:
        with contextlib.suppress(Exception):  # one unreadable artifact leaves the card usable
            artifacts[name] = getattr(flow, name)
    parameters = {p["name"]: artifacts[p["attr"]] for p in task.graph["parameters"]
                  if p["attr"] in artifacts}
    meta = {"pathspec": f"{task.flow_name}/{spec.run}/{spec.step}/{spec.task}",
            "flow": task.flow_name, "run": spec.run, "step": spec.step, "task": spec.task,
            "attempt": task.store.attempt, "origin_run": spec.origin_run,
            "parameters": parameters, "started": _started, "finished": time.time()}
    return {"cards": write_cards(task.storage, task.store.prefix, collector, meta, task.graph,
                                 artifacts)}
