"""Metaflow's API on sfncompile: `metaflow` and `metaflow.X` resolve to sfncompile in its
processes (with or without Metaflow installed, no setting), artifacts come out as Metaflow's
do, `--with`/`--tag`, and `python flow.py` speaks Metaflow's command line.

The expected values were taken from Metaflow 2.19 running the same flows.
"""

from __future__ import annotations

import importlib.util
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.errors import UsageError
from sfncompile.exception import MetaflowExceptionWrapper
from sfncompile.flow import metaflow_alias
from sfncompile.flow.flowspec import TaskDied

# ------------------------------------------------------------------ `metaflow` in a process


def test_metaflow_and_its_submodules_resolve_to_sfncompile() -> None:
    import sfncompile
    import sfncompile.exception

    before = {n for n in sys.modules if n == "metaflow" or n.startswith("metaflow.")}
    with metaflow_alias.resolving():
        import metaflow
        from metaflow import FlowSpec, current, step
        from metaflow.exception import MetaflowNotFound
        from metaflow.metaflow_current import current as current2

        assert FlowSpec is sfncompile.FlowSpec and step is sfncompile.step
        assert current is current2 is sys.modules["sfncompile.flow.current"].current
        assert MetaflowNotFound is sfncompile.exception.MetaflowNotFound
        assert sys.modules["metaflow.exception"] is sfncompile.exception
        # the module keeps its own identity (a reload or find_spec still sees sfncompile's)
        assert sfncompile.exception.__spec__ is not None
        assert sfncompile.exception.__spec__.name == "sfncompile.exception"
        assert "FlowSpec" in metaflow.__all__
        with pytest.raises(ModuleNotFoundError,
                           match=r"No module named 'metaflow\.plugins\.nope': .* does not "):
            importlib.import_module("metaflow.plugins.nope")
        with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
            metaflow.NoSuchName  # noqa: B018
        with metaflow_alias.resolving():  # nested: the outer block still has it after
            pass
        assert metaflow_alias.installed() and sys.modules["metaflow"] is metaflow
    after = {n for n in sys.modules if n == "metaflow" or n.startswith("metaflow.")}
    assert after == before  # the alias was for the duration only
    assert not metaflow_alias.installed()


def test_a_real_metaflow_already_imported_comes_back_after_the_client_reads() -> None:
    real = type(sys)("metaflow")
    sys.modules["metaflow"] = real
    try:
        with metaflow_alias.resolving():
            import metaflow

            assert metaflow is not real
            assert metaflow.FlowSpec.__module__ == "sfncompile.flow.flowspec"
        assert sys.modules["metaflow"] is real
    finally:
        del sys.modules["metaflow"]


def test_the_code_package_carries_what_flows_reach_as_metaflow_x() -> None:
    from sfncompile.deploy import package

    names = set(package._runtime_files())
    assert {"sfncompile/exception.py", "sfncompile/flow/current.py", "sfncompile/flow/cards.py",
            "sfncompile/flow/metaflow_alias.py", "sfncompile/flow/unsupported.py",
            "sfncompile/flow/step_helpers.py", "sfncompile/flow/settings.py",
            "sfncompile/client/core.py"} <= names


def test_catch_wrapper_is_metaflows() -> None:
    try:
        raise KeyError("k")
    except KeyError as exc:
        wrapped = MetaflowExceptionWrapper(exc)
    back = pickle.loads(pickle.dumps(wrapped))
    assert (back.exception, back.type) == ("'k'", "builtins.KeyError")
    assert back.stacktrace.startswith("Traceback") and "KeyError: 'k'" in back.stacktrace
    assert str(back) == repr(back) == back.stacktrace
    outside = MetaflowExceptionWrapper(ValueError("v"))  # no exception being handled
    assert str(outside) == "[no stacktrace]\nbuiltins.ValueError: v"
    died = pickle.loads(pickle.dumps(TaskDied("the task process exited with 3", "oom")))
    assert isinstance(died, MetaflowExceptionWrapper)
    assert (died.error, died.cause, died.stacktrace) == ("the task process exited with 3",
                                                         "oom", None)
    assert died.exception == "the task process exited with 3: oom"


# ------------------------------------------------------------------ --with


def test_with_parses_metaflows_spelling_and_the_source_wins(tmp_path: Path) -> None:
    from sfncompile.parser import parse_flow
    from sfncompile.parser.with_decorators import apply_with, parse_decospec

    assert parse_decospec("retry") == ("retry", {})
    assert parse_decospec("retry:times=2,minutes_between_retries=0") == (
        "retry", {"times": 2, "minutes_between_retries": 0})
    assert parse_decospec('environment:vars={"A": "x,y", "B": "2"}') == (
        "environment", {"vars": {"A": "x,y", "B": "2"}})
    assert parse_decospec("catch:var=oops") == ("catch", {"var": "oops"})
    for bad, message in [("nope", "unknown step decorator 'nope'"),
                         ("retry:tries=2", "unknown argument 'tries' of @retry"),
                         ("retry:times=x", "'times' of @retry must be an int"),
                         ("retry:times", "expected retry:NAME=VALUE")]:
        with pytest.raises(UsageError, match=message):
            parse_decospec(bad)

    flow_file = tmp_path / "flow.py"
    flow_file.write_text(textwrap.dedent("""
        from sfncompile import FlowSpec, resources, retry, step

        class WithFlow(FlowSpec):
            @retry(times=5)
            @resources(cpu=8, memory=1024)
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """))
    flow = apply_with(parse_flow(flow_file), ["retry:times=1", "batch:cpu=2,memory=4096",
                                              "timeout:seconds=30"])
    start, end = flow.step("start").policies, flow.step("end").policies
    assert start.retry is not None and start.retry.times == 5  # the source's own @retry
    assert end.retry is not None and end.retry.times == 1
    assert (start.resources.cpu, start.resources.memory) == (8, 4096)  # the larger of each
    assert (end.resources.cpu, end.resources.memory) == (2, 4096)
    assert start.timeout_seconds == end.timeout_seconds == 30


# ------------------------------------------------------------------ artifacts, for real

FLOW = """
    import os

    from metaflow import FlowSpec, Parameter, catch, current, step
    from metaflow.exception import MetaflowException
    from metaflow.metaflow_current import current as current_too


    def failure(call):
        try:
            call()
        except Exception as exc:
            return (type(exc).__name__, str(exc), getattr(exc, "artifact_names", None))
        return None


    class CompatFlow(FlowSpec):
        greeting = Parameter("greeting", default="hello")
        LIMIT = 3
        NAMES = ["a", "b"]

        @step
        def start(self):
            assert current_too is current
            self._secret = "s"
            self.helper = lambda v: v  # a function is never an artifact (nor pickled)
            self.input_outside = self.input
            self.index_outside = self.index
            self.who = (current.username, current.namespace)
            self.tags = sorted(current.tags)
            self.parameter_names = current.parameter_names
            self.assign_param = failure(lambda: setattr(self, "greeting", "x"))
            self.assign_constant = failure(lambda: setattr(self, "LIMIT", 4))
            self.merge_outside = failure(lambda: self.merge_artifacts([]))
            self.next(self.a, self.b)

        @catch(var="err")
        @step
        def a(self):
            self.x = 1
            self.same = "s"
            raise ValueError("boom")
            self.next(self.join)

        @step
        def b(self):
            if current.retry_count == 0:  # only --with retry gets past this
                raise RuntimeError("first attempt fails")
            self.x = 2
            self.same = "s"
            self.secret_in_b = self._secret
            self.next(self.join)

        @step
        def join(self, inputs):
            self.both = failure(lambda: self.merge_artifacts(inputs, include=["x"],
                                                             exclude=["y"]))
            self.conflict = failure(lambda: self.merge_artifacts(inputs))
            self.missing = failure(lambda: self.merge_artifacts(inputs, include=["nope"]))
            self.limit_in_join = self.LIMIT
            self.merge_artifacts(inputs, ["x"])  # positional: exclude, as in Metaflow
            self.has_x = hasattr(self, "x")
            self.err_fields = (self.err.exception, self.err.type,
                               "ValueError: boom" in self.err.stacktrace)
            self.next(self.end)

        @step
        def end(self):
            self.secret_in_end = self._secret
            self.greeting_in_end = self.greeting
"""


def _fake_metaflow(directory: Path) -> str:
    """A `metaflow` package that must never be imported: as if Metaflow were installed."""
    package = directory / "fake" / "metaflow"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text('raise ImportError("the real metaflow was imported")\n')
    (package / "exception.py").write_text('raise ImportError("the real metaflow.exception")\n')
    return str(package.parent)


def _env(*paths: str) -> dict[str, str]:
    env = dict(os.environ, USER="ada", METAFLOW_USER="", SUDO_USER="", USERNAME="")
    env.pop("SFNCOMPILE_METAFLOW_SHIM", None)
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    return env


@pytest.fixture(scope="module")
def compat_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    tmp = tmp_path_factory.mktemp("compat")
    flow_file = tmp / "compat_flow.py"
    flow_file.write_text(textwrap.dedent(FLOW).lstrip())
    root = str(tmp / "store")
    proc = subprocess.run(
        [sys.executable, "-m", "sfncompile", "run", str(flow_file), "--datastore-root", root,
         "--max-workers", "2", "--param", "greeting=hi", "--tag", "t2", "--tag", "t1",
         "--with", "retry:times=1,minutes_between_retries=0"],
        capture_output=True, text=True, env=_env(_fake_metaflow(tmp)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return root, proc.stdout.strip().splitlines()[-1]


@pytest.fixture()
def compat_data(compat_run: tuple[str, str]) -> Any:
    root, pathspec = compat_run
    client.set_datastore_root(root)
    yield client.Run(pathspec)
    client.set_datastore_root(None)


@pytest.mark.slow
def test_metaflow_flow_runs_on_sfncompile_with_metaflow_installed(compat_data: Any) -> None:
    start = compat_data["start"].task
    assert start.data.who == ("ada", "user:ada")
    assert start.data.tags == ["t1", "t2"]
    assert start.data.parameter_names == ["greeting"]
    assert start.data.input_outside is None and start.data.index_outside is None


@pytest.mark.slow
def test_underscore_artifacts_pass_on_but_are_not_listed(compat_data: Any) -> None:
    b, end = compat_data["b"].task, compat_data["end"].task
    assert b.data.secret_in_b == "s" and end.data.secret_in_end == "s"
    assert "_secret" not in end.artifact_names and end.load("_secret") == "s"
    assert "helper" not in compat_data["start"].task.artifact_names


@pytest.mark.slow
def test_constants_and_parameters_are_artifacts_that_steps_cannot_assign(
        compat_data: Any) -> None:
    frozen = ("AttributeError", "Flow level attributes and Parameters are not modifiable", None)
    start, end = compat_data["start"].task, compat_data["end"].task
    assert start.data.assign_param == start.data.assign_constant == frozen
    for task in (start, compat_data["join"].task, end):
        assert (task.data.LIMIT, task.data.NAMES, task.data.greeting) == (3, ["a", "b"], "hi")
    assert compat_data["join"].task.data.limit_in_join == 3
    assert end.data.greeting_in_end == "hi"


@pytest.mark.slow
def test_merge_artifacts_and_catch_as_metaflow(compat_data: Any) -> None:
    join = compat_data["join"].task.data
    assert compat_data["start"].task.data.merge_outside == (
        "MetaflowException",
        "merge_artifacts can only be called in a join and step *start* is not a join", None)
    assert join.both == ("MetaflowException",
                         "`exclude` and `include` are mutually exclusive in merge_artifacts",
                         None)
    assert join.conflict[0] == "UnhandledInMergeArtifactsException"
    assert join.conflict[1].startswith("Step *join* cannot merge the following artifacts "
                                       "due to them having conflicting values:\n[x].")
    assert join.conflict[2] == ["x"]
    assert join.missing[0] == "MissingInMergeArtifactsException"
    assert join.missing[1].startswith("Step *join* specifies that [nope] should be merged but "
                                      "[nope] are not present.")
    assert join.missing[2] == ["nope"]
    assert join.has_x is False and join.same == "s"
    assert join.err_fields == ("boom", "builtins.ValueError", True)
    assert isinstance(join.err, MetaflowExceptionWrapper)


# ------------------------------------------------------------------ python flow.py ...

SCRIPT = """
    import os

    from sfncompile import FlowSpec, Parameter, current, step


    class ScriptFlow(FlowSpec):
        \"\"\"A flow run as a script.\"\"\"

        alpha = Parameter("alpha", default=1)
        learning_rate = Parameter("learning-rate", default=0.5)

        @step
        def start(self):
            \"\"\"Begin.\"\"\"
            self.total = self.alpha + self.learning_rate
            self.next(self.middle)

        @step
        def middle(self):
            if os.environ.get("BREAK") == "1":
                raise RuntimeError("broken on purpose")
            self.tags = sorted(current.tags)
            self.origin = current.origin_run_id
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        ScriptFlow()
"""


def _script(tmp_path: Path) -> Path:
    path = tmp_path / "script_flow.py"
    path.write_text(textwrap.dedent(SCRIPT).lstrip())
    return path


def _py(script: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          cwd=script.parent, env={**_env(), **env}, timeout=120)


@pytest.mark.slow
def test_python_flow_py_run_resume_and_show(tmp_path: Path) -> None:
    script = _script(tmp_path)
    failed = _py(script, "run", "--alpha", "2", "--learning-rate", "0.25", "--tag", "x",
                 "--max-workers", "2", BREAK="1")
    assert failed.returncode == 1, failed.stderr
    assert "broken on purpose" in failed.stderr
    first = failed.stdout.strip().splitlines()[-1]
    resumed = _py(script, "resume", "--tag", "y")  # the latest run, from where it failed
    assert resumed.returncode == 0, resumed.stderr
    client.set_datastore_root(str(tmp_path / ".sfncompile"))
    try:
        run = client.Run(resumed.stdout.strip().splitlines()[-1])
        assert run["start"].task.data.total == 2.25
        assert run["middle"].task.data.origin == first.split("/")[1]
        assert run["middle"].task.data.tags == ["y"]
    finally:
        client.set_datastore_root(None)
    again = _py(script, "resume", "start", "--origin-run-id", first.split("/")[1])
    assert again.returncode == 0, again.stderr
    assert "from step 'start'" in again.stderr

    shown = _py(script, "show")
    assert shown.returncode == 0, shown.stderr
    # As Metaflow: the steps on stdout, the docstring and the blank lines between on stderr.
    assert shown.stdout == ("Step start\n    Begin.\n    => middle\nStep middle\n    ?\n"
                            "    => end\nStep end\n    ?\n")
    assert shown.stderr == "\nA flow run as a script.\n\n\n\n\n"


@pytest.mark.slow
def test_python_flow_py_refuses_bad_input_without_a_traceback(tmp_path: Path) -> None:
    script = _script(tmp_path)
    for args, message in [(["run", "--beta", "1"], "No such option '--beta'"),
                          (["run", "--alpha", "x"], "alpha"),
                          (["--with", "nope", "run"], "unknown step decorator 'nope'"),
                          (["resume"], "no run of ScriptFlow"),
                          (["explode"], "No such command 'explode'")]:
        proc = _py(script, *args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert "error: " in proc.stderr and message in proc.stderr, (args, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_step_functions_commands_map_onto_sfncompiles(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each `python flow.py step-functions ...` becomes the sfncompile command (seen here as
    the argv it hands to sfncompile's CLI; those commands have their own tests on moto)."""
    import sfncompile.cli
    from sfncompile.cli.flow_entry import make_cli

    script = _script(tmp_path)
    spec = importlib.util.spec_from_file_location("script_flow", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls: list[list[str]] = []
    monkeypatch.setattr(sfncompile.cli, "main", lambda argv, **_: calls.append(argv))
    monkeypatch.chdir(tmp_path)
    for args in (["--with", "retry", "step-functions", "create", "--max-workers", "4",
                  "--tag", "nightly", "--resource-tag", "team=ml", "--namespace", "prod",
                  "--workflow-timeout", "600", "--use-distributed-map"],
                 ["step-functions", "trigger", "--alpha", "3"],
                 ["step-functions", "--name", "Custom", "list-runs"],
                 ["step-functions", "delete"],
                 ["graph", "--format", "dot"]):
        make_cli(module.ScriptFlow, script).main(args, standalone_mode=False)
    here = str(script)
    assert calls == [
        ["deploy", here, "--flow", "ScriptFlow", "--max-workers", "4", "--run-tag",
         "nightly", "--tag", "team=ml", "--namespace", "prod", "--workflow-timeout", "600",
         "--use-distributed-map", "--with", "retry"],
        ["trigger", here, "--flow", "ScriptFlow", "--param", "alpha=3"],
        ["status", "Custom"],
        ["delete", "ScriptFlow", "--yes"],
        ["graph", here, "--flow", "ScriptFlow", "--format", "dot"],
    ]
