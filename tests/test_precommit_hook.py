"""The pre-commit hook, as a repository of flows uses it: `pre-commit try-repo` against this
repository installs sfncompile into pre-commit's own environment and runs the hook.

try-repo takes this repository at HEAD plus the changes to tracked files, and installs it
(from PyPI) into a fresh environment each time, so the two runs go side by side.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from sfncompile.emit import compile_asl
from sfncompile.emit.render import render_json
from sfncompile.parser import parse_flow
from tests.conftest import GOLDEN, ROOT

pytest.importorskip("pre_commit")
HOOK = "sfncompile-goldens"


def run(cwd: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH, the hook runs the sfncompile that pre-commit installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.com", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@example.com")
    if home is not None:
        env["PRE_COMMIT_HOME"] = str(home)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, check=False)


def flow_repo(root: Path, drift: bool) -> Path:
    """A git repository with a flow and its golden; `drift` changes the flow afterwards."""
    repo = root / ("drifted" if drift else "clean")
    (repo / "pipelines").mkdir(parents=True)
    flow = repo / "pipelines" / "train.py"
    flow.write_text((GOLDEN / "decorators" / "flow.py").read_text())
    flow.with_suffix(".asl.json").write_text(render_json(compile_asl(parse_flow(flow))))
    (repo / "README.md").write_text("not a flow\n")
    if drift:
        flow.write_text(flow.read_text().replace("gpu=1", "gpu=4"))
    for args in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-qm", "flow"]):
        proc = run(repo, *args)
        assert proc.returncode == 0, proc.stderr
    return repo


def test_try_repo_passes_on_a_clean_flow_and_fails_on_a_drifted_one(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repos = [flow_repo(tmp_path, drift=False), flow_repo(tmp_path, drift=True)]

    def try_repo(repo: Path) -> subprocess.CompletedProcess[str]:
        return run(repo, sys.executable, "-m", "pre_commit", "try-repo", str(ROOT), HOOK,
                   "--all-files", "--verbose", home=tmp_path / f"home-{repo.name}")

    with ThreadPoolExecutor(2) as pool:
        clean, drifted = pool.map(try_repo, repos)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "Passed" in clean.stdout and "1 flow matches its golden" in clean.stdout
    assert drifted.returncode == 1, drifted.stdout + drifted.stderr
    assert "Failed" in drifted.stdout
    assert "~ step train changed:\n    gpu: 1 -> 4" in drifted.stdout
    assert "1 golden out of date" in drifted.stdout
