"""Metaflow's `--config NAME PATH` and `--config-value NAME VALUE` at run time (top-level
options of `python flow.py`, options of `sfncompile run`): the Config's value in place of its
default, in the steps and in what it configures; a resume keeps the origin run's values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sfncompile import client
from sfncompile.datastore.storage import open_storage

ROOT_DIR = Path(__file__).resolve().parent.parent

FLOW = """
    from sfncompile import Config, FlowSpec, Parameter, step


    class RunConfigFlow(FlowSpec):
        cfg = Config("cfg", default_value={"greeting": "hello", "n": 1})
        n = Parameter("n", default=cfg.n)

        @step
        def start(self):
            self.greeting = self.cfg.greeting
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        RunConfigFlow()
"""


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT_DIR)})


def _data(root: Path, proc: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    assert proc.returncode == 0, proc.stderr
    run = client.Run(proc.stdout.strip().splitlines()[-1], open_storage(str(root)))
    return run["start"].task.data.greeting, run["start"].task.data.n


@pytest.mark.slow
def test_configs_given_at_run_time(tmp_path: Path) -> None:
    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "cfg.json").write_text(json.dumps({"greeting": "from a file", "n": 2}))
    root = tmp_path / "root"
    # `python flow.py` hands its top-level options on to `sfncompile run --config ...`.
    by_file = _run(tmp_path, "flow.py", "--datastore-root", "root", "--config", "cfg",
                   "cfg.json", "run")
    assert _data(root, by_file) == ("from a file", 2)  # and a default that reads it
    pathspec = by_file.stdout.strip().splitlines()[-1]
    resumed = _run(tmp_path, "-m", "sfncompile", "resume", pathspec, "--from", "start",
                   "--datastore-root", "root")
    assert _data(root, resumed) == ("from a file", 2)  # the origin run's, as in Metaflow


@pytest.mark.parametrize(("args", "message"), [
    (["--config", "nope", "cfg.json"], "--config nope cfg.json: flow RunConfigFlow has no "
                                       "Config named 'nope' (its Configs: cfg)"),
    (["--config", "cfg", "missing.json"], "--config cfg missing.json: cannot read it"),
    (["--config", "cfg", "cfg.json", "--config-value", "cfg", "{}"],
     "give a file or a value for a Config, not both"),
    (["--config-value", "cfg", "not json"], "--config-value cfg is not JSON"),
])
def test_bad_configs_are_usage_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      args: list[str], message: str) -> None:
    from click.testing import CliRunner

    from sfncompile.cli import main

    (tmp_path / "flow.py").write_text(textwrap.dedent(FLOW))
    (tmp_path / "cfg.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "flow.py", "--datastore-root", "root", *args],
                                catch_exceptions=False)
    assert result.exit_code == 2
    assert message in result.output


# ------------------------------------------------- when the flow is built or deployed

BUILD_FLOW = """
    from sfncompile import Config, FlowSpec, config_expr, resources, retry, step


    class BuildConfigFlow(FlowSpec):
        cfg = Config("cfg", default_value={"cpu": 1, "retries": 0})

        @resources(cpu=cfg.cpu)
        @retry(times=config_expr("cfg.retries"))
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        BuildConfigFlow()
"""
GIVEN = {"cpu": 4, "retries": 2}
DEPLOY_SETTINGS = ["--s3-root", "s3://bkt/p", "--job-queue", "q", "--image", "img",
                   "--sfn-role", "arn:aws:iam::123456789012:role/r"]


@pytest.fixture
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "flow.py").write_text(textwrap.dedent(BUILD_FLOW))
    (tmp_path / "cfg.json").write_text(json.dumps(GIVEN))
    monkeypatch.chdir(tmp_path)
    for var in ("METAFLOW_FLOW_CONFIG", "METAFLOW_FLOW_CONFIG_VALUE"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def _cli(*args: str, env: dict[str, str] | None = None) -> str:
    from click.testing import CliRunner

    from sfncompile.cli import main

    result = CliRunner(env=env).invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return str(result.stdout)


def _start_state(asl: str) -> dict[str, object]:
    states = json.loads(asl)["States"]
    return next(s for s in states.values() if s.get("Type") == "Task"
                and "start" in json.dumps(s.get("Parameters", {}).get("JobName", "")))


def test_build_fixes_the_given_config_in_the_asl(build_dir: Path) -> None:
    """`build --config-value`/`--config`, or Metaflow's METAFLOW_FLOW_CONFIG_VALUE and
    METAFLOW_FLOW_CONFIG, change what the Config configures, byte-stably; an option given
    wins over its variable."""
    default = _cli("build", "flow.py")
    given = _cli("build", "flow.py", "--config-value", "cfg", json.dumps(GIVEN))
    assert given != default
    assert given == _cli("build", "flow.py", "--config-value", "cfg", json.dumps(GIVEN))
    assert given == _cli("build", "flow.py", "--config", "cfg", "cfg.json")
    assert given == _cli("build", "flow.py",
                         env={"METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"cfg": GIVEN})})
    assert given == _cli("build", "flow.py",
                         env={"METAFLOW_FLOW_CONFIG": json.dumps({"cfg": "cfg.json"})})
    assert default == _cli("build", "flow.py", "--config-value", "cfg",
                           json.dumps({"cpu": 1, "retries": 0}),
                           env={"METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"cfg": GIVEN})})
    overrides = json.dumps(_start_state(given)["Parameters"]["ContainerOverrides"])
    assert '{"Type": "VCPU", "Value": "4"}' in overrides
    assert [r.get("MaxAttempts") for r in _start_state(given)["Retry"]][-1] == 2


def test_deploy_fixes_the_given_config(build_dir: Path) -> None:
    """`deploy --config-value` (here --dry-run: no AWS call): the ASL it would create and the
    code package, whose step graph the deployed run's tasks read, both carry the value."""
    def dry_run(*args: str) -> tuple[str, str]:
        out = _cli("deploy", "flow.py", *DEPLOY_SETTINGS, "--dry-run", *args)
        plan, _, asl = out.partition("Resolved ASL:\n")
        return plan.split("sha256 ")[1].split(";")[0], asl

    sha, asl = dry_run("--config-value", "cfg", json.dumps(GIVEN))
    default_sha, default_asl = dry_run()
    assert sha != default_sha and asl != default_asl
    assert '"Value": "4"' in json.dumps(_start_state(asl)["Parameters"])
    assert (sha, asl) == dry_run("--config", "cfg", "cfg.json")


@pytest.mark.slow
def test_python_flow_step_functions_create_takes_the_configs(build_dir: Path) -> None:
    """Metaflow's `python flow.py --config-value NAME VALUE step-functions create
    --only-json`: the top-level option reaches the state machine (and `resume` refuses it)."""
    proc = _run(build_dir, "flow.py", "--config-value", "cfg", json.dumps(GIVEN),
                "step-functions", "create", "--only-json")
    assert proc.returncode == 0, proc.stderr
    assert '"Value": "4"' in json.dumps(_start_state(proc.stdout)["Parameters"])
    # A resume keeps the origin run's: giving Configs to it is an error, as in Metaflow.
    resumed = _run(build_dir, "flow.py", "--config-value", "cfg", "{}", "resume")
    assert resumed.returncode == 2 and "not with resume" in resumed.stderr


@pytest.mark.slow
def test_runner_takes_configs_and_the_environment_variable(tmp_path: Path) -> None:
    """Metaflow's `Runner(flow, config_value=[(NAME, dict)])`, and METAFLOW_FLOW_CONFIG in
    the run's environment, give the run its Configs (one run: one Config each)."""
    from sfncompile import Runner
    from sfncompile.local.python_api import RunnerError

    flow = FLOW.replace(
        'cfg = Config("cfg", default_value={"greeting": "hello", "n": 1})',
        'cfg = Config("cfg", default_value={"greeting": "hello", "n": 1})\n'
        '        other = Config("other", default_value={"word": "default"})').replace(
        "self.greeting = self.cfg.greeting", "self.greeting = self.cfg.greeting\n"
        "            self.word = self.other.word")
    (tmp_path / "flow.py").write_text(textwrap.dedent(flow))
    (tmp_path / "other.json").write_text(json.dumps({"word": "from env"}))
    # A --config-value given hides METAFLOW_FLOW_CONFIG_VALUE (click's rule), not
    # METAFLOW_FLOW_CONFIG.
    env = {"PYTHONPATH": str(ROOT_DIR),
           "METAFLOW_FLOW_CONFIG": json.dumps({"other": "other.json"}),
           "METAFLOW_FLOW_CONFIG_VALUE": json.dumps({"other": {"word": "hidden"}})}
    with Runner("flow.py", show_output=False, cwd=str(tmp_path), env=env,
                config_value=[("cfg", {"greeting": "from Runner", "n": 5})]) as runner:
        result = runner.run()
        assert result.status == "successful", result.stderr
        data = result.run["start"].task.data
        assert (data.greeting, data.n, data.word) == ("from Runner", 5, "from env")
        with pytest.raises(RunnerError, match="not with resume"):
            runner.resume()


def test_runner_refuses_a_config_value_of_another_type(tmp_path: Path) -> None:
    from sfncompile import Runner

    with pytest.raises(TypeError, match="config_value 'cfg': a dict, a ConfigValue or text"):
        Runner("flow.py", config_value=[("cfg", 3)])
    with pytest.raises(TypeError, match="a list of \\(name, value\\) pairs"):
        Runner("flow.py", config=["cfg.json"])


def test_a_bad_config_value_is_one_error(build_dir: Path) -> None:
    """A Config that cannot be read is one error: what reads it (`@resources(cpu=cfg.cpu)`,
    `config_expr`) does not add more."""
    from click.testing import CliRunner

    from sfncompile.cli import main

    result = CliRunner().invoke(main, ["build", "flow.py", "--config-value", "cfg", "{bad"])
    assert result.exit_code == 2
    assert "--config-value cfg is not JSON" in result.output
    assert "1 error found" in result.output and "literal" not in result.output
