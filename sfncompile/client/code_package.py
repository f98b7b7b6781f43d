"""The step graph and the code (`Task.code`) of a run made by Step Functions, read from the
code package its tasks ran.

A local run's record holds its graph; an execution's record is written by the state machine,
which has none. Every task of a deployed flow records the package it ran from (`code_package`
in its meta.json, runtime/where.py; Metaflow's `code-package` metadata), and deploy puts the
graph in the package (conventions/bootstrap.py GRAPH_IN_PACKAGE), so the client reads it from
there, as Metaflow's client reads a task's `_graph_info`. A package's key names its sha256: its
graph is read once per process, and only up to the graph's member (which comes early: the
package lists its files by name). `read_code` gives the whole package as Metaflow's
`MetaflowCode`, once its bytes matched the sha256 the task recorded.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import TYPE_CHECKING, Any

from sfncompile.conventions.bootstrap import (
    GRAPH_IN_PACKAGE,
    MAX_MEMBERS,
    MAX_PACKAGE_BYTES,
    MAX_UNPACKED_BYTES,
)
from sfncompile.datastore.storage import DatastoreError, KeyNotFound, Storage, open_storage

if TYPE_CHECKING:  # imported when a package is read: a notebook pays for tarfile only then
    import tarfile
    from tempfile import TemporaryDirectory

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


# ---------------------------------------------------------------------------- Task.code

_SHA256 = re.compile(r"[0-9a-f]{64}")
_PACKAGES: dict[str, bytes] = {}  # package url -> its verified bytes (the newest few)
_PACKAGES_KEPT = 4
# What deploy adds to the flow's directory (deploy/package.py): the library, not user code.
_LIBRARY_DIRS = frozenset({"sfncompile", GRAPH_IN_PACKAGE.split("/", 1)[0]})


class CodePackageError(DatastoreError):
    """A task's code package cannot be read: it is missing, damaged or not a code package."""


class MetaflowCode:
    """The code a task ran, as Metaflow's client gives it (`Task.code`, `Run.code`): `path`
    (the package's location), `info` (what Metaflow's INFO file holds that sfncompile
    knows: `script`, and who deployed and with which version when recorded), `flowspec` (the
    flow file's text), `script_name`, `tarball` and `extract()`."""

    def __init__(self, path: str, blob: bytes, info: dict[str, str], flowspec: str) -> None:
        self._path, self._blob, self._info, self._flowspec = path, blob, info, flowspec
        self._tarball: tarfile.TarFile | None = None

    @property
    def path(self) -> str:
        return self._path

    @property
    def info(self) -> dict[str, str]:
        return dict(self._info)

    @property
    def flowspec(self) -> str:
        return self._flowspec

    @property
    def script_name(self) -> str:
        return self._info["script"]

    @property
    def tarball(self) -> tarfile.TarFile:
        """The package as a TarFile (one, as Metaflow's: it reads from the package's bytes)."""
        if self._tarball is None:
            import tarfile

            self._tarball = tarfile.open(  # noqa: SIM115 - the caller owns it, as Metaflow's
                fileobj=io.BytesIO(self._blob), mode="r:gz")
        return self._tarball

    def extract(self) -> TemporaryDirectory[str]:
        """The flow's files in a temporary directory, removed when the returned object is
        cleaned up or collected: as Metaflow's, the user's code without the library (the
        sfncompile runtime and its graph). Only files and directories are written."""
        import tarfile
        from tempfile import TemporaryDirectory

        tmp = TemporaryDirectory(prefix="sfn-code-")
        with tarfile.open(fileobj=io.BytesIO(self._blob), mode="r:gz") as tar:
            members = [m for m in _safe_members(tar, self._path)
                       if m.name.split("/", 1)[0] not in _LIBRARY_DIRS]
            if hasattr(tarfile, "data_filter"):  # the stdlib's own check, where it has one
                tar.extractall(tmp.name, members=members, filter="data")
            else:  # pragma: no cover - Python before 3.10.12
                tar.extractall(tmp.name, members=members)
        return tmp

    def __str__(self) -> str:
        return f"<MetaflowCode: {self.script_name}>"

    __repr__ = __str__


def read_code(storage: Storage, recorded: Any, info: dict[str, str]) -> MetaflowCode | None:
    """The package a task recorded (None: it recorded none, as a local task), checked
    against the sha256 the task recorded; `info` adds what the task knows (who deployed).
    Raises CodePackageError, naming the package, when it cannot be read."""
    if not recorded:
        return None
    location = recorded.get("location") if isinstance(recorded, dict) else None
    sha = recorded.get("sha") if isinstance(recorded, dict) else None
    if not isinstance(location, str) or not isinstance(sha, str) or not _SHA256.fullmatch(sha):
        raise CodePackageError(f"the task's record of its code package is damaged: {recorded!r}")
    blob = _verified_package(storage, location, sha)
    script, flowspec = _flow_file(blob, location)
    return MetaflowCode(location, blob, {"script": script, **info}, flowspec)


def _verified_package(storage: Storage, location: str, sha: str) -> bytes:
    """The package's bytes, once they match the sha256 the task recorded."""
    if location in _PACKAGES:
        return _PACKAGES[location]
    key = package_key(storage, {"location": location})
    if key is None:  # outside the datastore (a CloudFormation stack's bucket): read it there
        if not location.startswith("s3://") or "/" not in location[len("s3://"):]:
            raise CodePackageError(f"code package {location}: not a location the client reads")
        root, _, key = location.rpartition("/")
        storage = open_storage(root)
    try:
        with storage.open(key) as stream:
            blob = stream.read(MAX_PACKAGE_BYTES + 1)
    except KeyNotFound:
        raise CodePackageError(f"code package {location} is missing: it was removed from the "
                               "datastore after the run") from None
    if len(blob) > MAX_PACKAGE_BYTES:
        raise CodePackageError(f"code package {location} is over {MAX_PACKAGE_BYTES >> 20} MiB")
    if hashlib.sha256(blob).hexdigest() != sha:
        raise CodePackageError(f"code package {location} is damaged: its content does not match "
                               "the sha256 its tasks recorded")
    while len(_PACKAGES) >= _PACKAGES_KEPT:
        _PACKAGES.pop(next(iter(_PACKAGES)))
    _PACKAGES[location] = blob
    return blob


def _flow_file(blob: bytes, location: str) -> tuple[str, str]:
    """(the flow file's name, its text), as the package's graph names it."""
    import tarfile

    try:
        with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
            files = {m.name: m for m in _safe_members(tar, location) if m.isfile()}

            def read(name: str) -> bytes | None:
                data = tar.extractfile(files[name]) if name in files else None
                return data.read() if data is not None else None

            graph = json.loads(read(GRAPH_IN_PACKAGE) or b"null")
            source = graph.get("source") if _is_graph(graph) else None
            flowspec = read(source) if isinstance(source, str) else None
        if flowspec is None or not isinstance(source, str):
            raise CodePackageError(f"code package {location} names no flow file it holds")
        return source.rsplit("/", 1)[-1], flowspec.decode()
    except (tarfile.TarError, EOFError, OSError, ValueError) as exc:  # zlib.error is an OSError
        raise CodePackageError(f"code package {location} is not a code package ({exc})") from None


def _safe_members(tar: tarfile.TarFile, location: str) -> list[tarfile.TarInfo]:
    """The package's members, or CodePackageError for one that is a link, a device or leaves
    the directory, or for more than a package may hold (as the bootstrap refuses them)."""
    members, size = [], 0
    for member in tar:
        members.append(member)
        size += member.size
        if len(members) > MAX_MEMBERS or size > MAX_UNPACKED_BYTES:
            raise CodePackageError(f"code package {location} holds over {MAX_MEMBERS} files or "
                                   f"{MAX_UNPACKED_BYTES >> 20} MiB")
        parts = member.name.split("/")
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise CodePackageError(f"code package {location} has an unsafe member "
                                   f"{member.name!r}")
    return members
