"""`S3`: the part of `metaflow.S3` that flows use, on S3 and on a local datastore alike.

    with S3(run=self) as s3:            # keys under this run, in the run's datastore
        s3.put("x.json", text)
        s3.get("x.json").text

The root is one of: `run=` (a running flow's `self`, or a client `Run`): the run's own place
in its datastore, `<root>/<Flow>/<run>/.s3/` (datastore/layout.py), unless `bucket=`/`prefix=` name
another S3 place (then `s3://bucket/prefix/<Flow>/<run>`, as Metaflow does); `s3root=`: an
`s3://bucket/prefix` or a local directory; or nothing, and every key is a full `s3://` URL.
Downloads go to a temporary directory that `close()` (the end of the `with`) removes.
Runtime module: the stdlib and boto3 only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sfncompile.datastore.storage import (
    KeyNotFound,
    LocalStorage,
    S3Storage,
    Storage,
    open_storage,
)
from sfncompile.flow.current import current

RUN_DIR = ".s3"  # under <Flow>/<run>/: not a step, as step names are identifiers


class MetaflowS3Exception(Exception):
    pass


class MetaflowS3URLException(MetaflowS3Exception):
    pass


class MetaflowS3NotFound(MetaflowS3Exception):
    pass


class MetaflowS3AccessDenied(MetaflowS3Exception):
    pass


class S3Object:
    """An object (or, from list_paths, a prefix) and, once downloaded, its local copy."""

    def __init__(self, prefix: str | None, url: str, path: str | None, size: int | None = None,
                 content_type: str | None = None, metadata: dict[str, str] | None = None,
                 key: str | None = None, last_modified: int | None = None) -> None:
        self._prefix, self._url, self._path = prefix, url, path
        self._size = os.stat(path).st_size if path else size
        self._key = key if key is not None else url
        self._content_type, self._metadata = content_type, metadata
        self._last_modified = last_modified

    @property
    def exists(self) -> bool:
        return self._size is not None

    @property
    def downloaded(self) -> bool:
        return bool(self._path)

    @property
    def url(self) -> str:
        return self._url

    @property
    def prefix(self) -> str | None:
        return self._prefix

    @property
    def key(self) -> str:
        return self._key

    @property
    def path(self) -> str | None:
        return self._path

    @property
    def blob(self) -> bytes | None:
        if not self._path:
            return None
        with open(self._path, "rb") as f:
            return f.read()

    @property
    def text(self) -> str | None:
        blob = self.blob
        return None if blob is None else blob.decode("utf-8")

    @property
    def size(self) -> int | None:
        return self._size

    @property
    def has_info(self) -> bool:
        return self._content_type is not None or self._metadata is not None

    @property
    def metadata(self) -> dict[str, str] | None:
        return self._metadata

    @property
    def content_type(self) -> str | None:
        return self._content_type

    @property
    def last_modified(self) -> int | None:
        return self._last_modified

    def __repr__(self) -> str:
        return f"<S3Object {self._url} ({self._size if self.exists else 'missing'})>"

    __str__ = __repr__


class S3PutObject:
    """One item of `put_many`: a value (str/bytes/file) or a local path."""

    def __init__(self, key: str, value: Any = None, path: str | None = None,
                 content_type: str | None = None, metadata: dict[str, str] | None = None
                 ) -> None:
        self.key, self.value, self.path = key, value, path
        self.content_type, self.metadata = content_type, metadata


def _as_bytes(obj: Any) -> bytes:
    if isinstance(obj, str):
        return obj.encode("utf-8")
    if isinstance(obj, bytes | bytearray | memoryview):
        return bytes(obj)
    if hasattr(obj, "read"):
        return _as_bytes(obj.read())
    raise MetaflowS3InvalidObject(f"cannot store a {type(obj).__name__}: give str, bytes or a "
                                  "file object")


class MetaflowS3InvalidObject(MetaflowS3Exception):
    pass


def _run_root(run: Any, bucket: str | None, prefix: str | None) -> str:
    from sfncompile.flow.flowspec import FlowSpec

    if isinstance(run, FlowSpec):
        if not current.is_running_flow:
            raise MetaflowS3URLException("S3(run=self) works inside a running step only")
        flow, run_id = str(current.flow_name), str(current.run_id)
        from sfncompile import client

        base = client.datastore_root()
    else:  # a client Run
        flow, run_id = run.flow, run.id
        storage = run._storage
        base = storage.url() if not isinstance(storage, LocalStorage) else str(storage.root)
    if bucket or prefix:
        if not bucket:
            raise MetaflowS3URLException("S3(prefix=...) needs bucket=... too")
        parts = ((prefix or "").strip("/"), flow, run_id)
        return f"s3://{bucket}/{'/'.join(p for p in parts if p)}"
    return f"{base.rstrip('/')}/{flow}/{run_id}/{RUN_DIR}"


class S3:
    """A scope for reading and writing objects under one root (see the module's doc)."""

    def __init__(self, tmproot: str = ".", bucket: str | None = None, prefix: str | None = None,
                 run: Any = None, s3root: str | None = None, **kwargs: Any) -> None:
        if run is not None:
            root: str | None = _run_root(run, bucket, prefix)
        elif s3root:
            root = s3root.rstrip("/") or s3root
        else:
            root = None
        self._s3root = root
        self._client_params: dict[str, Any] = dict(kwargs.get("client_params") or {})
        self._storages: dict[str, Storage] = {}
        self._tmpdir = tempfile.mkdtemp(dir=tmproot if os.path.isdir(tmproot) else None,
                                        prefix="sfncompile.s3.")

    def __enter__(self) -> S3:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()

    def close(self) -> None:
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- addressing ---------------------------------------------------------------------------

    def _storage(self, base: str) -> Storage:
        if base not in self._storages:
            storage = open_storage(base)
            if self._client_params and isinstance(storage, S3Storage):
                import boto3

                storage._client = boto3.client("s3", **self._client_params)
            self._storages[base] = storage
        return self._storages[base]

    def _locate(self, key: str | None) -> tuple[Storage, str, str]:
        """(storage, key in it, the key as given back on S3Objects) of a requested key."""
        key = getattr(key, "key", key)
        if self._s3root is None:
            if not key or not str(key).startswith("s3://"):
                hint = ("Specify S3(run=self) when you use S3 inside a running flow. "
                        "Otherwise use full s3:// URLs" if current.is_running_flow else
                        "Give S3 an s3root or a run, or use full s3:// URLs")
                raise MetaflowS3URLException(f"{key!r} is not an s3:// URL. {hint}")
            bucket, _, rest = str(key)[len("s3://"):].partition("/")
            return self._storage(f"s3://{bucket}"), rest, str(key)
        if key and str(key).startswith("s3://"):
            raise MetaflowS3URLException(
                f"don't use absolute S3 URLs when S3 has a root ({self._s3root}): {key}")
        return self._storage(self._s3root), str(key or "").lstrip("/"), str(key or "")

    def _url(self, storage: Storage, key: str) -> str:
        try:
            return storage.url(key) if key else storage.url()
        except ValueError:
            raise MetaflowS3URLException(f"invalid key {key!r}") from None

    def _object(self, storage: Storage, skey: str, shown: str, path: str | None,
                size: int | None = None) -> S3Object:
        return S3Object(self._s3root, self._url(storage, skey), path, size, key=shown)

    # -- reading ------------------------------------------------------------------------------

    def get(self, key: str | None = None, return_missing: bool = False,
            return_info: bool = True) -> S3Object:
        """Download one object; a missing one raises MetaflowS3NotFound unless return_missing."""
        storage, skey, shown = self._locate(key)
        dest = tempfile.mkstemp(dir=self._tmpdir, prefix="obj-")
        os.close(dest[0])
        try:
            storage.get_file(skey, dest[1])
        except KeyNotFound:
            os.unlink(dest[1])
            if return_missing:
                return self._object(storage, skey, shown, None)
            raise MetaflowS3NotFound(f"{self._url(storage, skey)} does not exist") from None
        except ValueError:
            raise MetaflowS3URLException(f"invalid key {shown!r}") from None
        except Exception as exc:
            raise _translated(exc, self._url(storage, skey)) from None
        return self._object(storage, skey, shown, dest[1])

    def get_many(self, keys: Iterable[str], return_missing: bool = False,
                 return_info: bool = True) -> list[S3Object]:
        return [self.get(k, return_missing, return_info) for k in keys]

    def get_recursive(self, keys: Iterable[str], return_info: bool = False) -> list[S3Object]:
        found = self.list_recursive(keys)
        return [self.get(o.key) for o in found]

    def get_all(self, return_info: bool = False) -> list[S3Object]:
        if self._s3root is None:
            raise MetaflowS3URLException("get_all() needs S3 with an s3root or a run")
        return self.get_recursive([""])

    def info(self, key: str | None = None, return_missing: bool = False) -> S3Object:
        storage, skey, shown = self._locate(key)
        size = self._size(storage, skey)
        if size is None and not return_missing:
            raise MetaflowS3NotFound(f"{self._url(storage, skey)} does not exist")
        return self._object(storage, skey, shown, None, size)

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        return [self.info(k, return_missing) for k in keys]

    def _size(self, storage: Storage, skey: str) -> int | None:
        try:
            if isinstance(storage, S3Storage):
                head = storage.client.head_object(Bucket=storage.bucket, Key=storage._key(skey))
                return int(head["ContentLength"])
            if isinstance(storage, LocalStorage):
                path = storage.root.joinpath(*skey.split("/"))
                return path.stat().st_size if path.is_file() else None
            return None
        except (OSError, ValueError):
            return None
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise _translated(exc, self._url(storage, skey)) from None

    # -- listing ------------------------------------------------------------------------------

    def _entries(self, prefix: str | None, recursive: bool) -> list[S3Object]:
        storage, skey, shown = self._locate(prefix)
        base = skey.rstrip("/") + "/" if skey else ""
        shown_base = shown.rstrip("/") + "/" if shown else ""
        out: list[S3Object] = []
        for name, size in _listing(storage, base, recursive):
            url = self._url(storage, base + name.rstrip("/"))
            out.append(S3Object(self._s3root, url, None, size,
                                key=shown_base + name.rstrip("/")))
        return out

    def list_paths(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """The next level under each key (the root by default): objects (`exists`) and
        prefixes (not `exists`)."""
        return [o for k in (keys if keys is not None else [None]) for o in self._entries(k, False)]

    def list_recursive(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """Every object under each key (the root by default)."""
        return [o for k in (keys if keys is not None else [None]) for o in self._entries(k, True)]

    # -- writing ------------------------------------------------------------------------------

    def put(self, key: str, obj: Any, overwrite: bool = True, content_type: str | None = None,
            metadata: dict[str, str] | None = None) -> str:
        """Store str (UTF-8), bytes or a file object's content at key; returns its URL."""
        storage, skey, _ = self._locate(key)
        if not skey:
            raise MetaflowS3URLException("put needs a key")
        data = _as_bytes(obj)
        url = self._url(storage, skey)
        if not overwrite and self._size(storage, skey) is not None:
            return url
        try:
            storage.put_bytes(skey, data)
        except ValueError:
            raise MetaflowS3URLException(f"invalid key {key!r}") from None
        except Exception as exc:
            raise _translated(exc, url) from None
        return url

    def put_many(self, key_objs: Iterable[Any], overwrite: bool = True) -> list[tuple[str, str]]:
        """Store many (key, value) pairs or S3PutObjects; returns (key, url) pairs."""
        out = []
        for item in key_objs:
            if isinstance(item, S3PutObject):
                value = Path(item.path).read_bytes() if item.path else item.value
                out.append((item.key, self.put(item.key, value, overwrite)))
            else:
                key, value = item
                out.append((key, self.put(key, value, overwrite)))
        return out

    def put_files(self, key_paths: Iterable[Any], overwrite: bool = True
                  ) -> list[tuple[str, str]]:
        out = []
        for item in key_paths:
            key, path = (item.key, item.path) if isinstance(item, S3PutObject) else item
            if not path or not os.path.exists(path):
                raise MetaflowS3NotFound(f"local file not found: {path}")
            with open(path, "rb") as f:
                out.append((key, self.put(key, f, overwrite)))
        return out


def _listing(storage: Storage, base: str, recursive: bool) -> list[tuple[str, int | None]]:
    """(name relative to base, size) of objects, and (name + '/', None) of sub-prefixes."""
    if isinstance(storage, LocalStorage):
        start = storage.root.joinpath(*base.rstrip("/").split("/")) if base else storage.root
        if not start.is_dir():
            return []
        if recursive:
            return sorted((p.relative_to(start).as_posix(), p.stat().st_size)
                          for p in start.rglob("*") if p.is_file()
                          and not p.name.startswith(".sfn-tmp-"))
        return sorted((p.name + ("/" if p.is_dir() else ""),
                       None if p.is_dir() else p.stat().st_size)
                      for p in start.iterdir() if not p.name.startswith(".sfn-tmp-"))
    s3: Any = storage
    full = s3.prefix + base
    kwargs: dict[str, Any] = {"Bucket": s3.bucket, "Prefix": full}
    if not recursive:
        kwargs["Delimiter"] = "/"
    out: list[tuple[str, int | None]] = []
    try:
        for page in s3.client.get_paginator("list_objects_v2").paginate(**kwargs):
            out.extend((o["Key"][len(full):], int(o["Size"])) for o in page.get("Contents", []))
            out.extend((p["Prefix"][len(full):], None) for p in page.get("CommonPrefixes", []))
    except Exception as exc:
        raise _translated(exc, f"s3://{s3.bucket}/{full}") from None
    return sorted(o for o in out if o[0])


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _translated(exc: Exception, url: str) -> Exception:
    code = _code(exc)
    if code in ("403", "AccessDenied"):
        return MetaflowS3AccessDenied(f"access denied to {url}")
    if code in ("NoSuchBucket",):
        return MetaflowS3NotFound(f"no bucket for {url}")
    if isinstance(exc, MetaflowS3Exception):
        return exc
    return MetaflowS3Exception(f"{url}: {exc}")


__all__ = [
    "S3",
    "MetaflowS3AccessDenied",
    "MetaflowS3Exception",
    "MetaflowS3InvalidObject",
    "MetaflowS3NotFound",
    "MetaflowS3URLException",
    "S3Object",
    "S3PutObject",
]

