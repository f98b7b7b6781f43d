"""Storage (local directory and moto's S3 server, same tests) and the datastore layout."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import threading
import uuid
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import IO

import boto3
import pytest

from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import (
    KeyNotFound,
    LocalStorage,
    S3Storage,
    Storage,
    open_storage,
)

FLOW = "HelloFlow"
MiB = 1 << 20
_TEXT = bytes(b"0123456789,\n"[i % 12] for i in range(256))


def _text(n: int) -> bytes:
    """Compressible but not trivially so: random digits, commas and newlines."""
    return os.urandom(n).translate(_TEXT)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "root")
    request.getfixturevalue("moto_endpoint")
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    return S3Storage(bucket, "some/prefix")


class RecordingStorage(LocalStorage):
    """Remembers the key of every write, in order."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.writes: list[str] = []

    def put_bytes(self, key: str, data: bytes) -> None:
        self.writes.append(key)
        super().put_bytes(key, data)

    def put_file(self, key: str, local_path: str | os.PathLike[str]) -> None:
        self.writes.append(key)
        super().put_file(key, local_path)

    def put_stream(self, key: str, write: Callable[[IO[bytes]], object]) -> None:
        self.writes.append(key)
        super().put_stream(key, write)


# ---------------------------------------------------------------------------- storage


def test_bytes_round_trip_and_overwrite(storage: Storage) -> None:
    storage.put_bytes("a/b/c.json", b"one")
    assert storage.get_bytes("a/b/c.json") == b"one"
    storage.put_bytes("a/b/c.json", b"two")
    assert storage.get_bytes("a/b/c.json") == b"two"
    storage.put_bytes("empty", b"")
    assert storage.get_bytes("empty") == b""


def test_missing_key_raises_key_not_found(storage: Storage, tmp_path: Path) -> None:
    storage.put_bytes("dir/file", b"x")
    for key in ("nope", "dir", "dir/file/below"):
        with pytest.raises(KeyNotFound):
            storage.get_bytes(key)
        with pytest.raises(KeyError):  # KeyNotFound is a KeyError
            storage.get_file(key, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_file_round_trip_multipart_sized(storage: Storage, tmp_path: Path) -> None:
    data = os.urandom(9 * MiB)  # over boto3's 8 MiB multipart threshold
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    storage.put_file("big/file.bin", src)
    dest = tmp_path / "new" / "dir" / "dest.bin"  # parents are created
    storage.get_file("big/file.bin", dest)
    assert dest.read_bytes() == data


def test_exists(storage: Storage) -> None:
    storage.put_bytes("a/b", b"x")
    assert storage.exists("a/b")
    assert not storage.exists("a")  # a "directory" is not a key
    assert not storage.exists("a/c")


def test_list_is_sorted_relative_and_by_string_prefix(storage: Storage) -> None:
    keys = ["r/b/2", "r/a/1", "r/ab/3", "r/a/x/4", "s/5"]
    for key in keys:
        storage.put_bytes(key, b"")
    assert storage.list() == sorted(keys)
    assert storage.list("r/a/") == ["r/a/1", "r/a/x/4"]
    assert storage.list("r/a") == ["r/a/1", "r/a/x/4", "r/ab/3"]  # like S3's Prefix
    assert storage.list("missing/") == []


def test_list_dirs_gives_immediate_children(storage: Storage) -> None:
    for key in ["F/run2/s/t", "F/run1/s/t", "F/run1/u/v", "F/_run.json", "F/data/ab/cd"]:
        storage.put_bytes(key, b"")
    assert storage.list_dirs("F") == ["data", "run1", "run2"]
    assert storage.list_dirs("F/") == ["data", "run1", "run2"]
    assert storage.list_dirs("F/run1") == ["s", "u"]
    assert storage.list_dirs("") == ["F"]
    assert storage.list_dirs("F/run1/s/t") == []  # a key, not a directory
    assert storage.list_dirs("G") == []


def test_url(storage: Storage) -> None:
    url = storage.url("a/b")
    if isinstance(storage, S3Storage):
        assert url == f"s3://{storage.bucket}/some/prefix/a/b"
    else:
        assert url.startswith("file:///") and url.endswith("/root/a/b")


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../x", "a/./b", "a/../b"])
def test_invalid_keys_are_refused(storage: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        storage.put_bytes(key, b"x")


def test_open_storage_picks_by_root(tmp_path: Path) -> None:
    s3 = open_storage("s3://bucket/some/prefix/")
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix/")
    bare = open_storage("s3://bucket")
    assert isinstance(bare, S3Storage) and bare.prefix == ""
    assert bare.url("k") == "s3://bucket/k"
    local = open_storage(str(tmp_path))
    assert isinstance(local, LocalStorage) and local.root == tmp_path


def test_local_writes_leave_no_temp_files_even_when_failing(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("d/k", b"x")
    with pytest.raises(FileNotFoundError):
        storage.put_file("d/other", tmp_path / "no-such-file")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["k"]


def test_local_readers_never_see_in_flight_writes(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    storage.put_bytes("F/r1/s/t", b"x")
    (tmp_path / "F" / "r2").mkdir()  # an empty directory does not exist on S3 either
    (tmp_path / "F" / "r2" / ".sfn-tmp-abc").write_bytes(b"half")
    assert storage.list("F/") == ["F/r1/s/t"]
    assert storage.list_dirs("F") == ["r1"]


# ---------------------------------------------------------------------------- artifacts


def _rebuild(data: bytearray) -> bytearray:
    return data


class Buffered:
    """Pickles its payload out of a PickleBuffer, as numpy arrays do."""

    def __init__(self, data: bytearray) -> None:
        self.data = data

    def __reduce_ex__(self, protocol: object) -> tuple[object, tuple[object, ...]]:
        return _rebuild, (pickle.PickleBuffer(self.data),)


class Serialised:
    """Pickles as a big str made on the fly, which lives no longer than the Pickler."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return str, ("é" * self.n,)


def _sha(obj: object) -> str:
    return hashlib.sha256(pickle.dumps(obj, protocol=5)).hexdigest()


def test_artifact_round_trip(storage: Storage) -> None:
    for obj in [{"a": [1, 2.5, None], "b": "text"}, b"", 42]:
        sha = ds.save_artifact(storage, FLOW, obj)
        assert sha == _sha(obj)  # the sha256 of the uncompressed pickle stream
        assert ds.load_artifact(storage, FLOW, sha) == obj


def test_large_mixed_artifact_round_trip(storage: Storage) -> None:
    # Several chunks; random parts are stored, text parts deflated, one gzip member each.
    obj = [os.urandom(5 * MiB), _text(6 * MiB), bytearray(_text(3 * MiB) + os.urandom(MiB))]
    sha = ds.save_artifact(storage, FLOW, obj)
    assert sha == _sha(obj)
    assert ds.load_artifact(storage, FLOW, sha) == obj


def test_pickle_buffer_payload_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    payload = bytearray(_text(5 * MiB))
    sha = ds.save_artifact(storage, FLOW, Buffered(payload))
    assert sha == _sha(Buffered(payload))
    assert ds.load_artifact(storage, FLOW, sha) == payload


def test_big_and_temporary_strings_round_trip(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    for obj in ["ü" + _text(9 * MiB).decode(), Serialised(5 * MiB)]:
        sha = ds.save_artifact(storage, FLOW, obj)
        assert sha == _sha(obj)
        expected = obj if isinstance(obj, str) else "é" * (5 * MiB)
        assert ds.load_artifact(storage, FLOW, sha) == expected


def test_blob_is_plain_gzip_of_the_pickle(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    obj = {"x": _text(5 * MiB)}
    sha = ds.save_artifact(storage, FLOW, obj)
    blob = storage.get_bytes(ds.blob_key(FLOW, sha))
    assert gzip.decompress(blob) == pickle.dumps(obj, protocol=5)
    assert len(blob) < 0.7 * len(obj["x"])


def test_same_value_saved_twice_is_one_blob(storage: Storage) -> None:
    first = ds.save_artifacts(storage, FLOW, {"a": list(range(1000)), "b": list(range(1000))})
    second = ds.save_artifact(storage, FLOW, list(range(1000)))
    assert first["a"] == first["b"] == second
    assert storage.list(f"{FLOW}/data/") == [ds.blob_key(FLOW, second)]


def test_dedup_uploads_a_blob_once(tmp_path: Path) -> None:
    storage = RecordingStorage(tmp_path)
    for _ in range(3):
        ds.save_artifact(storage, FLOW, {"same": "value"})
    assert len(storage.writes) == 1


def test_unpicklable_artifact_is_named(storage: Storage) -> None:
    with pytest.raises(ds.ArtifactPickleError) as info:
        ds.save_artifacts(storage, FLOW, {"fine": 1, "model_lock": threading.Lock()})
    assert info.value.name == "model_lock"
    assert str(info.value).startswith("artifact 'model_lock' cannot be pickled: TypeError")
    assert isinstance(info.value, pickle.PicklingError)
    assert storage.list(f"{FLOW}/data/") == [ds.blob_key(FLOW, _sha(1))]


def test_local_function_artifact_is_named(tmp_path: Path) -> None:
    def helper() -> None: ...

    with pytest.raises(ds.ArtifactPickleError, match=r"^artifact 'fn' cannot be pickled: "):
        ds.save_artifacts(LocalStorage(tmp_path), FLOW, {"fn": helper})


def test_missing_or_truncated_blob_fails_loudly(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with pytest.raises(ds.ArtifactError, match=r"^artifact 'gone' of task s/1: the blob is "
                       r"missing \(blob file://.*/data/ab/abab"):
        ds.load_artifact(storage, FLOW, "ab" * 32, "gone", "task s/1")
    sha = ds.save_artifact(storage, FLOW, _text(2 * MiB))
    path = tmp_path / ds.blob_key(FLOW, sha)
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ds.ArtifactError, match=r"^artifact 'x': the blob is truncated"):
        ds.load_artifact(storage, FLOW, sha, "x")


def _member(data: bytes, level: int) -> bytes:
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)
    return comp.compress(data) + comp.flush()


@pytest.mark.parametrize("buffer_size", [1000, 512 << 10, 3 * MiB])
def test_gunzip_reader_crosses_members_at_any_read_size(buffer_size: int) -> None:
    parts = [_text(3 * MiB), _text(10), b"", os.urandom(2 * MiB), _text(MiB)]
    blob = b"".join(_member(p, 0 if i == 3 else 1) for i, p in enumerate(parts))
    reader = ds._GunzipReader(io.BytesIO(blob))
    out, buf = bytearray(), bytearray(buffer_size)
    while n := reader.readinto(buf):
        out += buf[:n]
    assert out == b"".join(parts)


# ---------------------------------------------------------------------------- task attempts


def test_done_json_is_written_last(tmp_path: Path) -> None:
    storage = RecordingStorage(tmp_path)
    store = ds.TaskStore(storage, FLOW, "r1", "start", "0", 0)
    store.write_meta({"status": "running"})
    shas = store.save_artifacts({"x": 1, "y": "two"})
    log = tmp_path / "stdout.txt"
    log.write_text("hello\n")
    store.write_log("stdout", log)
    store.write_control({"width": 3})
    assert ds.committed_attempt(storage, FLOW, "r1", "start", "0") is None
    assert ds.list_tasks(storage, FLOW, "r1", "start") == []
    with pytest.raises(KeyNotFound):
        ds.read_done(storage, FLOW, "r1", "start", "0")

    store.commit({"artifacts": shas})
    assert storage.writes[-1] == f"{FLOW}/r1/start/0/0/done.json"
    assert storage.writes.count(storage.writes[-1]) == 1
    assert ds.read_done(storage, FLOW, "r1", "start", "0") == {"artifacts": shas}
    assert ds.read_meta(storage, FLOW, "r1", "start", "0", 0) == {"status": "running"}
    assert ds.read_log(storage, FLOW, "r1", "start", "0", 0, "stdout") == b"hello\n"
    assert ds.read_control(storage, FLOW, "r1", "start", "0") == {"width": 3}
    assert storage.exists(f"{FLOW}/r1/start/0/control.json")  # task level, not attempt


def test_a_committed_attempt_is_never_rewritten(tmp_path: Path) -> None:
    store = ds.TaskStore(LocalStorage(tmp_path), FLOW, "r1", "start", "0", 0)
    store.commit({"n": 1})
    with pytest.raises(ds.AttemptAlreadyCommitted):
        store.commit({"n": 2})
    assert ds.read_done(store.storage, FLOW, "r1", "start", "0") == {"n": 1}


def test_committed_attempt_is_the_highest_with_done_json(storage: Storage) -> None:
    def attempt(n: int, commit: bool) -> None:
        store = ds.TaskStore(storage, FLOW, "r1", "fz", "1.2", n)
        store.write_meta({"attempt": n})
        if commit:
            store.commit({"attempt": n})

    attempt(0, commit=True)
    attempt(1, commit=False)  # killed: never visible
    assert ds.committed_attempt(storage, FLOW, "r1", "fz", "1.2") == 0
    assert ds.read_done(storage, FLOW, "r1", "fz", "1.2") == {"attempt": 0}
    attempt(2, commit=True)
    assert ds.committed_attempt(storage, FLOW, "r1", "fz", "1.2") == 2
    assert ds.read_done(storage, FLOW, "r1", "fz", "1.2", attempt=0) == {"attempt": 0}
    assert ds.list_attempts(storage, FLOW, "r1", "fz", "1.2") == [0, 1, 2]
    assert ds.next_attempt(storage, FLOW, "r1", "fz", "1.2") == 3
    assert ds.next_attempt(storage, FLOW, "r1", "fz", "9") == 0


def test_listings(storage: Storage) -> None:
    ds.write_run_meta(storage, FLOW, "r1", {"params": {"alpha": 0.5}})
    ds.save_artifact(storage, FLOW, "makes the data directory exist")
    for task in ["0.10", "0.2", "1.0", "0.1"]:
        ds.TaskStore(storage, FLOW, "r1", "fz", task, 0).commit({})
    ds.TaskStore(storage, FLOW, "r1", "fz", "0.3", 0).write_meta({})  # still running
    ds.TaskStore(storage, FLOW, "r2", "start", "0", 0).commit({})
    assert ds.list_runs(storage, FLOW) == ["r1", "r2"]  # not the blob store's "data"
    assert ds.list_steps(storage, FLOW, "r1") == ["fz"]
    assert ds.list_tasks(storage, FLOW, "r1", "fz") == ["0.1", "0.2", "0.10", "1.0"]
    everything = ds.list_tasks(storage, FLOW, "r1", "fz", committed_only=False)
    assert everything == ["0.1", "0.2", "0.3", "0.10", "1.0"]
    assert ds.read_run_meta(storage, FLOW, "r1") == {"params": {"alpha": 0.5}}
    with pytest.raises(KeyNotFound):
        ds.read_run_meta(storage, FLOW, "r2")


@pytest.mark.parametrize(
    ("run", "step", "task"),
    [("data", "s", "0"), ("r", "s", "a/b"), ("r", "", "0"), ("..", "s", "0")],
)
def test_bad_names_are_refused(run: str, step: str, task: str) -> None:
    with pytest.raises(ValueError):
        ds.task_prefix(FLOW, run, step, task)
