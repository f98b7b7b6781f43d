"""`Runner` and `NBRunner`: run a flow from Python or a notebook and get its `Run`.

    with Runner("flow.py").run(alpha=1) as running:
        running.run.data.result

As Metaflow's, a run is a separate process (`sfncompile run`, so every task is a process of
its own too); keyword arguments of `run()` are the flow's parameters. `NBRunner(FlowClass)`
runs a flow defined in the current notebook cell (the cell's text up to the class, as
Metaflow does); outside IPython it runs the file that defines the class.

Metaflow's top-level `config=[(NAME, PATH), ...]` and `config_value=[(NAME, dict), ...]` give
the flow's Configs their values for `run()` (a resume keeps the origin run's).

Not provided: `async_run`/`async_resume`, `spin`, `profile=` and Metaflow's other top-level
options (`--with`, `--tag`); `tags=` given to `run()` is refused rather than silently dropped.
"""

from __future__ import annotations

import ast
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from sfncompile.client import Run
from sfncompile.datastore.storage import open_storage
from sfncompile.exception import MetaflowNotFound
from sfncompile.flow.notebook import flow_source, up_to_flow


class RunnerError(Exception):
    """The run could not be started (not that it failed: see ExecutingRun.status)."""


class NBRunnerInitializationError(RunnerError):
    pass


class ExecutingRun:
    """A finished run: `.run` (the client's Run), `.status`, `.returncode`, its output."""

    def __init__(self, runner: Runner, proc: subprocess.CompletedProcess[str],
                 run: Run | None) -> None:
        self.runner = runner
        self.returncode: int = proc.returncode
        self.stdout: str = proc.stdout
        self.stderr: str = proc.stderr
        self._run = run

    @property
    def run(self) -> Run:
        if self._run is None:
            raise RunnerError(f"the run did not start (exit {self.returncode}):\n"
                              f"{self.stderr.strip()}")
        return self._run

    @property
    def status(self) -> str:
        return "successful" if self.returncode == 0 else "failed"

    def __enter__(self) -> ExecutingRun:
        return self

    def __exit__(self, *args: object) -> None:
        self.runner.cleanup()

    def __repr__(self) -> str:
        return f"<ExecutingRun {self._run.pathspec if self._run else '-'} {self.status}>"


def _param_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return str(value)


class Runner:
    """Runs `flow_file` with sfncompile's local runner (see the module's doc).

    `datastore_root` (default: SFNCOMPILE_DATASTORE_ROOT, else `.sfncompile` in `cwd`),
    `flow` (the class's name when the file defines several) and `max_workers` are
    sfncompile's options; `env` adds environment variables; `show_output` echoes the run's
    output as it would appear on a terminal."""

    def __init__(self, flow_file: str | os.PathLike[str], show_output: bool = True,
                 env: dict[str, str] | None = None, cwd: str | None = None,
                 datastore_root: str | None = None, flow: str | None = None,
                 max_workers: int | None = None, **kwargs: Any) -> None:
        unknown = sorted(set(kwargs) - {"profile", "file_read_timeout", "pylint", "quiet",
                                        "config", "config_value"})
        if unknown:
            raise TypeError(f"Runner() does not take {', '.join(unknown)}")
        self.cwd = os.path.abspath(cwd or os.getcwd())
        self.flow_file = os.path.join(self.cwd, os.fspath(flow_file))
        self.show_output = show_output
        self.env = {**os.environ, **(env or {})}
        root = datastore_root or self.env.get("SFNCOMPILE_DATASTORE_ROOT") or ".sfncompile"
        self.datastore_root = root if root.startswith("s3://") else os.path.join(self.cwd, root)
        self.flow = flow
        self.max_workers = max_workers
        from sfncompile.parser.configs import api_config_pairs

        files, values = api_config_pairs(kwargs.get("config"), kwargs.get("config_value"))
        self._config_args = [arg for option, pairs in (("--config", files),
                                                       ("--config-value", values))
                             for pair in pairs for arg in (option, *pair)]

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *args: object) -> None:
        self.cleanup()

    def cleanup(self) -> None:
        """Nothing to remove: the run's record stays in its datastore."""

    def _execute(self, argv: list[str]) -> ExecutingRun:
        cmd = [sys.executable, "-m", "sfncompile", *argv, "--datastore-root", self.datastore_root]
        if self.max_workers:
            cmd += ["--max-workers", str(self.max_workers)]
        proc = subprocess.run(cmd, cwd=self.cwd, env=self.env, capture_output=True, text=True,
                              check=False)
        if self.show_output:
            sys.stdout.write(proc.stdout)
            sys.stderr.write(proc.stderr)
        lines = proc.stdout.strip().splitlines()
        pathspec = lines[-1] if lines else ""
        flow, _, run_id = pathspec.partition("/")
        run = None
        if flow.isidentifier() and run_id and "/" not in run_id:
            with contextlib.suppress(MetaflowNotFound):  # a run that recorded nothing
                run = Run(pathspec, open_storage(self.datastore_root))
        return ExecutingRun(self, proc, run)

    def run(self, **kwargs: Any) -> ExecutingRun:
        """Run the flow to its end; keyword arguments are its parameters."""
        if "tags" in kwargs:
            raise TypeError("run(tags=...): sfncompile does not record tags on local runs")
        argv = ["run", self.flow_file, *self._config_args]
        if self.flow:
            argv += ["--flow", self.flow]
        for name, value in kwargs.items():
            if name == "max_workers":
                self.max_workers = int(value)
                continue
            argv += ["--param", f"{name}={_param_value(value)}"]
        return self._execute(argv)

    def resume(self, origin_run_id: str | None = None, step_to_rerun: str | None = None,
               **kwargs: Any) -> ExecutingRun:
        """Resume a run (by default the flow's latest) from its first failed step, or from
        `step_to_rerun`."""
        if kwargs:
            raise TypeError(f"resume() does not take {', '.join(sorted(kwargs))}")
        if self._config_args:
            raise RunnerError("config/config_value: not with resume (a resumed run keeps the "
                              "origin run's Configs, as in Metaflow)")
        flow_name = self.flow or _flow_name(Path(self.flow_file))
        if origin_run_id is None:
            from sfncompile.datastore import layout as ds

            storage = open_storage(self.datastore_root)
            runs = [Run(f"{flow_name}/{r}", storage) for r in ds.list_runs(storage, flow_name)]
            if not runs:
                raise RunnerError(f"no run of {flow_name} to resume under {self.datastore_root}")
            origin_run_id = max(runs, key=lambda r: (r.created, r.id)).id
        argv = ["resume", f"{flow_name}/{origin_run_id}"]
        if step_to_rerun:
            argv += ["--from", step_to_rerun]
        return self._execute(argv)


def _flow_name(flow_file: Path) -> str:
    """The FlowSpec subclass a file defines (the last one, if several)."""
    try:
        tree = ast.parse(flow_file.read_bytes(), str(flow_file))
    except (OSError, SyntaxError) as exc:
        raise RunnerError(f"cannot read {flow_file}: {exc}") from None
    names = [n.name for n in tree.body if isinstance(n, ast.ClassDef)
             and any(ast.unparse(b).split(".")[-1] == "FlowSpec" for b in n.bases)]
    if not names:
        raise RunnerError(f"{flow_file} defines no FlowSpec subclass")
    return names[-1]


def format_flowfile(cell: str, flow_name: str | None = None) -> str:
    """A notebook cell as a flow file: its text up to the end of the flow class."""
    text = up_to_flow(cell, flow_name)
    if text is None:
        raise NBRunnerInitializationError("the cell defines no FlowSpec subclass")
    return text


class NBRunner:
    """Run a flow class defined in the current notebook cell: `NBRunner(MyFlow).nbrun()`
    gives its Run. `base_dir` is where the flow file is written (default: the working
    directory); the other arguments are Runner's."""

    def __init__(self, flow: type, show_output: bool = True, env: dict[str, str] | None = None,
                 base_dir: str | None = None, **kwargs: Any) -> None:
        self.flow = flow
        self.base_dir = os.path.abspath(base_dir or os.getcwd())
        self._tmp: str | None = None
        source = flow_source(flow)
        if source is None:
            raise NBRunnerInitializationError(
                f"cannot find the source of {flow.__name__}: NBRunner runs a flow defined in "
                "the current notebook cell, or in a file")
        fd, self._tmp = tempfile.mkstemp(prefix=flow.__name__, suffix=".py", dir=self.base_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(source)
        flow_file = self._tmp
        self.runner = Runner(flow_file, show_output=show_output, env=env, cwd=self.base_dir,
                             flow=flow.__name__, **kwargs)

    def nbrun(self, **kwargs: Any) -> Run:
        """Run to the end and return the Run (the temporary flow file is removed)."""
        try:
            return self.runner.run(**kwargs).run
        finally:
            self.cleanup()

    def nbresume(self, **kwargs: Any) -> Run:
        try:
            return self.runner.resume(**kwargs).run
        finally:
            self.cleanup()

    def run(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.run(**kwargs)

    def resume(self, **kwargs: Any) -> ExecutingRun:
        return self.runner.resume(**kwargs)

    def cleanup(self) -> None:
        if self._tmp is not None and os.path.exists(self._tmp):
            os.remove(self._tmp)
