"""`python -m sfncompile.runtime`: run one task (see sfncompile.runtime.task)."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any

from sfncompile.conventions.bootstrap import GRAPH_IN_PACKAGE as GRAPH_KEY
from sfncompile.conventions.steps import END, ON_ERROR_HOOK_STEP
from sfncompile.conventions.task_env import DATASTORE_ENV, ORIGIN_RUN_ENV, driven_locally
from sfncompile.datastore.storage import open_storage
from sfncompile.runtime import lineage
from sfncompile.runtime.exit_hook import hooks_after_end, hooks_on_error
from sfncompile.runtime.reuse import ResumeError, reuse_task
from sfncompile.runtime.task import TaskError, TaskRunner, TaskSpec, load_graph

GRAPH_IN_PACKAGE = Path(GRAPH_KEY)
DEFAULT_ROOT = ".sfncompile"
# A Batch job's command is its job definition's; a local run that sends a task of a resumed
# run to Batch names the origin run in the job's environment instead.


@functools.cache
def parser() -> argparse.ArgumentParser:
    """Built once: the local fork server builds it before forking, so tasks only parse."""
    p = argparse.ArgumentParser(prog="python -m sfncompile.runtime",
                                description="Run one task of a compiled flow.")
    p.add_argument("--step", required=True)
    p.add_argument("--run", required=True, help="the run id")
    p.add_argument("--task", required=True, help="the task id: <scope><loop counter>")
    p.add_argument("--attempt", type=int, default=0)
    p.add_argument("--root", default=os.environ.get(DATASTORE_ENV, DEFAULT_ROOT),
                   help="datastore root: a directory or s3://bucket/prefix")
    p.add_argument("--graph", type=Path, default=GRAPH_IN_PACKAGE,
                   help="the step graph JSON written by the compiler")
    p.add_argument("--flow-file", type=Path, help="default: the graph's source, next to it")
    p.add_argument("--params", default=None, help="JSON object of parameters (start only)")
    p.add_argument("--origin-run", default=None, help="the run this one resumes")
    p.add_argument("--caught", default=None,
                   help="JSON {Error, Cause} of a failure to record under @catch instead of "
                        "running the step")
    return p


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    return parser().parse_args(argv)


@functools.cache
def _plain_options() -> tuple[dict[str, tuple[str, Any]], dict[str, Any], frozenset[str]]:
    """Each `--option VALUE` of the parser: its dest and type; the defaults; the required."""
    options: dict[str, tuple[str, Any]] = {}
    defaults: dict[str, Any] = {}
    required = set()
    for action in parser()._actions:
        defaults[action.dest] = action.default
        if type(action) is argparse._StoreAction and action.nargs is None:
            options.update((name, (action.dest, action.type)) for name in action.option_strings)
            if action.required:
                required.add(action.dest)
    return options, defaults, frozenset(required)


def quick_parse(argv: list[str]) -> argparse.Namespace | None:
    """argv as the local runner writes it (`--option VALUE` pairs only) parsed without
    argparse's machinery, or None for anything else (argparse then parses it and says what
    is wrong). A fork server parses a task's arguments before it forks: argparse would touch
    enough memory that the server's pages shared with running tasks cost ~140 copies."""
    options, defaults, required = _plain_options()
    if len(argv) % 2:
        return None
    values = dict(defaults)
    given = set()
    for name, text in zip(argv[::2], argv[1::2], strict=True):
        if name not in options or text.startswith("-"):
            return None
        dest, kind = options[name]
        try:
            values[dest] = kind(text) if kind is not None else text
        except (TypeError, ValueError):
            return None
        given.add(dest)
    if not required <= given:
        return None
    values.pop("help", None)
    return argparse.Namespace(**values)


def main(argv: list[str] | None = None) -> int:
    return run_task(parse_args(argv))


def run_task(args: argparse.Namespace) -> int:
    """Run the task that parsed arguments describe."""
    try:
        graph = load_graph(args.graph)
        flow_file = args.flow_file or args.graph.resolve().parent.parent / graph["source"]
        params = json.loads(args.params) if args.params else None
        if params is not None and not isinstance(params, dict):
            raise TaskError("--params must be a JSON object")
        if args.step == ON_ERROR_HOOK_STEP:
            return hooks_on_error(graph, flow_file, args.root, args.run)
        caught = json.loads(args.caught) if args.caught else None
        if caught is not None and not isinstance(caught, dict):
            raise TaskError("--caught must be a JSON object")
        node = _batch_node(graph, args.step)
        task = args.task if node is None else lineage.node_task_id(args.task, node)
        spec = TaskSpec(flow_file=flow_file, graph=graph, root=args.root, run=args.run,
                        step=args.step, task=task, attempt=args.attempt, params=params,
                        origin_run=args.origin_run or os.environ.get(ORIGIN_RUN_ENV) or None,
                        caught=caught)
        storage = open_storage(spec.root)
        if reuse_task(spec, storage):  # a run resumed on Step Functions reuses this task
            return 0
        runner = TaskRunner(spec, storage)
        code = runner.run()
        if code == 0 and node == 0:  # the job ends with its main node: wait for the others
            problem = lineage.wait_for_nodes(storage, graph, spec.run, spec.step, spec.task,
                                             runner.store.attempt)
            if problem:
                raise TaskError(problem)
        # From a code package on AWS, the committed end task calls on_success; a local run
        # (which names the flow file) and a hybrid run's jobs leave it to the local runner.
        last = spec.step == graph.get("end_step", END)
        on_aws = args.flow_file is None and not driven_locally()
        if code == 0 and last and on_aws and graph.get("exit_hook"):
            hooks_after_end(graph, flow_file, args.root, args.run)
        return code
    except (TaskError, ResumeError, json.JSONDecodeError) as exc:
        print(f"sfncompile.runtime: {exc}", file=sys.stderr)
        return 2


def _batch_node(graph: dict[str, object], step: str) -> int | None:
    """This container's node index when it is a node of a @parallel step's multi-node job."""
    steps = graph.get("steps")
    info = steps.get(step) if isinstance(steps, dict) else None
    if not (isinstance(info, dict) and info.get("parallel")):
        return None
    return lineage.batch_node(os.environ)


if __name__ == "__main__":
    sys.exit(main())
