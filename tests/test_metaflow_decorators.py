"""Metaflow's decorators beyond the core ones, as they run: the user's own decorators and
`user_step_decorator`, @kubernetes ignored locally, @pypi checked before a local run, the
packages note of deploy, @exit_hook locally and through the runtime's AWS entry points, and
@batch's container settings in the job definition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sfncompile import client
from sfncompile.cli import main
from sfncompile.conventions.task_ids import task_id
from sfncompile.emit import names
from sfncompile.emit.asl import ON_ERROR_HOOKS, exit_hook_on_error_states
from sfncompile.emit.jobdef import job_definitions
from sfncompile.local.requirements import image_note
from sfncompile.parser import parse_flow
from tests.conftest import GOLDEN

PARITY_BUILD_ONLY = Path(__file__).parent / "parity" / "build_only"

FLOW = '''
import functools
from metaflow import (FlowSpec, step, exit_hook, kubernetes, pypi, user_step_decorator,
                      Parameter)


def on_success(run):
    print("HOOK success", run.pathspec if run else None)


def on_error():
    print("HOOK error")


def doubled(func):
    @functools.wraps(func)
    def wrapper(self, *args):
        func(self, *args)
        self.x = self.x * 2
    return wrapper


@user_step_decorator
def tagged(step_name, flow, inputs, attributes):
    flow.tag = attributes.get("label", "none") + ":" + step_name
    try:
        yield
    except ZeroDivisionError:
        flow.rescued = True


@exit_hook(on_success=[on_success], on_error=["on_error"])
class DecoratedRun(FlowSpec):
    fail = Parameter("fail", default=False, type=bool)

    @tagged(label="L")
    @doubled
    @kubernetes(cpu=2, memory=8192)
    @pypi(packages={"pytest": ""})
    @step
    def start(self):
        self.x = 21
        self.next(self.middle)

    @tagged
    @step
    def middle(self):
        self.rescued = False
        1 / 0
        self.next(self.end)

    @step
    def end(self):
        if self.fail:
            raise ValueError("asked to fail")
'''


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("SFNCOMPILE_", "AWS_"))}


def _run(flow: Path, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sfncompile", "run", str(flow),
                           "--datastore-root", str(root), *extra],
                          capture_output=True, text=True, env=_env(), cwd=flow.parent)


@pytest.mark.slow
def test_user_decorators_hooks_and_kubernetes_run_locally(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW)
    ok = _run(flow, tmp_path / "store")
    assert ok.returncode == 0, ok.stderr
    pathspec = ok.stdout.split()[-1]
    assert ok.stdout.strip().splitlines()[-1] == pathspec  # hooks print to stderr
    assert f"HOOK success {pathspec}" in ok.stderr and "HOOK error" not in ok.stderr
    client.set_datastore_root(str(tmp_path / "store"))
    try:
        end = client.Run(pathspec)["end"].task
        assert end["x"].data == 42  # the wrapper ran after the step
        assert end["tag"].data == "none:middle"  # the generator ran around each step
        assert end["rescued"].data is True  # it caught the step's exception
    finally:
        client.set_datastore_root(None)
    failed = _run(flow, tmp_path / "store", "--param", "fail=true")
    assert failed.returncode == 1
    assert "HOOK error" in failed.stderr and "HOOK success" not in failed.stderr


def test_missing_packages_stop_a_local_run_before_it_starts(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(FLOW.replace('{"pytest": ""}', '{"pytest": "", "no-such-dist-x": "1.0"}')
                    .replace("class DecoratedRun", '@pypi_base(packages={"no-such-base": ""})\n'
                             "class DecoratedRun")
                    .replace("from metaflow import (", "from metaflow import (pypi_base, "))
    proc = _run(flow, tmp_path / "store")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert any(line.startswith(f"{flow}:40:6: @pypi: no-such-dist-x==1.0 cannot be imported")
               and "pip install no-such-dist-x==1.0" in line for line in lines), proc.stderr
    assert any(line.startswith(f"{flow}:33:2: @pypi_base: no-such-base cannot be imported")
               and "'start', 'middle', 'end'" in line for line in lines), proc.stderr
    assert not (tmp_path / "store" / "DecoratedRun").exists()  # no run was started


def test_deploy_lists_the_packages_the_image_must_provide(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    for key in list(os.environ):
        if key.startswith(("SFNCOMPILE_", "AWS_")):
            monkeypatch.delenv(key)
    result = CliRunner().invoke(main, [
        "deploy", str(GOLDEN / "decorators_metaflow" / "flow.py"), "--dry-run",
        "--s3-root", "s3://bkt/p", "--job-queue", "q", "--image", "img",
        "--sfn-role", "arn:aws:iam::123456789012:role/r"])
    assert result.exit_code == 0, result.output
    note = result.stdout.split("Resolved ASL:")[0]
    assert "the image must provide these packages:" in note
    assert "  train: boto3, numpy==1.26.4 (Python 3.11)\n" in note
    assert "  start: boto3 (Python 3.11)\n" in note


def test_build_warns_about_kubernetes_and_emits_a_plain_step(tmp_path: Path) -> None:
    """`build` accepts @kubernetes (`deploy` refuses it: tests/test_bad_cli.py): a warning at
    the decorator, and the same ASL as without it."""
    source = PARITY_BUILD_ONLY / "kubernetes_step.py"
    plain = tmp_path / "kubernetes_step.py"
    plain.write_text(source.read_text().replace("    @kubernetes(cpu=1, memory=500)\n", ""))
    runner = CliRunner()
    built = runner.invoke(main, ["build", str(source), "-o", str(tmp_path / "k.json")])
    assert built.exit_code == 0, built.output
    assert built.stderr.startswith(f"{source}:12:6: warning: step 'hello': @kubernetes has no "
                                   "AWS backend"), built.stderr
    assert "`deploy` refuses it: use @batch" in built.stderr and built.stdout == ""
    without = runner.invoke(main, ["build", str(plain), "-o", str(tmp_path / "p.json")])
    assert without.exit_code == 0 and without.stderr == "", without.output
    assert (tmp_path / "k.json").read_text() == (tmp_path / "p.json").read_text()


CONDA_PYTHON = '''
from metaflow import FlowSpec, conda, conda_base, step


def get_python_version():
    return "3.9.10"


@conda_base(python=get_python_version())
class CondaPython(FlowSpec):
    @conda(packages={"editdistance": "0.5.3"})
    @step
    def start(self):
        self.next(self.end)

    @conda(python=".".join(["3", "10"]), packages=PACKAGES)
    @step
    def end(self):
        pass
'''


def test_a_recorded_python_version_may_be_an_expression(tmp_path: Path) -> None:
    """@pypi/@conda only record `python=`: an expression is kept as text, never evaluated;
    their other arguments stay literal."""
    flow_file = tmp_path / "flow.py"
    flow_file.write_text(CONDA_PYTHON)
    result = CliRunner().invoke(main, ["build", str(flow_file), "-o", str(tmp_path / "a.json")])
    assert result.exit_code == 2
    assert result.output.count("must be a literal value") == 1
    assert (f"{flow_file}:16:51: step 'end': argument 'packages' of @conda must be a literal "
            "value, not `PACKAGES`") in result.output
    flow_file.write_text(CONDA_PYTHON.replace(", packages=PACKAGES", ""))
    flow = parse_flow(flow_file)
    assert flow.packages is not None
    assert (flow.packages.python, flow.packages.python_expr) == (None, "get_python_version()")
    start = flow.packages_for(flow.step("start"))
    assert start is not None and start.python_expr == "get_python_version()"
    assert start.packages == (("editdistance", "0.5.3"),)
    end = flow.step("end").policies.packages
    assert end is not None and end.python_expr == "'.'.join(['3', '10'])"
    assert "  start: editdistance==0.5.3 (Python `get_python_version()`, not evaluated)" in (
        image_note(flow))


def test_batch_container_settings_are_metaflows_job_definition() -> None:
    flow = parse_flow(GOLDEN / "decorators_metaflow" / "flow.py")
    defs = job_definitions(flow, name="n", image="img", job_role=None, environment={},
                           tags={"owner": "me"})
    assert sorted(defs) == ["JobDefinition", "JobDefinition_train"]
    train = defs["JobDefinition_train"]
    container = train["containerProperties"]
    assert container["linuxParameters"] == {
        "maxSwap": 2048, "swappiness": 60,
        "devices": [{"containerPath": "/dev/neuron0", "hostPath": "/dev/neuron0",
                     "permissions": ["READ", "WRITE"]},
                    {"hostPath": "/dev/infiniband/uverbs0"}],
        "tmpfs": [{"containerPath": "/metaflow_temp", "size": 4096,
                   "mountOptions": ["defaults"]}]}
    assert container["volumes"] == [
        {"name": "_data", "host": {"sourcePath": "/data"}},
        {"name": "efs_fs-12345678", "efsVolumeConfiguration": {
            "fileSystemId": "fs-12345678", "transitEncryption": "ENABLED"}}]
    assert container["mountPoints"] == [
        {"sourceVolume": "_data", "containerPath": "/mnt/data"},
        {"sourceVolume": "efs_fs-12345678", "containerPath": "/mnt/fs-12345678"}]
    assert container["logConfiguration"] == {"logDriver": "awslogs",
                                             "options": {"awslogs-group": "flows"}}
    assert {"name": "TMPDIR", "value": "/metaflow_temp"} in container["environment"]
    assert "ephemeralStorage" not in container  # EC2: the instance's disk
    assert "privileged" not in container
    assert train["tags"] == {"owner": "me", "team": "ml"}
    assert "linuxParameters" not in defs["JobDefinition"]["containerProperties"]


def test_a_parallel_step_is_a_multinode_job_definition() -> None:
    """What AWS Batch requires of a multi-node definition (botocore's RegisterJobDefinition
    shape, and Batch's rules: node properties instead of container properties), and one
    SubmitJob of it in the ASL, with node overrides (botocore's SubmitJob shape)."""
    from botocore.session import get_session
    from botocore.validate import validate_parameters

    from sfncompile.emit import compile_asl

    flow = parse_flow(GOLDEN / "parallel" / "flow.py")
    env = {"SFNCOMPILE_DATASTORE_ROOT": "s3://b/p"}
    defs = job_definitions(flow, name="n", image="img", job_role="arn:role", environment=env,
                           tags={})
    train = defs["JobDefinition_train"]
    model = get_session().get_service_model("batch")
    validate_parameters(train, model.operation_model("RegisterJobDefinition").input_shape)
    assert train["type"] == "multinode" and "containerProperties" not in train
    nodes = train["nodeProperties"]
    assert (nodes["numNodes"], nodes["mainNode"]) == (4, 0)
    assert [r["targetNodes"] for r in nodes["nodeRangeProperties"]] == ["0:0", "1:3"]
    container = nodes["nodeRangeProperties"][1]["container"]
    assert container == nodes["nodeRangeProperties"][0]["container"]
    assert container["command"] == defs["JobDefinition"]["containerProperties"]["command"]
    assert container["resourceRequirements"] == [{"type": "VCPU", "value": "1"},
                                                 {"type": "MEMORY", "value": "2048"}]
    assert {"name": "SFNCOMPILE_DATASTORE_ROOT", "value": "s3://b/p"} in container["environment"]
    states = compile_asl(flow)["States"]
    assert [n for n, st in states.items() if st.get("Resource", "").startswith(
        "arn:aws:states:::batch:submitJob")] == ["start", "train", "join", "end"]
    assert states["start"]["Next"] == "train" and states["train"]["Next"] == "join"
    submit = states["train"]["Parameters"]
    assert submit["JobDefinition"] == "${JobDefinition_train}"
    assert "ContainerOverrides" not in submit  # refused for a multi-node job: node overrides
    [node] = submit["NodeOverrides"]["NodePropertyOverrides"]
    assert node["TargetNodes"] == "0:"
    assert node["ContainerOverrides"]["ResourceRequirements"] == [
        {"Type": "VCPU", "Value": "1"}, {"Type": "MEMORY", "Value": "2048"}]
    graph = flow.graph_json()["steps"]
    assert (graph["start"]["num_parallel"], graph["train"]["parallel"]) == (4, True)
    assert "parallel" not in graph["join"] and "num_parallel" not in graph["join"]
    validate_parameters(_camel(dict(submit, JobDefinition="n-train", Parameters={})),
                        model.operation_model("SubmitJob").input_shape)


def _camel(value: Any) -> Any:
    """The ASL's PascalCase Batch parameters as botocore names them."""
    if isinstance(value, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_camel(v) for v in value]
    return value


@pytest.mark.slow
def test_exit_hooks_through_the_runtimes_aws_entry_points(tmp_path: Path) -> None:
    """As in a Batch container: the code package's layout, no --flow-file. The committed end
    task calls on_success; the failure path's job (exit_hook_on_error_states) calls on_error."""
    (tmp_path / "flow.py").write_text(FLOW.replace('@pypi(packages={"pytest": ""})', ""))
    flow = parse_flow(tmp_path / "flow.py")
    (tmp_path / "_sfncompile").mkdir()
    graph = flow.graph_json()
    (tmp_path / "_sfncompile" / "graph.json").write_text(json.dumps(graph))
    root = str(tmp_path / "store")

    def task(step: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "sfncompile.runtime", "--step", step,
                               "--run", "r1",
                               "--task", task_id(graph, step, "0") if step in graph["steps"]
                               else "0",
                               "--root", root],
                              capture_output=True, text=True, env=_env(), cwd=tmp_path)

    for step in ("start", "middle"):
        assert task(step).returncode == 0
    end = task("end")
    assert end.returncode == 0, end.stderr
    assert "HOOK success DecoratedRun/r1" in end.stdout + end.stderr
    states = exit_hook_on_error_states(flow, names.RECORD_FAILURE)
    hook = states[ON_ERROR_HOOKS]
    assert hook["Next"] == hook["Catch"][0]["Next"] == names.RECORD_FAILURE
    job = hook["Parameters"]["Parameters"]
    on_error = task(job["step"])
    assert on_error.returncode == 0, on_error.stderr
    assert "HOOK error" in on_error.stdout + on_error.stderr
    assert exit_hook_on_error_states(parse_flow(GOLDEN / "linear" / "flow.py"), None) == {}


SPLIT_CATCH = '''
from metaflow import FlowSpec, catch, step


class SplitCatch(FlowSpec):
    @catch(var="err", print_exception=False)
    @step
    def start(self):
        self.items = [1, 2]
        raise ValueError("before the split")
        self.next(self.a, self.b)

    @step
    def a(self):
        self.where = "a"
        self.next(self.join)

    @step
    def b(self):
        self.where = "b"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = sorted(str(i.where) for i in inputs)
        self.failed = type(inputs.a.err).__name__
        self.next(self.end)

    @step
    def end(self):
        pass
'''


@pytest.mark.slow
def test_catch_on_a_static_split_goes_on_to_every_branch(tmp_path: Path) -> None:
    """As Metaflow: @catch on a split records the failure and every branch runs (a foreach
    or switch step refuses @catch, tests/data/broken)."""
    from sfncompile.emit import compile_asl

    flow = tmp_path / "flow.py"
    flow.write_text(SPLIT_CATCH)
    states = compile_asl(parse_flow(flow))["States"]  # with the schema check
    assert states["start caught"]["Next"] == states["start"]["Next"] == "start split"
    proc = _run(flow, tmp_path / "store")
    assert proc.returncode == 0, proc.stderr
    client.set_datastore_root(str(tmp_path / "store"))
    try:
        end = client.Run(proc.stdout.split()[-1])["end"].task
        assert end["seen"].data == ["a", "b"]
        assert end["failed"].data == "MetaflowExceptionWrapper"  # @catch stores it, as Metaflow
    finally:
        client.set_datastore_root(None)
