"""The ASL is byte-identical across Python versions, hash seeds and working directories.

The golden files are written by the Python running the suite; here every golden flow is built
again by Python 3.10 and 3.12 (each in its own virtualenv under .cache/), from another
directory and with another hash seed, and must match them byte for byte.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, golden_dirs

VERSIONS = ("3.10", "3.12")


def interpreter(version: str) -> str:
    found = shutil.which(f"python{version}")
    if found and subprocess.run([found, "-V"], capture_output=True).returncode == 0:
        return found
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    matches = sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))
    if not matches:
        pytest.fail(f"Python {version} is not installed (looked on PATH and in {pyenv_root})")
    return matches[-1]


def venv_python(version: str) -> Path:
    """A virtualenv with sfncompile's compile-time dependencies (no boto3), cached."""
    venv = ROOT / ".cache" / "venvs" / f"py{version}"
    python = venv / "bin" / "python"
    if not (venv / ".ready").exists():
        subprocess.run([interpreter(version), "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "click>=8.1", "jsonschema>=4.20",
                        "tomli>=2.0"], check=True)
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
        (venv / ".ready").touch()
    return python


@pytest.mark.parametrize("version", VERSIONS)
def test_goldens_are_byte_identical_on(version: str, tmp_path: Path) -> None:
    python = venv_python(version)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    # One process builds every golden flow and compares it byte for byte.
    flows = [str(case / "flow.py") for case in golden_dirs()]
    proc = subprocess.run([str(python), "-m", "sfncompile", "build", *flows,
                           "--check-dir", str(ROOT / "golden")],
                          capture_output=True, text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(flows)} up to date, 0 differ, 0 with errors" in proc.stderr


def test_output_has_no_paths_times_or_ids() -> None:
    for case in golden_dirs():
        text = (case / "flow.asl.json").read_text()
        assert str(ROOT) not in text and "/tmp" not in text and "\\\\" not in text
        for marker in ("2026-", "T00:", "uuid"):
            assert marker not in text, (case.name, marker)
