"""Runs flows with Metaflow and writes their artifacts as JSON: runs in Metaflow's Python.

    python metaflow_driver.py JOB.json OUT.json

JOB is ``{"root": DIR, "parallel": N, "fork": true, "walk": false, "runs": [{"key", "file",
"cwd", "argv", "after_previous", "command", "env"}]}``. Each flow runs with Metaflow's own
command line, ``FILE --no-pylint --datastore local --metadata local COMMAND ARGV`` (COMMAND is
``run`` unless the run says ``resume``; ``env`` is added to its environment), ``parallel`` at a
time, all with the datastore
and metadata under ``root`` (METAFLOW_DATASTORE_SYSROOT_LOCAL, set by the caller), so a run
marked ``after_previous`` can read the earlier ones with Metaflow's client.

Metaflow is imported once, here: each run's launcher is a fork of this process that executes
the flow file as ``__main__`` (what ``python FILE ...`` does), which saves one Metaflow import
per flow; its tasks are Metaflow's own subprocesses as always. When every run has ended, this
process reads them back with Metaflow's client and writes, per key, the exit code, the end of
the output and every task's artifacts normalised by tests/parity/normalise.py; with ``walk``,
also what the client says of every run, failed ones too (tests/parity/client_walk.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metaflow  # imported before forking: every launcher inherits it
from client_walk import walk_run
from normalise import normalise

# What Metaflow stores for itself in every task (not the flow's artifacts). Its `name`, the
# flow's name, is compared: sfncompile stores it too.
METAFLOW_OWN = frozenset({
    "_graph_info", "_foreach_stack", "_task_ok", "_success", "_current_step",
    "_transition", "_foreach_num_splits", "_foreach_var", "_foreach_values",
    "_unbounded_foreach", "_control_mapper_tasks", "_control_task_is_mapper_zero",
    "_parallel_ubf_iter", "_catch_exception", "_split_index", "_cached_input",
    "_exception", "_iteration_stack", "_configs_processed",
})


def metaflow_argv(spec: dict[str, Any], base: str) -> list[str]:
    return [spec["file"], "--quiet", "--no-pylint", "--datastore", "local", "--metadata",
            "local", spec.get("command", "run"), "--run-id-file", base + ".run_id",
            "--max-workers", "4", *spec["argv"]]


def launch(spec: dict[str, Any], root: str, fork: bool) -> int:
    """Start the launcher of one run (a fork, or `python FILE ...`); returns its pid."""
    base = os.path.join(root, spec["key"])
    if not fork:  # the plain way, for benchmarks/parity_bench.py to compare
        with open(base + ".out", "wb") as out:
            return subprocess.Popen([sys.executable, *metaflow_argv(spec, base)],
                                    cwd=spec["cwd"], stdout=out, stderr=out,
                                    env={**os.environ, **spec.get("env", {})}).pid
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        out = os.open(base + ".out", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.chdir(spec["cwd"])
        os.environ.update(spec.get("env", {}))
        sys.argv = metaflow_argv(spec, base)
        sys.path[0] = os.path.dirname(spec["file"])
        # The flow module is __main__, as under `python FILE`, with the classes that
        # Metaflow's import put on __main__ for pickling (ForeachFrame).
        module = types.ModuleType("__main__")
        module.__file__ = spec["file"]
        for name, value in vars(sys.modules["__main__"]).items():
            if isinstance(value, type) and value.__module__ == "__main__":
                setattr(module, name, value)
        sys.modules["__main__"] = module
        with open(spec["file"], "rb") as f:
            source = compile(f.read(), spec["file"], "exec")
        try:
            exec(source, module.__dict__)
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_all(runs: list[dict[str, Any]], root: str, parallel: int,
            fork: bool = True) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    running: dict[int, tuple[str, float]] = {}

    def reap_one() -> None:
        pid, status = os.wait()
        key, started = running.pop(pid)
        results[key] = {"code": os.waitstatus_to_exitcode(status),
                        "seconds": round(time.monotonic() - started, 2)}

    for spec in runs:
        if spec.get("after_previous"):
            while running:
                reap_one()
        while len(running) >= parallel:
            reap_one()
        running[launch(spec, root, fork)] = (spec["key"], time.monotonic())
    while running:
        reap_one()
    for spec in runs:
        base = os.path.join(root, spec["key"])
        result = results[spec["key"]]
        with open(base + ".out", errors="replace") as f:
            result["output"] = f.read()[-6000:]
        result["script"] = os.path.basename(spec["file"])
        result["run_id"] = ""
        if os.path.exists(base + ".run_id"):
            with open(base + ".run_id") as f:
                result["run_id"] = f.read().strip()
    return results


def stored_names(task: Any) -> list[str]:
    """Every artifact the task stored. The client lists only names without a leading `_`
    (though `task[name]` reads any), and a flow's own `self._x` must be compared too: the
    names come from the task's record in the local datastore."""
    flow, run_id, step, task_id = task.pathspec.split("/")
    record = os.path.join(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"], ".metaflow", flow,
                          run_id, step, task_id, f"{task.current_attempt}.data.json")
    with open(record) as f:
        return sorted(json.load(f)["objects"])


def find_run(run_id: str, script: str | None = None) -> Any:
    """The run with this id. Metaflow's local run ids are the time in microseconds, so two
    runs launched together can share one: then the one whose tasks ran `script`."""
    from metaflow import Flow, namespace

    namespace(None)
    found = []
    for name in sorted(os.listdir(os.path.join(os.environ["METAFLOW_DATASTORE_SYSROOT_LOCAL"],
                                               ".metaflow"))):
        try:
            found.append(Flow(name)[run_id])
        except Exception:
            continue
    if len(found) > 1 and script:
        found = [run for run in found if _script_name(run) == script] or found
    if not found:
        raise LookupError(f"no flow has a run {run_id}")
    return found[0]


def _script_name(run: Any) -> str | None:
    """The flow file a run's tasks ran (their `script-name` metadata)."""
    for step in run:
        for task in step:
            return str(task.metadata_dict.get("script-name"))
    return None


def artifacts(run_id: str, script: str) -> tuple[str, dict[str, list[dict[str, Any]]]]:
    run = find_run(run_id, script)
    steps: dict[str, list[dict[str, Any]]] = {}
    for step in run:
        steps[step.id] = [{n: normalise(task[n].data) for n in stored_names(task)
                           if n not in METAFLOW_OWN} for task in step]
    return run.pathspec, steps


def foreach_stack(task: Any) -> list[int]:
    """A task's foreach indices, outermost first, from the stack Metaflow stores with it."""
    try:
        return [frame.index for frame in task["_foreach_stack"].data]
    except KeyError:
        return []


def walk(results: dict[str, dict[str, Any]]) -> None:
    roles = {r["run_id"]: key for key, r in results.items() if r["run_id"]}
    for key, result in results.items():
        if not result["run_id"]:
            continue
        try:
            run = find_run(result["run_id"], result["script"])
            results[key]["walk"] = walk_run(metaflow, run, foreach_stack, roles)
        except Exception as exc:  # reported for the flow, not a crash of the job
            import traceback

            results[key]["client_error"] = f"{type(exc).__name__}: {exc}\n" + \
                traceback.format_exc()


def main() -> None:
    with open(sys.argv[1]) as f:
        job = json.load(f)
    results = run_all(job["runs"], job["root"], job.get("parallel", 2), job.get("fork", True))
    if job.get("walk"):
        walk(results)
    for result in results.values():
        if result["code"] == 0 and result["run_id"]:
            try:
                result["pathspec"], result["steps"] = artifacts(result["run_id"],
                                                                result["script"])
            except Exception as exc:  # reported for the flow, not a crash of the job
                result["client_error"] = f"{type(exc).__name__}: {exc}"
    with open(sys.argv[2], "w") as f:
        json.dump(results, f, sort_keys=True)


if __name__ == "__main__":
    main()
