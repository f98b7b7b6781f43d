"""What a task sets up around the user's step besides its inputs: the step's secrets in the
environment, `current.card`, and the client (`Flow`, `Run`, `S3(run=self)`) pointed at the
run's datastore; after the step, its cards."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import Any

from sfncompile.conventions.artifact_names import FLOW_NAME_ARTIFACT
from sfncompile.datastore.storage import LocalStorage, S3Storage, Storage
from sfncompile.flow.current import current
from sfncompile.runtime.card_writer import CardCollector, write_cards
from sfncompile.runtime.secrets import SecretsError, apply_secrets

# An artifact that the step did not load is loaded for the default card only when its blob
# is at most this big: a card must not pull a large data set into memory to show its repr.
MAX_CARD_LOAD = 1 << 20


class NotLoaded:
    """Stands for an inherited artifact in a card: its repr says why it is not shown."""

    def __init__(self, sha: str, size: int | None) -> None:
        self.sha, self.size = sha, size

    def __repr__(self) -> str:
        what = f"{self.size:,} bytes compressed" if self.size is not None else "size unknown"
        return f"<not shown: inherited, {what}, blob {self.sha[:12]}>"


class IncludedFile:
    """Stands for an IncludeFile's content in a card: its size and sha256, not the file."""

    def __init__(self, line: str) -> None:
        self.line = line

    def __repr__(self) -> str:
        return self.line


def _included_files(task: Any) -> dict[str, IncludedFile]:
    """attr -> what a card shows for each IncludeFile the run was given by reference (the
    run's record holds the references)."""
    from sfncompile.conventions.input_keys import describe_include, is_include_reference
    from sfncompile.datastore.layout import read_run_meta

    included = [p for p in task.graph["parameters"] if p.get("kind") == "include_file"]
    if not included:
        return {}
    try:
        params = read_run_meta(task.storage, task.flow_name, task.spec.run).get("params")
    except Exception:  # no record (yet): the card shows the values themselves
        return {}
    params = params if isinstance(params, dict) else {}
    return {p["attr"]: IncludedFile(describe_include(p["name"], params[p["name"]]))
            for p in included if is_include_reference(params.get(p["name"]))}


def _blob_size(storage: Storage, flow: str, sha: str) -> int | None:
    from sfncompile.datastore.layout import blob_key

    try:
        key = blob_key(flow, sha)
        if isinstance(storage, LocalStorage):
            return storage.root.joinpath(*key.split("/")).stat().st_size
        if isinstance(storage, S3Storage):
            head = storage.client.head_object(Bucket=storage.bucket, Key=storage._key(key))
            return int(head["ContentLength"])
    except Exception:  # missing or unreadable: the card says so rather than failing
        return None
    return None


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
    in_memory = {k: v for k, v in vars(flow).items() if not k.startswith("_")}
    artifacts: dict[str, Any] = {}
    for name, sha in done["artifacts"].items():
        if name == FLOW_NAME_ARTIFACT:  # the flow's name: Metaflow's default card omits it
            continue
        if name in in_memory:
            artifacts[name] = in_memory[name]
            continue
        size = _blob_size(task.storage, task.flow_name, sha)
        if size is None or size > MAX_CARD_LOAD:
            artifacts[name] = NotLoaded(sha, size)
            continue
        with contextlib.suppress(Exception):  # one unreadable artifact leaves the card usable
            artifacts[name] = getattr(flow, name)
    artifacts.update(_included_files(task))
    parameters = {p["name"]: artifacts[p["attr"]] for p in task.graph["parameters"]
                  if p["attr"] in artifacts}
    meta = {"pathspec": f"{task.flow_name}/{spec.run}/{spec.step}/{spec.task}",
            "flow": task.flow_name, "run": spec.run, "step": spec.step, "task": spec.task,
            "attempt": task.store.attempt, "origin_run": spec.origin_run,
            "parameters": parameters, "started": _started, "finished": time.time()}
    return {"cards": write_cards(task.storage, task.store.prefix, collector, meta, task.graph,
                                 artifacts)}
