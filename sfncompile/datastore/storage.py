"""Byte-level key/value storage with the same semantics on a local directory and on S3.

Keys are relative, `/`-separated paths (`Flow/run/step/...`). A local directory behaves like
an S3 bucket: a key is visible whole or not at all (writes go to a temp file that is renamed
into place), a "directory" exists only while some key lies under it, and `list` matches keys
by string prefix, exactly as S3's `Prefix` does. `put_if` is a compare-and-swap on both: S3's
conditional writes (If-Match an ETag), and on a local directory a lock its writers share.

This module is part of the runtime, so it imports only the stdlib and (lazily) boto3.
"""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Temp files live beside their target so that os.replace stays a same-filesystem rename;
# listings skip this prefix so readers never see an in-flight write.
_TMP_PREFIX = ".sfn-tmp-"


class KeyNotFound(KeyError):
    """The key does not exist in the storage."""


class DatastoreError(Exception):
    """What the datastore holds is damaged or not what it claims; the message names the file."""


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"invalid storage key {key!r}")
    return key


def _check_prefix(prefix: str) -> str:
    """A prefix may be empty or end with `/`; otherwise it must be a valid key fragment."""
    if prefix:
        _check_key(prefix.rstrip("/") or "/")
    return prefix


def _dir_prefix(prefix: str) -> str:
    _check_prefix(prefix)
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


class Storage(ABC):
    """Byte storage addressed by relative keys. All implementations share these semantics."""

    @abstractmethod
    def put_bytes(self, key: str, data: bytes) -> None: ...

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """Raises KeyNotFound."""

    @abstractmethod
    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """The key's content and a version that `put_if` compares. Raises KeyNotFound."""

    @abstractmethod
    def put_if(self, key: str, data: bytes, version: str | None) -> bool:
        """Write only if the key is still at `version` (None: only if it does not exist), as
        one atomic compare-and-swap; False, writing nothing, when another write came first."""

    @abstractmethod
    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> None: ...

    @abstractmethod
    def get_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        """Stream the key into local_path (parents created). Raises KeyNotFound."""

    @abstractmethod
    def open(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        """A binary stream of the key's content, read as it is consumed (in place for a local
        file, which is seekable; S3's is not). Raises KeyNotFound."""

    @abstractmethod
    def put_stream(self, key: str, write: Callable[[IO[bytes]], object]) -> None:
        """Store what `write` writes to the stream it is given, whole or not at all."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the key; no error if it does not exist."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str = "") -> builtins.list[str]:
        """All keys starting with prefix (a string prefix, as in S3), sorted."""

    @abstractmethod
    def list_dirs(self, prefix: str = "") -> builtins.list[str]:
        """Sorted names of the immediate "directories" under prefix (S3 Delimiter='/')."""

    @abstractmethod
    def url(self, key: str = "") -> str: ...


class LocalStorage(Storage):
    def __init__(self, root_dir: str | os.PathLike[str]) -> None:
        self.root = Path(root_dir).absolute()
        self._root = str(self.root)

    def __repr__(self) -> str:
        return f"LocalStorage({self._root!r})"

    def _path(self, key: str) -> str:
        # Plain strings, not Path: a task reads and writes a dozen keys, on its critical path.
        return os.path.join(self._root, *_check_key(key).split("/"))

    def _atomic_write(self, key: str, write: Callable[[int, str], object]) -> None:
        """`write(fd, tmp)` fills a temporary file beside the target, renamed over it once
        written; the fd is closed after."""
        target = self._path(key)
        parent = os.path.dirname(target)
        try:
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=parent)
        except FileNotFoundError:  # the first key under this directory
            os.makedirs(parent, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=parent)
        try:
            try:
                write(fd, tmp)
                os.fchmod(fd, 0o644)  # mkstemp makes 0600; blobs are meant to be shared
            finally:
                os.close(fd)
            # The rename makes the write visible whole or not at all to other processes. No
            # fsync: that would guard against power loss, which local runs do not promise.
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def put_bytes(self, key: str, data: bytes) -> None:
        def write(fd: int, _: str) -> None:
            with memoryview(data) as whole:
                view = whole
                while view:
                    view = view[os.write(fd, view):]

        self._atomic_write(key, write)

    def get_bytes(self, key: str) -> bytes:
        try:
            with builtins.open(self._path(key), "rb") as f:
                return f.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyNotFound(key) from None

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.get_bytes(key)
        return data, _digest(data)

    def put_if(self, key: str, data: bytes, version: str | None) -> bool:
        # Writers of one directory take turns under an advisory lock on it (released if the
        # process dies); readers need none, since the write is still a rename.
        import fcntl  # not at the top: Windows has none, and only put_if needs it

        target = self._path(key)
        parent = os.path.dirname(target)
        os.makedirs(parent, exist_ok=True)
        fd = os.open(parent, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current: str | None = _digest(Path(target).read_bytes())
            except FileNotFoundError:
                current = None
            if current != version:
                return False
            self.put_bytes(key, data)
            return True
        finally:
            os.close(fd)  # releases the lock

    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        src = os.fspath(local_path)
        self._atomic_write(key, lambda _, tmp: shutil.copyfile(src, tmp))

    def get_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        src = self._path(key)
        if not os.path.isfile(src):
            raise KeyNotFound(key)
        dest = Path(local_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)

    def open(self, key: str) -> contextlib.AbstractContextManager[IO[bytes]]:
        try:
            return builtins.open(self._path(key), "rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise KeyNotFound(key) from None

    def put_stream(self, key: str, write: Callable[[IO[bytes]], object]) -> None:
        def write_to(fd: int, _: str) -> None:
            with builtins.open(fd, "wb", closefd=False) as out:
                write(out)

        self._atomic_write(key, write_to)

    def delete(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(key))

    def exists(self, key: str) -> bool:
        return os.path.isfile(self._path(key))

    def list(self, prefix: str = "") -> builtins.list[str]:
        _check_prefix(prefix)
        # Walk only the deepest directory the prefix names, then filter by string prefix.
        base, _, partial = prefix.rpartition("/")
        start = os.path.join(self._root, *base.split("/")) if base else self._root
        keys = [k for k in self._walk(start, base, partial) if k.startswith(prefix)]
        return sorted(keys)

    def _walk(self, start: str, base: str, partial: str) -> Iterator[str]:
        skip = len(os.path.join(self._root, ""))  # os.walk's paths start with the root
        for dirpath, dirnames, filenames in os.walk(start):
            rel = dirpath[skip:].replace(os.sep, "/")
            rel = rel + "/" if rel else ""
            if rel == (base + "/" if base else ""):
                dirnames[:] = [d for d in dirnames if d.startswith(partial)]
            yield from (rel + f for f in filenames if not f.startswith(_TMP_PREFIX))

    def list_dirs(self, prefix: str = "") -> builtins.list[str]:
        prefix = _dir_prefix(prefix)
        parent = self.root.joinpath(*prefix.rstrip("/").split("/")) if prefix else self.root
        try:
            entries = list(os.scandir(parent))
        except (FileNotFoundError, NotADirectoryError):
            return []
        return sorted(e.name for e in entries if e.is_dir() and _has_file(e.path))

    def url(self, key: str = "") -> str:
        return (Path(self._path(key)) if key else self.root).as_uri()


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _has_file(path: str) -> bool:
    """Whether a directory holds any committed file: empty dirs are invisible, as on S3."""
    for _, _, filenames in os.walk(path):
        if any(not f.startswith(_TMP_PREFIX) for f in filenames):
            return True
    return False


def _error_code(err: Exception) -> str | None:
    from botocore.exceptions import ClientError

    if not isinstance(err, ClientError):
        return None
    return err.response.get("Error", {}).get("Code")


def _is_not_found(err: Exception) -> bool:
    return _error_code(err) in ("404", "NoSuchKey", "NotFound")


# A conditional write that lost: the object changed (412), or another conditional write to it
# was under way (409).
_LOST_RACE = ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


class S3Storage(Storage):
    def __init__(self, bucket: str, prefix: str = "") -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client: S3Client | None = None

    def __repr__(self) -> str:
        return f"S3Storage({self.bucket!r}, {self.prefix!r})"

    @property
    def client(self) -> S3Client:
        # Created on first use: importing boto3 costs ~0.3 s, which local runs never need.
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(retries={"mode": "standard", "max_attempts": 10})
            self._client = boto3.client("s3", config=config)
        return self._client

    def _key(self, key: str) -> str:
        return self.prefix + _check_key(key)

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def _get_object(self, key: str) -> Any:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as err:
            if _is_not_found(err):
                raise KeyNotFound(key) from None
            raise

    def get_bytes(self, key: str) -> bytes:
        body: bytes = self._get_object(key)["Body"].read()
        return body

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        obj = self._get_object(key)
        return obj["Body"].read(), str(obj["ETag"])

    def put_if(self, key: str, data: bytes, version: str | None) -> bool:
        # S3's conditional writes: If-Match an ETag, or If-None-Match * for a new key.
        try:
            if version is None:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                       IfNoneMatch="*")
            else:
                self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                                       IfMatch=version)
        except Exception as err:
            if _error_code(err) in _LOST_RACE or (version is not None and _is_not_found(err)):
                return False
            raise
        return True

    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        self.client.upload_file(os.fspath(local_path), self.bucket, self._key(key))

    def get_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        dest = Path(local_path)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, self._key(key), str(dest))
        except Exception as err:
            if _is_not_found(err):
                raise KeyNotFound(key) from None
            raise

    @contextlib.contextmanager
    def open(self, key: str) -> Iterator[IO[bytes]]:
        body = self._get_object(key)["Body"]
        try:
            yield cast(IO[bytes], body)  # botocore's StreamingBody: read(n), not seekable
        finally:
            body.close()

    def put_stream(self, key: str, write: Callable[[IO[bytes]], object]) -> None:
        # An anonymous temp file (no directory to create or remove): the upload needs the
        # size up front, and a large one goes up in parallel parts.
        with tempfile.TemporaryFile(prefix="sfn-upload-") as tmp:
            write(tmp)
            tmp.seek(0)
            self.client.upload_fileobj(tmp, self.bucket, self._key(key))

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as err:
            if _is_not_found(err):
                return False
            raise
        return True

    def list(self, prefix: str = "") -> builtins.list[str]:
        _check_prefix(prefix)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix
        )
        cut = len(self.prefix)
        return sorted(obj["Key"][cut:] for page in pages for obj in page.get("Contents", []))

    def list_dirs(self, prefix: str = "") -> builtins.list[str]:
        full = self.prefix + _dir_prefix(prefix)
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=full, Delimiter="/"
        )
        names = (
            cp["Prefix"][len(full) :].rstrip("/")
            for page in pages
            for cp in page.get("CommonPrefixes", [])
        )
        return sorted(n for n in names if n)

    def url(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key) if key else self.prefix}"


def open_storage(root: str) -> Storage:
    """`s3://bucket/prefix` opens S3; anything else is a local directory."""
    if root.startswith("s3://"):
        bucket, _, prefix = root[len("s3://") :].partition("/")
        if not bucket:
            raise ValueError(f"no bucket in storage root {root!r}")
        return S3Storage(bucket, prefix)
    return LocalStorage(root)


__all__ = ["DatastoreError", "KeyNotFound", "LocalStorage", "S3Storage", "Storage", "open_storage"]
