"""Artifacts are verified before they are unpickled, and damage is reported by name.

The tamper test replaces every blob of a finished run with a pickle that creates a file when
unpickled: a new run, `resume` and the client must all refuse it, naming the artifact, and
the file must never appear. The same holds on S3 (moto's server)."""

from __future__ import annotations

import gzip
import io
import pickle
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import LocalStorage, Storage, open_storage
from sfncompile.flow.flowspec import Binding, FlowSpec
from tests.flows import run_local

FLOW = "TamperFlow"
FLOW_SOURCE = textwrap.dedent('''
    from sfncompile import FlowSpec, step


    class TamperFlow(FlowSpec):
        @step
        def start(self):
            self.base = 40
            self.items = [1, 2]
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.y = self.input + self.base
            self.next(self.join)

        @step
        def join(self, inputs):
            self.total = sum(i.y for i in inputs)
            self.next(self.end)

        @step
        def end(self):
            self.result = self.total
''')


class _Plant:
    """Unpickling this creates a file: the code a planted blob would run."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.path, "w"))


def _planted_blob(marker: Path) -> bytes:
    return gzip.compress(pickle.dumps(_Plant(marker), protocol=5))


def _sfn(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", *args], capture_output=True,
                          text=True, cwd=cwd)


def _run_id(proc: subprocess.CompletedProcess[str]) -> str:
    return proc.stdout.strip().splitlines()[-1].split("/", 1)[1]


@pytest.fixture(params=["local", "s3"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "store")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/runs"


def test_planted_blobs_never_run_and_are_named(root: str, tmp_path: Path) -> None:
    flow_file = tmp_path / "tamper.py"
    flow_file.write_text(FLOW_SOURCE)
    marker = tmp_path / "planted-code-ran"
    first = run_local(flow_file, root)
    assert first.returncode == 0, first.stderr
    run_id = _run_id(first)
    storage = open_storage(root)
    blobs = storage.list(f"{FLOW}/data/")
    assert len(blobs) >= 5  # base, items, two foreach items, y values, total, ...
    for key in blobs:
        storage.put_bytes(key, _planted_blob(marker))

    # A new run computes the same values: their blobs exist, so saves skip them; the reads
    # of the next steps verify them and fail.
    second = run_local(flow_file, root)
    assert second.returncode != 0
    assert "artifact 'base'" in second.stderr or "artifact 'items[" in second.stderr, \
        second.stderr
    assert "does not match its sha256" in second.stderr
    assert not marker.exists()

    resumed = _sfn("resume", f"{FLOW}/{run_id}", "--from", "end",
                   "--datastore-root", root, cwd=tmp_path)
    assert resumed.returncode != 0
    assert "artifact 'total' of task join/" in resumed.stderr, resumed.stderr
    assert not marker.exists()

    client.set_datastore_root(root)
    try:
        run = client.Run(f"{FLOW}/{run_id}")
        tasks = [task for step in run for task in step]
        assert len(tasks) == 5
        for task in tasks:
            for name in task.artifact_names:
                with pytest.raises(ds.ArtifactError) as info:
                    getattr(task.data, name)
                message = str(info.value)
                assert message.startswith(f"artifact {name!r} of task {task.pathspec}: ")
                assert info.value.blob in message and "/data/" in info.value.blob
    finally:
        client.set_datastore_root(None)
    assert not marker.exists()

    # verify finds every planted blob, --repair removes them, and the next run writes them
    # again and succeeds.
    found = _sfn("verify", FLOW, "--datastore-root", root, cwd=tmp_path)
    assert found.returncode == 1
    assert f"checked {len(blobs)} blobs: {len(blobs)} bad" in found.stdout
    assert found.stdout.count("does not match its sha256") == len(blobs)
    of_run = _sfn("verify", f"{FLOW}/{run_id}", "--datastore-root", root, cwd=tmp_path)
    assert of_run.returncode == 1 and f"{run_id}/join/2-0:total" in of_run.stdout, of_run.stdout
    repaired = _sfn("verify", "--repair", "--datastore-root", root, cwd=tmp_path)
    assert repaired.returncode == 1 and "removed: " in repaired.stdout
    assert storage.list(f"{FLOW}/data/") == []
    if root.startswith("s3://"):
        return  # the rest is the same on S3, and slow there
    again = run_local(flow_file, root)
    assert again.returncode == 0, again.stderr
    clean = _sfn("verify", f"{FLOW}/{_run_id(again)}", "--datastore-root", root, cwd=tmp_path)
    assert clean.returncode == 0 and "0 bad" in clean.stdout
    assert not marker.exists()


# ---------------------------------------------------------------------------- the blob store


def _storages(tmp_path: Path, s3_bucket: str) -> list[Storage]:
    return [LocalStorage(tmp_path / "root"), open_storage(f"s3://{s3_bucket}/p")]


@pytest.mark.parametrize("inline", [ds._INLINE, 1000])  # in memory; through a temp file
def test_bad_blobs_are_refused_before_unpickling(tmp_path: Path, s3_bucket: str,
                                                 monkeypatch: pytest.MonkeyPatch,
                                                 inline: int) -> None:
    monkeypatch.setattr(ds, "_INLINE", inline)
    marker = tmp_path / "ran"
    for storage in _storages(tmp_path, s3_bucket):
        value = list(range(5000))
        sha = ds.save_artifact(storage, FLOW, value)
        other = ds.save_artifact(storage, FLOW, "another value")
        key = ds.blob_key(FLOW, sha)
        assert ds.load_artifact(storage, FLOW, sha) == value
        assert ds.check_blob(storage, FLOW, sha) is None
        good = storage.get_bytes(key)
        damages = {
            "planted": (_planted_blob(marker), "does not match its sha256"),
            "swapped": (storage.get_bytes(ds.blob_key(FLOW, other)), "does not match"),
            "truncated": (good[: len(good) // 2], "truncated or not gzip"),
            "garbage": (b"\x00not gzip at all", "truncated or not gzip"),
            "empty": (b"", "truncated or not gzip"),
            "trailing": (good + b"junk", "truncated or not gzip"),
        }
        for what, (blob, reason) in damages.items():
            storage.put_bytes(key, blob)
            with pytest.raises(ds.ArtifactError, match=reason) as info:
                ds.load_artifact(storage, FLOW, sha, "numbers", "task start/0")
            assert str(info.value).startswith("artifact 'numbers' of task start/0: "), what
            assert storage.url(key) in str(info.value)
            assert reason in (ds.check_blob(storage, FLOW, sha) or ""), what
        assert not marker.exists()
        # A save of the same value finds the blob and skips it (reads verify, so that is
        # safe); once verify --repair removed it, the next save writes it again.
        assert ds.save_artifact(storage, FLOW, value) == sha
        assert ds.check_blob(storage, FLOW, sha) is not None
        storage.delete(key)
        assert ds.check_blob(storage, FLOW, sha) == "the blob is missing"
        assert ds.save_artifact(storage, FLOW, value) == sha
        assert ds.load_artifact(storage, FLOW, sha) == value


def test_large_artifact_round_trips_through_the_spool(tmp_path: Path,
                                                              s3_bucket: str) -> None:
    value = [bytes(range(256)) * 40_000, "x" * (ds._INLINE + 1)]  # decompresses past _INLINE
    for storage in _storages(tmp_path, s3_bucket):
        sha = ds.save_artifact(storage, FLOW, value)
        assert ds.load_artifact(storage, FLOW, sha) == value


def test_a_bad_sha_in_done_json_is_named(tmp_path: Path) -> None:
    with pytest.raises(ds.ArtifactError, match=r"^artifact 'x' of task a/0: its recorded sha "):
        ds.load_artifact(LocalStorage(tmp_path), FLOW, "../../etc", "x", "task a/0")


# ---------------------------------------------------------------------------- saves


class _Loader:
    """The load function a task binds: verified reads from the store."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def __call__(self, sha: str, name: str, where: str | None) -> Any:
        return ds.load_artifact(self.storage, FLOW, sha, name, where)


def test_an_artifact_only_read_is_recorded_by_its_sha(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    shas = ds.save_artifacts(storage, FLOW, {"blob": b"x" * 100_000, "pair": (1, "a"),
                                             "table": [1, 2, 3], "untouched": 7})
    flow = FlowSpec._bound(Binding(dict(shas), _Loader(storage)))
    assert flow.blob == b"x" * 100_000 and flow.pair == (1, "a")
    flow.table.append(4)  # a mutable value may have changed in place: saved again
    values, kept = flow._artifacts_to_save()
    assert kept == {"blob": shas["blob"], "pair": shas["pair"], "untouched": shas["untouched"]}
    named = {"name": "FlowSpec"}  # the flow's name, which every flow object has
    assert values == {**named, "table": [1, 2, 3, 4]}
    flow.blob = b"y"  # assigned: saved, whatever it is
    values, kept = flow._artifacts_to_save()
    assert values == {**named, "table": [1, 2, 3, 4], "blob": b"y"} and "blob" not in kept


# ---------------------------------------------------------------------------- the client


def _two_runs(root: Path) -> Storage:
    storage = LocalStorage(root)
    for run in ("r1", "r2"):
        ds.write_run_meta(storage, FLOW, run, {"status": "succeeded", "started": 1.0})
        shas = ds.save_artifacts(storage, FLOW, {"x": run})
        for step in ("start", "end"):
            ds.TaskStore(storage, FLOW, run, step, "0", 0).commit({"artifacts": shas})
    return storage


def test_client_and_show_read_around_damaged_records(tmp_path: Path) -> None:
    storage = _two_runs(tmp_path / "store")
    run_json = tmp_path / "store" / FLOW / "r1" / "_run.json"
    run_json.write_bytes(run_json.read_bytes()[:7])  # truncated, as by a crash
    done_json = tmp_path / "store" / FLOW / "r2" / "end" / "0" / "0" / "done.json"
    done_json.write_bytes(b'{"artifacts": {"x": 3}}')  # valid JSON, not a record
    client.set_datastore_root(str(tmp_path / "store"))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            runs = client.Flow(FLOW).runs()
        assert [r.id for r in runs] == ["r2"]
        assert [str(w.message) for w in caught] == [
            f"skipping run {FLOW}/r1: {run_json.as_uri()} is damaged: not valid JSON "
            "(Unterminated string starting at: line 1 column 2 (char 1))"]
        assert caught[0].category is client.DamagedRunWarning
        assert client.Run(f"{FLOW}/r2")["start"].task.data.x == "r2"
        with pytest.raises(ds.DamagedRecord, match=f"^{done_json.as_uri()} is damaged"):
            client.Run(f"{FLOW}/r2")["end"].task.data.x  # noqa: B018
    finally:
        client.set_datastore_root(None)
    for run, damaged in (("r1", run_json), ("r2", done_json)):
        shown = _sfn("show", f"{FLOW}/{run}", "--datastore-root", str(tmp_path / "store"),
                     cwd=tmp_path)
        assert shown.returncode == 1
        assert shown.stderr.startswith(f"error: {damaged.as_uri()} is damaged"), shown.stderr
        assert "Traceback" not in shown.stderr
    assert storage.exists(f"{FLOW}/r2/start/0/0/done.json")


def test_verify_refuses_what_does_not_exist(tmp_path: Path) -> None:
    _two_runs(tmp_path / "store")
    for args, message in ((["Nope"], "no flow Nope under"), ([f"{FLOW}/r9"], "no run "),
                          ([f"{FLOW}/a/b"], "name a flow as Flow"), ([f"{FLOW}/data"], "")):
        proc = _sfn("verify", *args, "--datastore-root", str(tmp_path / "store"), cwd=tmp_path)
        assert proc.returncode == 2 and proc.stderr.startswith("error: "), proc.stderr
        assert message in proc.stderr
    empty = _sfn("verify", "--datastore-root", str(tmp_path / "none"), cwd=tmp_path)
    assert empty.returncode == 2 and empty.stderr.startswith("error: no flows under ")
    ok = _sfn("verify", "--datastore-root", str(tmp_path / "store"), cwd=tmp_path)
    assert ok.returncode == 0 and ok.stdout == "checked 2 blobs: 0 bad\n"
    stray = tmp_path / "store" / FLOW / "data" / "zz" / "notes.txt"
    stray.parent.mkdir()
    stray.write_text("x")
    found = _sfn("verify", FLOW, "--datastore-root", str(tmp_path / "store"), cwd=tmp_path)
    assert found.returncode == 1 and "not a blob: its name is not a sha256" in found.stdout


def test_bytes_of_a_planted_blob_in_memory_are_not_unpickled() -> None:
    # _verified is the gate: it yields the content only once the digest matched.
    with pytest.raises(ds._Damaged):
        ds._verify(io.BytesIO(_planted_blob(Path("/nonexistent/x"))), "0" * 64)


CATCH_SOURCE = textwrap.dedent('''
    from sfncompile import FlowSpec, catch, step


    class TamperFlow(FlowSpec):
        @step
        def start(self):
            self.base = 40
            self.next(self.mid)

        @catch(var="failure")
        @step
        def mid(self):
            self.value = self.base + 2
            self.next(self.end)

        @step
        def end(self):
            pass
''')


def test_catch_does_not_cover_a_damaged_datastore(tmp_path: Path) -> None:
    flow_file, root = tmp_path / "catching.py", str(tmp_path / "store")
    flow_file.write_text(CATCH_SOURCE)
    marker = tmp_path / "planted-code-ran"
    first = run_local(flow_file, root)
    assert first.returncode == 0, first.stderr
    storage = open_storage(root)
    for key in storage.list(f"{FLOW}/data/"):
        storage.put_bytes(key, _planted_blob(marker))

    resumed = _sfn("resume", f"{FLOW}/{_run_id(first)}", "--from", "mid",
                   "--datastore-root", root, cwd=tmp_path)
    assert resumed.returncode != 0  # the run fails: @catch must not make damage a result
    assert "artifact 'base' of task start/" in resumed.stderr, resumed.stderr
    assert "@catch does not cover a damaged datastore" in resumed.stderr, resumed.stderr
    assert not marker.exists()
