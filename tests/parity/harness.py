"""Running flows under both tools and reading every task's artifacts back, normalised."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sfncompile import client
from sfncompile.client import task_graph
from tests.parity.client_walk import Facts, walk_run
from tests.parity.metaflow_env import DRIVER, metaflow_env, metaflow_python, user_env
from tests.parity.normalise import normalise

Tasks = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class MetaflowRun:
    """One flow for the Metaflow driver (tests/parity/metaflow_driver.py)."""

    key: str
    file: Path
    argv: Sequence[str] = ()
    after_previous: bool = False  # wait for the runs before (it reads them with the client)
    cwd: Path | None = None  # where `python FILE run` starts (default: the file's directory)
    command: str = "run"  # or "resume": the latest run of the flow
    env: Mapping[str, str] = field(default_factory=dict)  # added to the run's environment


class MetaflowJob:
    """Runs flows with Metaflow 2.19 in the background, one Metaflow process for all."""

    def __init__(self, runs: Sequence[MetaflowRun], home: Path, parallel: int = 3,
                 env: dict[str, str] | None = None, walk: bool = False) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        job = {"root": str(home), "parallel": parallel, "walk": walk, "runs": [
            {"key": r.key, "file": str(r.file), "cwd": str(r.cwd or r.file.parent),
             "argv": list(r.argv), "after_previous": r.after_previous, "command": r.command,
             "env": dict(r.env)} for r in runs]}
        (home / "job.json").write_text(json.dumps(job))
        self.proc = subprocess.Popen(
            [metaflow_python(), str(DRIVER), str(home / "job.json"), str(home / "out.json")],
            env=metaflow_env(home, env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True)
        self._results: dict[str, dict[str, Any]] | None = None

    def results(self) -> dict[str, dict[str, Any]]:
        if self._results is None:
            output, _ = self.proc.communicate(timeout=900)
            assert self.proc.returncode == 0, f"the Metaflow driver failed:\n{output}"
            self._results = json.loads((self.home / "out.json").read_text())
        return self._results

    def tasks(self, key: str) -> Tasks:
        """The run's tasks, or an assertion error saying why Metaflow did not run it."""
        result = self.results()[key]
        assert result["code"] == 0, f"Metaflow's run of {key} failed:\n{result['output']}"
        assert "steps" in result, f"Metaflow's client could not read {key}: " \
            f"{result.get('client_error')}\n{result['output']}"
        steps: Tasks = result["steps"]
        return steps


def run_sfncompile(file: Path, root: Path, argv: Sequence[str] = (), cwd: Path | None = None,
                   env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`sfncompile run FILE` with the same user and hash seed as Metaflow's runs."""
    args = [sys.executable, "-m", "sfncompile", "run", str(file), "--datastore-root",
            str(root), "--max-workers", "4", *argv]
    return subprocess.run(args, cwd=cwd or file.parent, env=user_env(env),
                          capture_output=True, text=True, timeout=300)


def sfncompile_tasks(proc: subprocess.CompletedProcess[str], root: Path) -> Tasks:
    """Every task's artifacts of the run `proc` made, through sfncompile's client: every
    stored name, as the Metaflow side reads them (the client does not list `_x` names)."""
    assert proc.returncode == 0, f"sfncompile run failed:\n{proc.stdout}\n{proc.stderr}"
    pathspec = proc.stdout.strip().splitlines()[-1]
    client.set_datastore_root(str(root))
    try:
        run = client.Run(pathspec)
        return {step.name: [{name: normalise(task.load(name))
                             for name in sorted(task.artifact_shas)}
                            for task in step.tasks()]
                for step in run.steps()}
    finally:
        client.set_datastore_root(None)


def walk_ours(root: Path, runs: dict[str, str]) -> dict[str, Facts]:
    """What sfncompile's client says of each run (role -> pathspec), as Metaflow's facts
    arrive from its driver."""
    roles = {pathspec.split("/")[1]: role for role, pathspec in runs.items()}
    client.set_datastore_root(str(root))
    client.namespace(None)  # the runs are the user `parity`'s (tests/parity/metaflow_env.py)
    try:
        walks = {role: walk_run(client, client.Run(pathspec),
                                lambda task: task_graph.foreach_indices(task.id), roles)
                 for role, pathspec in runs.items()}
    finally:
        client.set_datastore_root(None)
        client.default_namespace()
    return json.loads(json.dumps(walks))  # as Metaflow's facts arrive: through JSON
