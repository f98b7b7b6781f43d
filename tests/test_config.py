"""Deployment settings: flag > environment > [tool.sfncompile] in pyproject.toml >
sfncompile.toml, each value reported with its source by `sfncompile config show`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sfncompile.deploy.config import load_config
from sfncompile.errors import UsageError


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "sfncompile.toml").write_text(
        's3_root = "s3://from-toml/x"\njob_queue = "toml-queue"\nimage = "toml-image"\n'
        'name_prefix = "toml-"\n[tags]\nteam = "toml"\n')
    (tmp_path / "pyproject.toml").write_text(
        '[tool.sfncompile]\njob_queue = "pyproject-queue"\nimage = "pyproject-image"\n')
    flows = tmp_path / "flows"
    flows.mkdir()
    return flows


def test_precedence(project: Path) -> None:
    env = {"SFNCOMPILE_IMAGE": "env-image"}
    config = load_config(project, {"sfn_role": "arn:flag"}, env=env)
    assert config.values["s3_root"] == "s3://from-toml/x"
    assert config.values["job_queue"] == "pyproject-queue"
    assert config.values["image"] == "env-image"
    assert config.values["sfn_role"] == "arn:flag"
    assert config.tags == {"team": "toml"}
    assert config.sources["sfn_role"] == "flag" and config.sources["image"] == "env"
    assert "pyproject.toml [tool.sfncompile]" in config.sources["job_queue"]
    assert config.sources["s3_root"].endswith("sfncompile.toml")


def test_missing_required_are_listed_together(tmp_path: Path) -> None:
    with pytest.raises(UsageError) as info:
        load_config(tmp_path, {}, env={}).require("events_role")
    text = str(info.value)
    for name in ("s3_root", "job_queue", "image", "sfn_role", "events_role"):
        assert f"  {name}:" in text


def test_unknown_setting_in_a_file_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sfncompile.toml").write_text('job_quee = "typo"\n')
    with pytest.raises(UsageError, match="unknown setting job_quee"):
        load_config(tmp_path, {}, env={})


def test_config_show_names_each_source(project: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SFNCOMPILE_")}
    env["SFNCOMPILE_REGION"] = "eu-west-1"
    flow = project / "flow.py"
    flow.write_text("")
    proc = subprocess.run([sys.executable, "-m", "sfncompile", "config", "show", str(flow),
                           "--job-role", "arn:role/job"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line for line in proc.stdout.splitlines()}
    assert "[flag]" in lines["job_role"] and "[env]" in lines["region"]
    assert "pyproject-queue" in lines["job_queue"] and "unset (required)" in lines["sfn_role"]
    assert '{"team": "toml"}' in lines["tags"]
