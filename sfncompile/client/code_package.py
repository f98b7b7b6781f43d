"""The step graph of a run made by Step Functions, read from the code package its tasks ran.

A local run's record holds its graph; an execution's record is written by the state machine,
which has none. Every task of a deployed flow records the package it ran from (`code_package`
in its meta.json, runtime/where.py; Metaflow's `code-package` metadata), and deploy puts the
graph in the package (conventions/bootstrap.py GRAPH_IN_PACKAGE), so the client reads it from
there, as Metaflow's client reads a task's `_graph_info`. A package's key names its sha256: its
graph is read once per process, and only up to the graph's member (which comes early: the
package lists its files by name).
"""

from __future__ import annotations

import json
from typing import Any

from sfncompile.conventions.bootstrap import GRAPH_IN_PACKAGE
from sfncompile.datastore.storage import Storage

_GRAPHS: dict[str, dict[str, Any]] = {}  # package url -> its graph


def package_key(storage: Storage, recorded: Any) -> str | None:
    """The key, under the storage's root, of the package a task recorded (None: it recorded
    none, or the package lies outside the datastore, as a CloudFormation stack's may)."""
    location = recorded.get("location") if isinstance(recorded, dict) else None
    root = storage.url().rstrip("/") + "/"
    if not isinstance(location, str) or not location.startswith(root):
        return None
    return location[len(root):] or None


def package_graph(storage: Storage, recorded: Any) -> dict[str, Any] | None:
    """The step graph in the package a task recorded; None when it cannot be read."""
    key = package_key(storage, recorded)
    if key is None:
        return None
    url = storage.url(key)
    if url not in _GRAPHS:
        graph = _read_graph(storage, key)
        if graph is None:
            return None
        _GRAPHS[url] = graph
    return _GRAPHS[url]


def _read_graph(storage: Storage, key: str) -> dict[str, Any] | None:
    import tarfile  # only for a run on Step Functions

    try:
        with storage.open(key) as stream, tarfile.open(fileobj=stream, mode="r|gz") as tar:
            for member in tar:
                if member.name == GRAPH_IN_PACKAGE and member.isfile():
                    data = tar.extractfile(member)
                    graph = json.loads(data.read()) if data is not None else None
                    return graph if _is_graph(graph) else None
    except Exception:  # a package gone or unreadable: the recorded lineage serves
        return None
    return None


def _is_graph(graph: Any) -> bool:
    return isinstance(graph, dict) and isinstance(graph.get("steps"), dict)
