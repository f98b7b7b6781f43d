"""Which runs the client reads: the datastore root (Metaflow's metadata provider) and the
namespace, set for the whole process by the functions Metaflow's client has.

The datastore root comes from `set_datastore_root(...)`, else SFNCOMPILE_DATASTORE_ROOT, else
`./.sfncompile`.
"""

from __future__ import annotations

import os

from sfncompile.datastore.storage import Storage, open_storage
from sfncompile.flow.current import resolve_identity

DEFAULT_ROOT = ".sfncompile"


_root: str | None = None
_task_root: str | None = None  # inside a running task: the run's datastore


def set_datastore_root(root: str | None) -> None:
    """Read from this root (a directory or s3://bucket/prefix); None restores the default."""
    global _root
    _root = root


def bind_task_root(root: str | None) -> None:
    """Called by the runtime: inside a task the client reads the run's own datastore."""
    global _task_root
    _task_root = root


def datastore_root() -> str:
    return (_root or _task_root or os.environ.get("SFNCOMPILE_DATASTORE_ROOT")
            or DEFAULT_ROOT)


# -- Metaflow's metadata and namespace functions -------------------------------------------
# sfncompile keeps all metadata in the datastore, so the "metadata provider" is the datastore
# root: get_metadata() gives "local@<root>", metadata("local@<root>") (or a bare root) reads
# another. A namespace is a tag: runs are filtered by namespace only when their record lists
# system tags (a local run's); a run recorded without them is visible in every namespace.


_UNSET = object()
_namespace: object = _UNSET


def default_namespace() -> str | None:
    """Back to the default namespace, which it returns: `user:<name>`, or `production:<token>`
    with METAFLOW_PRODUCTION_TOKEN set (None when no user name is known)."""
    global _namespace
    _namespace = resolve_identity()
    return _namespace


def namespace(ns: str | None) -> str | None:
    """Read only runs tagged `ns`, a user or system tag (None: every run); returns `ns`."""
    global _namespace
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    if _namespace is _UNSET:
        return default_namespace()
    return _namespace  # type: ignore[return-value]


def get_metadata() -> str:
    return f"local@{datastore_root()}"


def default_metadata() -> str:
    """Read runs from the default datastore root again; returns it as `get_metadata` does."""
    set_datastore_root(None)
    return get_metadata()


def metadata(ms: str) -> str:
    """Read runs from another datastore root, given as `local@<root>` or the root itself."""
    _, at, root = ms.partition("@")
    set_datastore_root(root if at else ms)
    return get_metadata()


def _storage() -> Storage:
    return open_storage(datastore_root())

