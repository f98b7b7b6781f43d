"""`run`, `resume`, `show` and `logs`: local runs, and reading any run back."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from sfncompile.cli.common import (
    FlowParamsCommand,
    Pairs,
    check_datastore_root,
    config_file_option,
    config_value_option,
    datastore_option,
    flow_argument,
    flow_option,
    given_configs,
    load_flow,
    max_splits_option,
    root_option,
    run_id_file_option,
    tag_option,
    with_option,
    workers_option,
)
from sfncompile.client.run_summary import (
    batch_job_note,
    caught_note,
    failure_lines,
    run_summary,
    uncommitted_reason,
)
from sfncompile.errors import FlowErrors, UsageError


def _run_locally(graph: dict[str, Any], flow_file: Path, root: str, params: dict[str, Any],
                 max_workers: int, run_id_file: Path | None = None, quiet: bool = False,
                 verbose: bool = False, **kwargs: Any) -> None:
    from sfncompile.local.progress import Progress

    # --quiet: no task output and no live display (so no escape codes) even on a terminal
    progress = Progress(tty=False if quiet else None, graph=graph, verbose=verbose,
                        show_output=not quiet)
    from sfncompile.local.runner import LocalRunner

    runner = LocalRunner(graph, flow_file, root, params, max_workers, progress, **kwargs)
    write_run_id(run_id_file, runner.run_id)
    result = runner.run()
    if graph.get("exit_hook"):
        from sfncompile.local.hooks import call_exit_hooks

        call_exit_hooks(graph, flow_file, root, runner.run_id, result.succeeded)
    click.echo(result.pathspec)
    if not result.succeeded:
        sys.exit(1)


def write_run_id(path: Path | None, run_id: str) -> None:
    """--run-id-file: the run's id alone (no newline), before any task runs, as Metaflow."""
    if path is None:
        return
    try:
        path.write_text(run_id, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"--run-id-file {path}: cannot write it: "
                         f"{exc.strerror or exc}") from None


def _remote_steps(flow: Any, flow_file: Path, root: str) -> Any:
    """In a run with an S3 datastore, the @batch steps that run as AWS Batch jobs."""
    from sfncompile.local.hybrid import plan_remote_steps

    return plan_remote_steps(flow, flow_file, root, lambda line: click.echo(line, err=True))


def _check_params(graph: dict[str, Any], pairs: tuple[str, ...],
                  flow_file: Path, root: str) -> dict[str, Any]:
    """The run's parameters as given, checked, with IncludeFiles read as Metaflow reads them
    (after the flow's module code ran, which may write the file, relative to the working
    directory), stored in the datastore at `root` and given to the run by reference."""
    from sfncompile.datastore.storage import open_storage
    from sfncompile.flow.module_loader import ModuleCodeError, import_module_file
    from sfncompile.runtime.params import (
        ParameterError,
        parse_cli_pairs,
        resolve_parameters,
        run_env_values,
    )
    from sfncompile.runtime.run_inputs import include_paths, store_include_files

    try:
        given = run_env_values(graph["parameters"], parse_cli_pairs(pairs))
        if include_paths(graph["parameters"], given):
            import_module_file(flow_file)
        resolve_parameters(graph["parameters"], given)
        return store_include_files(graph["parameters"], given, None,
                                   lambda: open_storage(root), graph["flow"])
    except ParameterError as exc:
        raise UsageError(str(exc)) from None
    except ModuleCodeError as exc:
        raise UsageError(f"{exc} (the flow's module runs before its IncludeFile is read, as "
                         "in Metaflow)") from None


quiet_option = click.option(
    "--quiet", is_flag=True,
    help="Do not show what the tasks print (their logs are still stored, for `logs`), nor "
         "the live display on a terminal.")
verbose_option = click.option(
    "--verbose", is_flag=True,
    help="Also a line for every task's start and end (`step/task: done in 0.02s`).")


def local_run_options(func: Any) -> Any:
    """The options that `run` and `resume` share, in this order in their help."""
    for option in reversed((workers_option, datastore_option, tag_option, with_option,
                            run_id_file_option, max_splits_option, quiet_option,
                            verbose_option)):
        func = option(func)
    return func


# Metaflow's `run --alpha 3`: options this command does not know are the flow's parameters.
@click.command(cls=FlowParamsCommand,
               context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@flow_argument
@flow_option
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A flow Parameter (repeatable); checked before any task runs. "
                   "`--NAME VALUE` works too, as in Metaflow.")
@config_file_option
@config_value_option
@local_run_options
@click.pass_context
def run(ctx: click.Context, flow_file: Path, flow_name: str | None, params: tuple[str, ...],
        config_files: Pairs, config_values: Pairs,
        max_workers: int, datastore_root: str, tags: tuple[str, ...],
        decospecs: tuple[str, ...], run_id_file: Path | None,
        max_num_splits: int | None, quiet: bool, verbose: bool) -> None:
    """Run FLOW.py locally: every task is a separate process, artifacts go to the datastore.

    The last line printed (on stdout) is the run's name, Flow/run-id, for `show`, `logs`
    and `resume`. Everything else goes to stderr: each line a task prints, prefixed with
    its task (`[step/task]`), a line per step as it starts and ends, and a closing summary.
    With an s3:// datastore and a job_queue and image configured, @batch steps run as AWS
    Batch jobs (deploy's code package and job definitions) and the others locally.
    A Parameter not given here takes METAFLOW_RUN_<NAME> from the environment, as in
    Metaflow; a @project flow's branch METAFLOW_BRANCH and METAFLOW_PRODUCTION.
    """
    root = check_datastore_root(datastore_root, write=True)
    from sfncompile.local.worker import TaskLauncher

    # Started first: it imports the flow module while the Configs are read and the flow is
    # parsed here.
    with TaskLauncher.for_root(root, flow_file) as launcher:
        configs = given_configs(config_files, config_values)
        flow = load_flow(flow_file, flow_name, decospecs, configs)
        _check_packages(flow)
        _check_project_env(flow)
        graph = flow.graph_json()
        given = _check_params(graph, (*params, *parameter_pairs(graph, ctx.args)), flow_file,
                              root)
        _run_locally(graph, flow_file, root, given, max_workers, launcher=launcher, tags=tags,
                     remote=_remote_steps(flow, flow_file, root), run_id_file=run_id_file,
                     max_num_splits=max_num_splits, quiet=quiet, verbose=verbose,
                     fresh_steps=_own_environment_steps(flow))


def parameter_pairs(graph: dict[str, Any], args: list[str]) -> list[str]:
    """Metaflow's `--NAME VALUE` and `--NAME=VALUE` for the flow's parameters, as the
    `NAME=VALUE` of --param; anything else is a usage error that lists them."""
    names = [p["name"] for p in graph["parameters"]]
    known = ", ".join(f"--{n}" for n in names) or "none"
    pairs, rest = [], list(args)
    while rest:
        token = rest.pop(0)
        name, eq, value = token[2:].partition("=") if token.startswith("--") else ("", "", "")
        if name not in names:
            what = f"no such option: {token.partition('=')[0]}" if token.startswith("-") \
                else f"unexpected argument {token!r}"
            raise UsageError(f"{what} (the flow's parameters: {known}; `sfncompile run "
                             "--help` lists the command's options)")
        if not eq:
            if not rest:
                raise UsageError(f"option --{name} needs a value")
            value = rest.pop(0)
        pairs.append(f"{name}={value}")
    return pairs


def _check_project_env(flow: Any) -> None:
    """METAFLOW_BRANCH/METAFLOW_PRODUCTION, which the run's tasks read, checked before it
    starts: a branch name Metaflow allows, that does not contradict the decorator's."""
    if flow.project is not None:
        from sfncompile.deploy.projects import env_options

        env_options(flow, None, False)


def _own_environment_steps(flow: Any) -> dict[str, str]:
    if flow.packages is None and not any(s.policies.packages for s in flow.steps):
        return {}
    from sfncompile.local.requirements import own_environment_steps

    return dict(own_environment_steps(flow))


def _check_packages(flow: Any) -> None:
    """@pypi/@conda packages that this Python cannot import stop the run before it starts."""
    if flow.packages is None and not any(s.policies.packages for s in flow.steps):
        return
    from sfncompile.local.requirements import missing_packages

    errors = missing_packages(flow)
    if errors:
        raise FlowErrors(errors)


@click.command()
@click.argument("run_pathspec", metavar="FLOW/RUN|FLOW.py")
@click.option("--origin-run-id", metavar="ID",
              help="With FLOW.py: the run to resume (default: the flow's latest run in the "
                   "datastore that you started, as Metaflow's resume).")
@flow_option
@click.option("--from", "from_step", metavar="STEP",
              help="Re-run from this step (default: the first step that failed).")
@click.option("--flow-file", type=click.Path(dir_okay=False, path_type=Path), metavar="FLOW.py",
              help="With FLOW/RUN: the flow's source (default: the file the run recorded; a "
                   "run on Step Functions records none).")
@click.option("--on-aws", is_flag=True,
              help="Start a new execution of the deployed state machine that reuses the "
                   "finished tasks (deploy the fix first), instead of running locally.")
@click.option("--name", "machine_name", metavar="NAME",
              help="--on-aws: the state machine (default: the name deploy gives it).")
@local_run_options
def resume(run_pathspec: str, origin_run_id: str | None, flow_name: str | None,
           from_step: str | None, flow_file: Path | None, on_aws: bool,
           machine_name: str | None, max_workers: int, datastore_root: str,
           tags: tuple[str, ...], decospecs: tuple[str, ...], run_id_file: Path | None,
           max_num_splits: int | None, quiet: bool, verbose: bool) -> None:
    """Re-run what a failed run did not finish, reusing every task that succeeded.

    With --from STEP, that step and every step it leads to run again; the tasks of the
    other steps are reused.

    Name the run as FLOW/RUN, or give the flow's file: FLOW.py resumes the latest run of
    the flow that you started (--origin-run-id ID another). The flow file is read again, so a
    fix made since the failure takes effect. A run on Step Functions (with an s3:// datastore
    root) resumes locally too, or with --on-aws as a new execution.
    """
    from sfncompile.datastore.storage import KeyNotFound, open_storage
    from sfncompile.local.resume import (
        cloner,
        origin_configs,
        origin_params,
        origin_record,
        resume_point,
        reused_steps,
    )
    from sfncompile.local.runner import new_run_id
    from sfncompile.local.worker import TaskLauncher

    refuse_config_variables()
    if run_pathspec.endswith(".py"):
        if flow_file is not None:
            raise UsageError("--flow-file: not with FLOW.py, which is the flow's source")
        flow_file = Path(run_pathspec)
        # Parsed here for its name only: parsed again below, with the origin run's Configs.
        name = load_flow(flow_file, flow_name, decospecs).name
        run_id = origin_run_id or latest_run_id(name, datastore_root)
        run_pathspec = f"{name}/{run_id}"
    elif origin_run_id is not None or flow_name is not None:
        raise UsageError("--origin-run-id and --flow: only with FLOW.py (FLOW/RUN names the "
                         "run)")
    flow_name, run_id = _split_run(run_pathspec)
    if on_aws:
        from sfncompile.deploy.resume import aws_datastore_root

        datastore_root = aws_datastore_root(datastore_root)
        given = [o for o, v in (("--tag", tags), ("--with", decospecs),
                                ("--max-num-splits", max_num_splits)) if v]
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
        contextlib.nullcontext() if on_aws else TaskLauncher.for_root(datastore_root,
                                                                      flow_file))
    with launching as launcher:
        flow = load_flow(flow_file, flow_name, decospecs, origin_configs(meta))
        graph = flow.graph_json()
        order = [s.name for s in flow.analysis.ordered]
        start_at = resume_point(storage, flow_name, run_id, order, from_step, meta)
        params = origin_params(storage, graph, run_id, meta)
        new_run = new_run_id()
        if on_aws:
            from sfncompile.deploy.resume import resume_on_aws

            write_run_id(run_id_file, new_run)
            resume_on_aws(flow, machine_name, run_id, new_run, params,
                          reused_steps(graph, start_at, from_step is not None))
            click.echo(f"Resuming {run_pathspec} from step {start_at!r} on Step Functions as "
                       f"{flow_name}/{new_run}", err=True)
            click.echo(f"{flow_name}/{new_run}")
            return
        click.echo(f"Resuming {run_pathspec} from step {start_at!r} as {flow_name}/{new_run}",
                   err=True)
        _run_locally(graph, flow_file, datastore_root, params, max_workers,
                     run_id=new_run, origin_run=run_id, launcher=launcher, tags=tags,
                     clone=cloner(storage, flow_name, run_id, new_run, graph, start_at,
                                  from_step is not None),
                     remote=_remote_steps(flow, flow_file, datastore_root),
                     run_id_file=run_id_file, max_num_splits=max_num_splits, quiet=quiet,
                     verbose=verbose, fresh_steps=_own_environment_steps(flow))


def latest_run_id(flow_name: str, datastore_root: str) -> str:
    """The flow's newest run in the datastore in your namespace (the runs you started), as
    Metaflow's resume takes the last run this user ran locally; UsageError when none."""
    from sfncompile import client
    from sfncompile.exception import MetaflowNotFound

    client.set_datastore_root(check_datastore_root(datastore_root, write=False))
    try:
        latest = client.Flow(flow_name).latest_run
    except MetaflowNotFound:
        latest = None
    if latest is None:
        where = client.get_namespace()
        raise UsageError(f"no run of {flow_name} to resume under {datastore_root}"
                         f"{f' in namespace {where}' if where else ''}: run it first, or name "
                         "the run with --origin-run-id ID")
    return latest.id


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


@click.command()
@click.argument("run_pathspec", metavar="FLOW/RUN")
@datastore_option
@click.option("--json", "as_json", is_flag=True,
              help="Print the run's record as stored (and its failure), as JSON.")
def show(run_pathspec: str, datastore_root: str, as_json: bool) -> None:
    """Print a run's steps, tasks, their status and artifact names; for a failed run, the
    task that failed, its exception and the last lines of its log."""
    from sfncompile import client
    from sfncompile.conventions.artifact_names import FLOW_NAME_ARTIFACT
    from sfncompile.datastore.storage import KeyNotFound, open_storage
    from sfncompile.exception import MetaflowNotFound
    from sfncompile.local.settle import settle_run

    flow_name, run_id = _split_run(run_pathspec)
    root = check_datastore_root(datastore_root, write=False)
    try:  # a run whose local runner died is recorded as interrupted first
        interrupted = settle_run(open_storage(root), flow_name, run_id).get("interrupted")
    except (KeyNotFound, ValueError):  # no record, or a bad one: the client says which
        interrupted = False
    client.set_datastore_root(root)
    try:
        run_ = client.Run(run_pathspec)
    except MetaflowNotFound:  # neither a task nor a run record
        raise UsageError(f"no run {run_pathspec} under {datastore_root}") from None
    if as_json:
        click.echo(json.dumps({"pathspec": run_pathspec, "status": run_.status,
                               "record": run_._meta, "failure": run_.failure},
                              indent=2, sort_keys=True, default=str))
        return
    status = run_.status
    if (interrupted or status == "interrupted") and not run_.successful:
        status = f"interrupted (continue with `sfncompile resume {run_pathspec}`)"
    click.echo(f"{run_pathspec}: {status}")
    for line in [*run_summary(run_), *failure_lines(run_, root_option(datastore_root))]:
        click.echo(f"  {line}")
    notes: list[str] = []
    for name in run_.step_names():  # graph order, each step's tasks in index order
        step_ = run_[name]
        tasks = {t.id: t for t in step_.tasks()}
        for task_id in step_.started_tasks():
            task = tasks.get(task_id) or step_[task_id]
            if task.attempt is None:
                why = "interrupted" if interrupted else uncommitted_reason(task)
                click.echo(f"  {name}/{task_id}: not committed ({why})")
                continue
            # The flow's name, an artifact of every task (as Metaflow's), is in the header.
            names = ", ".join(n for n in task.artifact_names if n != FLOW_NAME_ARTIFACT) or "-"
            click.echo(f"  {name}/{task_id}: ok (attempt {task.attempt})  {names}"
                       f"{batch_job_note(task.last_attempt_meta())}")
            note = caught_note(task)
            if note:
                notes.append(note)
    for note in notes:
        click.echo(f"  {note}")


@click.command()
@click.argument("pathspec", metavar="FLOW/RUN/STEP[/TASK]")
@click.option("--stderr/--stdout", "want_stderr", default=None,
              help="Only one stream (default: both).")
@datastore_option
def logs(pathspec: str, want_stderr: bool | None, datastore_root: str) -> None:
    """Print the stdout and stderr of a step's tasks (or of one task)."""
    from sfncompile import client
    from sfncompile.exception import MetaflowNotFound

    parts = _step_pathspec(pathspec)
    if len(parts) == 4:
        _check_part(parts[3], "task id")
    client.set_datastore_root(check_datastore_root(datastore_root, write=False))
    try:
        step_ = client.Step("/".join(parts[:3]))
    except MetaflowNotFound:
        raise UsageError(f"no tasks for {'/'.join(parts[:3])} under {datastore_root}") from None
    started = step_.started_tasks()
    task_ids = [parts[3]] if len(parts) == 4 else started
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


TOO_LARGE = "< artifact too large >"  # Metaflow's words for a value --max-value-size leaves out


@click.command()
@click.argument("pathspec", metavar="FLOW/RUN/STEP[/TASK]")
@click.option("--private/--no-private", default=False, show_default=True,
              help="Also the artifacts whose names start with _.")
@click.option("--max-value-size", type=click.IntRange(min=0), default=1000, show_default=True,
              metavar="BYTES", help="Show only values whose pickle is at most this size "
                                    "(0: names only).")
@click.option("--include", default="", metavar="NAME[,NAME...]",
              help="Only these artifacts.")
@click.option("--file", "out_file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="PATH", help="Write every value to PATH as a pickled dict instead "
                                   "({RUN/STEP/TASK: {name: value}}), as Metaflow's dump.")
@datastore_option
def dump(pathspec: str, private: bool, max_value_size: int, include: str,
         out_file: Path | None, datastore_root: str) -> None:
    """Print the artifacts of a step's committed tasks (or of one task), as Metaflow's
    `python flow.py dump RUN/STEP[/TASK]`: `name [size: N type: T] = value`."""
    import pickle

    wanted = {n for n in include.split(",") if n}
    output: dict[str, dict[str, Any]] = {}
    for task in _committed_tasks(pathspec, datastore_root):
        _, run_id, step_name, task_id = task.pathspec.split("/")
        click.echo(f"Dumping output of run_id={run_id} step={step_name} task_id={task_id}",
                   err=True)
        names = sorted(n for n in task.artifact_shas if (private or not n.startswith("_"))
                       and (not wanted or n in wanted))
        values = {name: task.load(name) for name in names}
        if out_file is not None:
            output[f"{run_id}/{step_name}/{task_id}"] = values
            continue
        for name, value in values.items():
            size = len(pickle.dumps(value, protocol=4))
            shown = value if 0 < size <= max_value_size else TOO_LARGE
            click.echo(f"{name} [size: {size} type: {type(value)}] = {shown}")
    if out_file is not None:
        try:
            out_file.write_bytes(pickle.dumps(output, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError as exc:
            raise UsageError(f"--file {out_file}: cannot write it: {exc.strerror}") from None
        click.echo(f"Artifacts written to {out_file}", err=True)


def _step_pathspec(pathspec: str) -> list[str]:
    """The parts of a checked Flow/run-id/step[/task] (the task id is checked by the caller,
    which knows what tasks there are)."""
    parts = pathspec.split("/")
    if len(parts) not in (3, 4) or not all(parts):
        raise UsageError(f"{_shown(pathspec)}: expected Flow/run-id/step or "
                         "Flow/run-id/step/task")
    _split_run("/".join(parts[:2]))
    _check_part(parts[2], "step name", identifier=True)
    return parts


def _committed_tasks(pathspec: str, datastore_root: str) -> list[Any]:
    """The committed tasks a FLOW/RUN/STEP[/TASK] names, in index order."""
    from sfncompile import client
    from sfncompile.exception import MetaflowNotFound

    parts = _step_pathspec(pathspec)
    client.set_datastore_root(check_datastore_root(datastore_root, write=False))
    try:
        step_ = client.Step("/".join(parts[:3]))
    except MetaflowNotFound:
        raise UsageError(f"no tasks for {'/'.join(parts[:3])} under {datastore_root}") from None
    committed = {t.id: t for t in step_.tasks() if t.finished}
    if len(parts) == 3:
        return [committed[t] for t in step_.started_tasks() if t in committed]
    _check_part(parts[3], "task id")
    if parts[3] not in committed:
        raise UsageError(f"no committed task {parts[3]!r} in {'/'.join(parts[:3])} (committed:"
                         f" {', '.join(list(committed)[:10]) or 'none'})")
    return [committed[parts[3]]]


COMMANDS = [run, resume, show, logs, dump]


def refuse_config_variables() -> None:
    """A resumed run keeps the origin run's Configs: METAFLOW_FLOW_CONFIG[_VALUE] set is an
    error, as `--config` is (Metaflow refuses both: "Cannot specify --config or
    --config-value with 'resume'")."""
    from sfncompile.parser.configs import CONFIG_FILES_ENV, CONFIG_VALUES_ENV

    given = [var for var in (CONFIG_FILES_ENV, CONFIG_VALUES_ENV) if os.environ.get(var)]
    if given:
        them = "them" if len(given) > 1 else "it"
        raise UsageError(f"{' and '.join(given)}: not with resume (a resumed run keeps the "
                         f"origin run's Configs, as in Metaflow); unset {them}")
