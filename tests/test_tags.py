"""Run tags and namespaces with Metaflow 2.19's rules: `Run.add_tag` & co. (client/tags.py),
system tags, `Flow.runs(*tags)`, `namespace()`, and the `tag` commands.

Most tests read and change runs whose records are written straight into a datastore (local,
or S3 on moto). One real run of a @project flow (`sfncompile run`, shared by a module
fixture) changes its own tags from a step; one Metaflow run of the same flow checks that the
same tag changes give the same tags and errors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfncompile import client
from sfncompile.cli import main
from sfncompile.datastore import layout as ds
from sfncompile.datastore.storage import KeyNotFound, LocalStorage, Storage, open_storage
from sfncompile.exception import MetaflowNamespaceMismatch, MetaflowNotFound, MetaflowTaggingError
from sfncompile.flow.current import version_tag
from tests.parity.metaflow_env import USER, metaflow_env, metaflow_python, user_env

ROOT_DIR = Path(__file__).resolve().parent.parent
SYSTEM = ["python_version:3.11.7", "runtime:dev", "user:alice"]


@pytest.fixture(autouse=True)
def _client_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test reads as alice, from the root it sets, and leaves the client as it was."""
    for var in ("METAFLOW_USER", "SUDO_USER", "USERNAME", "METAFLOW_PRODUCTION_TOKEN",
                "METAFLOW_BRANCH", "METAFLOW_PRODUCTION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("USER", "alice")
    client.default_namespace()
    yield
    client.set_datastore_root(None)
    monkeypatch.undo()
    client.default_namespace()


def _record(storage: Storage, run: str, tags: list[str], system: list[str] | None = None,
            flow: str = "TagFlow", started: float = 1.0) -> str:
    """A run record as the local runner writes it."""
    ds.write_run_meta(storage, flow, run, {
        "flow": flow, "run": run, "status": "succeeded", "started": started, "runner": "local",
        "tags": tags, "system_tags": SYSTEM if system is None else system})
    return f"{flow}/{run}"


@pytest.fixture
def root(tmp_path: Path) -> str:
    path = str(tmp_path / "root")
    client.set_datastore_root(path)
    return path


# ------------------------------------------------------------------------ mutation rules


def test_add_remove_replace_follow_metaflows_rules(root: str) -> None:
    """The sequence of Metaflow's test/core/tests/tag_mutation.py."""
    run = client.Run(_record(LocalStorage(root), "1", ["started"]))
    assert run.user_tags == {"started"} and run.system_tags == set(SYSTEM)
    assert run.tags == run.user_tags | run.system_tags
    # a system tag given to add is left alone, the others are added
    run.add_tags(["tag_along", "runtime:dev"])
    assert run.user_tags == {"started", "tag_along"}
    # removing a system tag fails, and removes nothing else either
    with pytest.raises(MetaflowTaggingError, match=r"existing system tag \(\['runtime:dev'\]\)"):
        run.remove_tags(["tag_along", "runtime:dev"])
    assert "tag_along" in run.user_tags
    run.remove_tag("tag_along")
    run.remove_tag("never-there")  # no error
    # replace removes first, then adds
    run.add_tags(["AAA", "BBB"])
    run.replace_tags(["AAA", "BBB"], ["BBB", "CCC"])
    assert run.user_tags == {"started", "BBB", "CCC"}
    run.add_tags(["FeatEng1", "新想法", b"bytes"])  # type: ignore[list-item]
    run.remove_tags(["新想法", "FeatEng1", "BBB", "CCC"])
    assert run.user_tags == {"started", "bytes"}
    # Metaflow's older forms: a list where one tag goes
    run.add_tag(["whoop", "eee"])  # type: ignore[arg-type]
    run.replace_tag(["whoop", "eee"], ["woo", "hoo"])  # type: ignore[arg-type]
    run.remove_tag(["woo", "hoo"])  # type: ignore[arg-type]
    run.add_tags("one")  # a string alone is one tag
    assert run.user_tags == {"started", "bytes", "one"}
    assert client.Run(run.pathspec).user_tags == run.user_tags  # as stored


@pytest.mark.parametrize(("call", "message"), [
    (lambda r: r.add_tag(""), "Tags must not be empty string"),
    (lambda r: r.add_tag("a" * 501), "Tag is too long 501 > 500"),
    (lambda r: r.add_tag(b"\xff\xfe"), "Tags must be UTF-8 decodable"),
    (lambda r: r.add_tag("\udcff"), "Tags must be UTF-8 encodable"),
    (lambda r: r.add_tags([4]), "Tags must be some kind of string"),
    (lambda r: r.remove_tag(4), "tags_to_remove must be iterable"),
    (lambda r: r.remove_tags("abc"), "tags_to_remove may not be a string"),
    (lambda r: r.replace_tags([], []), "Must add or remove at least one tag"),
    (lambda r: r.add_tags([f"t{i}" for i in range(50)]), "Cannot increase size of tag set "
                                                          "beyond 50"),
])
def test_bad_changes_raise_metaflows_errors_and_change_nothing(root: str, call: Any,
                                                               message: str) -> None:
    run = client.Run(_record(LocalStorage(root), "1", ["keep"]))
    with pytest.raises(MetaflowTaggingError, match=message.replace("(", r"\(")):
        call(run)
    assert run.user_tags == {"keep"}
    assert not LocalStorage(root).exists(ds.run_tags_key("TagFlow", "1"))


def test_a_set_over_the_limit_may_shrink_but_not_grow(root: str) -> None:
    run = client.Run(_record(LocalStorage(root), "1", [f"t{i}" for i in range(60)]))
    run.remove_tag("t0")
    assert len(run.user_tags) == 59
    with pytest.raises(MetaflowTaggingError, match="beyond 50"):
        run.replace_tags(["t1"], ["x", "y"])


def test_a_run_with_no_record_cannot_be_tagged(root: str) -> None:
    with pytest.raises(MetaflowNotFound, match=r"Run\('TagFlow/9'\) does not exist"):
        client.Run("TagFlow/9").add_tag("x")


# ------------------------------------------------------------------------ where tags live


def test_changes_persist_beside_the_record_which_keeps_the_starting_tags(root: str) -> None:
    storage = LocalStorage(root)
    pathspec = _record(storage, "1", ["from-run"])
    record = storage.get_bytes(ds.run_meta_key("TagFlow", "1"))
    code = (f"from sfncompile import client; client.set_datastore_root({root!r}); "
            f"client.Run({pathspec!r}).replace_tag('from-run', 'from-process')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "USER": "alice", "PYTHONPATH": str(ROOT_DIR)})
    assert proc.returncode == 0, proc.stderr
    assert client.Run(pathspec).user_tags == {"from-process"}
    assert storage.get_bytes(ds.run_meta_key("TagFlow", "1")) == record  # never rewritten
    # the runner rewriting its record (status, finish) does not undo the change
    _record(storage, "1", ["from-run"])
    assert client.Run(pathspec).user_tags == {"from-process"}
    assert json.loads(storage.get_bytes(ds.run_tags_key("TagFlow", "1"))) == {
        "tags": ["from-process"]}


def test_a_damaged_tags_file_is_named(root: str) -> None:
    storage = LocalStorage(root)
    pathspec = _record(storage, "1", ["x"])
    storage.put_bytes(ds.run_tags_key("TagFlow", "1"), b'{"tags": "x"}')
    with pytest.raises(ds.DamagedRecord, match=r"_tags\.json is damaged"):
        client.Run(pathspec).user_tags  # noqa: B018
    client.namespace("x")  # a user tag: the listing must read the file, and skips the run
    with pytest.warns(client.DamagedRunWarning, match=r"_tags\.json"), \
            pytest.raises(client.MetaflowNamespaceMismatch):  # no (readable) run is in it
        client.Flow("TagFlow")


@pytest.fixture(params=["local", "s3"])
def any_root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "local":
        return str(tmp_path / "root")
    return f"s3://{request.getfixturevalue('s3_bucket')}/some/prefix"


def test_put_if_is_a_compare_and_swap(any_root: str) -> None:
    storage = open_storage(any_root)
    assert storage.put_if("a/k.json", b"1", None)
    assert not storage.put_if("a/k.json", b"2", None)  # it exists now
    data, version = storage.get_versioned("a/k.json")
    assert data == b"1"
    assert storage.put_if("a/k.json", b"3", version)
    assert not storage.put_if("a/k.json", b"4", version)  # stale
    assert storage.get_bytes("a/k.json") == b"3"
    with pytest.raises(KeyNotFound):
        storage.get_versioned("a/nope")


def test_concurrent_changes_are_all_kept(any_root: str) -> None:
    """Eight writers add five tags each at once: every change lands, none is lost."""
    client.set_datastore_root(any_root)
    storage = open_storage(any_root)  # its S3 client made here: threads share it
    pathspec = _record(storage, "1", [])
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        run = client.Run(pathspec, storage)
        start.wait()
        try:
            for i in range(5):
                run.add_tag(f"w{n}-{i}")
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert client.Run(pathspec).user_tags == {f"w{n}-{i}" for n in range(8) for i in range(5)}


# ---------------------------------------------------------------- namespaces and runs(*tags)


def test_namespaces_filter_runs_as_metaflow(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    storage = LocalStorage(root)
    mine = _record(storage, "1", ["shared"], started=1)
    theirs = _record(storage, "2", ["shared", "x"], ["runtime:dev", "user:bob"], started=2)
    untagged = "TagFlow/3"  # a record without system tags (a Step Functions run's)
    ds.write_run_meta(storage, "TagFlow", "3", {"started": 3})
    assert client.get_namespace() == "user:alice"
    assert [r.pathspec for r in client.Flow("TagFlow").runs()] == [untagged, mine]
    with pytest.raises(MetaflowNamespaceMismatch, match="not in namespace 'user:alice'"):
        client.Run(theirs)
    with pytest.raises(client.MetaflowNamespaceMismatch):  # the same class, by both names
        client.Run(theirs)
    assert client.namespace(None) is None and client.get_namespace() is None
    assert [r.id for r in client.Flow("TagFlow").runs()] == ["3", "2", "1"]
    client.namespace("user:bob")
    assert client.Run(theirs).pathspec == theirs
    client.namespace("x")  # a user tag is a namespace too, as changed since
    assert [r.id for r in client.Flow("TagFlow").runs()] == ["3", "2"]
    client.namespace(None)
    client.Run(mine).add_tag("x")
    client.namespace("x")
    assert [r.id for r in client.Flow("TagFlow").runs()] == ["3", "2", "1"]
    monkeypatch.setenv("METAFLOW_PRODUCTION_TOKEN", "tok")
    assert client.default_namespace() == "production:tok"


def test_a_flow_outside_the_namespace_is_a_mismatch(root: str) -> None:
    """Metaflow's Flow(name) is in a namespace when one of its runs is (namespace(None): all);
    a step, a task and an artifact carry their run's tags."""
    storage = LocalStorage(root)
    _record(storage, "1", ["mine"], ["runtime:dev", "user:bob"])
    with pytest.raises(MetaflowNamespaceMismatch, match="no run in namespace 'user:alice'"):
        client.Flow("TagFlow")
    client.namespace("mine")
    assert client.Flow("TagFlow").latest_run.id == "1"  # type: ignore[union-attr]
    client.namespace(None)
    assert client.Flow("TagFlow").id == "TagFlow"
    step = client.Step(client.Run("TagFlow/1"), "start", _exists=True)
    task = client.Task(step, "0", _exists=True)
    assert step.tags == task.tags == {"mine", "runtime:dev", "user:bob"}
    assert (task.user_tags, task.system_tags) == ({"mine"}, {"runtime:dev", "user:bob"})


def test_step_functions_runs_record_system_tags(root: str, tmp_path: Path) -> None:
    """A deployed flow's runs record who deployed, the runtime and the project as system
    tags (Metaflow's step-functions runs' namespaces), so namespaces filter them."""
    from sfncompile.deploy.config import load_config
    from sfncompile.deploy.deployer import parse_schedule, prepare
    from sfncompile.emit.names import INIT
    from sfncompile.parser import parse_source

    flow_file = tmp_path / "flow.py"
    flow_file.write_text(FLOW)
    flow = parse_source(FLOW, str(flow_file))
    config = load_config(tmp_path, {"s3_root": "s3://bkt/p", "job_queue": "q", "image": "img",
                                    "sfn_role": "arn:aws:iam::123456789012:role/r"}, env={})
    target = prepare(flow, flow_file, config, name=None, workdir=tmp_path,
                     schedule=parse_schedule(None, flow, None))
    body = target.definition["States"][INIT]["Parameters"]["Body"]
    assert body["system_tags"] == ["project:tagdemo", "project_branch:user.alice",
                                   "runtime:step-functions", version_tag(), "user:alice"]
    ds.write_run_meta(LocalStorage(root), "TagDemoFlow", "sfn-1",
                      {**{k: v for k, v in body.items() if not k.endswith(".$")},
                       "started": "2026-01-01T00:00:00Z"})
    assert [r.id for r in client.Flow("TagDemoFlow").runs()] == ["sfn-1"]
    client.namespace("user:bob")
    with pytest.raises(MetaflowNamespaceMismatch):
        client.Run("TagDemoFlow/sfn-1")


def test_runs_with_tags_are_those_carrying_all_of_them(root: str) -> None:
    storage = LocalStorage(root)
    _record(storage, "1", ["a", "b"], started=1)
    _record(storage, "2", ["a"], started=2)
    flow = client.Flow("TagFlow")
    assert [r.id for r in flow.runs("a")] == ["2", "1"]
    assert [r.id for r in flow.runs("a", "b")] == ["1"]
    assert [r.id for r in flow.runs("a", "runtime:dev")] == ["2", "1"]  # system tags count
    assert flow.runs("not_a_tag") == [] and flow.runs("not_a_tag", "a") == []
    client.Run("TagFlow/2").add_tag("b")
    assert [r.id for r in flow.runs("a", "b")] == ["2", "1"]


# ------------------------------------------------------------------------ the command line


def _cli(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        f"{type(result.exception).__name__}: {result.exception}"
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize(("args", "code", "message"), [
    (["add", "TagFlow/1", "runtime:dev", "x"], 0, "*x*"),
    (["remove", "TagFlow/1", "runtime:dev"], 2, "existing system tag (['runtime:dev'])"),
    (["add", "TagFlow/1", ""], 2, "Tags must not be empty string"),
    (["add", "TagFlow/9", "x"], 2, "no run TagFlow/9 under"),
    (["add", "TagFlow/2", "x"], 2, "run TagFlow/2 is not in namespace user:alice"),
    (["add", "TagFlow/2", "x", "--namespace", "user:bob"], 0, "*x*"),
    (["add", "TagFlow", "x"], 2, "TagFlow's latest run in namespace user:alice is TagFlow/1"),
    (["add", "Tag-Flow", "x"], 2, "flow name 'Tag-Flow' is not a Python identifier"),
    (["replace", "TagFlow/1", "--add", "y"], 2, "give at least one --remove TAG"),
    (["replace", "TagFlow/1", "--remove", "keep"], 2, "give at least one --add TAG"),
    (["replace", "TagFlow/1", "--remove", "keep", "--add", "y"], 0, "*y*"),
    (["list", "TagFlow", "--flat", "--group-by-tag"], 2, "--flat: not with a --group-by"),
    (["list", "TagFlow", "--group-by-run", "--group-by-tag"], 2, "give one"),
    (["list", "TagFlow/1", "--my-runs"], 2, "--my-runs: only with a flow"),
    (["list", "NoFlow"], 2, "no run of NoFlow under"),
    (["list", "TagFlow", "--my-runs", "--flat", "--hide-system-tags"], 0, "keep\n"),
])
def test_tag_commands(root: str, args: list[str], code: int, message: str) -> None:
    storage = LocalStorage(root)
    _record(storage, "1", ["keep"])
    _record(storage, "2", ["theirs"], ["user:bob"])
    result = _cli("tag", *args, "--datastore-root", root)
    assert result.exit_code == code, result.output
    assert message in result.output


def test_tag_list_marks_user_tags_and_groups(root: str) -> None:
    storage = LocalStorage(root)
    _record(storage, "1", ["a"], started=1)
    _record(storage, "2", ["a", "b"], ["user:bob"], started=2)
    listed = _cli("tag", "list", "TagFlow", "--datastore-root", root).output
    assert listed.splitlines()[:3] == ["System tags and *tags*; only *tags* can be modified",
                                       "", "For 2 runs of TagFlow"]
    assert "    *a*\n    *b*\n    python_version:3.11.7\n" in listed
    by_tag = _cli("tag", "list", "TagFlow", "--group-by-tag", "--datastore-root", root).output
    assert "For tag *a*\n    TagFlow/1\n    TagFlow/2\n" in by_tag
    assert "For tag user:bob\n    TagFlow/2\n" in by_tag
    by_run = _cli("tag", "list", "TagFlow", "--group-by-run", "--hide-system-tags",
                  "--datastore-root", root).output
    assert "For run TagFlow/1\n    *a*\n\nFor run TagFlow/2\n    *a*\n    *b*\n" in by_run


# ---------------------------------------------------------------- a real run, and Metaflow's

FLOW = '''
from metaflow import FlowSpec, Run, current, project, step


@project(name="tagdemo")
class TagDemoFlow(FlowSpec):
    @step
    def start(self):
        # Metaflow's tag_mutation test: a step changes its own run's tags.
        run = Run(f"{current.flow_name}/{current.run_id}")
        seen = []
        for tag in ("0", "1"):
            run.add_tag(tag)
            seen.append(tag in run.user_tags)
            run.remove_tag(tag)
            seen.append(tag in run.user_tags)
        self.seen = seen
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    TagDemoFlow()
'''

# The same tag changes, made by either tool's client; prints what each gave, as JSON.
SEQUENCE = '''
import json, sys
from {package} import Flow, Run, namespace
{setup}
run = Flow("TagDemoFlow").latest_run
out = []

def step(name, change, message=True):
    """What the change gave: the user tags after it (or its own result), or its error."""
    try:
        result = change()
        out.append([name, sorted(run.user_tags) if result is None else result])
    except Exception as exc:
        out.append([name, type(exc).__name__, str(exc) if message else ""])

system = sorted(run.system_tags)
step("add system and user", lambda: run.add_tags(["tag_along", system[0]]))
step("remove a system tag", lambda: run.remove_tags(["tag_along", "runtime:dev"]))
step("replace", lambda: run.replace_tags(["a", "tag_along"], ["b c", "new"]))
step("utf-8", lambda: run.add_tag("新想法"))
step("empty", lambda: run.add_tag(""))
step("long", lambda: run.add_tag("x" * 501))
step("int", lambda: run.remove_tag(4))
step("nothing", lambda: run.replace_tags([], []))
step("too many", lambda: run.add_tags(["t%d" % i for i in range(60)]))
task = run["start"].task
step("step and task tags are the run's", lambda: [
    sorted(run["start"].tags) == sorted(run.tags), sorted(task.tags) == sorted(run.tags),
    sorted(task.user_tags) == sorted(run.user_tags), sorted(task.system_tags) == system,
    sorted(task["seen"].tags) == sorted(run.tags)])
namespace("new")
step("runs(*tags)", lambda: len(list(Flow("TagDemoFlow").runs("new", "b c"))))
step("runs(*missing)", lambda: len(list(Flow("TagDemoFlow").runs("new", "nope"))))
namespace("nobody")
step("outside the namespace", lambda: Run(run.pathspec), message=False)
step("flow outside the namespace", lambda: Flow("TagDemoFlow").id, message=False)
namespace(None)
step("flow in namespace None", lambda: Flow("TagDemoFlow").id)
print(json.dumps({{"steps": out, "user": sorted(run.user_tags), "system": system}}))
'''


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One run of TagDemoFlow through `sfncompile run`, tagged on its command line."""
    base = tmp_path_factory.mktemp("sfn")
    (base / "flow.py").write_text(FLOW)
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "run", "flow.py",
                           "--datastore-root", "root", "--tag", "a", "--tag", "b c"],
                          cwd=base, env=user_env({"PYTHONPATH": str(ROOT_DIR)}),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return base, proc.stdout.strip().splitlines()[-1]


@pytest.mark.slow
def test_a_local_run_records_metaflows_system_tags(real_run: tuple[Path, str]) -> None:
    base, pathspec = real_run
    client.set_datastore_root(str(base / "root"))
    client.namespace(None)
    run = client.Run(pathspec)
    assert run["start"].task.data.seen == [True, False, True, False]  # changed in its step
    assert {"a", "b c"} <= run.user_tags and not {"0", "1"} & run.user_tags
    import platform

    from sfncompile import __version__
    assert run.system_tags == {f"user:{USER}", "runtime:dev", "project:tagdemo",
                               f"project_branch:user.{USER}",
                               f"python_version:{platform.python_version()}",
                               f"sfncompile_version:{__version__}"}
    client.namespace("project:tagdemo")
    assert [r.pathspec for r in client.Flow("TagDemoFlow").runs()] == [pathspec]


@pytest.mark.slow
def test_python_flow_py_tag_speaks_metaflows_options(real_run: tuple[Path, str]) -> None:
    base, pathspec = real_run
    (base / "sflow.py").write_text(FLOW.replace("from metaflow import", "from sfncompile import"))
    run_id = pathspec.split("/")[1]

    def flow_py(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "sflow.py", "--datastore-root", "root", "tag",
                               *args], cwd=base, env=user_env({"PYTHONPATH": str(ROOT_DIR)}),
                              capture_output=True, text=True, timeout=60)

    added = flow_py("add", "--run-id", run_id, "--", "-dash", "cli")
    assert added.returncode == 0, added.stderr
    listed = flow_py("list", run_id, "--flat", "--hide-system-tags")
    assert listed.stdout.split("\n") == ["-dash", "a", "b c", "cli", ""], listed.stderr
    no_id = flow_py("remove", "cli")
    assert no_id.returncode == 2
    assert f"latest run in namespace user:{USER} is {pathspec}" in no_id.stderr
    removed = flow_py("replace", "--run-id", run_id, "--remove", "-dash", "--remove", "cli",
                      "--add", "x")
    assert removed.returncode == 0 and "*x*" in removed.stdout, removed.stderr


@pytest.mark.slow
def test_the_same_changes_give_the_same_tags_as_metaflow(tmp_path: Path) -> None:
    """The flow and the sequence of changes under both tools: the same user tags after each
    change, the same errors, and system tags of the same kinds."""
    (tmp_path / "flow.py").write_text(FLOW)
    home = tmp_path / "mf"
    mf_env = metaflow_env(home)
    mf = subprocess.run([metaflow_python(), "flow.py", "--quiet", "--no-pylint", "--datastore",
                         "local", "--metadata", "local", "run", "--tag", "a", "--tag", "b c"],
                        cwd=tmp_path, env=mf_env, capture_output=True, text=True, timeout=300)
    assert mf.returncode == 0, mf.stderr
    sfn_env = user_env({"PYTHONPATH": str(ROOT_DIR)})
    ours = subprocess.run([sys.executable, "-m", "sfncompile", "run", "flow.py",
                           "--datastore-root", "root", "--tag", "a", "--tag", "b c"],
                          cwd=tmp_path, env=sfn_env, capture_output=True, text=True, timeout=120)
    assert ours.returncode == 0, ours.stderr

    def sequence(python: str, package: str, setup: str, env: dict[str, str]) -> Any:
        code = textwrap.dedent(SEQUENCE.format(package=package, setup=setup))
        proc = subprocess.run([python, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout.splitlines()[-1])

    theirs = sequence(metaflow_python(), "metaflow", "", mf_env)
    mine = sequence(sys.executable, "sfncompile",
                    "from sfncompile import client; client.set_datastore_root('root')", sfn_env)
    assert mine["steps"] == theirs["steps"]
    assert mine["user"] == theirs["user"] == ["b c", "new", "新想法"]

    def kinds(tags: list[str]) -> dict[str, str]:
        return {t.split(":", 1)[0]: t.split(":", 1)[1] for t in tags}

    theirs_system, mine_system = kinds(theirs["system"]), kinds(mine["system"])
    assert theirs_system.pop("metaflow_version") and mine_system.pop("sfncompile_version")
    assert mine_system == theirs_system  # user, runtime, python_version, project, branch
