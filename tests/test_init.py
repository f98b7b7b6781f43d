"""`sfncompile init`: the scaffolded project tests itself as generated."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from sfncompile.cli import main
from sfncompile.deploy.config import NAMES, load_config
from tests.conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("init") / "new-project"
    result = CliRunner().invoke(main, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert f"created {target / 'flows' / 'hello_flow.asl.json'}" in result.output
    return target


def env_with_this_checkout() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def test_generated_tests_pass(project: Path) -> None:
    # -p: the pytest11 entry point is only there once the package is (re)installed
    plugin = "sfncompile.review.pytest_plugin"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", plugin],
                          cwd=project, capture_output=True, text=True,
                          env=env_with_this_checkout())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout


def test_files(project: Path) -> None:
    made_by_pytest = {".pytest_cache", "__pycache__"}
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*")
                   if p.is_file() and not made_by_pytest.intersection(p.parts))
    assert files == [".github/workflows/flows.yml", ".gitignore", "flows/hello_flow.asl.json",
                     "flows/hello_flow.py", "requirements.txt", "sfncompile.toml",
                     "tests/test_flows.py"]


def test_config_has_every_setting_commented(project: Path) -> None:
    text = (project / "sfncompile.toml").read_text()
    assert tomllib.loads(text) == {}
    assert load_config(project, {}).values == {}
    uncommented = re.sub(r"^# (\[tags\]|\w+ = )", r"\1", text, flags=re.M)
    settings = tomllib.loads(uncommented)
    assert set(settings) == set(NAMES)


def test_workflow(project: Path) -> None:
    workflow = yaml.safe_load((project / ".github/workflows/flows.yml").read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert set(triggers) == {"push", "pull_request"}
    test, review = workflow["jobs"]["test"], workflow["jobs"]["review"]
    assert [s.get("uses", s.get("run")) for s in test["steps"]] == [
        "actions/checkout@v4", "actions/setup-python@v5", "pip install -r requirements.txt",
        "pytest -q"]
    assert review["if"] == "github.event_name == 'pull_request'"
    assert review["permissions"]["pull-requests"] == "write"
    runs = [s.get("run", "") for s in review["steps"]]
    assert any("sfncompile diff --format markdown" in r for r in runs)
    assert any("gh pr comment" in r for r in runs)


def test_workflow_diff_step_writes_the_comment(project: Path, tmp_path: Path) -> None:
    """The review job's diff script, run in a clone with a changed flow."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    shutil.copytree(project, repo)
    env = {**env_with_this_checkout(), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e.com",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def sh(script: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-e", "-c", script], cwd=repo, env={**env, **extra},
                              capture_output=True, text=True)

    base = sh("git init -q -b main && git add -A && git commit -qm base && git checkout -qb pr")
    assert base.returncode == 0, base.stderr
    flow = repo / "flows" / "hello_flow.py"
    flow.write_text(flow.read_text().replace("cpu=1, memory=2048", "cpu=2, memory=2048"))
    change = sh("git commit -qam change")
    assert change.returncode == 0, change.stderr
    workflow = yaml.safe_load((repo / ".github/workflows/flows.yml").read_text())
    step = next(s for s in workflow["jobs"]["review"]["steps"]
                if "sfncompile diff" in s.get("run", ""))
    proc = sh(step["run"], BASE="main")
    assert proc.returncode == 0, proc.stderr
    comment = (repo / "comment.md").read_text()
    assert comment.startswith("### State machine `HelloFlow`\n")
    assert "  - cpu: 1 vCPU -> 2 vCPU" in comment and "```mermaid" in comment


def test_init_refuses_to_overwrite(project: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(project)])
    assert result.exit_code == 2
    assert result.output.startswith("error: would overwrite ")
    assert "(use --force)" in result.output


def test_requirements_pin_this_version_and_say_how_to_install_it_until_published(
        project: Path) -> None:
    from sfncompile import __version__

    lines = (project / "requirements.txt").read_text().splitlines()
    assert lines[-2:] == [f"sfncompile=={__version__}", "pytest>=8"]
    comment = " ".join(line for line in lines if line.startswith("#"))
    assert "not published on PyPI yet" in comment and "--sfncompile-spec" in comment


def test_sfncompile_spec_is_the_requirement(tmp_path: Path) -> None:
    wheel = "./wheels/sfncompile-0.1.0-py3-none-any.whl"
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--sfncompile-spec", wheel])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "requirements.txt").read_text() == f"{wheel}\npytest>=8\n"
