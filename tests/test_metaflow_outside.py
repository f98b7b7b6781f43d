"""`metaflow` where users type it: with sfncompile installed (a wheel built from this tree, in a
virtualenv of its own) and no Metaflow, `python flow.py run` of a `from metaflow import ...`
flow and `from metaflow import Flow` in a script work with no setup; with the real Metaflow
installed too, the real one wins.

One sdist and wheel (`python -m build`, as a release makes them) and two virtualenvs for the
session (about 20 s): one without Metaflow (only sfncompile and what the commands used here
import, pytest included), one that also sees this Python's site-packages, where Metaflow 2.19
is installed. The released package is checked here too: `twine check`, the README's first
command and a project that `sfncompile init` writes, run from the wheel.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from importlib.metadata import version
from pathlib import Path

import pytest

from sfncompile import __version__
from sfncompile.flow import metaflow_alias

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("metaflow-outside")]

ROOT = Path(__file__).resolve().parent.parent
PTH = "sfncompile-metaflow.pth"

FLOW = """
    from metaflow import FlowSpec, Parameter, current, step


    class AlphaFlow(FlowSpec):
        alpha = Parameter("alpha", default=1)

        @step
        def start(self):
            self.doubled = self.alpha * 2
            self.next(self.end)

        @step
        def end(self):
            self.flow_name = current.flow_name


    if __name__ == "__main__":
        AlphaFlow()
"""

NOTEBOOK = """
    import metaflow
    from metaflow import Flow

    run = Flow("AlphaFlow").latest_run
    print(run.id, run["start"].task.data.doubled, run["end"].task.data.flow_name,
          metaflow.FlowSpec.__module__)
"""

MUTATOR = """
    from metaflow import FlowSpec, StepMutator, step


    class AddRetry(StepMutator):
        pass


    class MutatedFlow(FlowSpec):
        @AddRetry
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass


    if __name__ == "__main__":
        MutatedFlow()
"""


def _run(*argv: str) -> str:
    # Without PYTHONPATH: a tree on it would be what pip's own processes see as installed.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _pip(*args: str) -> None:
    _run(sys.executable, "-m", "pip", "--disable-pip-version-check", *args)


# `build` and `twine` are test extras (scripts/test installs them); without them (a bare
# checkout) pip makes the wheel and the release checks are skipped.
HAVE_BUILD = all(importlib.util.find_spec(m) for m in ("build", "twine"))


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel of this tree, built from a copy (a build leaves build/ and
    *.egg-info in its source): with `python -m build`, the wheel is built from the sdist, so a
    file the sdist lacks is missing from the wheel too."""
    tmp = tmp_path_factory.mktemp("dists")
    src = tmp / "src"
    shutil.copytree(ROOT / "sfncompile", src / "sfncompile",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    if HAVE_BUILD:
        _run(sys.executable, "-m", "build", "-o", str(tmp / "dist"), str(src))
    else:
        _pip("wheel", "-q", "--no-deps", "-w", str(tmp / "dist"), str(src))
    return tmp / "dist"


@pytest.fixture(scope="session")
def wheel(dists: Path) -> Path:
    return next(dists.glob("sfncompile-*.whl"))


def _venv(path: Path, wheel: Path, *deps: str, system: bool = False) -> Path:
    args = [sys.executable, "-m", "venv", "--without-pip", str(path)]
    subprocess.run(args + (["--system-site-packages"] if system else []), check=True)
    python = path / "bin" / "python"
    _pip("--python", str(python), "install", "-q", "--no-deps", str(wheel))
    if deps:
        _pip("--python", str(python), "install", "-q", *deps)
    return python


@pytest.fixture(scope="session")
def without_metaflow(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # What `run`, `build` and the client import (boto3 is needed by AWS commands only), and
    # pytest for the tests of a project that `sfncompile init` writes.
    deps = [f"{name}=={version(name)}" for name in ("click", "jsonschema", "pytest")]
    return _venv(tmp_path_factory.mktemp("venv") / "bare", wheel, *deps)


@pytest.fixture(scope="session")
def with_metaflow(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("venv") / "both", wheel, system=True)


def _python(python: Path, cwd: Path, *args: str,
            **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PYTHON", "SFNCOMPILE_", "METAFLOW_", "AWS_"))}
    return subprocess.run([str(python), *args], capture_output=True, text=True, cwd=cwd,
                          env={**clean, "USER": "ada", **env}, timeout=120)


def _write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_the_wheel_puts_the_finder_into_site_packages(without_metaflow: Path) -> None:
    site = next((without_metaflow.parent.parent / "lib").glob("python3*/site-packages"))
    line = (site / PTH).read_text()
    assert line.startswith("import sys;") and line.count("\n") == 1
    assert f'"{metaflow_alias.FALLBACK_FINDER}"' in line
    assert not (site / "metaflow").exists()


def test_a_metaflow_flow_runs_and_builds_as_a_script_without_metaflow(
        without_metaflow: Path, tmp_path: Path) -> None:
    flow = _write(tmp_path, "flow.py", FLOW)
    ran = _python(without_metaflow, tmp_path, str(flow), "run", "--alpha", "3")
    assert ran.returncode == 0, ran.stderr
    run_id = ran.stdout.strip().splitlines()[-1].split("/")[1]

    notebook = _write(tmp_path, "notebook.py", NOTEBOOK)
    read = _python(without_metaflow, tmp_path, str(notebook))
    assert read.returncode == 0, read.stderr
    assert read.stdout.split() == [run_id, "6", "AlphaFlow", "sfncompile.flow.flowspec"]

    built = _python(without_metaflow, tmp_path, str(flow), "step-functions", "create",
                    "--only-json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["StartAt"]

    off = _python(without_metaflow, tmp_path, "-c", "import metaflow",
                  SFNCOMPILE_METAFLOW_ALIAS="0")
    assert "ModuleNotFoundError: No module named 'metaflow'" in off.stderr


def test_a_mutator_in_a_script_is_an_error_at_its_line(without_metaflow: Path,
                                                       tmp_path: Path) -> None:
    flow = _write(tmp_path, "mutated.py", MUTATOR)
    proc = _python(without_metaflow, tmp_path, str(flow), "run")
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"error: {flow}:9:6: @AddRetry is a StepMutator")
    assert "Traceback" not in proc.stderr


def test_the_real_metaflow_wins_where_it_is_installed(with_metaflow: Path,
                                                      tmp_path: Path) -> None:
    proc = _python(with_metaflow, tmp_path, "-c", textwrap.dedent("""
        import sys, metaflow, sfncompile
        print(metaflow.__file__, metaflow.FlowSpec.__module__, sfncompile.__file__)
        print(" ".join(getattr(f, "__name__", "") for f in sys.meta_path))
    """))
    assert proc.returncode == 0, proc.stderr
    first, finders = proc.stdout.splitlines()
    metaflow_file, flowspec_module, sfncompile_file = first.split()
    assert flowspec_module == "metaflow.flowspec"
    assert not metaflow_file.startswith(str(with_metaflow.parent.parent))
    assert sfncompile_file.startswith(str(with_metaflow.parent.parent))  # the wheel's
    assert finders.split().count(metaflow_alias.FALLBACK_FINDER) == 1  # there, and unused


@pytest.mark.skipif(not HAVE_BUILD, reason="build and twine are test extras: pip install '.[test]'")
def test_the_released_package_installs_and_works(dists: Path, wheel: Path,
                                                 without_metaflow: Path, tmp_path: Path) -> None:
    """What a user of the published package does first, from the wheel in a clean virtualenv:
    the README's first command, then a project from `sfncompile init` and its tests."""
    names = sorted(p.name for p in dists.iterdir())
    assert names == [f"sfncompile-{__version__}-py3-none-any.whl",
                     f"sfncompile-{__version__}.tar.gz"]  # the version's one source
    checked = _run(sys.executable, "-m", "twine", "check", "--strict", *map(str, dists.iterdir()))
    assert checked.count("PASSED") == 2, checked
    command = without_metaflow.parent / "sfncompile"
    shown = _python(command, tmp_path, "--version")
    assert shown.stdout == f"sfncompile, version {__version__}\n", shown.stderr

    (tmp_path / "examples").mkdir()  # the README's `sfncompile run examples/hello.py && ...`
    shutil.copy2(ROOT / "examples" / "hello.py", tmp_path / "examples" / "hello.py")
    ran = _python(command, tmp_path, "run", "examples/hello.py")
    assert ran.returncode == 0, ran.stderr
    built = _python(command, tmp_path, "build", "examples/hello.py")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["StartAt"]

    project = tmp_path / "project"
    made = _python(command, tmp_path, "init", str(project), "--sfncompile-spec", str(wheel))
    assert made.returncode == 0, made.stderr
    requirements = project / "requirements.txt"
    assert requirements.read_text().splitlines()[0] == str(wheel)
    # The CI's `pip install -r requirements.txt` (its lines are installed already: no deps).
    _pip("--python", str(without_metaflow), "install", "-q", "--no-deps", "-r", str(requirements))
    tested = _python(without_metaflow, project, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed" in tested.stdout
