"""The `sfncompile` command line."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from sfncompile.datastore_root import check_datastore_root
from sfncompile.errors import FlowErrors, UsageError
from sfncompile.run_summary import batch_job_note, run_summary, uncommitted_reason

F = TypeVar("F", bound=Callable[..., Any])

EXIT_DIFF = 1
EXIT_USAGE = 2
EXIT_AWS = 1


def friendly_errors(func: F) -> F:
    """Turn the project's errors into messages and exit codes, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
            return result
        except BrokenPipeError:
            _stdout_closed()
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
            from sfncompile.runtime.storage import DatastoreError

            if isinstance(exc, DatastoreError):  # a damaged run record or artifact, named
                click.echo(f"error: {exc}", err=True)
                sys.exit(EXIT_AWS)
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


class _Commands(click.Group):
    """Imports the AWS commands' module only when one of them (or the list) is asked for."""

    _aws_loaded = False

    def _load_aws(self) -> None:
        if not self._aws_loaded:
            type(self)._aws_loaded = True
            _register_aws_commands()

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is None and not self._aws_loaded:
            self._load_aws()
            command = super().get_command(ctx, cmd_name)
        return command

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_aws()
        return super().list_commands(ctx)


_NO_ARGS: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())


class _Main(_Commands):
    """click's own usage errors in the same `error: ...` form as ours, and a closed stdout
    (`sfncompile build f.py | head -c1`) as an error rather than a traceback."""

    def main(self, args: Any = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except _NO_ARGS as exc:  # `sfncompile` alone: the help, as click prints it
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                click.echo(f"{ctx.get_usage()}\nTry '{ctx.command_path} "
                           f"{ctx.help_option_names[0]}' for help.\n", err=True)
            click.echo(f"error: {exc.format_message()}", err=True)
            sys.exit(EXIT_USAGE)
        except BrokenPipeError:
            _stdout_closed()
        sys.exit(code if isinstance(code, int) else 0)


def _stdout_closed() -> None:
    # Point stdout at /dev/null so the interpreter's final flush cannot fail again.
    devnull = os.open(os.devnull, os.O_WRONLY)
    with contextlib.suppress(OSError, ValueError):  # no real descriptor (captured in tests)
        os.dup2(devnull, sys.stdout.fileno())
    click.echo("error: standard output was closed before everything was written", err=True)
    sys.exit(EXIT_USAGE)


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
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


with_option = click.option(
    "--with", "decospecs", multiple=True, metavar="DECO[:K=V,...]",
    help="Add a step decorator to every step that lacks it, as Metaflow's --with does "
         "(repeatable), e.g. --with retry:times=2.")
tag_option = click.option("--tag", "tags", multiple=True, metavar="TAG",
                          help="Tag the run (repeatable); steps read them as current.tags.")


def load_flow(flow_file: Path, flow_name: str | None, decospecs: tuple[str, ...] = ()) -> Any:
    from sfncompile.parser import parse_flow
    from sfncompile.parser.with_decorators import apply_with

    return apply_with(parse_flow(flow_file, flow_name), decospecs)


@main.command()
@click.argument("flow_files", metavar="FLOW.py...", nargs=-1, required=True,
                type=click.Path(dir_okay=False, path_type=Path))
@flow_option
@click.option("--format", "fmt", type=click.Choice(["asl", "cloudformation"]), default="asl",
              show_default=True,
              help="asl: the state machine only; cloudformation: a stack with the state "
                   "machine, job definitions, least-privilege roles and the schedule.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout.")
@click.option("--check", "golden", type=click.Path(dir_okay=False, path_type=Path),
              help="Compare with a golden file; exit 1 if it differs, saying what changed per "
                   "step, then the unified diff.")
@click.option("--check-dir", type=click.Path(file_okay=False, path_type=Path), metavar="DIR",
              help="Compare each FLOW.py with DIR/<its directory's name>/<its stem>.asl.json "
                   "(golden/x/flow.py: golden/x/flow.asl.json), all in one process; exit 1 "
                   "with a diff for each that differs.")
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
@click.option("--branch", metavar="NAME", help="cloudformation: the @project branch, as deploy.")
@click.option("--production", is_flag=True, help="cloudformation: the @project production branch.")
@with_option
@friendly_errors
def build(flow_files: tuple[Path, ...], flow_name: str | None, fmt: str, output: Path | None,
          golden: Path | None, check_dir: Path | None, resolve_pairs: tuple[str, ...],
          code_package: str | None, code_sha256: str | None, branch: str | None,
          production: bool, decospecs: tuple[str, ...], **settings: str | None) -> None:
    """Compile FLOW.py to Amazon States Language (JSON), or to a CloudFormation template.

    The ASL is deterministic and account-independent: deployment values are ${Name}
    placeholders (JobQueue, JobDefinition, S3Bucket, S3KeyPrefix) that deploy fills in.

    Several FLOW.py files are built together only with --check-dir (golden tests in CI).

    With --format cloudformation, the template maps those placeholders to stack parameters
    and resources. Settings (flags, SFNCOMPILE_* environment, [tool.sfncompile] or
    sfncompile.toml) become the parameters' defaults; the template creates its own roles, so
    sfn_role, job_role and events_role are not used.
    """
    from sfncompile.emit import compile_asl
    from sfncompile.emit.render import render_json, resolve

    if check_dir is not None:
        given = [flag for flag, value in (("--check", golden), ("-o", output),
                                          ("--resolve", resolve_pairs), ("--with", decospecs))
                 if value]
        if fmt != "asl" or given:
            raise UsageError(f"--check-dir: not with {', '.join(given) or '--format ' + fmt}")
        check_goldens(flow_files, flow_name, check_dir)
        return
    if len(flow_files) > 1:
        raise UsageError("several FLOW.py files: only with --check-dir DIR")
    flow_file = flow_files[0]
    cfn_only = {"--code-package": code_package, "--code-sha256": code_sha256,
                "--branch": branch, "--production": production,
                **{f"--{k.replace('_', '-')}": v for k, v in settings.items()}}
    if fmt == "asl":
        given = sorted(k for k, v in cfn_only.items() if v)
        if given:
            raise UsageError(f"{', '.join(given)}: only with --format cloudformation")
    elif resolve_pairs:
        raise UsageError("--resolve: only with --format asl (the template substitutes "
                         "placeholders itself, through DefinitionSubstitutions)")
    flow = load_flow(flow_file, flow_name, decospecs)
    definition = compile_asl(flow, check_schema=False, deployment=False)
    if fmt == "asl":
        from sfncompile.emit.aws_support import aws_warnings

        for line in aws_warnings(flow):
            click.echo(line, err=True)
    if fmt == "cloudformation":
        from sfncompile.deploy.config import load_config
        from sfncompile.emit.cloudformation import StackSettings, cloudformation_template

        config = load_config(flow_file.parent, dict(settings))
        from sfncompile.deploy.projects import resolve_project

        stack = StackSettings.from_values(config.values, code_package=code_package,
                                          code_sha256=code_sha256,
                                          project=resolve_project(flow, branch, production))
        emit_text(render_json(cloudformation_template(flow, definition, stack)), output, golden,
                  flow_file)
        return
    if resolve_pairs:
        definition = resolve(definition, parse_pairs(resolve_pairs, "--resolve"))
    text = render_json(definition)
    emit_text(text, output, golden, flow_file)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def golden_for(flow_file: Path, check_dir: Path) -> Path:
    """`--check-dir` layout: DIR/<the flow's directory name>/<the flow's stem>.asl.json."""
    return check_dir / flow_file.resolve().parent.name / f"{flow_file.stem}.asl.json"


def check_goldens(flow_files: tuple[Path, ...], flow_name: str | None, check_dir: Path) -> None:
    """Build and compare every flow in this process; report all of them, then exit."""
    from sfncompile.review.golden import check_flow

    bad_input = differ = 0
    for flow_file in flow_files:
        try:
            check = check_flow(flow_file, golden_for(flow_file, check_dir), flow_name)
        except FlowErrors as exc:
            for error in exc.errors:
                click.echo(str(error), err=True)
            bad_input += 1
            continue
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            bad_input += 1
            continue
        if not check.up_to_date:
            sys.stdout.write(check.explain())
            differ += 1
    ok = len(flow_files) - bad_input - differ
    click.echo(f"{ok} up to date, {differ} differ, {bad_input} with errors "
               f"(goldens under {check_dir})", err=True)
    if bad_input:
        sys.exit(EXIT_USAGE)
    if differ:
        sys.exit(EXIT_DIFF)


def compare_with_golden(text: str, golden: Path, option: str) -> bool:
    """True when `golden` holds `text`; otherwise say what changed per step, then the
    unified diff, on stdout."""
    try:
        raw = golden.read_bytes()  # byte for byte: no newline translation
    except OSError as exc:
        raise UsageError(f"{option} {golden}: cannot read it: {exc.strerror}") from None
    if raw == text.encode():
        return True
    try:
        expected = raw.decode()
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option} {golden}: not UTF-8 (byte {exc.start})") from None
    from sfncompile.review.golden import explain_drift

    sys.stdout.write(explain_drift(expected, text, str(golden)))
    return False


def emit_text(text: str, output: Path | None, golden: Path | None,
              source: Path | None = None) -> None:
    if golden is not None:
        if not compare_with_golden(text, golden, "--check"):
            sys.exit(EXIT_DIFF)
        click.echo(f"{golden}: up to date", err=True)
        return
    if output is not None:
        if source is not None and _same_file(output, source):
            raise UsageError(f"-o {output}: that is the flow file itself; write elsewhere")
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
    emit_text(diagram.mermaid(flow) if fmt == "mermaid" else diagram.dot(flow), output, None,
              flow_file)


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
    except UnicodeDecodeError as exc:
        raise UsageError(f"{asl_file}: not UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{asl_file}:{exc.lineno}:{exc.colno}: not JSON: {exc.msg}") from None
    except RecursionError:
        raise UsageError(f"{asl_file}: nested too deeply to be a state machine") from None
    except ValueError as exc:  # an integer of over 4300 digits
        raise UsageError(f"{asl_file}: not usable JSON: {exc}") from None
    try:
        problems = validate_asl(definition)
    except RecursionError:
        raise UsageError(f"{asl_file}: nested too deeply to be a state machine") from None
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
    if graph.get("exit_hook"):
        from sfncompile.local.exit_hooks import call_exit_hooks

        call_exit_hooks(graph, flow_file, root, runner.run_id, result.succeeded)
    click.echo(result.pathspec)
    if not result.succeeded:
        sys.exit(1)


def _remote_steps(flow: Any, flow_file: Path, root: str) -> Any:
    """In a run with an S3 datastore, the @batch steps that run as AWS Batch jobs."""
    from sfncompile.local.hybrid import plan_remote_steps

    return plan_remote_steps(flow, flow_file, root, lambda line: click.echo(line, err=True))


def _check_params(graph: dict[str, Any], pairs: tuple[str, ...],
                  flow_file: Path) -> dict[str, Any]:
    """The run's parameters as given, checked, with IncludeFile paths read into contents."""
    from sfncompile.runtime.params import ParameterError, parse_cli_pairs, resolve_parameters
    from sfncompile.runtime.run_inputs import read_include_files

    try:
        given = parse_cli_pairs(pairs)
        resolve_parameters(graph["parameters"], given)
        return read_include_files(graph["parameters"], given, flow_file.resolve().parent)
    except ParameterError as exc:
        raise UsageError(str(exc)) from None


@main.command()
@flow_argument
@flow_option
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A flow Parameter (repeatable); checked before any task runs.")
@workers_option
@datastore_option
@tag_option
@with_option
@friendly_errors
def run(flow_file: Path, flow_name: str | None, params: tuple[str, ...], max_workers: int,
        datastore_root: str, tags: tuple[str, ...], decospecs: tuple[str, ...]) -> None:
    """Run FLOW.py locally: every task is a separate process, artifacts go to the datastore.

    The last line printed is the run's name, Flow/run-id, for `show`, `logs` and `resume`.
    With an s3:// datastore and a job_queue and image configured, @batch steps run as AWS
    Batch jobs (deploy's code package and job definitions) and the others locally.
    """
    root = check_datastore_root(datastore_root, write=True)
    from sfncompile.local.worker import TaskLauncher

    with TaskLauncher.for_root(root) as launcher:  # starts while the flow is parsed
        flow = load_flow(flow_file, flow_name, decospecs)
        _check_packages(flow)
        graph = flow.graph_json()
        given = _check_params(graph, params, flow_file)
        _run_locally(graph, flow_file, root, given, max_workers, launcher=launcher, tags=tags,
                     remote=_remote_steps(flow, flow_file, root))


def _check_packages(flow: Any) -> None:
    """@pypi/@conda packages that this Python cannot import stop the run before it starts."""
    if flow.packages is None and not any(s.policies.packages for s in flow.steps):
        return
    from sfncompile.packages import missing_packages

    errors = missing_packages(flow)
    if errors:
        raise FlowErrors(errors)


@main.command()
@click.argument("run_pathspec", metavar="FLOW/RUN")
@click.option("--from", "from_step", metavar="STEP",
              help="Re-run from this step (default: the first step that failed).")
@click.option("--flow-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FLOW.py",
              help="The flow's source (default: the file the run recorded; a run on Step "
                   "Functions records none).")
@click.option("--on-aws", is_flag=True,
              help="Start a new execution of the deployed state machine that reuses the "
                   "finished tasks (deploy the fix first), instead of running locally.")
@click.option("--name", "machine_name", metavar="NAME",
              help="--on-aws: the state machine (default: the name deploy gives it).")
@workers_option
@datastore_option
@tag_option
@with_option
@friendly_errors
def resume(run_pathspec: str, from_step: str | None, flow_file: Path | None, on_aws: bool,
           machine_name: str | None, max_workers: int, datastore_root: str,
           tags: tuple[str, ...], decospecs: tuple[str, ...]) -> None:
    """Re-run a failed (or changed) run from a step, reusing every task before it.

    The flow file is read again, so a fix made since the failure takes effect. A run on
    Step Functions (with an s3:// datastore root) resumes locally too, or with --on-aws as a
    new execution.
    """
    from sfncompile.local.resume import (
        cloner,
        origin_params,
        origin_record,
        resume_point,
        reused_steps,
    )
    from sfncompile.local.runner import new_run_id
    from sfncompile.local.worker import TaskLauncher
    from sfncompile.runtime.storage import KeyNotFound, open_storage

    flow_name, run_id = _split_run(run_pathspec)
    if on_aws:
        from sfncompile.deploy.resume import aws_datastore_root

        datastore_root = aws_datastore_root(datastore_root)
        given = [o for o, v in (("--tag", tags), ("--with", decospecs)) if v]
        if given:
            raise UsageError(f"{', '.join(given)}: not with --on-aws (the new execution runs "
                             "the state machine as deployed)")
    elif machine_name:
        raise UsageError("--name: only with --on-aws")
    storage = open_storage(check_datastore_root(datastore_root, write=True))
    try:
        meta = origin_record(storage, flow_name, run_id)
    except KeyNotFound:
        raise UsageError(f"no run {run_pathspec} under {datastore_root}") from None
    flow_file = flow_file or (Path(meta["flow_file"]) if meta.get("flow_file") else None)
    if flow_file is None:
        raise UsageError(f"{run_pathspec} records no flow file (it ran on Step Functions): "
                         "give the flow's source with --flow-file FLOW.py")
    # Started while the flow is parsed; a resume on AWS runs no local task.
    launching: contextlib.AbstractContextManager[TaskLauncher | None] = (
        contextlib.nullcontext() if on_aws else TaskLauncher.for_root(datastore_root))
    with launching as launcher:
        flow = load_flow(flow_file, flow_name, decospecs)
        graph = flow.graph_json()
        order = [s.name for s in flow.analysis.ordered]
        start_at = resume_point(storage, flow_name, run_id, order, from_step, meta)
        params = origin_params(storage, graph, run_id, meta)
        new_run = new_run_id()
        if on_aws:
            from sfncompile.deploy.resume import resume_on_aws

            resume_on_aws(flow, machine_name, run_id, new_run, params,
                          reused_steps(order, start_at))
            click.echo(f"Resuming {run_pathspec} from step {start_at!r} on Step Functions as "
                       f"{flow_name}/{new_run}", err=True)
            click.echo(f"{flow_name}/{new_run}")
            return
        click.echo(f"Resuming {run_pathspec} from step {start_at!r} as {flow_name}/{new_run}",
                   err=True)
        _run_locally(graph, flow_file, datastore_root, params, max_workers,
                     run_id=new_run, origin_run=run_id, launcher=launcher, tags=tags,
                     clone=cloner(storage, flow_name, run_id, new_run, order, start_at),
                     remote=_remote_steps(flow, flow_file, datastore_root))


def _split_run(pathspec: str) -> tuple[str, str]:
    flow, _, run = pathspec.partition("/")
    if not flow or not run or "/" in run:
        raise UsageError(f"{_shown(pathspec)}: name a run as Flow/run-id")
    _check_part(flow, "flow name", identifier=True)
    _check_part(run, "run id")
    return flow, run


MAX_NAME = 255  # a file name on every file system we run on
RESERVED_NAMES = (".", "..", "data")  # data/ holds a flow's artifact blobs


def _check_part(value: str, what: str, identifier: bool = False) -> str:
    """One part of a pathspec, which becomes one directory (or S3 key part) of the datastore."""
    if identifier and not value.isidentifier():
        raise UsageError(f"{what} {_shown(value)} is not a Python identifier")
    if len(value) > MAX_NAME:
        raise UsageError(f"{what} {_shown(value)} is longer than {MAX_NAME} characters")
    if value in RESERVED_NAMES or not value.isprintable():
        raise UsageError(f"{what} {_shown(value)} is not allowed ({', '.join(RESERVED_NAMES)} "
                         "are reserved, and control characters cannot be used)")
    return value


def _shown(value: str) -> str:
    return repr(value) if len(value) <= 80 else f"{value[:60]!r}... ({len(value)} characters)"


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
    root = check_datastore_root(datastore_root, write=False)
    try:  # a run whose local runner died is recorded as interrupted first
        interrupted = settle_run(open_storage(root), flow_name, run_id).get("interrupted")
    except (KeyNotFound, ValueError):  # no record, or a bad one: the client says which
        interrupted = False
    client.set_datastore_root(root)
    run_ = client.Run(run_pathspec)
    steps = run_.steps()
    if not steps and run_.started_at is None:  # neither a task nor a run record
        raise UsageError(f"no run {run_pathspec} under {datastore_root}")
    status = run_.status
    if (interrupted or status == "interrupted") and not run_.successful:
        status = f"interrupted (continue with `sfncompile resume {run_pathspec}`)"
    click.echo(f"{run_pathspec}: {status}")
    for line in run_summary(run_):
        click.echo(f"  {line}")
    for step_ in steps:
        committed = {t.id: t for t in step_.tasks()}
        for task_id in step_.started_tasks():
            task = committed.get(task_id)
            if task is None:
                why = "interrupted" if interrupted else uncommitted_reason(step_[task_id])
                click.echo(f"  {step_.name}/{task_id}: not committed ({why})")
                continue
            names = ", ".join(task.artifact_names) or "-"
            click.echo(f"  {step_.name}/{task_id}: ok (attempt {task.attempt})  {names}"
                       f"{batch_job_note(task.last_attempt_meta())}")


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
        raise UsageError(f"{_shown(pathspec)}: expected Flow/run-id/step or "
                         "Flow/run-id/step/task")
    _split_run("/".join(parts[:2]))
    _check_part(parts[2], "step name", identifier=True)
    if len(parts) == 4:
        _check_part(parts[3], "task id")
    client.set_datastore_root(check_datastore_root(datastore_root, write=False))
    step_ = client.Step(client.Run("/".join(parts[:2])), parts[2])
    started = step_.started_tasks()
    task_ids = [parts[3]] if len(parts) == 4 else started
    if not started:
        raise UsageError(f"no tasks for {'/'.join(parts[:3])} under {datastore_root}")
    if len(parts) == 4 and parts[3] not in started:
        raise UsageError(f"no task {parts[3]!r} in {'/'.join(parts[:3])} (tasks: "
                         f"{', '.join(started[:10])}{', ...' if len(started) > 10 else ''})")
    for task_id in task_ids:
        task = step_[task_id]
        streams = [("stdout", task.stdout), ("stderr", task.stderr)]
        meta = task.last_attempt_meta()
        if meta.get("batch"):  # a task that ran in AWS Batch: say where its whole log is
            click.echo(f"--- {task.pathspec}{batch_job_note(meta)}", err=True)
        if want_stderr is not None:
            streams = [streams[1] if want_stderr else streams[0]]
        for name, text in streams:
            if len(task_ids) > 1 or want_stderr is None:
                click.echo(f"--- {task.pathspec} {name}")
            click.echo(text, nl=False)


def _register_aws_commands() -> None:
    from sfncompile.deploy.commands import COMMANDS
    from sfncompile.deploy.event_commands import event

    for command in [*COMMANDS, event]:
        for sub in [command, *getattr(command, "commands", {}).values()]:
            if sub.callback is not None and not isinstance(sub, click.Group):
                sub.callback = friendly_errors(sub.callback)
        main.add_command(command)


def _register_light_commands() -> None:
    """Commands whose modules import only click at the top: registered at once."""
    from sfncompile.card_cli import card_commands
    from sfncompile.review.commands import COMMANDS
    from sfncompile.verify import verify

    for command in (*COMMANDS, verify):
        if command.callback is not None:
            command.callback = friendly_errors(command.callback)
        main.add_command(command)
    main.add_command(card_commands(friendly_errors))


_register_light_commands()
