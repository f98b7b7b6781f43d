"""The datastore layout: where runs, tasks and artifacts live in a `Storage`.

This layout is a contract shared by the runtime, the local runner, the client and the state
machine (which reads control objects straight from S3). Keys, relative to the storage root:

    <Flow>/data/<sha[:2]>/<sha>          artifact blob: gzip of a protocol-5 pickle; <sha> is the
                                         sha256 (hex) of the *uncompressed* pickle, so equal
                                         values share one blob. Every read checks it before
                                         unpickling (load_artifact). An IncludeFile's file is
                                         a blob too, of the file's bytes (save_file)
    <Flow>/code/<sha>.tar.gz             a deployment's code package (deploy/deployer.py),
                                         which holds the step graph (client/code_package.py)
    <Flow>/<run>/_run.json               run metadata (JSON object)
    <Flow>/<run>/_run_end.json           how a Step Functions execution ended, as its status
                                         change event said (emit/run_end.py); only the
                                         deployment's run end recorder writes it, and the
                                         client merges it into _run.json's fields
    <Flow>/<run>/_tags.json              the run's user tags once changed after it started
                                         ({"tags": [...]}; client/tags.py), written only by
                                         compare-and-swap: the runner rewrites _run.json as
                                         the run goes, so the changes cannot live there
    <Flow>/<run>/<step>/<task>/control.json
                                         a dynamic decision (foreach width, switch arm) as JSON.
                                         Task level, not attempt level: the state machine must
                                         find it without knowing which attempt succeeded
    <Flow>/<run>/<step>/<task>/<attempt>/
        meta.json                        attempt metadata, may be rewritten while it runs
        logs/<name>                      captured logs (e.g. stdout, stderr)
        cards/<type>[-<id>].html         each @card of the task: one self-contained HTML
                                         file (runtime/card_writer.py), written before done.json,
                                         which lists them under "cards"
        done.json                        written LAST: the attempt is committed, and the task
                                         visible, only once this exists
    <Flow>/<run>/.s3/<key>               objects written with S3(run=self) (runtime/s3.py);
                                         not a step: step names are identifiers

`<attempt>` is a decimal integer from 0. A task id holds no `/` (for a foreach task it is the
index stack, e.g. `1.0.2`). The run ids `data` and `code` are reserved for the blobs and the
code packages. A blob is a multi-member gzip stream (it is compressed in parallel chunks); any
gzip reader decodes it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import pickle
import tempfile
import zlib
from collections import deque
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from concurrent.futures import Future

    from _typeshed import ReadableBuffer, WriteableBuffer

from sfncompile.conventions.run_keys import RUN_END_RECORD
from sfncompile.conventions.task_ids import position

from .storage import DatastoreError, KeyNotFound, Storage

# Level 1: on benchmarks/artifact_bench.py levels 2 and 3 cost 1.2x and 1.75x the CPU of level 1
# for blobs under 1% smaller.
COMPRESS_LEVEL = 1
# Chunks compress independently on a thread pool (zlib releases the GIL), at most 2 per worker
# in flight, so memory stays bounded whatever the artifact's size.
_CHUNK = 4 << 20
_MAX_WORKERS = 8
# Each 512 KiB segment of a chunk becomes its own gzip member, deflated only if a 6% sample
# shrinks by 10%: deflate crawls at ~50 MB/s over random bytes (float noise, media, data
# already compressed) that it cannot shrink, while storing them runs at memory speed.
_SEGMENT = 512 << 10
_WORTHWHILE_RATIO = 0.9
# A pickle up to this size is compressed in one call on the caller's thread: a thread pool and
# a temporary file cost more than they save on it.
_SMALL = 1 << 20
# A blob that decompresses to at most this is verified and unpickled from memory; a larger
# one through an anonymous temporary file, so memory stays bounded.
_INLINE = 16 << 20
_HEX = frozenset("0123456789abcdef")
_FIRST_READ = 1 << 14  # bytes of the first read of a blob; later reads take more

RESERVED_RUN_IDS = frozenset({"data", "code"})


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ArtifactPickleError(pickle.PicklingError):
    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"artifact {name!r} cannot be pickled: {reason}")
        self.name = name
        self.reason = reason


class AttemptAlreadyCommitted(Exception):
    """A committed attempt is immutable; a retry must use a new attempt number."""


# ---------------------------------------------------------------------------- keys


def _seg(value: str, what: str) -> str:
    if not value or "/" in value or value in (".", ".."):
        raise ValueError(f"invalid {what} {value!r}")
    return value


def run_prefix(flow: str, run: str) -> str:
    if run in RESERVED_RUN_IDS:
        raise ValueError(f"run id {run!r} is reserved")
    return f"{_seg(flow, 'flow name')}/{_seg(run, 'run id')}"


def task_prefix(flow: str, run: str, step: str, task: str) -> str:
    return f"{run_prefix(flow, run)}/{_seg(step, 'step name')}/{_seg(task, 'task id')}"


def attempt_prefix(flow: str, run: str, step: str, task: str, attempt: int) -> str:
    if attempt < 0:
        raise ValueError(f"invalid attempt {attempt}")
    return f"{task_prefix(flow, run, step, task)}/{attempt}"


def blob_key(flow: str, sha: str) -> str:
    if len(sha) != 64 or not _HEX.issuperset(sha):
        raise ValueError(f"invalid artifact sha {sha!r}")
    return f"{_seg(flow, 'flow name')}/data/{sha[:2]}/{sha}"


def control_key(flow: str, run: str, step: str, task: str) -> str:
    return f"{task_prefix(flow, run, step, task)}/control.json"


def run_meta_key(flow: str, run: str) -> str:
    return f"{run_prefix(flow, run)}/_run.json"


def run_end_key(flow: str, run: str) -> str:
    return f"{run_prefix(flow, run)}/{RUN_END_RECORD}"


def run_tags_key(flow: str, run: str) -> str:
    return f"{run_prefix(flow, run)}/_tags.json"


# ---------------------------------------------------------------------------- artifacts


def _member(data: ReadableBuffer, level: int) -> bytes:
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: a complete gzip member
    return comp.compress(data) + comp.flush()


def _compress_chunk(chunk: ReadableBuffer, level: int) -> bytes:
    """One gzip member per segment, each deflated or, when that would not pay, stored."""
    view = memoryview(chunk).cast("B")
    segments = (view[i : i + _SEGMENT] for i in range(0, len(view), _SEGMENT))
    return b"".join(_member(s, level if _worth_compressing(s) else 0) for s in segments)


def _worth_compressing(segment: memoryview) -> bool:
    n, size = len(segment), _SEGMENT // 64
    if n <= 4 * size:
        return True
    sample = b"".join(segment[i : i + size] for i in (0, n // 3, 2 * n // 3, n - size))
    return len(zlib.compress(sample, 1)) <= _WORTHWHILE_RATIO * len(sample)


def _workers() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on macOS
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, _MAX_WORKERS))


class _HashingGzipWriter:
    """A write-only sink for pickle: hashes the raw stream and gzips it chunk by chunk in
    parallel, in order, into `out`. Memory stays at a few chunks whatever the stream size."""

    def __init__(self, out: IO[bytes], level: int) -> None:
        self.sha = hashlib.sha256()
        self._out = out
        self._level = level
        # Imported here: only a large artifact needs it, and a task (or the fork server
        # before it) need not pay its import (with logging's) at start.
        from concurrent.futures import ThreadPoolExecutor

        workers = _workers()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="sfn-gzip")
        self._pending: deque[Future[bytes]] = deque()
        self._max_pending = 2 * workers
        self._small: list[bytes] = []  # copies of small writes, joined into one chunk
        self._small_len = 0
        self._empty = True

    def write(self, data: ReadableBuffer | pickle.PickleBuffer) -> int:
        # Pickle hands over a big payload (bytes, numpy data as a PickleBuffer, a str's UTF-8)
        # in one call without copying it. Chunk-sized slices of it go to the workers without
        # a copy when the slices keep its memory alive; a memoryview without an owner (as
        # pickle may pass a str's UTF-8) is copied a chunk at a time, as the str may be a
        # temporary that dies with the Pickler.
        # PickleBuffer.raw() is in memory order, also for Fortran-ordered arrays.
        view = data.raw() if isinstance(data, pickle.PickleBuffer) else memoryview(data).cast("B")
        owned = not isinstance(data, memoryview) or data.obj is not None
        pos = 0
        if len(view) >= _CHUNK:
            self._flush_small()
            while len(view) - pos >= _CHUNK:
                chunk = view[pos : pos + _CHUNK]
                self._submit(chunk if owned else bytes(chunk))
                pos += _CHUNK
        if pos < len(view):
            rest = bytes(view[pos:])
            self.sha.update(rest)
            self._small.append(rest)
            self._small_len += len(rest)
            if self._small_len >= _CHUNK:
                self._flush_small()
        return len(view)

    def _flush_small(self) -> None:
        if self._small:
            chunk = b"".join(self._small)
            self._small, self._small_len = [], 0
            self._submit(chunk, hashed=True)

    def _submit(self, chunk: ReadableBuffer, hashed: bool = False) -> None:
        if not hashed:
            self.sha.update(chunk)  # releases the GIL: overlaps the workers
        if len(self._pending) >= self._max_pending:
            self._out.write(self._pending.popleft().result())
        self._pending.append(self._pool.submit(_compress_chunk, chunk, self._level))
        self._empty = False

    def finish(self) -> None:
        self._flush_small()
        if self._empty:
            self._out.write(_member(b"", 0))  # pickle never writes nothing, but stay valid
        while self._pending:
            self._out.write(self._pending.popleft().result())
        self._out.flush()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _GunzipReader(io.RawIOBase):
    """Decompresses a (multi-member) gzip file. gzip.GzipFile lacks readinto, so pickle.load
    on it would build every large bytes/array object twice; through this reader, wrapped in
    a BufferedReader, pickle decompresses straight into the object it builds."""

    _IN = 1 << 20  # compressed bytes per read: few Python-level iterations
    _OUT = 1 << 20  # decompressed bytes per call: bounds the temporary

    def __init__(self, f: _Reader) -> None:
        self._f = f
        self._d = zlib.decompressobj(31)
        self._in = b""
        self._f_eof = False
        self._chunk = _FIRST_READ  # grows to _IN: a small blob needs no megabyte buffer

    def readable(self) -> bool:
        return True

    def _read(self) -> bytes:
        data = self._f.read(self._chunk)
        self._f_eof = not data
        self._chunk = min(self._chunk * 8, self._IN)
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view, view.cast("B") as out:
            while len(out):
                if self._d.eof:  # a member ended; another may follow
                    # All input past the member's end is in unused_data (unconsumed_tail
                    # may repeat part of it).
                    rest = self._d.unused_data or self._read()
                    if not rest:
                        return 0
                    self._d, self._in = zlib.decompressobj(31), rest
                if not self._in:
                    self._in = self._read()
                data = self._d.decompress(self._in, min(len(out), self._OUT))
                self._in = self._d.unconsumed_tail
                if data:
                    out[: len(data)] = data
                    return len(data)
                if self._f_eof and not self._in and not self._d.eof:
                    raise EOFError("compressed artifact is truncated")
            return 0


def save_artifact(storage: Storage, flow: str, obj: object, name: str = "<artifact>") -> str:
    """Pickle obj into the flow's blob store; returns its sha256. Writes only new blobs.

    The pickle is hashed first and the blob's existence checked before anything is compressed
    or written. Skipping an existing blob is safe because every read verifies the content
    against its sha256 (`load_artifact`): a damaged or planted blob can make a read fail, with
    an error naming it, but never give a wrong value or run code; `sfncompile verify --repair`
    removes it, and the next save writes it again. A small pickle is held in memory and
    written in one call; a large one is pickled a second time, straight through the
    chunk-parallel compressor into the storage, so no copy of it is ever held in memory."""
    hasher = _HashingSink()
    _pickle_into(hasher, obj, name)
    sha = hasher.sha.hexdigest()
    key = blob_key(flow, sha)
    if storage.exists(key):
        return sha
    if hasher.small is not None:
        storage.put_bytes(key, _compress_chunk(hasher.small, COMPRESS_LEVEL))
        return sha

    def write(out: IO[bytes]) -> None:
        sink = _HashingGzipWriter(out, COMPRESS_LEVEL)
        try:
            _pickle_into(sink, obj, name)
            sink.finish()
        finally:
            sink.close()
        if sink.sha.hexdigest() != sha:  # the blob must hold what its name says
            raise ArtifactPickleError(name, "pickling it twice gave different bytes; its "
                                      "__reduce__/__getstate__ must be deterministic")

    storage.put_stream(key, write)
    return sha


def artifact_sha(obj: object, name: str = "<artifact>") -> str:
    """The sha256 that save_artifact gives obj, computed without storing anything."""
    hasher = _HashingSink()
    _pickle_into(hasher, obj, name)
    return hasher.sha.hexdigest()


def _pickle_into(sink: object, obj: object, name: str) -> None:
    try:
        pickle.Pickler(sink, protocol=5).dump(obj)  # type: ignore[arg-type]
    except OSError:
        raise  # the disk, not the object
    except ArtifactPickleError:
        raise
    except Exception as err:
        raise ArtifactPickleError(name, f"{type(err).__name__}: {err}") from err


class _HashingSink:
    """A write-only sink for pickle that only hashes, keeping the bytes while they are few.
    Big payloads (bytes, numpy data as a PickleBuffer) are hashed in place, without a copy."""

    def __init__(self) -> None:
        self.sha = hashlib.sha256()
        self._parts: list[bytes] | None = []
        self._len = 0

    def write(self, data: ReadableBuffer | pickle.PickleBuffer) -> int:
        view = data.raw() if isinstance(data, pickle.PickleBuffer) else memoryview(data).cast("B")
        self.sha.update(view)
        self._len += len(view)
        if self._parts is not None:
            if self._len > _SMALL:
                self._parts = None
            else:
                self._parts.append(bytes(view))
        return len(view)

    @property
    def small(self) -> bytes | None:
        return None if self._parts is None else b"".join(self._parts)


def save_artifacts(storage: Storage, flow: str, artifacts: dict[str, object]) -> dict[str, str]:
    """Save each artifact; returns name -> sha. The error for an unpicklable one names it."""
    return {name: save_artifact(storage, flow, obj, name) for name, obj in artifacts.items()}


class ArtifactError(DatastoreError):
    """An artifact cannot be read: its blob is missing, damaged or not what its sha says."""

    def __init__(self, message: str, blob: str) -> None:
        super().__init__(message)
        self.blob = blob


def hash_file(path: str | os.PathLike[str]) -> tuple[str, int]:
    """The sha256 and size of a file, read a chunk at a time. Raises OSError."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def save_file(storage: Storage, flow: str, path: str | os.PathLike[str]) -> tuple[str, int]:
    """Store a file's bytes as a blob of the flow's blob store (an IncludeFile's content);
    returns its sha256 and size. The blob is an artifact blob whose content is the file's
    bytes rather than a pickle, so `check_blob` and `sfncompile verify` check it as any other.
    The file is hashed, then (if the blob is new) streamed through the chunk-parallel
    compressor: memory stays at a few chunks whatever its size. Raises OSError."""
    sha, size = hash_file(path)
    key = blob_key(flow, sha)
    if storage.exists(key):
        return sha, size

    def write(out: IO[bytes]) -> None:
        sink = _HashingGzipWriter(out, COMPRESS_LEVEL)
        try:
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    sink.write(chunk)
            sink.finish()
        finally:
            sink.close()
        if sink.sha.hexdigest() != sha:
            raise OSError(f"{os.fspath(path)} changed while it was being stored")

    storage.put_stream(key, write)
    return sha, size


def load_file(storage: Storage, flow: str, sha: str, name: str = "<file>") -> bytes:
    """The bytes of a blob stored by `save_file`, checked against its sha256 as they stream.
    Raises ArtifactError naming the file and the blob."""
    try:
        key = blob_key(flow, sha)
    except ValueError:
        raise ArtifactError(f"{name}: {sha!r} is not a sha256", "") from None
    try:
        with storage.open(key) as src, _verified(src, sha) as content:
            return bytes(content) if isinstance(content, bytearray) else content.read()
    except KeyNotFound:
        reason = "the blob is missing"
    except _Damaged as exc:
        reason = str(exc)
    url = storage.url(key)
    raise ArtifactError(f"{name}: {reason} (blob {url})", url)


def load_artifact(storage: Storage, flow: str, sha: str, name: str = "<artifact>",
                  task: str | None = None) -> object:
    """Read a blob, check it against its sha256 as it streams, and only then unpickle it.

    The blob is read in place (a local file) or as it streams (S3), decompressed and hashed
    in one pass; the pickle is unpickled only once the digest matched, and from exactly the
    bytes that were hashed: up to _INLINE bytes from memory, beyond that from an anonymous
    temporary file, so memory stays bounded (writing the page cache once costs far less than
    decompressing twice). Raises ArtifactError naming the artifact, task and blob."""
    try:
        key = blob_key(flow, sha)
    except ValueError:
        raise ArtifactError(f"artifact {name!r}{_of(task)}: its recorded sha {sha!r} is not a "
                            "sha256; the task's done.json is damaged", "") from None
    try:
        with storage.open(key) as src, _verified(src, sha) as pickled:
            if isinstance(pickled, bytearray):
                return pickle.loads(pickled)
            return pickle.load(pickled)  # a buffered file: pickle reads large objects into place
    except KeyNotFound:
        reason = "the blob is missing"
    except _Damaged as exc:
        reason = str(exc)
    url = storage.url(key)
    raise ArtifactError(f"artifact {name!r}{_of(task)}: {reason} (blob {url}); the datastore "
                        "was damaged or tampered with: `sfncompile verify --repair` removes bad "
                        "blobs", url)


def _of(where: str | None) -> str:
    return f" of {where}" if where else ""


class _Damaged(Exception):
    pass


@contextlib.contextmanager
def _verified(src: _Reader, sha: str, keep: bool = True) -> Iterator[bytearray | IO[bytes]]:
    """Decompress src and check its sha256; then yield the content (None if not `keep`): a
    bytearray when small, else an anonymous temporary file positioned at its start."""
    digest, kept = hashlib.sha256(), bytearray()
    spool: IO[bytes] | None = None
    reader = _GunzipReader(src)
    # The buffer grows with the blob: most are a few bytes, and a zeroed megabyte for each
    # would cost a task more than the rest of reading it.
    buf = bytearray(_FIRST_READ)
    view = memoryview(buf)
    with contextlib.ExitStack() as stack:
        try:
            while n := reader.readinto(buf):
                digest.update(view[:n])
                if keep:
                    if spool is None and len(kept) + n > _INLINE:
                        spool = stack.enter_context(tempfile.TemporaryFile(prefix="sfn-blob-"))
                        spool.write(kept)
                        kept = bytearray()
                    if spool is not None:
                        spool.write(view[:n])
                    else:
                        kept += view[:n]
                if n == len(buf) and n < _GunzipReader._OUT:  # more may follow: read more
                    view.release()
                    buf = bytearray(min(n * 8, _GunzipReader._OUT))
                    view = memoryview(buf)
        except (zlib.error, EOFError) as exc:
            raise _Damaged(f"the blob is truncated or not gzip ({exc})") from None
        if digest.hexdigest() != sha:
            raise _Damaged("its content does not match its sha256")
        if spool is None:
            yield kept
        else:
            spool.seek(0)
            yield spool


def _verify(src: _Reader, sha: str) -> None:
    with _verified(src, sha, keep=False):
        pass


def check_blob(storage: Storage, flow: str, sha: str) -> str | None:
    """Why the blob is bad, or None when it is sound. Never unpickles anything."""
    try:
        with storage.open(blob_key(flow, sha)) as src:
            _verify(src, sha)
    except KeyNotFound:
        return "the blob is missing"
    except _Damaged as exc:
        return str(exc)
    return None


# ---------------------------------------------------------------------------- JSON objects


def _dump(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


class DamagedRecord(DatastoreError, ValueError):
    """A metadata file (done.json, _run.json, ...) is not the JSON it must be."""


def _load(storage: Storage, key: str) -> Any:
    data = storage.get_bytes(key)
    try:
        return json.loads(data)
    except ValueError as exc:  # also UnicodeDecodeError
        raise DamagedRecord(f"{storage.url(key)} is damaged: not valid JSON ({exc})") from None
    except RecursionError:
        raise DamagedRecord(f"{storage.url(key)} is damaged: nested too deeply") from None


def _load_dict(storage: Storage, key: str) -> dict[str, Any]:
    value = _load(storage, key)
    if not isinstance(value, dict):
        raise DamagedRecord(f"{storage.url(key)} is damaged: not a JSON object")
    return value


def write_control(
    storage: Storage, flow: str, run: str, step: str, task: str, value: object
) -> None:
    storage.put_bytes(control_key(flow, run, step, task), _dump(value))


def read_control(storage: Storage, flow: str, run: str, step: str, task: str) -> Any:
    return _load(storage, control_key(flow, run, step, task))


def write_run_meta(storage: Storage, flow: str, run: str, meta: dict[str, Any]) -> None:
    storage.put_bytes(run_meta_key(flow, run), _dump(meta))


def read_run_meta(storage: Storage, flow: str, run: str) -> dict[str, Any]:
    return _load_dict(storage, run_meta_key(flow, run))


def read_run_end(storage: Storage, flow: str, run: str) -> dict[str, Any]:
    """The end record of a Step Functions execution; raises KeyNotFound until it is written."""
    return _load_dict(storage, run_end_key(flow, run))


def read_run_tags(storage: Storage, flow: str, run: str) -> tuple[list[str], str]:
    """The run's user tags as last changed, and the version `write_run_tags` compares.
    Raises KeyNotFound while they were never changed."""
    key = run_tags_key(flow, run)
    data, version = storage.get_versioned(key)
    try:
        tags = json.loads(data).get("tags")
    except (ValueError, AttributeError, RecursionError):
        tags = None
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise DamagedRecord(f"{storage.url(key)} is damaged: not a JSON object with a 'tags' "
                            "list of strings")
    return tags, version


def write_run_tags(storage: Storage, flow: str, run: str, tags: list[str],
                   version: str | None) -> bool:
    """Replace the user tags if they are still at `version` (None: never changed yet);
    False when another change came first."""
    return storage.put_if(run_tags_key(flow, run), _dump({"tags": sorted(tags)}), version)


# ---------------------------------------------------------------------------- task attempts


class TaskStore:
    """Writes one attempt of one task. Call `commit` last: until then readers ignore it."""

    def __init__(
        self, storage: Storage, flow: str, run: str, step: str, task: str, attempt: int
    ) -> None:
        self.storage = storage
        self.flow, self.run, self.step, self.task, self.attempt = flow, run, step, task, attempt
        self.prefix = attempt_prefix(flow, run, step, task, attempt)

    def save_artifacts(self, artifacts: dict[str, object]) -> dict[str, str]:
        return save_artifacts(self.storage, self.flow, artifacts)

    def write_log(self, name: str, path: str | os.PathLike[str]) -> None:
        self.storage.put_file(f"{self.prefix}/logs/{_seg(name, 'log name')}", path)

    def write_log_bytes(self, name: str, data: bytes) -> None:
        self.storage.put_bytes(f"{self.prefix}/logs/{_seg(name, 'log name')}", data)

    def write_meta(self, meta: dict[str, Any]) -> None:
        self.storage.put_bytes(f"{self.prefix}/meta.json", _dump(meta))

    def write_control(self, value: object) -> None:
        write_control(self.storage, self.flow, self.run, self.step, self.task, value)

    def commit(self, meta: dict[str, Any]) -> None:
        done = f"{self.prefix}/done.json"
        if self.storage.exists(done):
            raise AttemptAlreadyCommitted(f"{self.prefix} is already committed")
        self.storage.put_bytes(done, _dump(meta))


def list_attempts(storage: Storage, flow: str, run: str, step: str, task: str) -> list[int]:
    """Every attempt that wrote anything, committed or not, ascending."""
    names = storage.list_dirs(task_prefix(flow, run, step, task))
    return sorted(int(n) for n in names if n.isdigit())


def next_attempt(storage: Storage, flow: str, run: str, step: str, task: str) -> int:
    """The first attempt number no earlier attempt used (a redrive must not overwrite)."""
    attempts = list_attempts(storage, flow, run, step, task)
    return attempts[-1] + 1 if attempts else 0


def committed_attempt(storage: Storage, flow: str, run: str, step: str, task: str) -> int | None:
    """The highest attempt with a done.json, or None if the task is not visible yet."""
    prefix = task_prefix(flow, run, step, task) + "/"
    committed = [
        int(att)
        for key in storage.list(prefix)
        for att, _, rest in [key[len(prefix) :].partition("/")]
        if rest == "done.json" and att.isdigit()
    ]
    return max(committed, default=None)


def read_done(
    storage: Storage, flow: str, run: str, step: str, task: str, attempt: int | None = None
) -> dict[str, Any]:
    """done.json of the given attempt, by default the committed one. Raises KeyNotFound."""
    if attempt is None:
        attempt = committed_attempt(storage, flow, run, step, task)
        if attempt is None:
            raise KeyNotFound(task_prefix(flow, run, step, task))
    key = f"{attempt_prefix(flow, run, step, task, attempt)}/done.json"
    done = _load_dict(storage, key)
    artifacts = done.get("artifacts", {})
    if not isinstance(artifacts, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in artifacts.items()
    ):
        raise DamagedRecord(f"{storage.url(key)} is damaged: no 'artifacts' object of names "
                            "to shas")
    return done


def read_meta(
    storage: Storage, flow: str, run: str, step: str, task: str, attempt: int
) -> dict[str, Any]:
    return _load_dict(storage, f"{attempt_prefix(flow, run, step, task, attempt)}/meta.json")


def read_log(
    storage: Storage, flow: str, run: str, step: str, task: str, attempt: int, name: str
) -> bytes:
    prefix = attempt_prefix(flow, run, step, task, attempt)
    return storage.get_bytes(f"{prefix}/logs/{_seg(name, 'log name')}")


# ---------------------------------------------------------------------------- listings


def list_runs(storage: Storage, flow: str) -> list[str]:
    return [r for r in storage.list_dirs(_seg(flow, "flow name")) if r not in RESERVED_RUN_IDS]


def list_steps(storage: Storage, flow: str, run: str) -> list[str]:
    # Step names are identifiers; other directories of a run (.s3/) are not steps.
    return [s for s in storage.list_dirs(run_prefix(flow, run)) if s.isidentifier()]


def _task_order(task: str) -> tuple[tuple[int, int | str], ...]:
    # Foreach ids sort by index, loop passes by counter: 3-1.0.2 before 3-1.0.10, 3-9 before
    # 3-10 (a step's tasks share the step number in front, conventions/task_ids.py).
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in position(task).split("."))


def committed_attempts(storage: Storage, flow: str, run: str, step: str) -> dict[str, int]:
    """task id -> its committed (highest done) attempt, for every task of a step, from one
    listing of the step."""
    prefix = f"{run_prefix(flow, run)}/{_seg(step, 'step name')}/"
    found: dict[str, int] = {}
    for key in storage.list(prefix):
        parts = key[len(prefix) :].split("/")
        if len(parts) == 3 and parts[1].isdigit() and parts[2] == "done.json":
            found[parts[0]] = max(found.get(parts[0], -1), int(parts[1]))
    return found


def list_tasks(
    storage: Storage, flow: str, run: str, step: str, committed_only: bool = True
) -> list[str]:
    """Task ids of a step, in index order. By default only visible (committed) tasks, found
    with one listing of the step rather than one request per task."""
    prefix = f"{run_prefix(flow, run)}/{_seg(step, 'step name')}/"
    if not committed_only:
        tasks = set(storage.list_dirs(prefix))
    else:
        tasks = set()
        for key in storage.list(prefix):
            parts = key[len(prefix) :].split("/")
            if len(parts) == 3 and parts[1].isdigit() and parts[2] == "done.json":
                tasks.add(parts[0])
    return sorted(tasks, key=_task_order)
