"""A run's tags with Metaflow's rules (`Run.add_tag` & co., metaflow/tagging_util.py).

- **System tags** are what the run was started with by the system: the run record's
  `system_tags` (`user:<name>`, `runtime:`, `python_version:`, ... ; local/runner.py) and a
  deployed run's deploy tags as `key:value`. They never change.
- **User tags** start as the record's `tags` (`run --tag`) and change with `add_tag`,
  `remove_tag` and `replace_tag`. The record itself is never rewritten (the runner rewrites it
  as the run goes); the changed set goes to `_tags.json` beside it, and once that exists it is
  the user tags. A run without it has the tags it started with.

Concurrent changes are serialised: each is a compare-and-swap of `_tags.json` (S3's
conditional write, a lock on a local root), applied to the latest set and retried from a
fresh read when another change came first, so none is lost. After MAX_TRIES lost races the
change fails with MetaflowTaggingError, as Metaflow's does.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any

from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, Storage
from sfncompile.exception import MetaflowTaggingError

# Metaflow's limits: user tags on a run, and characters in a tag.
MAX_USER_TAG_SET_SIZE = 50
MAX_TAG_SIZE = 500
MAX_TRIES = 20


class TagConflict(MetaflowTaggingError):
    """Other processes kept changing the run's tags: this change lost every race."""


def one_or_many(tags: Any) -> Any:
    """A string (or bytes) alone is one tag, as Metaflow's `add_tag("x")` takes it; anything
    else is passed on as given (an iterable of tags, or what the checks refuse)."""
    return [tags] if isinstance(tags, str | bytes) else tags


def validate_tag(tag: object) -> str:
    """The tag as text, or MetaflowTaggingError with Metaflow's message."""
    if isinstance(tag, bytes):
        try:
            tag = tag.decode("utf-8")
        except UnicodeError:
            raise MetaflowTaggingError("Tags must be UTF-8 decodable") from None
    elif isinstance(tag, str):
        try:
            tag.encode("utf-8")
        except UnicodeError:
            raise MetaflowTaggingError("Tags must be UTF-8 encodable") from None
    else:
        raise MetaflowTaggingError(
            f"Tags must be some kind of string (bytes or unicode), got {type(tag)}")
    if not tag:
        raise MetaflowTaggingError("Tags must not be empty string")
    if len(tag) > MAX_TAG_SIZE:
        raise MetaflowTaggingError(f"Tag is too long {len(tag)} > {MAX_TAG_SIZE}")
    return tag


def validate_tags(tags: frozenset[str], existing: frozenset[str] | None = None) -> None:
    """A user tag set may not grow beyond MAX_USER_TAG_SET_SIZE (one already larger may
    shrink), and each tag must be valid."""
    if len(tags) > MAX_USER_TAG_SET_SIZE and (existing is None or len(existing) < len(tags)):
        raise MetaflowTaggingError(
            f"Cannot increase size of tag set beyond {MAX_USER_TAG_SET_SIZE}")
    for tag in tags:
        validate_tag(tag)


def _tag_list(tags: Any, what: str) -> list[str]:
    if isinstance(tags, str | bytes):
        raise MetaflowTaggingError(f"{what} may not be a string")
    try:
        items = list(tags)
    except TypeError:
        raise MetaflowTaggingError(f"{what} must be iterable") from None
    return [validate_tag(t) for t in items]


class RunTags:
    """The tags of one run, read once (as Metaflow's Run keeps the tags it was read with) and
    refreshed by each change made through it."""

    def __init__(self, storage: Storage, flow: str, run: str, record: dict[str, Any],
                 deploy_tags: Callable[[], dict[str, Any]]) -> None:
        self._storage, self._flow, self._run = storage, flow, run
        self._record = record
        self._deploy_tags = deploy_tags
        self._user: frozenset[str] | None = None

    @property
    def recorded_system(self) -> frozenset[str]:
        """The record's system tags: what a namespace is matched against first."""
        return frozenset(str(t) for t in self._record.get("system_tags") or [])

    @property
    def system(self) -> frozenset[str]:
        deployed = {f"{k}:{v}" for k, v in (self._deploy_tags() or {}).items()}
        return self.recorded_system | deployed

    @property
    def user(self) -> frozenset[str]:
        if self._user is None:
            self._user = self._read()[0]
        return self._user

    def has_all(self, tags: Iterable[str], deployed: bool = True) -> bool:
        """Whether the run carries every tag: the record's system tags and the user tags
        first, the deploy tags (read from the first task) only when still needed."""
        missing = [t for t in tags if t not in self.recorded_system and t not in self.user]
        return not missing or (deployed and all(t in self.system for t in missing))

    def _read(self) -> tuple[frozenset[str], str | None]:
        """The user tags and the version of `_tags.json` (None: never changed)."""
        try:
            tags, version = ds.read_run_tags(self._storage, self._flow, self._run)
        except KeyNotFound:
            return frozenset(str(t) for t in self._record.get("tags") or []), None
        return frozenset(tags), version

    def replace(self, remove: Any, add: Any) -> frozenset[str]:
        """Remove, then add, as one change; returns the user tags after it. Adding a system
        tag does nothing; removing one is an error, and then nothing changes."""
        if not add and not remove:
            raise MetaflowTaggingError("Must add or remove at least one tag")
        to_add = frozenset(_tag_list(add, "tags_to_add"))
        to_remove = frozenset(_tag_list(remove, "tags_to_remove"))
        if not self._record:
            raise MetaflowTaggingError(f"Run not found ({self._flow}, {self._run})")
        system = self.system
        refused = to_remove & system
        if refused:
            raise MetaflowTaggingError(
                f"Cannot remove a tag that is an existing system tag ({sorted(refused)})")
        for attempt in range(MAX_TRIES):
            current, version = self._read()
            wanted = (current - to_remove) | (to_add - system)
            if wanted == current:
                self._user = current
                return current
            validate_tags(wanted, existing=current)
            if ds.write_run_tags(self._storage, self._flow, self._run, list(wanted), version):
                self._user = wanted
                return wanted
            time.sleep(random.uniform(0.005, 0.02) * (attempt + 1))  # let the other finish
        raise TagConflict(
            "Tagging failed due to too many conflicting updates from other processes")
