"""`python -m sfncompile.runtime.exit_hook`: call a flow's @exit_hook functions after its run.

As Metaflow does: a hook is a function of the flow's module (or a dotted import path); one that
takes `run` (or **kwargs) gets the run's client object; a hook that fails is reported and the
others still run, and the run's result does not change. The local runner starts this module
once the run has ended; on AWS the `end` task calls the on_success hooks after it commits (see
`hooks_after_end`), and a state machine's failure path can run it as a Batch job.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
import traceback
from pathlib import Path
from typing import Any

from sfncompile.runtime.task import TaskError, load_flow_class


def run_hooks(flow_file: Path, flow_name: str, names: list[str], root: str, run_id: str) -> int:
    """Call each hook; return how many failed (reported on stderr)."""
    load_flow_class(flow_file, flow_name)
    module = sys.modules[flow_file.stem]
    failed = 0
    for name in names:
        try:
            hook = _resolve(module, name)
            kwargs: dict[str, Any] = {}
            spec = inspect.getfullargspec(hook)
            if "run" in spec.args or "run" in spec.kwonlyargs or spec.varkw is not None:
                kwargs["run"] = _run(root, f"{flow_name}/{run_id}")
            hook(**kwargs)
        except Exception:  # a hook's failure is reported, never the run's
            failed += 1
            print(f"[exit_hook] hook {name!r} failed:", file=sys.stderr)
            traceback.print_exc()
    return failed


def hooks_after_end(graph: dict[str, Any], flow_file: Path, root: str, run_id: str) -> None:
    """On AWS, the committed `end` task calls the on_success hooks (the run has succeeded)."""
    names = (graph.get("exit_hook") or {}).get("on_success") or []
    if names:
        run_hooks(flow_file, graph["flow"], names, root, run_id)


def hooks_on_error(graph: dict[str, Any], flow_file: Path, root: str, run_id: str) -> int:
    """The failure path's Batch job: call the on_error hooks of the failed run."""
    names = (graph.get("exit_hook") or {}).get("on_error") or []
    return 1 if names and run_hooks(flow_file, graph["flow"], names, root, run_id) else 0


def _resolve(module: Any, name: str) -> Any:
    if hasattr(module, name):
        return getattr(module, name)
    path, _, attr = name.rpartition(".")
    if path:
        return getattr(importlib.import_module(path), attr)
    raise TaskError(f"no function {name!r} in {module.__file__}")


def _run(root: str, pathspec: str) -> Any:
    try:
        from sfncompile import client

        client.set_datastore_root(root)
        return client.Run(pathspec)
    except Exception as exc:  # as Metaflow: the hook still runs, with run=None
        print(f"[exit_hook] cannot read run {pathspec}: {exc}", file=sys.stderr)
        return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m sfncompile.runtime.exit_hook",
                                description="Call a flow's @exit_hook functions.")
    p.add_argument("--flow-file", type=Path, required=True)
    p.add_argument("--flow", required=True, help="the FlowSpec class")
    p.add_argument("--root", required=True, help="the datastore root")
    p.add_argument("--run", required=True, help="the run id")
    p.add_argument("--hook", action="append", default=[], help="a hook's name (repeatable)")
    args = p.parse_args(argv)
    try:
        failed = run_hooks(args.flow_file, args.flow, args.hook, args.root, args.run)
    except (TaskError, OSError, SyntaxError, ImportError) as exc:
        print(f"[exit_hook] {exc}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
