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

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = [sys.executable, "-c", "from importlinter.cli import lint_imports_command; "
                "lint_imports_command()"]

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


@pytest.mark.slow
def test_the_contracts_hold() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"Contracts: [1-9]\d* kept, 0 broken", result.stdout), result.stdout


@pytest.mark.slow
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


def contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return found


def test_the_architecture_page_draws_the_contracted_layers() -> None:
    (layers,) = [c["layers"] for c in contracts() if c["type"] == "layers"]
    assert isinstance(layers, list)
    wanted = [layer.replace("sfncompile.", "") for layer in layers]
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = page.split("<!-- layers:", 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    assert block.splitlines() == wanted
    # Every package of the layers is a node of the diagram, and only those are.
    diagram = page.split("```mermaid\n", 1)[1].split("```", 1)[0]
    nodes = set(re.findall(r"^  (\w+)\[", diagram, re.MULTILINE))
    assert nodes == {name.strip() for layer in wanted for name in layer.split("|")}
    assert "docs/architecture.md" in (ROOT / "README.md").read_text(encoding="utf-8")


# Modules that share a file name because they play one role in parallel packages
# (docs/architecture.md, "One meaning per name").
SAME_ROLE = {"__init__.py", "__main__.py", "resume.py", "python_api.py"}


def test_each_module_name_has_one_meaning() -> None:
    package = ROOT / "sfncompile"
    names = [p.name for p in package.rglob("*.py")]
    shared = {n for n in names if names.count(n) > 1}
    assert shared <= SAME_ROLE, f"modules that share a name: {sorted(shared - SAME_ROLE)}"
    top = sorted(p.name for p in package.glob("*.py"))
    assert len(top) <= 5, top
    # Every package says what it is for and what it may import.
    for init in package.rglob("__init__.py"):
        doc = init.read_text(encoding="utf-8")
        assert doc.startswith('"""') and "import" in doc.lower().split('"""')[1], init


def test_the_architecture_page_lists_every_module() -> None:
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    table = page.split("### What lives where", 1)[1].split("\n\n", 2)[1]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", table, re.MULTILINE))
    packages = {p.parent.name for p in (ROOT / "sfncompile").glob("*/__init__.py")}
    assert set(rows) == packages - {"templates"}
    for package, text in rows.items():
        listed = set(re.findall(r"`(\w+)`", text))
        modules = {p.stem for p in (ROOT / "sfncompile" / package).glob("*.py")} - {"__init__"}
        assert modules <= listed, f"{package}: not on the page: {sorted(modules - listed)}"
