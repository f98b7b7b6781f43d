"""The `sfncompile` command line."""

from __future__ import annotations

import difflib
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from sfncompile.errors import FlowErrors, UsageError

F = TypeVar("F", bound=Callable[..., Any])

EXIT_DIFF = 1
EXIT_USAGE = 2
EXIT_AWS = 1


def friendly_errors(func: F) -> F:
    """Turn the project's errors into messages and exit codes, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FlowErrors as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            count = len(exc.errors)
            click.echo(f"{count} error{'s' if count != 1 else ''} found", err=True)
            sys.exit(EXIT_USAGE)
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_USAGE)
        except Exception as exc:
            # AWS errors (botocore's) are the user's to act on, not a bug of ours.
            if type(exc).__module__.split(".")[0] not in ("botocore", "boto3"):
                raise
            click.echo(f"error: AWS: {exc}", err=True)
            sys.exit(EXIT_AWS)

    return wrapper  # type: ignore[return-value]


def parse_pairs(pairs: tuple[str, ...], option: str) -> dict[str, str]:
    from sfncompile.runtime.params import ParameterError, parse_cli_pairs

    try:
        return parse_cli_pairs(pairs, option)
    except ParameterError as exc:
        raise UsageError(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="sfncompile")
def main() -> None:
    """Run Metaflow-style flows locally, or compile them to AWS Step Functions.

    \b
      sfncompile run flow.py            run every step as a local process
      sfncompile build flow.py          print the state machine (ASL)
      sfncompile graph flow.py          draw the step graph (Mermaid or dot)
    """


flow_argument = click.argument("flow_file", metavar="FLOW.py",
                               type=click.Path(dir_okay=False, path_type=Path))
flow_option = click.option("--flow", "flow_name", metavar="NAME",
                           help="The FlowSpec class to use when the file defines several.")


def load_flow(flow_file: Path, flow_name: str | None) -> Any:
    from sfncompile.parser import parse_flow

    return parse_flow(flow_file, flow_name)


@main.command()
@flow_argument
@flow_option
@click.option("--format", "fmt", type=click.Choice(["asl", "cloudformation"]), default="asl",
              show_default=True,
              help="asl: the state machine only; cloudformation: a stack with the state "
                   "machine, job definitions, least-privilege roles and the schedule.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@click.option("--check", "golden", type=click.Path(dir_okay=False, path_type=Path),
              help="Compare with a golden file; exit 1 with a unified diff if it differs.")
@click.option("--resolve", "resolve_pairs", multiple=True, metavar="KEY=VALUE",
              help="Substitute a ${KEY} placeholder (repeatable), as deploy does (asl only).")
@click.option("--code-package", metavar="s3://BUCKET/KEY",
              help="cloudformation: the code package tarball (default of CodePackageKey).")
@click.option("--code-sha256", metavar="HEX",
              help="cloudformation: the code package's sha256 (default of CodePackageSha256).")
@click.option("--s3-root", metavar="s3://BUCKET/PREFIX",
              help="cloudformation: the datastore root (defaults of S3Bucket, S3KeyPrefix).")
@click.option("--job-queue", metavar="ARN", help="cloudformation: default of JobQueueArn.")
@click.option("--image", help="cloudformation: default of Image.")
@click.option("--name-prefix", help="cloudformation: prefix of the state machine's name.")
@click.option("--tags", metavar="KEY=VALUE,...", help="cloudformation: tags for the resources.")
@friendly_errors
def build(flow_file: Path, flow_name: str | None, fmt: str, output: Path | None,
          golden: Path | None, resolve_pairs: tuple[str, ...], code_package: str | None,
          code_sha256: str | None, **settings: str | None) -> None:
    """Compile FLOW.py to Amazon States Language (JSON), or to a CloudFormation template.

    The ASL is deterministic and account-independent: deployment values are ${Name}
    placeholders (JobQueue, JobDefinition, S3Bucket, S3KeyPrefix) that deploy fills in.

    With --format cloudformation, the template maps those placeholders to stack parameters
    and resources. Settings (flags, SFNCOMPILE_* environment, [tool.sfncompile] or
    sfncompile.toml) become the parameters' defaults; the template creates its own roles, so
    sfn_role, job_role and events_role are not used.
    """
    from sfncompile.emit import compile_asl
    from sfncompile.emit.render import render_json, resolve

    cfn_only = {"--code-package": code_package, "--code-sha256": code_sha256,
                **{f"--{k.replace('_', '-')}": v for k, v in settings.items()}}
    if fmt == "asl":
        given = sorted(k for k, v in cfn_only.items() if v)
        if given:
            raise UsageError(f"{', '.join(given)}: only with --format cloudformation")
    elif resolve_pairs:
        raise UsageError("--resolve: only with --format asl (the template substitutes "
                         "placeholders itself, through DefinitionSubstitutions)")
    flow = load_flow(flow_file, flow_name)
    definition = compile_asl(flow)
    if fmt == "cloudformation":
        from sfncompile.deploy.config import load_config
        from sfncompile.emit.cloudformation import StackSettings, cloudformation_template

        config = load_config(flow_file.parent, dict(settings))
        stack = StackSettings.from_values(config.values, code_package=code_package,
                                          code_sha256=code_sha256)
        emit_text(render_json(cloudformation_template(flow, definition, stack)), output, golden)
        return
    if resolve_pairs:
        definition = resolve(definition, parse_pairs(resolve_pairs, "--resolve"))
    text = render_json(definition)
    emit_text(text, output, golden)


def emit_text(text: str, output: Path | None, golden: Path | None) -> None:
    if golden is not None:
        try:
            expected = golden.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--check {golden}: cannot read it: {exc.strerror}") from None
        if expected != text:
            diff = difflib.unified_diff(expected.splitlines(keepends=True),
                                        text.splitlines(keepends=True),
                                        fromfile=str(golden), tofile="(built)")
            sys.stdout.writelines(diff)
            sys.exit(EXIT_DIFF)
        click.echo(f"{golden}: up to date", err=True)
        return
    if output is not None:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"-o {output}: cannot write it: {exc.strerror}") from None
        return
    sys.stdout.write(text)


@main.command()
@flow_argument
@flow_option
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot"]), default="mermaid",
              show_default=True, help="Mermaid renders in GitHub pull requests.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def graph(flow_file: Path, flow_name: str | None, fmt: str, output: Path | None) -> None:
    """Draw the step graph of FLOW.py."""
    from sfncompile.emit import diagram

    flow = load_flow(flow_file, flow_name)
    emit_text(diagram.mermaid(flow) if fmt == "mermaid" else diagram.dot(flow), output, None)


@main.command()
@click.argument("asl_file", metavar="FILE.json", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def validate(asl_file: Path) -> None:
    """Check an ASL file against sfncompile's JSON Schema for Amazon States Language."""
    import json

    from sfncompile.emit.validate import validate_asl

    try:
        definition = json.loads(asl_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{asl_file}: cannot read it: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{asl_file}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    problems = validate_asl(definition)
    for problem in problems:
        click.echo(f"{asl_file}: {problem}", err=True)
    if problems:
        sys.exit(1)
    click.echo(f"{asl_file}: valid")


datastore_option = click.option(
    "--datastore-root", envvar="SFNCOMPILE_DATASTORE_ROOT", default=".sfncompile",
    show_default=True, metavar="DIR|s3://BUCKET/PREFIX",
    help="Where runs and artifacts are kept (env: SFNCOMPILE_DATASTORE_ROOT).")
workers_option = click.option(
    "--max-workers", type=click.IntRange(min=1), default=lambda: os.cpu_count() or 1,
    show_default="number of CPUs", help="Tasks run in parallel at most.")


def _run_locally(graph: dict[str, Any], flow_file: Path, root: str, params: dict[str, Any],
                 max_workers: int, **kwargs: Any) -> None:
    from sfncompile.local.progress import Progress
    from sfncompile.local.runner import LocalRunner

    runner = LocalRunner(graph, flow_file, root, params, max_workers, Progress(), **kwargs)
    result = runner.run()
    click.echo(result.pathspec)
    if not result.succeeded:
        sys.exit(1)


def _check_params(graph: dict[str, Any], pairs: tuple[str, ...]) -> dict[str, str]:
    from sfncompile.runtime.params import ParameterError, parse_cli_pairs, resolve_parameters

    try:
        given = parse_cli_pairs(pairs)
        resolve_parameters(graph["parameters"], given)
    except ParameterError as exc:
        raise UsageError(str(exc)) from None
    return given


@main.command()
@flow_argument
@flow_option
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A flow Parameter (repeatable); checked before any task runs.")
@workers_option
@datastore_option
@friendly_errors
def run(flow_file: Path, flow_name: str | None, params: tuple[str, ...], max_workers: int,
        datastore_root: str) -> None:
    """Run FLOW.py locally: every task is a separate process, artifacts go to the datastore.

    The last line printed is the run's name, Flow/run-id, for `show`, `logs` and `resume`.
    """
    from sfncompile.local.worker import TaskLauncher

    with TaskLauncher.for_root(datastore_root) as launcher:  # starts while the flow is parsed
        flow = load_flow(flow_file, flow_name)
        graph = flow.graph_json()
        given = _check_params(graph, params)
        _run_locally(graph, flow_file, datastore_root, given, max_workers, launcher=launcher)


@main.command()
@click.argument("run_pathspec", metavar="FLOW/RUN")
@click.option("--from", "from_step", metavar="STEP",
              help="Re-run from this step (default: the first step that failed).")
@workers_option
@datastore_option
@friendly_errors
def resume(run_pathspec: str, from_step: str | None, max_workers: int,
           datastore_root: str) -> None:
    """Re-run a failed (or changed) run from a step, reusing every task before it.

    The flow file is read again, so a fix made since the failure takes effect.
    """
    from sfncompile.local.resume import cloner, resume_point
    from sfncompile.local.runner import new_run_id
    from sfncompile.local.settle import settle_run
    from sfncompile.local.worker import TaskLauncher
    from sfncompile.runtime.storage import KeyNotFound, open_storage

    flow_name, run_id = _split_run(run_pathspec)
    storage = open_storage(datastore_root)
    try:
        meta = settle_run(storage, flow_name, run_id)
    except KeyNotFound:
        raise UsageError(f"no run {run_pathspec} under {datastore_root}") from None
    flow_file = Path(meta["flow_file"])
    with TaskLauncher.for_root(datastore_root) as launcher:  # starts while the flow is parsed
        flow = load_flow(flow_file, flow_name)
        graph = flow.graph_json()
        order = [s.name for s in flow.analysis.ordered]
        start_at = resume_point(storage, flow_name, run_id, order, from_step, meta)
        new_run = new_run_id()
        click.echo(f"Resuming {run_pathspec} from step {start_at!r} as {flow_name}/{new_run}",
                   err=True)
        _run_locally(graph, flow_file, datastore_root, meta.get("params") or {}, max_workers,
                     run_id=new_run, origin_run=run_id, launcher=launcher,
                     clone=cloner(storage, flow_name, run_id, new_run, order, start_at))


def _split_run(pathspec: str) -> tuple[str, str]:
    flow, _, run = pathspec.partition("/")
    if not flow or not run or "/" in run:
        raise UsageError(f"{pathspec!r}: name a run as Flow/run-id")
    return flow, run


@main.command()
@click.argument("run_pathspec", metavar="FLOW/RUN")
@datastore_option
@friendly_errors
def show(run_pathspec: str, datastore_root: str) -> None:
    """Print a run's steps, tasks, their status and artifact names."""
    from sfncompile import client
    from sfncompile.local.settle import settle_run
    from sfncompile.runtime.storage import KeyNotFound, open_storage

    flow_name, run_id = _split_run(run_pathspec)
    try:  # a run whose local runner died is recorded as interrupted first
        interrupted = settle_run(open_storage(datastore_root), flow_name,
                                 run_id).get("interrupted")
    except (KeyNotFound, ValueError):  # no record, or a bad one: the client says which
        interrupted = False
    client.set_datastore_root(datastore_root)
    run_ = client.Run(run_pathspec)
    steps = run_.steps()
    if not steps:
        raise UsageError(f"no run {run_pathspec} under {datastore_root}")
    status = "succeeded" if run_.successful else ("failed" if run_.finished else "running")
    if interrupted and not run_.successful:
        status = f"interrupted (continue with `sfncompile resume {run_pathspec}`)"
    click.echo(f"{run_pathspec}: {status}")
    for step_ in steps:
        committed = {t.id: t for t in step_.tasks()}
        for task_id in step_.started_tasks():
            task = committed.get(task_id)
            if task is None:
                why = "interrupted" if interrupted else "running or failed"
                click.echo(f"  {step_.name}/{task_id}: not committed ({why})")
                continue
            names = ", ".join(task.artifact_names) or "-"
            click.echo(f"  {step_.name}/{task_id}: ok (attempt {task.attempt})  {names}")


@main.command()
@click.argument("pathspec", metavar="FLOW/RUN/STEP[/TASK]")
@click.option("--stderr/--stdout", "want_stderr", default=None,
              help="Only one stream (default: both).")
@datastore_option
@friendly_errors
def logs(pathspec: str, want_stderr: bool | None, datastore_root: str) -> None:
    """Print the stdout and stderr of a step's tasks (or of one task)."""
    from sfncompile import client

    parts = pathspec.split("/")
    if len(parts) not in (3, 4) or not all(parts):
        raise UsageError(f"{pathspec!r}: expected Flow/run-id/step or Flow/run-id/step/task")
    client.set_datastore_root(datastore_root)
    step_ = client.Step(client.Run("/".join(parts[:2])), parts[2])
    task_ids = [parts[3]] if len(parts) == 4 else step_.started_tasks()
    if not task_ids:
        raise UsageError(f"no tasks for {pathspec} under {datastore_root}")
    for task_id in task_ids:
        task = step_[task_id]
        streams = [("stdout", task.stdout), ("stderr", task.stderr)]
        if want_stderr is not None:
            streams = [streams[1] if want_stderr else streams[0]]
        for name, text in streams:
            if len(task_ids) > 1 or want_stderr is None:
                click.echo(f"--- {task.pathspec} {name}")
            click.echo(text, nl=False)


def _register_aws_commands() -> None:
    from sfncompile.deploy.commands import COMMANDS

    for command in COMMANDS:
        for sub in [command, *getattr(command, "commands", {}).values()]:
            if sub.callback is not None and not isinstance(sub, click.Group):
                sub.callback = friendly_errors(sub.callback)
        main.add_command(command)


_register_aws_commands()
