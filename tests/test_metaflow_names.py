"""Every name of Metaflow 2.19's `metaflow` imports under sfncompile: those it provides work,
the others are placeholders refused where they are used (at build time by the parser, at run
time with the place of the use); Metaflow's submodules that flows import (`metaflow.plugins...`,
`metaflow.user_decorators...`) resolve; mutators are refused where they are applied.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from sfncompile import client
from sfncompile.errors import FlowErrors
from sfncompile.flow import metaflow_alias
from sfncompile.flow.unsupported import UNSUPPORTED, NotSupportedError
from sfncompile.parser import parse_flow
from sfncompile.parser.provided import SUBMODULES, provided_names

# Modules that Metaflow's __init__ imports for itself and leaves in its namespace.
NOT_EXPORTS = frozenset({"os", "sys"})


def _metaflow_names() -> list[str]:
    """The public names of the installed Metaflow, read in a process of its own."""
    out = subprocess.run([sys.executable, "-c", "import json, metaflow; "
                          "print(json.dumps(sorted(dir(metaflow))))"],
                         capture_output=True, text=True, check=True)
    return [n for n in json.loads(out.stdout) if n[0] != "_" and n not in NOT_EXPORTS]


@pytest.fixture(scope="module")
def metaflow_names() -> list[str]:
    return _metaflow_names()


def test_every_metaflow_name_is_provided_or_refused_by_name(metaflow_names: list[str]) -> None:
    names = set(metaflow_names)
    assert names - provided_names() - UNSUPPORTED.keys() == set()
    assert UNSUPPORTED.keys() - names == set()  # no stale entry
    assert provided_names() & UNSUPPORTED.keys() == set()


def test_metaflows_submodules_resolve_with_their_names() -> None:
    with metaflow_alias.resolving():
        for sub, names in SUBMODULES.items():
            module = importlib.import_module(f"metaflow.{sub}")
            for name in names or ():
                assert getattr(module, name) is not None, f"metaflow.{sub}.{name}"
        from metaflow.plugins.cards.exception import CardNotPresentException
        from metaflow.plugins.catch_decorator import FailureHandledByCatch

        import sfncompile.exception as ours

        assert FailureHandledByCatch is ours.FailureHandledByCatch
        assert issubclass(CardNotPresentException, ours.MetaflowException)
        assert "not found for pathspec F/1/s/2" in str(CardNotPresentException("F/1/s/2"))
        with pytest.raises(ModuleNotFoundError, match=r"metaflow\.mflog is a module of Metaflow"):
            importlib.import_module("metaflow.mflog")


def test_the_clients_names_stay_where_metaflow_and_pickles_find_them(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from sfncompile.client import core, scope

    with metaflow_alias.resolving():
        mf_core = importlib.import_module("metaflow.client.core")
        for name in client.__all__:
            assert getattr(mf_core, name) is getattr(client, name), name
    # A pickled Run (`current.run` as an artifact) names its class by module.
    for cls in (core.Flow, core.Run, core.Step, core.Task, core.DataArtifact, core.MetaflowData,
                core.Trigger, core.Event, core.MetaflowNamespaceMismatch):
        assert cls.__module__ == "sfncompile.client.core", cls
    # One namespace and one root, whichever module sets them.
    monkeypatch.setattr(scope, "_namespace", scope._namespace)
    monkeypatch.setattr(scope, "_root", scope._root)
    core.namespace("user:someone")
    core.set_datastore_root("/elsewhere")
    assert client.get_namespace() == scope.get_namespace() == "user:someone"
    assert client.get_metadata() == "local@/elsewhere"


def test_a_placeholder_is_refused_where_it_is_used() -> None:
    with metaflow_alias.resolving():
        from metaflow import inspect_spin, pytorch_parallel

        line = sys._getframe().f_lineno + 2
        with pytest.raises(NotSupportedError) as caught:
            pytorch_parallel(lambda f: f)
        assert str(caught.value).startswith(f"{__file__}:{line}:")
        assert "metaflow.pytorch_parallel runs a step as a gang of PyTorch nodes" in str(
            caught.value)
        with pytest.raises(NotSupportedError, match="inspects a `spin` run"):
            inspect_spin.steps  # noqa: B018
        with pytest.raises(NotSupportedError):

            class Mine(inspect_spin):  # type: ignore[misc,valid-type]
                pass


def test_the_imports_of_metaflows_own_test_flows_build(tmp_path: Path) -> None:
    """Metaflow's test/core formatter writes this line into every flow it generates, whether
    the flow uses the names or not."""
    flow = tmp_path / "flow.py"
    flow.write_text(textwrap.dedent("""
        from metaflow import Config, config_expr, FlowSpec, step, Parameter, project, \\
            IncludeFile, JSONType, current, parallel, FlowMutator, StepMutator, \\
            UserStepDecorator, user_step_decorator

        class CoreTestFlow(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
    """))
    assert [s.name for s in parse_flow(flow).steps] == ["start", "end"]


def test_mutators_beside_the_flow_are_refused_where_applied(tmp_path: Path) -> None:
    (tmp_path / "team.py").write_text(textwrap.dedent("""
        from metaflow import StepMutator, UserStepDecorator

        class AddRetry(StepMutator):
            def mutate(self, mutable_step):
                mutable_step.add_decorator("retry")

        class Timed(UserStepDecorator):
            pass
    """))
    (tmp_path / "flow.py").write_text(textwrap.dedent("""
        import team
        from metaflow import FlowSpec, step
        from team import AddRetry, Timed

        class F(FlowSpec):
            @team.AddRetry
            @step
            def start(self):
                self.next(self.end)

            @Timed
            @AddRetry(times=2)
            @step
            def end(self):
                pass
    """))
    with pytest.raises(FlowErrors) as caught:
        parse_flow(tmp_path / "flow.py")
    assert [(e.line, e.col) for e in caught.value.errors] == [(7, 6), (13, 6)]
    assert all("is a StepMutator" in e.message for e in caught.value.errors)


# ------------------------------------------------------------------ a run that uses them

PLUGINS = """
    from metaflow.exception import MetaflowException
    from metaflow.metaflow_config import SFN_TEST_SETTING
    from metaflow.plugins.cards.exception import CardNotPresentException
    from metaflow.plugins.catch_decorator import FailureHandledByCatch
    from metaflow.user_configs.config_parameters import ConfigValue as CV
    from metaflow.user_decorators.mutable_step import MutableStep
"""

BODY = """

    class AllNamesFlow(FlowSpec):
        @step
        def start(self):
            import metaflow as mf
            self.kinds = {{n: type(getattr(mf, n)).__name__ for n in {names!r}}}
            self.squares = parallel_map(lambda x: x * x, range(5), max_parallel=2)
            stats = {{}}
            with profile("block", stats):
                pass
            self.profiled = sorted(stats)
            self.setting = SFN_TEST_SETTING
            self.plugins = (issubclass(FailureHandledByCatch, MetaflowException),
                            issubclass(CardNotPresentException, MetaflowException),
                            CV is ConfigValue, MutableStep.__name__)
            self.next(self.refused)

        @catch(var="refusal")
        @step
        def refused(self):
            import metaflow as mf
            getattr(mf, "pytorch_par" + "allel")(self)
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        AllNamesFlow()
"""

# A mutator applied where the parser cannot see it (through a variable) is refused when the
# flow module is imported, in the start task.
HIDDEN_MUTATOR = """
    from metaflow import FlowSpec, StepMutator, step


    class AddRetry(StepMutator):
        pass


    chosen = AddRetry


    class HiddenFlow(FlowSpec):
        @chosen
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass
"""


def _run(flow: Path, root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SFNCOMPILE_", "AWS_"))}
    env["METAFLOW_SFN_TEST_SETTING"] = "42"
    return subprocess.run([sys.executable, "-m", "sfncompile", "run", str(flow),
                           "--datastore-root", str(root)],
                          capture_output=True, text=True, env=env, cwd=flow.parent, timeout=120)


@pytest.fixture(scope="module")
def all_names_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    names = _metaflow_names()
    tmp = tmp_path_factory.mktemp("all_names")
    flow = tmp / "all_names.py"
    imports = "from metaflow import (\n" + "".join(f"    {n},\n" for n in names) + ")\n"
    flow.write_text(imports + textwrap.dedent(PLUGINS) + textwrap.dedent(BODY).format(
        names=names))
    proc = _run(flow, tmp / "store")
    assert proc.returncode == 0, proc.stderr
    client.set_datastore_root(str(tmp / "store"))
    try:
        from sfncompile.client import Metaflow

        run = client.Run(proc.stdout.strip().splitlines()[-1])
        return {"names": names, "flow": flow,
                "start": {n: getattr(run["start"].task.data, n)
                          for n in run["start"].task.artifact_names},
                "refusal": run["refused"].task.data.refusal,
                "flows": [f.name for f in Metaflow().flows]}
    finally:
        client.set_datastore_root(None)


@pytest.mark.slow
def test_a_flow_importing_every_metaflow_name_builds_and_runs(all_names_run: Any) -> None:
    kinds = all_names_run["start"]["kinds"]
    assert set(kinds) == set(all_names_run["names"])
    assert {n for n, kind in kinds.items() if kind == "Unsupported"} == set(UNSUPPORTED)
    assert kinds["FlowMutator"] == kinds["UserStepDecorator"] == "type"
    assert kinds["cards"] == kinds["plugins"] == kinds["user_decorators"] == "module"
    start = all_names_run["start"]
    assert start["squares"] == [0, 1, 4, 9, 16]
    assert start["profiled"] == ["block"] and start["setting"] == "42"
    assert start["plugins"] == (True, True, True, "MutableStep")
    assert all_names_run["flows"] == ["AllNamesFlow"]  # Metaflow().flows


@pytest.mark.slow
def test_an_unsupported_name_fails_the_task_that_uses_it_saying_where(
        all_names_run: Any) -> None:
    refusal = all_names_run["refusal"]
    flow = all_names_run["flow"]
    line = next(i for i, text in enumerate(flow.read_text().splitlines(), 1)
                if '"pytorch_par" + "allel"' in text)
    assert refusal.type == "sfncompile.flow.unsupported.NotSupportedError"
    assert refusal.exception.startswith(f"{flow}:{line}:")
    assert "metaflow.pytorch_parallel runs a step as a gang of PyTorch nodes" in \
        refusal.exception


@pytest.mark.slow
def test_a_mutator_the_parser_cannot_see_fails_the_run_where_it_is_applied(
        tmp_path: Path) -> None:
    flow = tmp_path / "hidden.py"
    flow.write_text(textwrap.dedent(HIDDEN_MUTATOR).lstrip())
    proc = _run(flow, tmp_path / "store")
    assert proc.returncode != 0
    assert f"{flow}:12:6: @AddRetry is a StepMutator" in proc.stderr
