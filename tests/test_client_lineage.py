"""The client answers as Metaflow 2.19's does where it used to differ: origins of a run that
is no resume, `obj[id]` of a child that does not exist, a pathspec of the wrong shape, the
steps before or after a step that never ran, and the parents and children of tasks in a loop,
of a switch arm inside a foreach and of tasks a resume reused; and the same answers for a
Step Functions execution, whose graph is in its code package.

One run of one flow (a switch inside a foreach whose second arm is never taken, then a loop
of three passes) is shared by the module, and a failed run of another with its resume; what
each test expects is what Metaflow's client gives for the same flows (tests/test_parity.py
compares the two clients on the corpus).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.conventions.bootstrap import GRAPH_IN_PACKAGE
from sfncompile.datastore.storage import LocalStorage
from sfncompile.exception import MetaflowInvalidPathspec, MetaflowNotFound
from tests.parity.metaflow_env import user_env

pytestmark = pytest.mark.slow

FLOW = textwrap.dedent("""
    from metaflow import FlowSpec, step


    class LineageFlow(FlowSpec):
        @step
        def start(self):
            self.items = [1, 2]
            self.next(self.work, foreach="items")

        @step
        def work(self):
            self.route = "small"
            self.next({"small": self.small, "big": self.big}, condition="route")

        @step
        def small(self):
            self.next(self.join)

        @step
        def big(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.count = 0
            self.next(self.again)

        @step
        def again(self):
            self.count += 1
            self.more = "yes" if self.count < 3 else "no"
            self.next({"yes": self.again, "no": self.end}, condition="more")

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        LineageFlow()
""")


# Item 1 fails in `two` while FAIL_ITEM is set; its resume reuses `start`, both `one` tasks
# and item 0's `two` task.
RESUMED_FLOW = textwrap.dedent("""
    import os

    from metaflow import FlowSpec, step


    class ReusedLineageFlow(FlowSpec):
        @step
        def start(self):
            self.items = [0, 1]
            self.next(self.one, foreach="items")

        @step
        def one(self):
            self.x = self.input
            self.next(self.two)

        @step
        def two(self):
            if self.x == 1 and os.environ.get("FAIL_ITEM"):
                raise ValueError("item 1 fails")
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ReusedLineageFlow()
""")


def sfncompile(tmp: Path, *args: str, env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", *args, "--datastore-root",
                           str(tmp / "datastore"), "--max-workers", "1"], cwd=tmp,
                          env=user_env(env), capture_output=True, text=True, timeout=120,
                          check=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A datastore the client reads, in namespace None."""
    tmp = tmp_path_factory.mktemp("lineage")
    client.set_datastore_root(str(tmp / "datastore"))
    client.namespace(None)
    try:
        yield tmp
    finally:
        client.set_datastore_root(None)
        client.default_namespace()


@pytest.fixture(scope="module")
def run(root: Path) -> client.Run:
    (root / "lineage_flow.py").write_text(FLOW)
    proc = sfncompile(root, "run", "lineage_flow.py")
    assert proc.returncode == 0, proc.stderr
    return client.Run(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def resumed(root: Path) -> client.Run:
    (root / "resumed_flow.py").write_text(RESUMED_FLOW)
    failed = sfncompile(root, "run", "resumed_flow.py", env={"FAIL_ITEM": "1"})
    assert failed.returncode == 1, failed.stderr
    proc = sfncompile(root, "resume", failed.stdout.strip().splitlines()[-1])
    assert proc.returncode == 0, proc.stderr
    return client.Run(proc.stdout.strip().splitlines()[-1])


def paths(tasks: Iterable[Any]) -> list[str]:
    return sorted(t.pathspec for t in tasks)


def test_a_run_that_is_no_resume_has_the_origin_none(run: client.Run) -> None:
    assert run.origin_pathspec == "LineageFlow/None"
    assert run["start"].origin_pathspec == "LineageFlow/None/start"
    task = run["start"].task
    assert task is not None
    assert task.origin_pathspec is None and task["items"].origin_pathspec is None
    assert client.Flow("LineageFlow").origin_pathspec is None


def test_a_child_that_does_not_exist_is_a_plain_key_error(run: client.Run) -> None:
    step = run["start"]
    assert step.task is not None
    for parent, child in ((client.Flow("LineageFlow"), "nope"), (run, "nostep"),
                          (step, "999"), (step.task, "noart")):
        with pytest.raises(KeyError) as caught:
            parent[child]
        assert type(caught.value) is KeyError and caught.value.args == (child,)
    with pytest.raises(MetaflowNotFound, match=r"Flow\('Nope'\) does not exist"):
        client.Flow("Nope")


def test_a_pathspec_of_the_wrong_shape_is_no_value_error() -> None:
    for make, spec in ((client.Flow, "a/b"), (client.Run, "LineageFlow"),
                       (client.Step, "a/b"), (client.Task, "a/b/c"),
                       (client.DataArtifact, "a/b/c/d")):
        with pytest.raises(MetaflowInvalidPathspec) as caught:
            make(spec)
        assert not isinstance(caught.value, ValueError), make


def test_steps_that_never_ran_raise_as_in_metaflow(run: client.Run) -> None:
    with pytest.raises(MetaflowNotFound, match=rf"Step\('{run.pathspec}/big'\) does not exist"):
        list(run["work"].child_steps)
    with pytest.raises(MetaflowNotFound, match=rf"Step\('{run.pathspec}/big'\) does not exist"):
        list(run["join"].parent_steps)
    assert [s.id for s in run["again"].child_steps] == ["again", "end"]
    assert list(run["start"].parent_steps) == [] and list(run["end"].child_steps) == []


def test_every_pass_of_a_loop_is_a_parent_and_a_child(run: client.Run) -> None:
    passes = paths(run["again"])
    assert len(passes) == 3
    join, end = run["join"].task, run["end"].task
    assert join is not None and end is not None
    assert paths(join.child_tasks) == passes
    for task in run["again"]:
        assert paths(task.parent_tasks) == sorted([join.pathspec, *passes])
        assert paths(task.child_tasks) == sorted([*passes, end.pathspec])
    assert paths(end.parent_tasks) == passes


def test_a_switch_arm_in_a_foreach_finds_no_child(run: client.Run) -> None:
    """The join after the arms has two steps before it, so Metaflow looks for a join task at
    the arm's own foreach path, where there is none."""
    for task in run["small"]:
        assert list(task.child_tasks) == [] and list(task.child_task_pathspecs) == []
    join = run["join"].task
    assert join is not None and paths(join.parent_tasks) == paths(run["small"])
    for task in run["work"]:
        assert [(c.parent.id, c.index) for c in task.child_tasks] == [("small", task.index)]


def test_a_reused_task_has_no_foreach_path_to_match(resumed: client.Run) -> None:
    """Metaflow's resume records no foreach path for a task it reuses, so its client finds
    such a task only where any path will do: the reused `two` of item 0 is no child of its
    `one` (itself reused), and item 1's new `two` has no parent (its `one` was reused)."""
    two = {t.index: t for t in resumed["two"]}
    assert two[0].origin_pathspec is not None and two[1].origin_pathspec is None
    assert all(t.origin_pathspec is not None for t in resumed["one"])
    children = {t.index: paths(t.child_tasks) for t in resumed["one"]}
    assert children == {0: [], 1: [two[1].pathspec]}
    assert list(two[0].parent_tasks) == [] and list(two[1].parent_tasks) == []
    join = resumed["join"].task
    assert join is not None and paths(join.parent_tasks) == paths(two.values())
    start = resumed["start"].task
    assert start is not None and paths(start.child_tasks) == paths(resumed["one"])


def as_execution(run: client.Run, dest: Path, package: bool) -> None:
    """A copy of the run as a Step Functions execution records it: no graph in its record
    and, with `package`, every task naming the code package it ran, which holds the graph."""
    flow, run_id = run.pathspec.split("/")
    src = Path(client.datastore_root()) / flow / run_id
    shutil.copytree(src, dest / flow / run_id)
    record_file = dest / flow / run_id / "_run.json"
    record = json.loads(record_file.read_text())
    graph = record.pop("graph")
    record_file.write_text(json.dumps({**record, "runner": "step-functions"}))
    if not package:
        return
    blob = io.BytesIO()
    with tarfile.open(fileobj=blob, mode="w:gz") as tar:
        for name, data in ((GRAPH_IN_PACKAGE, json.dumps(graph).encode()),
                           (graph["source"], FLOW.encode())):
            member = tarfile.TarInfo(name)
            member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    sha = hashlib.sha256(blob.getvalue()).hexdigest()
    key = f"{flow}/code/{sha}.tar.gz"
    (dest / key).parent.mkdir(parents=True)
    (dest / key).write_bytes(blob.getvalue())
    recorded = {"location": LocalStorage(dest).url(key), "sha": sha}
    for meta_file in (dest / flow / run_id).rglob("meta.json"):
        meta = json.loads(meta_file.read_text())
        meta_file.write_text(json.dumps({**meta, "code_package": recorded}))


def lineage(root: Path, pathspec: str) -> dict[str, Any]:
    """Each step's parent and child steps (or the error) and each task's parents and
    children, as the client reads the run from `root`."""
    def names(step: client.Step, which: str) -> Any:
        try:
            return [s.id for s in getattr(step, which)]
        except MetaflowNotFound:
            return "MetaflowNotFound"

    before = client.datastore_root()
    client.set_datastore_root(str(root))
    try:
        out: dict[str, Any] = {}
        for step in client.Run(pathspec):
            out[step.id] = [names(step, "parent_steps"), names(step, "child_steps")]
            out.update({t.pathspec: [paths(t.parent_tasks), paths(t.child_tasks)] for t in step})
        return out
    finally:
        client.set_datastore_root(before)


def test_an_execution_has_the_lineage_of_a_local_run(run: client.Run, tmp_path: Path) -> None:
    """Read by Metaflow's rules from the graph in the execution's code package, not from the
    parents each task recorded (which name only a loop's previous pass, and the switch arm's
    join at the top level)."""
    local = lineage(Path(client.datastore_root()), run.pathspec)
    as_execution(run, tmp_path / "with", package=True)
    as_execution(run, tmp_path / "without", package=False)
    assert lineage(tmp_path / "with", run.pathspec) == local
    assert lineage(tmp_path / "without", run.pathspec) != local
    package = client.Run(run.pathspec, LocalStorage(tmp_path / "with"))["start"].task
    assert package is not None and "code-package" in package.metadata_dict
    assert package.metadata_dict["script-name"] == "lineage_flow.py"


def test_an_executions_code_is_its_package(run: client.Run, tmp_path: Path) -> None:
    """`code` is the package the tasks recorded (Metaflow's MetaflowCode), None for a local
    run (as Metaflow's without --package); a package that is damaged, missing or no package
    is an error that says so when `code` is read."""
    assert run.code is None and run["start"].task.code is None  # type: ignore[union-attr]
    as_execution(run, tmp_path / "sound", package=True)
    code = client.Run(run.pathspec, LocalStorage(tmp_path / "sound")).code
    assert code is not None and (code.script_name, code.flowspec) == ("lineage_flow.py", FLOW)
    assert str(code) == "<MetaflowCode: lineage_flow.py>" and code.info["script"] == \
        "lineage_flow.py" and code.info["metaflow_version"].startswith("2.19+sfncompile.")
    with code.extract() as out:
        assert (Path(out) / "lineage_flow.py").read_text() == FLOW
    damages: dict[str, Any] = {
        "damaged: its content does not match the sha256": lambda p: p.write_bytes(
            p.read_bytes()[:-1] + bytes([p.read_bytes()[-1] ^ 1])),
        "is missing": Path.unlink,
    }
    for reason, damage in damages.items():
        dest = tmp_path / reason.split(":")[0].replace(" ", "-")
        as_execution(run, dest, package=True)
        damage(next((dest / run.pathspec.split("/")[0] / "code").iterdir()))
        execution = client.Run(run.pathspec, LocalStorage(dest))
        for reader in (execution, execution["end"].task):
            with pytest.raises(client.CodePackageError, match=f"code package .* {reason}") as err:
                reader.code  # type: ignore[union-attr]  # noqa: B018
            shown = err.value.__cause__ or (None if err.value.__suppress_context__
                                            else err.value.__context__)
            assert shown is None  # no traceback from inside tarfile or the storage


def test_a_package_that_is_no_code_package_says_so(run: client.Run, tmp_path: Path) -> None:
    """Bytes that match the recorded sha256 but are not a tar.gz, or a package whose graph
    names no flow file in it, are refused by name, not with tarfile's or json's traceback."""
    as_execution(run, tmp_path, package=True)
    flow = run.pathspec.split("/")[0]
    empty = io.BytesIO()
    with tarfile.open(fileobj=empty, mode="w:gz"):
        pass
    for blob in (b"not a tarball", gzip.compress(b"not a tar either"), empty.getvalue()):
        sha = hashlib.sha256(blob).hexdigest()
        (tmp_path / flow / "code" / f"{sha}.tar.gz").write_bytes(blob)
        recorded = {"location": LocalStorage(tmp_path).url(f"{flow}/code/{sha}.tar.gz"),
                    "sha": sha}
        for meta_file in (tmp_path / run.pathspec).rglob("meta.json"):
            meta = json.loads(meta_file.read_text())
            meta_file.write_text(json.dumps({**meta, "code_package": recorded}))
        with pytest.raises(client.CodePackageError,
                           match=r"is not a code package|names no flow file it holds"):
            client.Run(run.pathspec, LocalStorage(tmp_path)).code  # noqa: B018
