"""Flow structure and run inputs as Metaflow has them: inheritance across the flow's directory,
the `__main__` guard, run-time Parameter defaults, separator=, JSONType defaults, IncludeFile
and Config. The run's expected values are what Metaflow 2.19 gives for the same file (with
`from metaflow import`); the flows here import sfncompile so that they run on it whether or
not Metaflow is installed."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sfncompile.client import Run, set_datastore_root
from sfncompile.errors import FlowErrors
from sfncompile.flow.inputs import ConfigValue
from sfncompile.parser import parse_flow
from tests.deployment import Deployment
from tests.flows import end_data

BASE = '''
from sfncompile import FlowSpec, Parameter, retry, schedule, step


class Greeting:
    """A mixin: steps without FlowSpec."""

    @step
    def hello(self):
        self.greeting = f"hello {self.who}"
        self.next(self.end)


@schedule(daily=True)
class BaseFlow(FlowSpec):
    who = Parameter("who", default="world")
    times = Parameter("times", default=2)

    @retry(times=1)
    @step
    def start(self):
        self.origin = "base"
        self.next(self.hello)

    @retry(times=4)
    @step
    def end(self):
        self.final = (self.origin, self.greeting, self.times)
'''
CHILD = '''
from sfncompile import Parameter, step
from base import BaseFlow, Greeting


class ChildFlow(BaseFlow, Greeting):
    times = Parameter("times", default=3)

    @step
    def start(self):
        self.origin = "child"
        self.next(self.hello)


class OtherFlow(BaseFlow, Greeting):
    pass


if __name__ == "__main__":
    ChildFlow()
'''
INPUTS = '''
import os

from sfncompile import (Config, FlowSpec, IncludeFile, JSONType, Parameter, config_expr,
                      resources, step)


def default_region(ctx):
    return f"{ctx.flow_name}-{ctx.parameter_name}"


def script_path(name):
    return os.path.join(os.path.dirname(os.path.realpath(__file__)), name)


class InputsFlow(FlowSpec):
    cfg = Config("cfg", default="config.json")
    data = IncludeFile("data", default="data.csv")
    blob = IncludeFile("blob", is_text=False, default="data.csv")
    near = IncludeFile("near", default=script_path("data.csv"))
    seconds = Parameter("seconds", default=60 * 60)
    home = Parameter("home", default=os.environ.get("INPUTS_HOME", "nowhere"))
    region = Parameter("region", default=default_region)
    lam = Parameter("lam", default=lambda ctx: ctx.parameter_name.upper())
    labels = Parameter("labels", default="a,b,c", separator=",")
    items = Parameter("items", default="[1, 2, 3]", type=JSONType, show_default=False)
    depth = Parameter("depth", default=config_expr("cfg.model.depth"))

    @resources(cpu=cfg.cpu)
    @step
    def start(self):
        self.model = self.cfg.model.name
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.sq = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.sqs = sorted(i.sq for i in inputs)
        self.merge_artifacts(inputs, exclude=["sq"])
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.fixture(scope="module")
def inherited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inherited")
    (d / "base.py").write_text(BASE)
    (d / "flow.py").write_text(CHILD)
    return d


@pytest.fixture(scope="module")
def inputs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("inputs")
    (d / "flow.py").write_text(INPUTS)
    (d / "config.json").write_text('{"cpu": 2, "model": {"name": "tree", "depth": 3}}')
    (d / "data.csv").write_text("alpha,beta\ngamma\n")
    return d


def test_steps_parameters_and_decorators_are_inherited(inherited: Path) -> None:
    flow = parse_flow(inherited / "flow.py")  # the __main__ guard picks ChildFlow
    assert flow.name == "ChildFlow"
    steps = {s.name: s for s in flow.steps}
    assert sorted(steps) == ["end", "hello", "start"]
    # The subclass's start overrides the base's, decorators and all (as in Metaflow).
    assert steps["start"].pos.path.endswith("flow.py") and steps["start"].policies.retry is None
    assert steps["end"].pos.path.endswith("base.py") and steps["end"].policies.retry is not None
    assert steps["end"].policies.retry.times == 4
    assert steps["hello"].pos.path.endswith("base.py") and steps["hello"].targets == ("end",)
    params = {p.name: p.default for p in flow.parameters}
    assert params == {"who": "world", "times": 3}
    assert flow.schedule is not None and "cron" in flow.schedule.expression
    other = parse_flow(inherited / "flow.py", "OtherFlow")
    assert {s.name: s.pos.path.endswith("base.py") for s in other.steps} == {
        "start": True, "hello": True, "end": True}
    # At run time the task imports the flow module, and through it the module beside it.
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "run", "flow.py",
                           "--datastore-root", str(inherited / "ds")], cwd=inherited,
                          capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    assert proc.returncode == 0, proc.stderr
    data = end_data(str(inherited / "ds"), proc.stdout.strip().splitlines()[-1])
    assert data["final"] == ("child", "hello world", 3)  # as Metaflow 2.19 gives


def test_which_flow_a_file_holds(tmp_path: Path) -> None:
    two = CHILD.replace('if __name__ == "__main__":\n    ChildFlow()', "")
    (tmp_path / "base.py").write_text(BASE)
    (tmp_path / "two.py").write_text(two)
    with pytest.raises(FlowErrors, match="several flows in this file"):
        parse_flow(tmp_path / "two.py")
    (tmp_path / "guard.py").write_text(two + '\nif __name__ == "__main__":\n    OtherFlow()\n')
    assert parse_flow(tmp_path / "guard.py").name == "OtherFlow"
    # A flow class that another one of the file derives from is a base, not the flow.
    (tmp_path / "leaf.py").write_text(BASE + "\n\nclass Leaf(BaseFlow, Greeting):\n    pass\n")
    assert parse_flow(tmp_path / "leaf.py").name == "Leaf"


def test_run_inputs_in_the_ir(inputs_dir: Path) -> None:
    flow = parse_flow(inputs_dir / "flow.py")
    p = {x.name: x for x in flow.parameters}
    assert flow.step("start").policies.resources.cpu == 2  # from the Config
    assert p["cfg"].kind == "config" and p["cfg"].default == {"cpu": 2, "model": {
        "name": "tree", "depth": 3}}
    assert (p["depth"].default, p["depth"].type, p["depth"].default_expr) == (3, "int", None)
    assert (p["seconds"].default_expr, p["seconds"].type, p["seconds"].infer_type) == (
        "60 * 60", "int", False)
    assert (p["home"].default_expr, p["home"].infer_type) == (
        "os.environ.get('INPUTS_HOME', 'nowhere')", True)
    assert p["lam"].default_expr == "lambda ctx: ctx.parameter_name.upper()"
    assert (p["labels"].separator, p["items"].default, p["items"].show_default) == (
        ",", [1, 2, 3], False)
    assert (p["data"].kind, p["data"].default, p["blob"].is_text) == (
        "include_file", "data.csv", False)
    assert (p["near"].default, p["near"].default_expr, p["near"].required) == (
        None, "script_path('data.csv')", False)
    graph = flow.graph_json()["parameters"]
    assert [g for g in graph if g["name"] == "who"] == []  # nothing else leaked in
    assert {"name": "seconds", "attr": "seconds", "type": "int", "default": None,
            "required": False, "default_expr": "60 * 60"} in graph


def test_run_inputs_evaluated_when_the_run_starts(inputs_dir: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    env = {**os.environ, "INPUTS_HOME": "/h", "PYTHONPATH": str(Path.cwd())}
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "run", "flow.py",
                           "--datastore-root", str(root), "--param", "labels=x;y,z"],
                          cwd=inputs_dir, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    set_datastore_root(str(root))
    try:
        run = Run(proc.stdout.strip().splitlines()[-1])
        data = run["end"].task.data
        # The values Metaflow 2.19 gives for the same file and environment.
        assert (data.seconds, data.home, data.region, data.lam) == (
            3600, "/h", "InputsFlow-region", "LAM")
        assert (data.labels, data.items, data.depth, data.sqs) == (
            ["x;y", "z"], [1, 2, 3], 3, [1, 4, 9])
        assert data.data == "alpha,beta\ngamma\n" and data.blob == b"alpha,beta\ngamma\n"
        assert data.near == data.data  # the path the module computed, read by `start`
        assert isinstance(data.cfg, ConfigValue) and data.cfg.model.name == "tree"
        assert data.model == "tree" and data.cfg["cpu"] == 2
    finally:
        set_datastore_root(None)


def test_run_inputs_on_step_functions(inputs_dir: Path, deployment: Deployment,
                                      s3_env: None) -> None:
    """On AWS an IncludeFile is read by `trigger` (stored in the datastore, the execution
    given a reference); a run started without it (a schedule, the console) has `start` read
    the default file deploy stored; expression defaults are evaluated by `start` in the Batch
    job."""
    flow = inputs_dir / "flow.py"
    (deployment.tmp / "other.csv").write_text("from trigger\n")  # trigger's working directory
    deployment.deploy(flow)
    triggered = deployment.trigger(flow, {"data": "other.csv", "seconds": "5"})
    sfn = deployment.sfn.client("stepfunctions")
    arn = next(m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
               if m["name"] == "InputsFlow")
    sfn.start_execution(stateMachineArn=arn, name="bare-input", input="{}")
    for run_id in (triggered, "bare-input"):
        desc = deployment.wait("InputsFlow", run_id)
        assert desc["status"] == "SUCCEEDED", (desc, deployment.sfn.job_logs()[-4000:])
        if run_id == triggered:  # the execution's input holds a reference, not the file
            assert json.loads(desc["input"])["data"] == {
                "type": "include", "sha256": hashlib.sha256(b"from trigger\n").hexdigest(),
                "size": 13, "name": "other.csv"}
    given = end_data(deployment.root, f"InputsFlow/{triggered}")
    bare = end_data(deployment.root, "InputsFlow/bare-input")
    assert (given["data"], given["seconds"], given["blob"]) == (
        "from trigger\n", 5, b"alpha,beta\ngamma\n")
    assert (bare["data"], bare["seconds"], bare["lam"], bare["region"]) == (
        "alpha,beta\ngamma\n", 3600, "LAM", "InputsFlow-region")
    assert bare["labels"] == ["a", "b", "c"] and bare["sqs"] == [1, 4, 9]
    # An expression default is evaluated by `start` in the Batch job, in the code package.
    assert given["near"] == bare["near"] == "alpha,beta\ngamma\n"
    assert bare["cfg"] == {"cpu": 2, "model": {"name": "tree", "depth": 3}}


def test_every_export_is_a_provided_name() -> None:
    """What the package exports may be imported: the parser's one list knows every name."""
    import sfncompile
    from sfncompile.parser.provided import provided_names

    assert set(sfncompile.__all__) - provided_names() == set()


SINGLE = '''
from sfncompile import FlowSpec, Parameter, step


class SingleFlow(FlowSpec):
    n = Parameter("n", default=2)

    @step
    def only(self):
        self.sq = self.n * self.n
'''
MARKED = '''
from sfncompile import FlowSpec, step


class MarkedFlow(FlowSpec):
    @step(start=True)
    def begin(self):
        self.x = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.x += 1
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass
'''


def test_entry_steps_and_single_step_flows(tmp_path: Path) -> None:
    """Metaflow 2.19's `@step(start=True)`/`(end=True)` and one-step flows build and run."""
    from sfncompile.emit import compile_asl
    from sfncompile.emit.asl_checks import validate_asl

    root = tmp_path / "ds"
    expected = {"single": ("SingleFlow", "only", "only", "sq", 4),
                "marked": ("MarkedFlow", "begin", "finish", "x", 2)}
    for name, source in (("single", SINGLE), ("marked", MARKED)):
        (tmp_path / f"{name}.py").write_text(source)
        flow_name, first, last, artifact, value = expected[name]
        flow = parse_flow(tmp_path / f"{name}.py")
        assert (flow.name, flow.start_step, flow.end_step) == (flow_name, first, last)
        asl = compile_asl(flow)
        assert validate_asl(asl) == []
        assert asl["States"]["Init run"]["Next"] == first
        proc = subprocess.run([sys.executable, "-m", "sfncompile", "run", f"{name}.py",
                               "--datastore-root", str(root)], cwd=tmp_path,
                              capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(Path.cwd())})
        assert proc.returncode == 0, proc.stderr
        data = end_data(str(root), proc.stdout.strip().splitlines()[-1])
        assert data[artifact] == value
