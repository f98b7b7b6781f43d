"""Where Metaflow runs in the tests, and an environment that keeps it inside a temp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
from pathlib import Path

HERE = Path(__file__).resolve().parent
DRIVER = HERE / "metaflow_driver.py"
# The user every run (Metaflow's and sfncompile's) sees, so that current.username,
# current.namespace and @project's branch agree.
USER = "parity"


def metaflow_python() -> str:
    """The interpreter with Metaflow 2.19: this one (the `test` extra installs it) unless
    METAFLOW_PYTHON names another, such as a virtualenv kept apart from sfncompile."""
    return os.environ.get("METAFLOW_PYTHON") or sys.executable


@cache
def metaflow_package_dir() -> Path:
    """The installed `metaflow` package's directory, found without importing it here."""
    code = ("import importlib.util; "
            "print(importlib.util.find_spec('metaflow').submodule_search_locations[0])")
    proc = subprocess.run([metaflow_python(), "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, f"metaflow is not installed for {metaflow_python()}: " \
        f"install the test extra (pip install -e '.[test]')\n{proc.stderr}"
    return Path(proc.stdout.strip())


def user_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of both tools' runs: a fixed user, a fixed hash seed (set iteration
    order must not differ between the two runs), no AWS credentials or endpoints but those
    in `extra` (moto's, for the flows that use AWS)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "METAFLOW_", "SFNCOMPILE_"))}
    env.update(USER=USER, LOGNAME=USER, PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1")
    # Metaflow's local runtime retries at once; sfncompile's waits unless told not to.
    env.update(SFNCOMPILE_RETRY_WAIT_SCALE="0")
    env.update(extra or {})
    return env


def metaflow_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """Metaflow with its datastore, metadata and configuration under `home`: it writes
    nothing into the real $HOME or the working directory, and needs no network."""
    home.mkdir(parents=True, exist_ok=True)
    env = user_env(extra)
    env.update(HOME=str(home), METAFLOW_HOME=str(home / ".metaflowconfig"),
               METAFLOW_USER=USER, METAFLOW_DATASTORE_SYSROOT_LOCAL=str(home),
               METAFLOW_DEFAULT_DATASTORE="local", METAFLOW_DEFAULT_METADATA="local",
               METAFLOW_CARD_LOCALROOT=str(home / "cards"))
    return env
