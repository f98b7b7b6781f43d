"""The integrity check behind `sfncompile verify`: the damaged or tampered artifact blobs.

Every read already checks a blob against its sha256 before unpickling it, so damage can make
a task or the client fail, never give a wrong value or run code. This command finds all of it
at once, without unpickling anything, and with `--repair` removes the bad blobs: a save skips
a blob that exists, so removing a bad one is what lets the next save write it again. A removed
blob's value is lost to the runs that recorded it: their reads then say the blob is missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sfncompile.errors import UsageError

if TYPE_CHECKING:  # imported when the check runs, not with the CLI
    from sfncompile.datastore.storage import Storage

Targets = dict[str, tuple[str | None, list[str]]]  # blob key -> (sha or None if stray, users)

_CHECKERS = 8  # blobs checked at once: hides S3 round trips; zlib and hashlib release the GIL


@dataclass
class BadBlob:
    url: str
    key: str
    reason: str
    used_by: list[str] = field(default_factory=list)  # run/step/task:artifact


@dataclass
class Report:
    checked: int = 0
    bad: list[BadBlob] = field(default_factory=list)
    damaged_records: list[str] = field(default_factory=list)


def _blobs_of_flow(storage: Storage, flow: str) -> Iterator[tuple[str, str | None]]:
    """(key, sha) of every object under the flow's blob store; sha None for a stray key."""
    from sfncompile.datastore import layout as ds

    for key in storage.list(f"{flow}/data/"):
        name = key.rsplit("/", 1)[-1]
        try:
            expected = ds.blob_key(flow, name)
        except ValueError:
            expected = ""
        yield key, (name if key == expected else None)


def scan(storage_root: str, flow: str | None, run: str | None, repair: bool) -> Report:
    from sfncompile.datastore import layout as ds
    from sfncompile.datastore.storage import open_storage

    storage = open_storage(storage_root)
    flows = [flow] if flow else [f for f in storage.list_dirs("") if storage.list_dirs(f)]
    if not flows:
        raise UsageError(f"no flows under {storage_root}")
    report = Report()
    for name in flows:
        if not storage.list_dirs(name):
            raise UsageError(f"no flow {name} under {storage_root}")
        targets: Targets
        if run is None:
            targets = {key: (sha, []) for key, sha in _blobs_of_flow(storage, name)}
        else:
            if run not in ds.list_runs(storage, name):
                raise UsageError(f"no run {name}/{run} under {storage_root}")
            targets = _blobs_of_run(storage, name, run, report)
        report.checked += len(targets)
        report.bad.extend(_check_all(storage, name, targets))
    if repair:
        for bad in report.bad:
            storage.delete(bad.key)
    return report


def _blobs_of_run(storage: Storage, flow: str, run: str, report: Report) -> Targets:
    """The blobs the run's committed tasks record, with who uses each."""
    from sfncompile.datastore import layout as ds

    targets: Targets = {}
    for step in ds.list_steps(storage, flow, run):
        for task in ds.list_tasks(storage, flow, run, step):
            try:
                done = ds.read_done(storage, flow, run, step, task)
            except ds.DamagedRecord as exc:
                report.damaged_records.append(str(exc))
                continue
            shas = list(done["artifacts"].items())
            items = done.get("foreach_items")
            if isinstance(items, list):
                shas += [(f"[{i}]", s) for i, s in enumerate(items) if isinstance(s, str)]
            for artifact, sha in shas:
                try:
                    key = ds.blob_key(flow, sha)
                except ValueError:
                    report.damaged_records.append(
                        f"{run}/{step}/{task}: artifact {artifact!r} records {sha!r}, not a sha256")
                    continue
                targets.setdefault(key, (sha, []))[1].append(f"{run}/{step}/{task}:{artifact}")
    return targets


def _check_all(storage: Storage, flow: str, targets: Targets) -> list[BadBlob]:
    from concurrent.futures import ThreadPoolExecutor

    from sfncompile.datastore import layout as ds

    def check(key: str) -> BadBlob | None:
        sha, used_by = targets[key]
        if sha is None:
            reason: str | None = "not a blob: its name is not a sha256"
        else:
            reason = ds.check_blob(storage, flow, sha)
        return None if reason is None else BadBlob(storage.url(key), key, reason, used_by)

    with ThreadPoolExecutor(_CHECKERS) as pool:
        return [bad for bad in pool.map(check, sorted(targets)) if bad is not None]
