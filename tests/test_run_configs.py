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
