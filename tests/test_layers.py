"""The layers of the package are a contract (pyproject's [tool.importlinter], drawn in
docs/architecture.md): `lint-imports` keeps them, and breaks on an import that climbs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                "lint_imports_command()"]

pytestmark = pytest.mark.slow


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH first: the `sfncompile` that grimp analyses is the one in `tree`.
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([*LINT_IMPORTS, "--no-cache"], cwd=tree, env=env, capture_output=True,
                          text=True, timeout=300)


def copy_tree(tmp_path: Path) -> Path:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "sfncompile", tree / "sfncompile",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", result.stdout), result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        pytest.param("runtime/task.py", "import sfncompile.parser",
                     "The runtime imports neither the compiler", id="runtime-imports-parser"),
        pytest.param("emit/asl.py", "import boto3",
                     "The compiler imports no AWS SDK", id="compiler-imports-boto3"),
        pytest.param("flow/current.py", "import click",
                     "A flow imports sfncompile.flow without click", id="flow-imports-click"),
        pytest.param("client/core.py", "from sfncompile.ir import FlowIR",
                     "The client imports no compiler", id="client-imports-ir"),
        pytest.param("datastore/storage.py", "import sfncompile.local.runner",
                     "Layers", id="datastore-imports-local"),
    ],
)
def test_a_climbing_import_breaks_a_contract(tmp_path: Path, module: str, line: str,
                                             contract: str) -> None:
    tree = copy_tree(tmp_path)
    path = tree / "sfncompile" / module
    # Inside a function, where a lazy import hides from a glance but not from the linter.
    path.write_text(path.read_text() + f"\n\ndef _climb() -> None:\n    {line}  # noqa\n")
    result = lint_imports(tree)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken, result.stdout
