"""Run inputs and what a running step knows, as Metaflow 2.19 has them.

- `current.task`, `current.run` (client objects that pickle as artifacts), `current.graph`,
  `current.tempdir`, `current.parallel`;
- `self._graph` (Metaflow's FlowGraph shape), compared with Metaflow's own for every golden
  flow (one Metaflow process, no run); `self._current_step` and `self._foreach_stack` are
  compared with Metaflow's runs in the parity corpus (tests/parity/flows/run_inputs.py);
- METAFLOW_RUN_<NAME> (the command line wins, then the variable, then the default),
  METAFLOW_BRANCH and METAFLOW_PRODUCTION under @project;
- `--run-id-file` and `--max-num-splits` on `run` and `resume`, with `sfncompile` and
  `python flow.py`, and Metaflow's top-level options on `python flow.py`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import pytest

from sfncompile import client
from sfncompile.flow.current import Current
from sfncompile.flow.graph import FlowGraph, graph_info
from sfncompile.parser import parse_flow
from tests.conftest import ROOT, golden_dirs
from tests.parity.metaflow_env import metaflow_env, metaflow_python

FLOW = """
    import os

    from sfncompile import FlowSpec, Parameter, current, project, step


    @project(name="inputs")
    class InputsFlow(FlowSpec):
        alpha = Parameter("alpha", required=True, type=int)
        beta = Parameter("beta", default="b")
        my_gamma = Parameter("my-gamma", default="g")

        @step
        def start(self):
            id_file = os.environ.get("ID_FILE")
            self.id_in_file = open(id_file).read() if id_file else None
            self.run_id = current.run_id
            self.task_obj = current.task
            self.run_obj = current.run
            self.task_data = current.task.pathspec
            self.parallel = tuple(current.parallel)
            self.tempdir = current.tempdir
            self.branch = current.branch_name
            self.is_production = current.is_production
            self.graph_next = current.graph["steps"]["start"]["next"]
            self.items = list(range(3))
            self.next(self.body, foreach="items")

        @step
        def body(self):
            self.next(self.join)

        @step
        def join(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        InputsFlow()
"""

# The same flow without @project, for the options that only a @project flow has.
PLAIN = FLOW.replace('    @project(name="inputs")\n', "").replace("InputsFlow", "PlainFlow")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("METAFLOW_", "SFNCOMPILE_"))}
    env.update(USER="ada", PYTHONPATH=os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]), **extra)
    return env


def _proc(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=_env(**env), timeout=120)


def _start(tmp: Path, pathspec: str) -> Any:
    client.set_datastore_root(str(tmp / ".sfncompile"))
    client.namespace(None)
    try:
        run = client.Run(pathspec)
        return run, run["start"].task.data
    finally:
        client.set_datastore_root(None)
        client.default_namespace()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Four runs shared by the tests: `sfncompile run` with the inputs in the environment,
    `python flow.py` with a split over the limit, its resume, and bad inputs."""
    tmp = tmp_path_factory.mktemp("inputs")
    (tmp / "flow.py").write_text(textwrap.dedent(FLOW).lstrip())
    out: dict[str, Any] = {"tmp": tmp}
    out["env"] = _proc(["-m", "sfncompile", "run", "flow.py", "--param", "beta=cli",
                        "--run-id-file", "rid_env", "--max-num-splits", "3"], tmp,
                       METAFLOW_RUN_ALPHA="5", METAFLOW_RUN_BETA="env",
                       METAFLOW_RUN_MY_GAMMA="env-g", METAFLOW_BRANCH="feature_x",
                       METAFLOW_PRODUCTION="True", METAFLOW_TEMPDIR="/scratch",
                       ID_FILE="rid_env")
    out["wide"] = _proc(["flow.py", "--branch", "other", "--quiet", "run", "--alpha", "1",
                         "--run-id-file", "rid_wide", "--max-num-splits", "2"], tmp,
                        ID_FILE="rid_wide")
    out["resume"] = _proc(["flow.py", "--branch", "other", "resume", "--run-id-file",
                           "rid_resume", "--max-num-splits", "3"], tmp)
    return out


@pytest.mark.slow
def test_current_in_a_step(runs: dict[str, Any]) -> None:
    proc = runs["env"]
    assert proc.returncode == 0, proc.stderr
    pathspec = proc.stdout.strip().splitlines()[-1]
    run, start = _start(runs["tmp"], pathspec)
    assert start.task_data == f"{pathspec}/start/0-0"
    # current.task and current.run pickle as artifacts and read back as the client's objects
    assert start.task_obj.pathspec == f"{pathspec}/start/0-0"
    assert start.run_obj.pathspec == pathspec
    assert pickle.loads(pickle.dumps(start.run_obj)).id == run.id
    assert start.parallel == ("127.0.0.1", 1, 0, None)
    assert start.tempdir == "/scratch"
    assert start.graph_next == ["body"]


@pytest.mark.slow
def test_metaflow_run_variables_and_the_project_branch(runs: dict[str, Any]) -> None:
    proc = runs["env"]
    assert proc.returncode == 0, proc.stderr
    run, start = _start(runs["tmp"], proc.stdout.strip().splitlines()[-1])
    # the command line wins, then METAFLOW_RUN_<NAME> (a required one too), then the default
    assert (start.alpha, start.beta, start.my_gamma) == (5, "cli", "env-g")
    assert run.params == {"alpha": "5", "beta": "cli", "my-gamma": "env-g"}  # resume keeps them
    assert (start.branch, start.is_production) == ("prod.feature_x", True)


@pytest.mark.slow
def test_run_id_file_is_written_before_the_run_starts(runs: dict[str, Any]) -> None:
    tmp = runs["tmp"]
    for key, file in (("env", "rid_env"), ("wide", "rid_wide"), ("resume", "rid_resume")):
        run_id = runs[key].stdout.strip().splitlines()[-1].split("/")[1]
        assert (tmp / file).read_text() == run_id, key
    for key in ("env", "wide"):  # the start step read the file the run had written
        _, start = _start(tmp, runs[key].stdout.strip().splitlines()[-1])
        assert start.id_in_file == start.run_id


@pytest.mark.slow
def test_max_num_splits_stops_a_wider_foreach_and_resume_goes_on(
        runs: dict[str, Any]) -> None:
    wide, resumed = runs["wide"], runs["resume"]
    assert wide.returncode == 1
    assert ("Foreach in step *start* yielded 3 child steps which is more than the current "
            "maximum of 2 children. You can raise the maximum with the --max-num-splits "
            "option.") in wide.stderr
    _, start = _start(runs["tmp"], wide.stdout.strip().splitlines()[-1])
    assert start.branch == "test.other"  # python flow.py --branch
    assert resumed.returncode == 0, resumed.stderr
    run, _ = _start(runs["tmp"], resumed.stdout.strip().splitlines()[-1])
    assert len(run["body"].tasks()) == 3


@pytest.mark.slow
def test_bad_project_variables_are_refused_before_the_run(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW).lstrip())
    for env, message in [({"METAFLOW_BRANCH": "Bad-Name"}, "METAFLOW_BRANCH: "),
                         ({"METAFLOW_PRODUCTION": "maybe"},
                          "METAFLOW_PRODUCTION='maybe': expected true or false")]:
        proc = _proc(["-m", "sfncompile", "run", "flow.py", "--param", "alpha=1"], tmp_path,
                     **env)
        assert proc.returncode == 2, proc.stderr
        assert "error: " in proc.stderr and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / ".sfncompile" / "InputsFlow").exists()


BRANCH_FLOW = """
    import os

    from sfncompile import FlowSpec, current, project, step

    os.environ["METAFLOW_BRANCH"] = "from_module"  # as Metaflow's own tests set it


    @project(name="inputs")
    class BranchFlow(FlowSpec):
        @step
        def start(self):
            self.branch = current.branch_name
            self.next(self.end)

        @step
        def end(self):
            pass
"""


@pytest.mark.slow
def test_the_run_is_tagged_with_the_branch_the_module_code_sets(tmp_path: Path) -> None:
    """As Metaflow's process that tags the run runs the module code: the run's
    `project_branch:` is the branch its tasks report, here with every task in a fresh
    interpreter (the parity corpus's `run_inputs` compares the tags of a run whose tasks are
    forked from the fork server with Metaflow's)."""
    (tmp_path / "flow.py").write_text(textwrap.dedent(BRANCH_FLOW).lstrip())
    proc = _proc(["-m", "sfncompile", "run", "flow.py"], tmp_path,
                 METAFLOW_BRANCH="from_shell", SFNCOMPILE_FRESH_INTERPRETER="1")
    assert proc.returncode == 0, proc.stderr
    run, start = _start(tmp_path, proc.stdout.strip().splitlines()[-1])
    assert start.branch == "test.from_module"
    assert {"project:inputs", "project_branch:test.from_module"} <= run.system_tags


# ------------------------------------------------------------------ python flow.py options


def _module(path: Path, text: str) -> ModuleType:
    path.write_text(textwrap.dedent(text).lstrip())
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_python_flow_py_takes_metaflows_top_level_options(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every top-level option of Metaflow's `python flow.py` is accepted (seen as the argv
    handed to sfncompile's commands); a value that selects what sfncompile does not have is a
    clear error."""
    import sfncompile.cli
    from sfncompile.cli.flow_entry import make_cli

    for var in ("METAFLOW_BRANCH", "METAFLOW_PRODUCTION", "SFNCOMPILE_DATASTORE_ROOT"):
        # Set, then deleted: monkeypatch records an unset variable only so, and then also
        # undoes what --branch/--production set below (later tests in this worker see none).
        monkeypatch.setenv(var, "")
        monkeypatch.delenv(var)
    calls: list[list[str]] = []
    monkeypatch.setattr(sfncompile.cli, "main", lambda argv, **_: calls.append(argv))
    flow_file = tmp_path / "inputs_flow.py"
    cls = _module(flow_file, FLOW).InputsFlow
    plain = _module(tmp_path / "plain_flow.py", PLAIN).PlainFlow
    top = ["--metadata=local", "--datastore=local", "--environment=conda",
           "--event-logger=nullSidecarLogger", "--monitor=nullSidecarMonitor", "--no-pylint",
           "--quiet", "--package-suffixes=.py,.csv", "--force-rebuild-environments",
           "--with", "retry", "--datastore-root", "store", "--branch", "b1", "--production"]
    make_cli(cls, flow_file).main([*top, "run", "--max-workers=50", "--max-num-splits=10000",
                                   "--tag=x", "--run-id-file", "rid", "--alpha", "1"],
                                  standalone_mode=False)
    make_cli(cls, flow_file).main(["--datastore=s3", "--datastore-root=s3://b/p", "resume",
                                   "--origin-run-id", "R1", "--run-id-file", "rid"],
                                  standalone_mode=False)
    assert calls == [
        ["run", str(flow_file), "--flow", "InputsFlow", "--param", "alpha=1", "--tag", "x",
         "--max-workers", "50", "--run-id-file", "rid", "--max-num-splits", "10000",
         "--with", "retry", "--datastore-root", "store"],
        ["resume", str(flow_file), "--flow", "InputsFlow", "--run-id-file", "rid",
         "--origin-run-id", "R1", "--datastore-root", "s3://b/p"],
    ]
    # --branch/--production reach the run's tasks and deploy through Metaflow's variables
    assert (os.environ["METAFLOW_BRANCH"], os.environ["METAFLOW_PRODUCTION"]) == ("b1", "true")
    for flow, args, message in [
            (cls, ["--metadata=service"], "sfncompile has no metadata service"),
            (cls, ["--datastore=azure"], "sfncompile keeps runs on local disk or in S3"),
            (cls, ["--datastore=s3"], "--datastore=s3: give the bucket as --datastore-root"),
            (cls, ["--datastore=local", "--datastore-root=s3://b/p"], "is on S3"),
            (cls, ["--mode=spin"], "sfncompile has no spin mode"),
            (cls, ["--environment=nope"], "'nope' is not one of"),
            (plain, ["--branch", "b"], "flow PlainFlow has no @project")]:
        with pytest.raises(click.UsageError, match=message):
            make_cli(flow, flow_file).main([*args, "show"], standalone_mode=False)


def test_deploy_takes_the_branch_from_metaflows_variables(tmp_path: Path) -> None:
    """`deploy`, `trigger` and `status` name the deployment as Metaflow's --branch and
    --production would, from METAFLOW_BRANCH/METAFLOW_PRODUCTION when not given."""
    from sfncompile.deploy.projects import resolve_project
    from sfncompile.errors import UsageError

    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW).lstrip())
    (tmp_path / "plain.py").write_text(textwrap.dedent(PLAIN).lstrip())
    flow, plain = parse_flow(tmp_path / "flow.py", None), parse_flow(tmp_path / "plain.py", None)
    user = {"USER": "ada"}

    def branch(given: str | None = None, production: bool = False, **env: str) -> Any:
        project = resolve_project(flow, given, production, {**user, **env})
        return project and (project["branch_name"], project["is_production"])

    assert branch() == ("user.ada", False)
    assert branch(METAFLOW_BRANCH="nightly") == ("test.nightly", False)
    assert branch(METAFLOW_BRANCH="nightly", METAFLOW_PRODUCTION="True") == ("prod.nightly", True)
    assert branch("mine", METAFLOW_BRANCH="nightly") == ("test.mine", False)  # the option wins
    assert branch(METAFLOW_PRODUCTION="false") == ("user.ada", False)
    assert resolve_project(plain, None, False, {**user, "METAFLOW_BRANCH": "x"}) is None
    for env, message in [({"METAFLOW_BRANCH": "No-Dashes"}, "METAFLOW_BRANCH: "),
                         ({"METAFLOW_PRODUCTION": "perhaps"}, "expected true or false")]:
        with pytest.raises(UsageError, match=message):
            branch(**env)


# ------------------------------------------------------------------ outside a step


def test_current_outside_a_step(monkeypatch: pytest.MonkeyPatch) -> None:
    fresh = Current()
    with pytest.raises(RuntimeError, match="Graph is not available"):  # Metaflow's words
        fresh.graph  # noqa: B018
    assert fresh.task is None and fresh.run is None and fresh.pathspec is None
    monkeypatch.delenv("METAFLOW_TEMPDIR", raising=False)
    assert fresh.tempdir == "."
    assert fresh.parallel.num_nodes == 1 and fresh.parallel.node_index == 0


# ------------------------------------------------------------------ against Metaflow's graph

METAFLOW_GRAPHS = """
import importlib.util, json, sys
from metaflow import FlowSpec
from metaflow.graph import FlowGraph

out = {}
for name, path in json.loads(sys.argv[1]).items():
    sys.path.insert(0, path.rpartition("/")[0])  # the modules beside the flow
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    cls = [c for c in vars(module).values() if isinstance(c, type) and
           issubclass(c, FlowSpec) and c.__module__ == name][-1]
    graph = FlowGraph(cls)
    steps, structure = graph.output_steps()
    out[name] = {"nodes": {n.name: [n.type, list(n.in_funcs), n.out_funcs, n.matching_join,
                                    n.split_parents, n.is_inside_foreach, n.num_args,
                                    n.func_lineno, n.doc] for n in graph},
                 "order": [n.name for n in graph], "structure": structure,
                 "steps": {k: {f: v for f, v in s.items()
                               if f not in ("decorators", "source_file")}
                           for k, s in steps.items()}}
print(json.dumps(out))
"""


# A step's decorators carry Metaflow's defaults there (only what is written here), and each
# tool reads its own copy of the file.
_NOT_COMPARED = ("decorators", "source_file")


def _ours(flow_file: Path) -> dict[str, Any]:
    flow = parse_flow(flow_file, None)
    spec = importlib.util.spec_from_file_location(f"ours_{flow_file.parent.name}", flow_file)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    graph = FlowGraph(flow.graph_json(), getattr(module, flow.name))
    steps, structure = graph.output_steps()
    info = graph_info(graph, flow.graph_json(), getattr(module, flow.name), {})
    assert info["steps"] == steps and info["graph_structure"] == structure
    return {"nodes": {n.name: [n.type, n.in_funcs, n.out_funcs, n.matching_join,
                               n.split_parents, n.is_inside_foreach, n.num_args,
                               n.func_lineno, n.doc] for n in graph},
            "order": [n.name for n in graph], "structure": structure,
            "steps": {k: {f: v for f, v in s.items() if f not in _NOT_COMPARED}
                      for k, s in steps.items()}}


@pytest.mark.slow
def test_the_graph_is_metaflows_for_every_golden_shape(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`self._graph` and `current.graph` against Metaflow's FlowGraph of the same class, for
    each golden flow that Metaflow can import (one Metaflow process, no run)."""
    files, originals = {}, {}
    for directory in golden_dirs():
        if "foreach_options" in (directory / "flow.py").read_text():  # sfncompile's own
            continue
        copy = tmp_path / directory.name  # the same lines, with Metaflow's imports
        copy.mkdir()
        for module in directory.glob("*.py"):
            text = module.read_text().replace("from sfncompile import", "from metaflow import")
            (copy / module.name).write_text(text)
        name = f"golden_{directory.name}"
        files[name], originals[name] = str(copy / "flow.py"), directory / "flow.py"
    assert len(files) >= 15
    proc = subprocess.run([metaflow_python(), "-c", METAFLOW_GRAPHS, json.dumps(files)],
                          capture_output=True, text=True, timeout=300,
                          env=metaflow_env(tmp_path / "metaflow"))
    assert proc.returncode == 0, proc.stderr
    theirs = json.loads(proc.stdout)
    for name, original in originals.items():
        monkeypatch.syspath_prepend(str(original.parent))
        assert _ours(original) == theirs[name], name
